"""What a bench run reports (audit of 2026-12-01): a stopped run says it is incomplete,
--overwrite leaves nothing of the earlier run, runs of separate invocations are not
combined in silence, progress within a long image, per-class quality of the labels."""

import json

import cv2
import numpy as np
import pytest

import annotator.bench.effort as effort
from annotator.bench.dataset import load_dataset
from annotator.bench.effort import (
    BenchConfig,
    class_iou,
    run_benchmark,
    run_from_dict,
    saving_factors,
    summary_lines,
    write_outputs,
)
from annotator.cli import main
from annotator.core.synthetic import synthetic_cells


def _dataset(root, n=3, size=48):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        image, mask = synthetic_cells(seed=i, size=size, n_cells=3, noise=5)
        cv2.imwrite(str(root / "images" / f"im{i}.png"), image)
        cv2.imwrite(str(root / "masks" / f"im{i}.png"), mask)
    (root / "classes.txt").write_text("background\ncell\nnucleus\n")
    return root


_MANUAL = dict(mode="manual", strategy="in-order", tools=("brush",), depth=2, width=4)
_MANUAL |= dict(train_steps=2, device="cpu")


class _Stop(Exception):
    pass


def test_a_stopped_run_is_said_incomplete_in_json_summary_and_combine(tmp_path, capsys):
    root = _dataset(tmp_path / "ds")
    ds = load_dataset(root, root / "classes.txt")
    out = tmp_path / "out"

    def checkpoint(partial):
        write_outputs([partial], out, plot=False)
        if len(partial.images) == 1:
            raise _Stop  # the run is stopped after its first image

    with pytest.raises(_Stop):
        run_benchmark(ds, BenchConfig(**_MANUAL), tmp_path / "p", checkpoint=checkpoint)
    stopped = json.loads((out / "bench.json").read_text())
    assert stopped["complete"] is False and stopped["images_planned"] == 3
    assert len(stopped["images"]) == 1
    whole = run_benchmark(ds, BenchConfig(**_MANUAL), tmp_path / "w")
    assert whole.complete is True and whole.planned == 3
    assert whole.to_dict()["complete"] is True
    part = run_from_dict(stopped)
    part.mode = "assisted"  # a stopped run to compare the whole one with
    lines = summary_lines([whole, part])
    assert "assisted: INCOMPLETE: 1 of 3 planned image(s) labelled" in "\n".join(lines)
    factors = saving_factors([whole, part])
    assert factors["saving_factor_images"] == 1 and factors["saving_factor_images_planned"] == 3
    assert any("(of 3 planned: a run was stopped)" in line for line in lines)
    assert not any("INCOMPLETE" in line for line in summary_lines([whole]))
    # bench-combine says so too.
    capsys.readouterr()
    assert main(["bench-combine", str(out / "bench.json"), "--out", str(tmp_path / "c")]) == 0
    assert "manual: INCOMPLETE: 1 of 3 planned" in capsys.readouterr().out


def test_overwrite_removes_the_earlier_results_before_the_run(tmp_path, monkeypatch, capsys):
    root = _dataset(tmp_path / "ds", n=2, size=32)
    out = tmp_path / "out"
    args = ["bench", str(root), "--classes", str(root / "classes.txt"), "--mode", "manual"]
    args += ["--tools", "brush", "--strategy", "in-order", "--out", str(out)]
    assert main(args) == 0
    earlier = ["bench.json", "bench-manual-in-order.json", "projects/manual-in-order"]
    assert all((out / name).exists() for name in earlier)
    (out / "bench.png").write_bytes(b"an earlier plot")  # (with or without matplotlib)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(effort, "run_benchmark", interrupted)
    assert main([*args, "--overwrite"]) != 0  # stopped before its first image
    left = [n for n in [*earlier, "bench.png"] if (out / n).exists()]
    assert left == []  # nothing of the earlier run passes for this one's


def test_runs_of_separate_invocations_are_combined_with_a_warning(tmp_path, capsys):
    root = _dataset(tmp_path / "ds", n=2, size=32)
    ds = load_dataset(root, root / "classes.txt")
    apart = [
        run_benchmark(ds, BenchConfig(**_MANUAL), tmp_path / "a"),
        run_benchmark(ds, BenchConfig(**(_MANUAL | {"mode": "frozen"})), tmp_path / "b"),
    ]
    assert apart[0].invocation != apart[1].invocation
    paths = []
    for r in apart:
        paths.append(tmp_path / f"bench-{r.mode}-{r.strategy}.json")
        paths[-1].write_text(json.dumps(r.to_dict()))
    capsys.readouterr()
    assert main(["bench-combine", *map(str, paths), "--out", str(tmp_path / "c")]) == 0
    err = capsys.readouterr().err
    assert "2 separate invocations" in err
    assert "manual/in-order" in err and "frozen/in-order" in err and str(paths[0]) in err
    # Runs of one invocation (as `annotator bench --mode manual,frozen` makes): none.
    together = [
        run_benchmark(ds, BenchConfig(**_MANUAL), tmp_path / "c1", invocation="one"),
        run_benchmark(
            ds, BenchConfig(**(_MANUAL | {"mode": "frozen"})), tmp_path / "c2", invocation="one"
        ),
    ]
    write_outputs(together, tmp_path / "t", plot=False)
    assert (
        main(["bench-combine", str(tmp_path / "t/bench.json"), "--out", str(tmp_path / "d")]) == 0
    )
    assert "invocations" not in capsys.readouterr().err


