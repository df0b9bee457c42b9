"""What a round tells the user: a score only when its validation labels make one, the
classes it had no labels of, its phases in words, and an honest time left."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import FAST, TINY, make_cells_project

from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.core.synthetic import synthetic_cells
from annotator.ml.progress import TrainProgress, eta
from annotator.services import training
from annotator.storage.project import Project

SIZE = 96


def _one_stroke_project(root):
    """The audit's project: one brush stroke of background (radius 3, across three 32 px
    blocks, so validation holds a few of its pixels out) on one image of three classes."""
    project = Project.create(root, LabelSchema.from_names(["background", "cell", "nucleus"]))
    image, _ = synthetic_cells(seed=1, size=SIZE, n_cells=4)
    record = project.add_image_bytes(_png(image), "cells_01.png")
    mask = np.full((SIZE, SIZE), 255, np.uint8)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    for x in range(20, 64):
        mask[(yy - 20) ** 2 + (xx - x) ** 2 <= 9] = 0
    project.save_mask(record.id, mask, status=ImageStatus.IN_PROGRESS)
    return project


def _train(project, seen: list[TrainProgress] | None = None, **budget):
    """A tiny round on the CPU; its reports go to ``seen``."""
    return training.train_project(
        project,
        network=TINY,
        config=FAST,
        device="cpu",
        export_onnx=False,
        progress=None if seen is None else seen.append,
        **budget,
    )


def _png(image):
    from annotator.storage.images import encode_png

    return encode_png(image)


def test_a_round_on_one_stroke_of_one_class_is_not_scored_and_says_what_is_unlabelled(
    tmp_path,
):
    with _one_stroke_project(tmp_path / "p") as project:
        seen: list[TrainProgress] = []
        outcome = _train(project, seen, steps=3)
    met = outcome.result.metrics
    assert met is not None and 0 < met.pixels < 200  # held out: a few pixels of the stroke
    assert met.mean_iou == 1.0  # what the panel, `models` and `status` showed
    card = outcome.model.card
    why = f"too few validation labels ({met.pixels} pixels of 1 class)"
    assert met.not_scored == why and card.metrics.not_scored == why
    assert card.mean_iou is None and card.pixel_accuracy is None
    written = card.to_dict()["metrics"]
    assert written["mean_iou"] is None and written["not_scored"] == why
    assert written["class_pixels"] == {"background": met.pixels, "cell": 0, "nucleus": 0}
    assert outcome.warnings == (
        "classes cell, nucleus have no labels yet: the model cannot propose them until "
        "you paint some pixels of each",
    )
    # Every phase says what it does (the window showed "starting…" until the first step).
    phases = [p.phase for p in seen]
    first_step = phases.index("train")
    assert phases[:first_step] == ["load", "prepare"]
    assert phases[-2:] == ["validate", "write"]
    details = [p.detail for p in seen if p.phase != "train"]
    # (validation reports as its tiles finish: the same words, its seconds counting on)
    assert [d for i, d in enumerate(details) if i == 0 or d != details[i - 1]] == [
        "loading 1 labelled image",
        "preparing 1 labelled image and the network",
        f"scoring on {met.pixels:,} validation pixels",
        "writing model v1",
    ]
    assert seen[-1].fraction == 1.0  # writing: the bar stays full


def test_a_round_with_a_label_of_every_class_warns_of_nothing(tmp_path):

    with make_cells_project(tmp_path / "p") as project:
        outcome = _train(project, steps=2)
    assert outcome.warnings == ()
    assert outcome.model.card.metrics.not_scored is None  # 3 whole images: a score
    assert outcome.model.card.mean_iou is not None


def test_the_time_left_leaves_out_the_first_steps_one_off_costs():
    # A first step of 10 s (memory, kernels, caches), then 0.1 s a step: at step 11 of
    # 100, 89 steps are left at 0.1 s (the old estimate, time so far per step, said 89 s).
    assert eta(11, 11.0, 10.0, 100, None) == pytest.approx(8.9)
    # A time budget bounds it: what is left of it, whatever the pace.
    assert eta(2, 12.0, 11.9, None, 30.0) == pytest.approx(18.0)
    assert eta(11, 11.0, 10.0, 100, 15.0) == pytest.approx(4.0)
    assert eta(11, 11.0, 10.0, 100, 30.0) == pytest.approx(8.9)
    assert eta(1, 10.0, 10.0, 100, None) is None  # no pace after one step
    assert eta(40, 31.0, 1.0, None, 30.0) == 0.0


def test_a_rounds_reports_never_promise_more_than_its_time_budget(tmp_path):

    seen: list[TrainProgress] = []
    with make_cells_project(tmp_path / "p") as project:
        _train(project, seen, seconds=1.0)
    steps = [p for p in seen if p.phase == "train"]
    assert len(steps) > 1
    for p in steps:
        assert p.eta_s is not None and math.isclose(p.eta_s, max(0.0, 1.0 - p.elapsed_s))


def test_train_prints_the_rounds_own_time_left_not_the_start_up_as_steps(
    tmp_path, monkeypatch, capsys
):
    """A 30 s round whose start-up (torch, the labels) took 44 s printed "eta 1276s"."""
    import annotator.cli.progress as progress_mod
    from annotator.cli import main
    from annotator.core.errors import Cancelled
    from annotator.services import training as training_mod

    clock = [1000.0]  # the progress line's clock only
    monkeypatch.setattr(progress_mod, "time", SimpleNamespace(monotonic=lambda: clock[0]))

    def round_after_a_slow_start(root, options, report, cancel, *_started):
        clock[0] += 44.0  # torch imported, labels read: no step yet
        report(TrainProgress(1, None, 1.2, 30.0, 0.9, eta_s=eta(1, 1.2, 1.2, None, 30.0)))
        raise Cancelled("stopped here")

    monkeypatch.setattr(training_mod, "train_headless", round_after_a_slow_start)
    main(["train", str(tmp_path), "--minutes", "0.5"])
    err = capsys.readouterr().err
    assert "training: 1/30" in err
    assert "eta    29s" in err, err


def test_validation_on_a_big_picture_counts_its_tiles_and_the_time_left():
    """On a 4096 px picture validation took minutes after a short round, the progress
    line saying only "scoring on N validation pixels" all along."""
    from annotator.ml.train import scoring_detail

    assert scoring_detail(4096, 0, 1, 0.0) == "scoring on 4,096 validation pixels"
    assert scoring_detail(3_355_648, 0, 64, 0.0) == (
        "scoring on 3,355,648 validation pixels, tile 0 of 64"
    )
    assert scoring_detail(3_355_648, 16, 64, 20.0) == (
        "scoring on 3,355,648 validation pixels, tile 16 of 64, about 60 s left"
    )
    assert scoring_detail(9, 64, 64, 80.0).endswith("tile 64 of 64")


def test_loading_and_preparing_many_images_count_them_as_they_go(tmp_path, monkeypatch):
    """4,000 labelled images took 9 s to load and 17 s to prepare, each said in one line
    before it and nothing after: a round that seemed hung."""
    import annotator.ml.progress as progress_module

    clock = iter(range(0, 10_000, 2))  # every reading two seconds later: each counted
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: float(next(clock)))
    seen: list[TrainProgress] = []
    with make_cells_project(tmp_path / "p", n_images=10, n_labelled=10) as project:
        _train(project, seen, steps=1)
    details = [p.detail for p in seen if p.phase in ("load", "prepare")]
    assert [d for d in details if d.startswith("loading") and "/" in d] == [
        f"loading {i}/10 images" for i in range(1, 11)
    ]
    # the images prepared are the training share: counted to its own total
    prepared = [d for d in details if d.startswith("preparing") and "/" in d]
    total = prepared[-1].split("/")[1].split()[0]
    assert int(total) < 10 and prepared[-1] == f"preparing {total}/{total} images"
