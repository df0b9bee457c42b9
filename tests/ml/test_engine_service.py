"""The training and proposal services and the CLI commands over it: train, predict, models, rank."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import FAST, TINY, write_png

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services import proposals, training
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project


def test_predict_images_writes_proposals_scores_and_class_id_pngs(cells_project, tmp_path):
    training.train_project(cells_project, steps=3, network=TINY, config=FAST, device="cpu")
    out = tmp_path / "out"
    done = proposals.predict_images(cells_project, out_dir=out, device="cpu")
    assert [d.image_id for d in done] == [r.id for r in cells_project.images()]
    for d, rec in zip(done, cells_project.images()):
        assert rec.score == pytest.approx(d.score)
        assert d.model_version == 1
        exported = cv2.imread(str(out / rec.name), cv2.IMREAD_UNCHANGED)
        assert exported.shape == (rec.height, rec.width) and exported.max() < 3
        stored = proposal_store.load_proposal(cells_project, rec)
        assert np.array_equal(stored.mask, exported)
        assert stored.model_version == 1 and stored.score == pytest.approx(d.score)
        assert stored.uncertainty.min() >= 0 and stored.uncertainty.max() <= 1


def test_rank_next_orders_unfinished_images_by_the_strategy(cells_project):
    recs = cells_project.images()
    cells_project.set_scores({recs[0].id: 0.1, recs[3].id: 0.8})
    ranked = proposals.rank_next(cells_project, "uncertainty")
    assert [r.id for r in ranked] == [recs[3].id]  # the other three are done
    ranked_all = proposals.rank_next(cells_project, "uncertainty", include_done=True)
    assert [r.id for r in ranked_all][:2] == [recs[3].id, recs[0].id]
    assert [r.id for r in proposals.rank_next(cells_project, "in-order", include_done=True)] == [
        r.id for r in recs
    ]


def test_only_done_or_labelled_in_progress_images_train(cells_project):
    recs = cells_project.images()
    cells_project.set_status(recs[0].id, ImageStatus.NEW)
    labelled = training.labelled_records(cells_project)
    assert [r.id for r in labelled] == [recs[1].id, recs[2].id]


def test_without_labels_or_model_the_errors_say_what_to_do(tmp_path):
    from annotator.core.errors import ModelError

    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        with pytest.raises(ModelError, match="label some pixels"):
            training.train_project(project, steps=1)
        with pytest.raises(ModelError, match="annotator train"):
            proposals.load_predictor(project)


@pytest.mark.slow
def test_cli_train_predict_models_and_rollback(cells_project, tmp_path, capsys):
    root = str(cells_project.root)
    assert (
        main(["train", root, "--steps", "3", "--device", "cpu", "--depth", "2", "--width", "8"])
        == 0
    )
    out = capsys.readouterr().out
    assert "published model v1 (from scratch)" in out
    for name in cells_project.schema.names:
        assert f"IoU {name}" in out
    assert main(["train", root, "--steps", "2", "--device", "cpu"]) == 0
    assert "published model v2 (from v1)" in capsys.readouterr().out
    assert main(["predict", root, "--images", "cells_3", "--out", str(tmp_path / "masks")]) == 0
    assert "wrote 1 proposal(s) from model v2" in capsys.readouterr().out
    assert (tmp_path / "masks" / "cells_3.png").exists()
    assert main(["models", root]) == 0
    listing = capsys.readouterr().out
    assert "* v2" in listing and "  v1" in listing
    assert "created (UTC)" in listing  # (a UTC time said as none, where the window's is local)
    assert main(["status", root]) == 0
    assert " UTC  " in capsys.readouterr().out
    assert main(["models", root, "--rollback", "1"]) == 0
    assert "active model is now v1" in capsys.readouterr().out
    assert main(["models", root, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["active"] for m in data] == [True, False]
    assert main(["models", root, "--rollback", "7"]) == 1
    assert "no model version 7" in capsys.readouterr().err


def test_cli_rejects_two_budgets_and_bad_values(cells_project, capsys):
    root = str(cells_project.root)
    with pytest.raises(SystemExit):
        main(["train", root, "--steps", "3", "--minutes", "1"])
    with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
        main(["train", root, "--steps", "0"])
    assert exit_.value.code == 2
    assert "argument --steps: '0' is not a whole number of 1 or more" in capsys.readouterr().err


def test_cli_train_zooms_its_crops_only_when_asked(cells_project, capsys):
    root = str(cells_project.root)
    tiny = ["--steps", "1", "--device", "cpu", "--depth", "2", "--width", "4"]
    assert main(["train", root, *tiny]) == 0
    assert main(["train", root, "--steps", "1", "--device", "cpu", "--zoom", "0.3"]) == 0
    with Project.open(cells_project.root, lock=False) as project:
        zooms = [m.card.training.config["augment"]["scale"] for m in project.models()]
    assert sorted(zooms) == [0.0, 0.3]  # off by default (ADR 0023); the card says which
    capsys.readouterr()
    for bad in ("-0.1", "1.5", "nan"):
        with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
            main(["train", root, *tiny, "--zoom", bad])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert f"argument --zoom: {bad!r} is not a number from 0 to 1" in err


def test_importing_the_cli_and_engine_service_does_not_import_torch():
    code = (
        "import sys, annotator, annotator.services.training, annotator.services.proposals, "
        "annotator.services.model_service, annotator.ml.strategies, "
        "annotator.core.proposal\n"
        "from annotator.cli import build_parser\n"
        "build_parser().format_help()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "assert 'onnxruntime' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_a_colour_project_trains_a_three_channel_model_and_predicts_grey_images_too(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "rgb"
    with Project.create(root, LabelSchema.from_names(["red", "blue"])) as project:
        colour = np.zeros((64, 64, 3), np.uint8)
        colour[:, :32, 2] = 200  # cv2 writes BGR: left half red, right half blue
        colour[:, 32:, 0] = 200
        colour = np.clip(colour + rng.normal(0, 10, colour.shape), 0, 255).astype(np.uint8)
        write_png(root / "images" / "colour.png", colour)
        write_png(root / "images" / "grey.png", colour[..., 1])
        project.add_images([root / "images"])
        rec = project.image("colour.png")
        mask = np.zeros((64, 64), np.uint8)
        mask[:, 32:] = 1
        project.save_mask(rec.id, mask, status=ImageStatus.DONE)
        outcome = training.train_project(project, steps=2, config=FAST, device="cpu")
        assert outcome.model.card.architecture["in_channels"] == 3
        done = proposals.predict_images(project, device="cpu")
        assert len(done) == 2
        assert proposal_store.load_proposal(project, project.image("grey.png")).mask.shape == (
            64,
            64,
        )


def test_adding_a_class_keeps_proposals_working_and_the_next_round_learns_it(cells_project):
    from annotator.core.status import ImageStatus
    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import TrainConfig

    tiny = NetworkConfig(1, 3, depth=2, width=8)
    fast = TrainConfig(crop=64, batch_size=4, val_fraction=0.0, seed=0)
    first = training.train_project(cells_project, steps=3, network=tiny, config=fast)
    cells_project.set_schema(cells_project.schema.with_class("debris"))
    rec = cells_project.images()[3]
    # The old model still proposes (ids 0..2 mean the same classes).
    proposal = proposals.load_predictor(cells_project).predict(cells_project.load_image(rec))
    assert proposal.mask.max() <= 2 and proposal.model_version == first.model.version
    # Label some debris; the next round continues from v1 with a fourth output.
    mask = cells_project.new_mask(rec)
    mask[:10, :10] = 3
    cells_project.save_mask(rec.id, mask, status=ImageStatus.DONE)
    second = training.train_project(cells_project, steps=3, config=fast)
    assert second.model.parent == first.model.version
    assert second.model.card.architecture["n_classes"] == 4
    assert second.model.card.classes[-1] == "debris"


def test_predict_says_the_tiles_of_a_big_picture(cells_project, tmp_path):
    """A picture of several tiles took minutes under load with `predicting: 0/1` and
    nothing more: the tiles are said as they go."""
    training.train_project(cells_project, steps=2, network=TINY, config=FAST, device="cpu")
    big = np.random.default_rng(0).integers(0, 255, (1100, 1100), np.uint8)
    write_png(tmp_path / "big" / "big.png", big)
    cells_project.add_images([tmp_path / "big"])
    record = next(r for r in cells_project.images() if r.name == "big.png")
    said: list[tuple[int, int, str]] = []
    proposals.predict_images(
        cells_project, [record], device="cpu", progress=lambda *a: said.append(a)
    )
    tiles = [m for _, _, m in said if "tile" in m]
    assert tiles and tiles[0].startswith("big.png: tile ")
    done, total = tiles[-1].split("tile ")[1].split(" of ")
    assert done == total and int(total) >= 4  # (1100 px in tiles of 1024, overlapping)
    assert all(done == 0 and total == 1 for done, total, m in said if "tile" in m)