def test_progress_within_an_image_is_said_at_most_every_30_seconds(tmp_path):
    root = _dataset(tmp_path / "ds", n=1, size=48)
    ds = load_dataset(root, root / "classes.txt")
    lines: list[str] = []
    run_benchmark(ds, BenchConfig(**_MANUAL), tmp_path / "a", report=lines.append)
    assert effort.PROGRESS_EVERY_S == 30.0
    assert not any("so far" in line for line in lines)  # a small image: one line only
    said: list[str] = []
    run = run_benchmark(
        ds, BenchConfig(**_MANUAL), tmp_path / "b", report=said.append, progress_every=0
    )
    progress = [line for line in said if "so far" in line]
    assert len(progress) >= run.images[0].strokes - 1 >= 1
    assert progress[0].startswith("[manual/in-order] 1/1 im0.png: 1 actions so far, accuracy")
    # The skilled robot (every tool) says it too.
    every: list[str] = []
    tools = BenchConfig(**(_MANUAL | {"tools": effort.TOOLS}))
    run_benchmark(ds, tools, tmp_path / "c", report=every.append, progress_every=0)
    assert any("actions so far" in line for line in every)


def test_the_final_labels_per_class_iou_is_reported():
    truth = np.array([[0, 0, 1, 1], [0, 0, 2, 255]], np.uint8)
    labels = np.array([[0, 0, 1, 9], [0, 1, 9, 9]], np.uint8)  # 9: unlabelled
    # class 0: 3 of 4; class 1: 1 of (2 true + 1 wrong); class 2: unlabelled
    assert class_iou(labels, truth, 4) == [0.75, pytest.approx(1 / 3, abs=1e-4), 0.0, None]


def test_runs_report_the_per_class_iou_of_their_final_labels(tmp_path):
    root = _dataset(tmp_path / "ds", n=2, size=48)
    ds = load_dataset(root, root / "classes.txt")
    run = run_benchmark(ds, BenchConfig(**(_MANUAL | {"target": 0.9})), tmp_path / "a")
    from annotator.storage.project import Project

    with Project.open(tmp_path / "a", lock=False) as project:
        for record, rec in zip(run.images, project.images(), strict=True):
            labels = project.load_mask(rec)
            truth = ds.truths[rec.stem]
            assert record.final_iou == class_iou(labels, truth, 3)
    assert all(0 <= v <= 1 for r in run.images for v in r.final_iou if v is not None)
    means = run.final_labels_iou()
    assert len(means) == 3 and means[0] is not None
    expected = np.mean([r.final_iou[1] for r in run.images if r.final_iou[1] is not None])
    assert means[1] == pytest.approx(expected, abs=1e-4)
    line = next(x for x in summary_lines([run]) if x.startswith("final labels"))
    assert line.startswith("final labels (manual), per class IoU (mean over images): background")
    assert "nucleus" in line
    again = run_from_dict(json.loads(json.dumps(run.to_dict())))
    assert again.images[0].final_iou == run.images[0].final_iou
    assert run.to_dict()["final_labels_iou_per_class"] == means


def test_a_run_stopped_in_its_first_image_leaves_a_bench_json_that_says_so(
    tmp_path, monkeypatch, capsys
):
    """It left none: a long first image stopped (Ctrl+C, a time limit) had nothing to show."""
    root = _dataset(tmp_path / "ds", n=2, size=32)
    out = tmp_path / "out"

    def stopped(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(effort, "annotate", stopped)
    args = ["bench", str(root), "--classes", str(root / "classes.txt"), "--mode", "manual"]
    assert main([*args, "--tools", "brush", "--out", str(out)]) != 0
    left = json.loads((out / "bench.json").read_text())
    assert left["complete"] is False and left["images_planned"] == 2 and left["images"] == []
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["bench-combine", str(out / "bench.json"), "--out", str(tmp_path / "c")]) == 0
    assert "manual: INCOMPLETE: 0 of 2 planned" in capsys.readouterr().out
