"""A small version of the effort benchmark on easy synthetic images, to keep it working."""

import importlib.util
import json
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.bench.dataset import load_dataset
from annotator.bench.effort import BenchConfig, run_benchmark, saving_factors, summary_lines
from annotator.cli import main
from annotator.core.errors import AnnotatorError
from annotator.core.synthetic import SYNTHETIC_EM_CLASSES, synthetic_cells, synthetic_em


def _dataset(root, n=4, size=80):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        image, mask = synthetic_cells(seed=i, size=size, n_cells=3, noise=5)
        mask[mask == 2] = 1  # two classes: background, cell
        mask[:2, :2] = 255  # a little void, ignored everywhere
        cv2.imwrite(str(root / "images" / f"im{i}.png"), image)
        cv2.imwrite(str(root / "masks" / f"im{i}.png"), mask)
    (root / "classes.txt").write_text("background\ncell\n")
    return root


@pytest.mark.slow
def test_robot_reaches_target_and_assisted_costs_fewer_strokes_than_manual(tmp_path):
    ds = load_dataset(_dataset(tmp_path / "ds"), tmp_path / "ds" / "classes.txt")
    common = dict(
        train_steps=40,
        depth=2,
        width=8,
        crop=64,
        batch_size=4,
        target=0.95,
        strategy="in-order",
        seed=1,
    )
    manual = run_benchmark(ds, BenchConfig(mode="manual", **common), tmp_path / "m")
    assisted = run_benchmark(ds, BenchConfig(mode="assisted", **common), tmp_path / "a")
    for run in (manual, assisted):
        assert [r.name for r in run.images] == ["im0.png", "im1.png", "im2.png", "im3.png"]
        assert all(r.accuracy_after >= 0.95 for r in run.images)
    assert manual.train_rounds_s == [] and len(assisted.train_rounds_s) == 4
    assert assisted.images[0].strokes == manual.images[0].strokes  # no model yet: same work
    assert any(r.accepted for r in assisted.images[1:])
    # the proposal's own accuracy is reported once there is a model, never without one
    assert all(r.proposal_accuracy is None for r in manual.images + assisted.images[:1])
    assert all(0 < (r.proposal_accuracy or 0) <= 1 for r in assisted.images[1:])
    assert assisted.total_actions < manual.total_actions
    factors = saving_factors([manual, assisted])
    assert factors["saving_factor"] > 1 and factors["saving_factor_bound"] == "exact"
    assert all(r.reached_target for r in manual.images + assisted.images)


def test_the_first_image_trains_rounds_as_it_goes_and_uses_their_proposals(tmp_path):
    ds = load_dataset(_dataset(tmp_path / "ds", n=2, size=64), tmp_path / "ds" / "classes.txt")
    common = dict(train_steps=10, depth=2, width=8, crop=64, batch_size=4, seed=1)
    common |= dict(strategy="in-order", train_now_every=1, target=0.995)
    run = run_benchmark(ds, BenchConfig(mode="assisted", **common), tmp_path / "a")
    first, second = run.images
    n = first.rounds_during
    assert n >= 1 and first.tools["train-now"] == n  # one click per round
    assert first.model_version == n + 1 and len(run.train_rounds_s) == n + 2
    assert first.proposal_accuracy is not None and first.reached_target
    assert first.actions >= 2 * n + 1 and first.clicks >= n  # a gesture, then each round
    assert second.rounds_during == 0 and "train-now" not in second.tools
    # by hand, or with the rounds turned off, there is no round during an image
    for mode, every in (("manual", 1), ("assisted", 0)):
        other = run_benchmark(
            ds,
            BenchConfig(mode=mode, **(common | dict(train_now_every=every))),
            tmp_path / f"{mode}{every}",
        )
        assert all(r.rounds_during == 0 for r in other.images)
        assert other.images[0].proposal_accuracy is None
    with pytest.raises(AnnotatorError, match="train-now-every"):
        BenchConfig(train_now_every=-1)


def test_a_run_can_start_from_a_given_model_file(tmp_path, capsys):
    from annotator.services import versions
    from annotator.storage.project import Project

    root = _dataset(tmp_path / "ds", n=3, size=64)
    ds = load_dataset(root, root / "classes.txt")
    common = dict(train_steps=20, depth=2, width=8, crop=64, batch_size=4, seed=1)
    run_benchmark(ds, BenchConfig(mode="assisted", **common, limit=1), tmp_path / "before")
    with Project.open(tmp_path / "before") as before:
        versions.export_model(before, tmp_path / "given.pt")
    config = BenchConfig(mode="assisted", init_model=str(tmp_path / "given.pt"), **common)
    run = run_benchmark(ds, config, tmp_path / "a")
    assert any(n.startswith("started from the model given.pt") for n in run.notes)
    assert "uncertainty ranks in order until there is a model" not in run.notes
    first = run.images[0]
    assert first.proposal_accuracy is not None and first.rounds_during == 0
    assert first.model_version == 2  # the imported v1, then the round after the image
    # By hand the file plays no part; the command refuses a file of other classes at once.
    manual = run_benchmark(ds, replace(config, mode="manual"), tmp_path / "m")
    assert all(r.proposal_accuracy is None for r in manual.images)
    (root / "classes.txt").write_text("sky\nroad\n")
    out = tmp_path / "out"
    argv = ["bench", str(root), "--classes", str(root / "classes.txt"), "--mode", "manual"]
    assert main([*argv, "--init-model", str(tmp_path / "given.pt"), "--out", str(out)]) == 1
    assert "than this project's (sky, road)" in capsys.readouterr().err
    assert not out.exists()


def test_rounds_and_proposals_run_where_the_app_would_run_them(tmp_path):
    import torch

    from annotator.ml.device import choose_device

    root = _dataset(tmp_path / "ds", n=2, size=64)
    ds = load_dataset(root, root / "classes.txt")
    common = dict(mode="assisted", train_steps=5, depth=2, width=8, crop=64, batch_size=4)
    with pytest.raises(AnnotatorError, match="unknown device 'tpu'"):
        BenchConfig(device="tpu")
    run = run_benchmark(ds, BenchConfig(**common, limit=1), tmp_path / "auto")
    assert f"rounds trained and proposals ran on {choose_device('auto')}" in run.notes
    manual = run_benchmark(
        ds, BenchConfig(**(common | dict(mode="manual")), limit=1), tmp_path / "m"
    )
    assert not any("ran on" in n for n in manual.notes)  # no model by hand
    if not torch.cuda.is_available():
        with pytest.raises(AnnotatorError, match="no CUDA GPU"):
            run_benchmark(ds, BenchConfig(**common, device="cuda"), tmp_path / "cuda")
        assert not (tmp_path / "cuda").exists()  # refused before anything is made


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_an_assisted_run_on_the_gpu_reaches_the_target(tmp_path):
    root = _dataset(tmp_path / "ds", n=3, size=64)
    ds = load_dataset(root, root / "classes.txt")
    config = BenchConfig(
        mode="assisted", device="cuda", train_steps=20, depth=2, width=8, crop=64, batch_size=4
    )
    run = run_benchmark(ds, config, tmp_path / "gpu")
    assert "rounds trained and proposals ran on cuda" in run.notes
    assert all(r.reached_target for r in run.images)
    assert all(r.proposal_accuracy is not None for r in run.images[1:])


@pytest.mark.slow
def test_bench_command_writes_json_plot_and_is_deterministic(tmp_path, capsys):
    ds = _dataset(tmp_path / "ds", n=3, size=64)
    args = [
        "bench",
        str(ds),
        "--classes",
        str(ds / "classes.txt"),
        "--mode",
        "manual,frozen",
        "--strategy",
        "uncertainty",
        "--train-steps",
        "15",
        "--depth",
        "2",
        "--width",
        "8",
        "--limit",
        "2",
        "--seed",
        "3",
        "--device",
        "cpu",  # a GPU's kernels need not repeat bit for bit
    ]
    assert main(args + ["--out", str(tmp_path / "o1")]) == 0
    assert main(args + ["--out", str(tmp_path / "o2")]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "manual / assisted" not in out  # no assisted run to compare with
    assert "saving factor (manual / frozen actions): whole set" in out
    b1 = json.loads((tmp_path / "o1" / "bench.json").read_text())
    b2 = json.loads((tmp_path / "o2" / "bench.json").read_text())
    # Each image's progress line gives its proposal's accuracy when it had one.
    progress = [line for line in (out + captured.err).splitlines() if line.startswith("[")]
    shown = 0
    for run in b1["runs"]:
        for record in run["images"]:
            line = next(x for x in progress if f"[{run['mode']}/" in x and record["name"] in x)
            acc = record["proposal_accuracy"]
            assert ("(proposal" in line) == (acc is not None)
            shown += acc is not None and f"(proposal {acc:.3f})" in line
    assert shown >= 1
    for key in (
        "mode",
        "strategy",
        "total_actions",
        "total_strokes",
        "total_clicks",
        "total_vertices",
        "images_at_target",
        "images_capped",
        "total_pixels_painted",
        "images",
    ):
        assert key in b1
    assert b1["mode"] == "manual" and [r["mode"] for r in b1["runs"]] == ["manual", "frozen"]
    rec = b1["runs"][1]["images"][0]
    for key in (
        "name",
        "actions",
        "strokes",
        "clicks",
        "vertices",
        "tools",
        "reached_target",
        "pixels_painted",
        "accuracy_before",
        "accuracy_after",
        "train_seconds",
    ):
        assert key in rec

    def costs(bench):
        return [
            [(i["name"], i["actions"], i["tools"], i["pixels_painted"]) for i in r["images"]]
            for r in bench["runs"]
        ]

    assert costs(b1) == costs(b2)
    assert b1["runs"][1]["eval_images"] == 1 and b1["runs"][1]["final_miou_unlabelled"] > 0
    assert (tmp_path / "o1" / "bench.png").stat().st_size > 1000


def test_binary_0_255_masks_are_read_as_two_classes(tmp_path):
    root = tmp_path / "isbi"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    cv2.imwrite(str(root / "images" / "0.png"), np.zeros((8, 8), np.uint8))
    mask = np.zeros((8, 8), np.uint8)
    mask[4:] = 255
    cv2.imwrite(str(root / "labels" / "0.png"), mask)
    ds = load_dataset(root)
    assert ds.class_names == ("class0", "class1")
    assert set(np.unique(ds.truths["0"]).tolist()) == {0, 1}


def test_synthetic_em_data_set_is_written_for_the_bench(tmp_path, capsys):
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "synthetic_em.py"
    spec = importlib.util.spec_from_file_location("annotator_bench_synthetic_em", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    root = tmp_path / "em"
    assert module.main([str(root), "--images", "2", "--size", "96", "--seed", "3"]) == 0
    assert "2 images of 96 px" in capsys.readouterr().out
    ds = load_dataset(root, root / "classes.txt")
    assert ds.class_names == SYNTHETIC_EM_CLASSES
    assert np.array_equal(ds.truths["em_01"], synthetic_em(3001, size=96)[1])


def test_dataset_errors_are_clear(tmp_path):
    with pytest.raises(AnnotatorError, match=r"needs a folder of images \(images, imgs"):
        load_dataset(tmp_path)
    root = _dataset(tmp_path / "ds", n=1, size=32)
    (tmp_path / "one.txt").write_text("only\n")
    with pytest.raises(AnnotatorError, match="value 1 is not a class id"):
        load_dataset(root, tmp_path / "one.txt")
    with pytest.raises(AnnotatorError, match="unknown mode"):
        BenchConfig(mode="lazy")


def test_masks_named_after_their_image_with_an_ending_are_paired(tmp_path):
    """x_mask.png, x_label.png, CamVid's x_L.png, Cityscapes' gtFine_labelIds beside
    leftImg8bit: a set whose masks carry such an ending had "no image with a mask"."""
    root = _dataset(tmp_path / "ds", n=4, size=32)
    (root / "masks").rename(root / "gt")
    names = ["im0_mask", "IM1_Label", "im2_L", "im3_gtFine_labelIds"]
    for i, name in enumerate(names):
        (root / "gt" / f"im{i}.png").rename(root / "gt" / f"{name}.png")
    (root / "images" / "im3.png").rename(root / "images" / "im3_leftImg8bit.png")
    (root / "gt" / "stray_mask.png").write_bytes((root / "gt" / "im0_mask.png").read_bytes())
    ds = load_dataset(root, root / "classes.txt")
    assert [p.name for p in ds.images] == ["im0.png", "im1.png", "im2.png", "im3_leftImg8bit.png"]
    assert set(ds.truths) == {"im0", "im1", "im2", "im3_leftImg8bit"}
    assert any("stray_mask.png" in w for w in ds.warnings)  # no image: said, left out


def test_capped_images_make_the_ratio_a_bound(tmp_path):
    ds = load_dataset(_dataset(tmp_path / "ds", n=2, size=64), tmp_path / "ds" / "classes.txt")
    common = dict(strategy="in-order", tools=("brush",), train_steps=5, depth=2, width=8)
    manual = run_benchmark(ds, BenchConfig(mode="manual", max_strokes=2, **common), tmp_path / "m")
    assert manual.capped() == ["im0.png", "im1.png"]
    assert all(r.actions == 2 and not r.reached_target for r in manual.images)
    assisted = run_benchmark(ds, BenchConfig(mode="manual", **common), tmp_path / "a")
    assisted.mode = "assisted"  # an uncapped run to compare with
    factors = saving_factors([manual, assisted])
    assert factors["saving_factor_bound"] == "at least"
    assert factors["saving_factor_last_half_bound"] == "at least"
    assert any("at least" in line for line in summary_lines([manual, assisted]))


def _run(mode, costs, strategy="in-order"):
    """A run labelling the named images in the given order at the given costs."""
    from annotator.bench.effort import ImageRecordOut, RunResult

    common = dict(strokes=0, clicks=0, vertices=0, tools={}, reached_target=True)
    common.update(accepted=False, pixels_painted=0, accuracy_before=0.0, accuracy_after=0.95)
    common.update(train_seconds=0.0, model_version=None, robot_seconds=0.0)
    images = [ImageRecordOut(name=name, actions=cost, **common) for name, cost in costs]
    return RunResult(mode, strategy, {}, images)


def test_the_second_half_ratio_compares_the_same_images_in_any_order():
    manual = _run("manual", [("a", 100), ("b", 100), ("c", 10), ("d", 10)])
    # By uncertainty, the assisted run labels the costly images last.
    assisted = _run("assisted", [("c", 5), ("d", 5), ("a", 10), ("b", 10)], "uncertainty")
    factors = saving_factors([manual, assisted])
    assert factors["saving_factor"] == pytest.approx(220 / 30, abs=1e-3)
    # Manual cost of a and b (100 each) over assisted (10 each), not c and d (10 each).
    assert factors["saving_factor_last_half"] == 10.0
    # A manual run without those images: its own second half.
    partial = _run("manual", [("a", 100), ("e", 100), ("c", 10), ("d", 10)])
    assert saving_factors([partial, assisted])["saving_factor_last_half"] == 1.0


def test_bench_combine_compares_runs_made_apart(tmp_path, capsys):
    ds = load_dataset(_dataset(tmp_path / "ds", n=2, size=64), tmp_path / "ds" / "classes.txt")
    common = dict(strategy="in-order", tools=("brush",), train_steps=5, depth=2, width=8)
    runs = [
        run_benchmark(ds, BenchConfig(mode="manual", max_strokes=3, **common), tmp_path / "m"),
        run_benchmark(ds, BenchConfig(mode="manual", **common), tmp_path / "a"),
    ]
    runs[1].mode = "assisted"
    paths = []
    for r in runs:
        paths.append(tmp_path / f"{r.mode}.json")
        paths[-1].write_text(json.dumps(r.to_dict()))
    assert main(["bench-combine", *map(str, paths), "--out", str(tmp_path / "out")]) == 0
    combined = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert combined["comparison"] == saving_factors(runs)
    assert combined["comparison"]["saving_factor_bound"] == "at least"
    assert "at least" in capsys.readouterr().out
    first = ["bench-combine", *map(str, paths), "--out", str(tmp_path / "o1"), "--first", "1"]
    assert main(first) == 0
    one = json.loads((tmp_path / "o1" / "bench.json").read_text())
    assert [len(r["images"]) for r in one["runs"]] == [1, 1]
    for run in one["runs"]:  # the figures of that one image, not of the whole run
        image = run["images"][0]
        assert run["wall_seconds"] == round(image["robot_seconds"] + image["train_seconds"], 1)
        assert run["final_miou_unlabelled"] is None
    assert main([*first[:-1], "3"]) == 1
    # A combined report (bench.json) gives every run it holds, not just its first.
    again = ["bench-combine", str(tmp_path / "out" / "bench.json"), "--out", str(tmp_path / "o2")]
    assert main(again) == 0
    again_report = json.loads((tmp_path / "o2" / "bench.json").read_text())
    assert again_report["comparison"] == combined["comparison"]
    assert [r["mode"] for r in again_report["runs"]] == ["manual", "assisted"]
    capsys.readouterr()
    (tmp_path / "bad.json").write_text('{"mode": "manual"}')
    assert main(["bench-combine", str(tmp_path / "bad.json"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "bad.json" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty.json").write_text('{"runs": []}')
    assert main(["bench-combine", str(tmp_path / "empty.json"), "--out", str(tmp_path / "o")]) == 1
    assert "empty.json: holds no runs" in capsys.readouterr().err


def test_bench_combine_joins_the_parts_of_a_manual_run(tmp_path, capsys):
    ds = load_dataset(_dataset(tmp_path / "ds", n=3, size=64), tmp_path / "ds" / "classes.txt")
    common = dict(mode="manual", strategy="in-order", tools=("brush",), depth=2, width=8)
    whole = run_benchmark(ds, BenchConfig(**common), tmp_path / "w")
    parts = [
        run_benchmark(ds, BenchConfig(limit=1, **common), tmp_path / "p0"),
        run_benchmark(ds, BenchConfig(skip=1, **common), tmp_path / "p1"),
    ]
    assert [len(p.images) for p in parts] == [1, 2]
    paths = []
    for i, r in enumerate(parts):
        paths.append(tmp_path / f"part{i}.json")
        paths[-1].write_text(json.dumps(r.to_dict()))
    assert main(["bench-combine", *map(str, paths), "--out", str(tmp_path / "out")]) == 0
    joined = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert len(joined["runs"]) == 1
    run = joined["runs"][0]
    assert [r["name"] for r in run["images"]] == [r.name for r in whole.images]
    assert [r["actions"] for r in run["images"]] == [r.actions for r in whole.images]
    assert run["total_actions"] == round(whole.total_actions, 1)
    # The same part twice, or two parts of an assisted run, are refused in one line.
    capsys.readouterr()
    assert main(["bench-combine", str(paths[1]), str(paths[1]), "--out", str(tmp_path / "o")]) == 1
    assert "overlap" in capsys.readouterr().err
    assisted = [json.loads(p.read_text()) | {"mode": "assisted"} for p in paths]
    for p, d in zip(paths, assisted):
        p.write_text(json.dumps(d))
    assert main(["bench-combine", *map(str, paths), "--out", str(tmp_path / "o2")]) == 1
    err = capsys.readouterr().err
    assert "only manual runs can be joined" in err and "Traceback" not in err


def test_the_report_gives_the_second_half_proposals_accuracy_that_the_cost_follows():
    assisted = _run("assisted", [("a", 50), ("b", 40), ("c", 8), ("d", 1), ("e", 1)])
    assisted.config = {"target": 0.95}
    for record, acc in zip(assisted.images, (None, 0.90, 0.93, 0.96, 0.94)):
        record.proposal_accuracy = acc
    # The second half is c, d, e (the larger half when odd): a and b do not count.
    assert assisted.proposal_accuracy_last_half() == pytest.approx((0.9433333, 0.93, 0.96))
    assert assisted.to_dict()["proposal_accuracy_last_half"] == [0.94333, 0.93, 0.96]
    lines = summary_lines([assisted])
    assert (
        "proposals (assisted), second half: accuracy 0.943 on average (0.930-0.960) "
        "against the target 0.95" in lines
    )
    manual = _run("manual", [("a", 100), ("b", 100)])
    assert manual.proposal_accuracy_last_half() is None
    assert manual.to_dict()["proposal_accuracy_last_half"] is None
    assert not any(line.startswith("proposals") for line in summary_lines([manual]))


def test_a_class_no_mask_holds_is_warned_of(tmp_path):
    """Masks kept as 0/255 with a three-class list: 255 is void, so the run measured
    nothing, in silence. (With a two-class list 255 is class 1, as without a list.)"""
    root = _dataset(tmp_path / "ds", n=2, size=32)
    for mask in (root / "masks").iterdir():
        m = cv2.imread(str(mask), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(mask), np.where(m == 1, 255, m).astype(np.uint8))
    (root / "classes.txt").write_text("background\ncell\nnucleus\n")
    ds = load_dataset(root, root / "classes.txt")
    assert any("measures nothing" in w for w in ds.warnings)
    root2 = _dataset(tmp_path / "ds2", n=2, size=32)
    (root2 / "classes.txt").write_text("background\ncell\nnucleus\nvesicle\n")
    ds2 = load_dataset(root2, root2 / "classes.txt")
    assert any("2 class(es)" in w and "nucleus, vesicle" in w for w in ds2.warnings)


def test_train_now_is_not_pressed_on_nothing_and_the_budget_is_spent(tmp_path):
    """With tools that only take proposals, Train now was pressed (and billed) on an
    empty label map; and a first image stopped one action short of its budget, said to
    have no gesture left."""
    ds = load_dataset(_dataset(tmp_path / "ds", n=1, size=32), tmp_path / "ds" / "classes.txt")
    common = dict(strategy="in-order", train_steps=2, depth=2, width=4, device="cpu")
    only = run_benchmark(
        ds, BenchConfig(mode="assisted", tools=("accept-region",), **common), tmp_path / "a"
    )
    rec = only.images[0]
    assert rec.actions == 0 and "train-now" not in rec.tools and rec.rounds_during == 0
    short = run_benchmark(
        ds,
        BenchConfig(mode="assisted", max_strokes=6, train_now_every=5, **common),
        tmp_path / "b",
    )
    rec = short.images[0]
    assert rec.actions >= 6 or rec.reached_target  # the last action was spent
    assert short.stuck() == []


def test_runs_of_different_images_give_no_second_half_ratio():
    from annotator.bench.effort import ImageRecordOut, RunResult

    common = dict(strokes=0, clicks=0, vertices=0, tools={}, reached_target=True)
    common.update(accepted=False, pixels_painted=0, accuracy_before=0.0, accuracy_after=0.95)
    common.update(train_seconds=0.0, model_version=None, robot_seconds=0.0)
    manual = RunResult("manual", "in-order", {}, [ImageRecordOut("a.png", 4.0, **common)])
    assisted = RunResult("assisted", "in-order", {}, [ImageRecordOut("b.png", 2.0, **common)])
    factors = saving_factors([manual, assisted])
    assert factors["saving_factor_last_half"] is None
    manual.images.append(ImageRecordOut("b.png", 6.0, **common))
    assert "(6.0 / 2.0 actions per image" in "\n".join(summary_lines([manual, assisted]))


def test_a_class_table_of_other_ids_is_read_by_id_not_shifted(tmp_path):
    """An ADE20K objectInfo150.csv gives ids from 1; read as a plain list its names were
    the ids 0.., so every class was the next one's. It is read by id (0 void), as the
    masks import reads it."""
    from annotator.bench.dataset import load_dataset

    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    cv2.imwrite(str(tmp_path / "images/a.png"), np.zeros((8, 8), np.uint8))
    cv2.imwrite(str(tmp_path / "masks/a.png"), np.ones((8, 8), np.uint8))
    table = tmp_path / "objectInfo150.csv"
    table.write_text("Idx,Ratio,Train,Val,Name\n1,0.1,1,1,wall\n2,0.1,1,1,building\n")
    by_id = load_dataset(tmp_path, table)
    assert by_id.class_names == ("wall", "building")
    assert (by_id.truths["a"] == 0).all()  # value 1: wall, the class listed as 1
    assert "1 -> wall" in by_id.note
    plain = tmp_path / "classes.txt"
    plain.write_text("wall\nbuilding\n")
    assert load_dataset(tmp_path, plain).class_names == ("wall", "building")


def test_the_bench_zooms_its_rounds_crops_only_when_asked(tmp_path, capsys):
    from annotator.storage.project import Project

    root = _dataset(tmp_path / "ds", n=2, size=64)
    common = ["--mode", "assisted", "--train-steps", "2", "--device", "cpu", "--depth", "2"]
    common += ["--width", "4", "--tools", "brush", "--train-now-every", "0"]
    runs = {}
    for zoom in ("0", "0.3"):
        out = tmp_path / f"zoom{zoom}"
        assert main(["bench", str(root), *common, "--zoom", zoom, "--out", str(out)]) == 0
        runs[zoom] = json.loads((out / "bench.json").read_text())["runs"][0]
        with Project.open(out / "projects" / "assisted-uncertainty", lock=False) as project:
            scales = {m.card.training.config["augment"]["scale"] for m in project.models()}
        assert scales == {float(zoom)}  # every round of the run
    assert runs["0.3"]["config"]["zoom"] == 0.3 and runs["0"]["config"]["zoom"] == 0.0
    assert BenchConfig().zoom == 0.0  # off by default, as in the app (ADR 0023)
    with pytest.raises(AnnotatorError, match="--zoom must be between 0 and 1"):
        BenchConfig(zoom=1.5)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
        main(["bench", str(root), *common, "--zoom", "-1", "--out", str(tmp_path / "x")])
    assert exit_.value.code == 2
    assert "argument --zoom: '-1' is not a number from 0 to 1" in capsys.readouterr().err


def test_a_truth_geotiff_naming_a_nodata_value_is_read_as_its_class_ids(tmp_path):
    """A label raster's GDAL_NODATA (ADR 0029) is one of its ids here, never NaN."""
    import tifffile

    from annotator.bench.dataset import _read_truth
    from annotator.core.nodata import GDAL_NODATA_TAG

    truth = np.zeros((20, 30), np.uint8)
    truth[:, 15:] = 1
    truth[:4] = 255
    path = tmp_path / "t.tif"
    tifffile.imwrite(path, truth, extratags=[(GDAL_NODATA_TAG, "s", 0, "255", True)])
    np.testing.assert_array_equal(_read_truth(path), truth)


def test_rounds_kept_going_while_an_image_is_labelled_are_counted_by_its_actions(tmp_path):
    """The app keeps training on the done images while the user labels (ADR 0033): the
    bench runs the whole rounds that fit in the image's actions' time before it is done."""
    from annotator.bench.effort import RANK_S_PER_IMAGE, ROUND_OVERHEAD_S
    from annotator.storage.project import Project

    ds = load_dataset(_dataset(tmp_path / "ds", n=3, size=64), tmp_path / "ds" / "classes.txt")
    common = dict(train_steps=5, depth=2, width=8, crop=64, batch_size=4, seed=1)
    common |= dict(strategy="in-order", train_now_every=0, target=0.99, train_seconds=30.0)
    run = run_benchmark(
        ds, BenchConfig(mode="assisted", seconds_per_action=60.0, **common), tmp_path / "a"
    )
    first, *later = run.images
    assert first.rounds_kept == 0  # nothing is done while the first image is labelled
    for k, rec in enumerate(later, start=1):
        round_s = 30.0 + ROUND_OVERHEAD_S + RANK_S_PER_IMAGE * (len(run.images) - k - 1)
        assert rec.rounds_kept == int(rec.actions * 60.0 // round_s)
    assert sum(r.rounds_kept for r in later) >= 1
    assert len(run.train_rounds_s) == len(run.images) + sum(r.rounds_kept for r in later)
    # the rounds kept going trained on the images done before, never on the one labelled
    with Project.open(tmp_path / "a") as project:
        ids = {r.name: r.id for r in project.images()}
        for m in project.models():
            seen = {ref.id for ref in (*m.card.train_images, *m.card.validation_images)}
            if m.version > 1 and seen != set(ids.values()):
                assert ids["im2.png"] not in seen
    # by hand, or with S = 0 (the app's keeping on turned off), none runs
    for mode, s in (("manual", 60.0), ("assisted", 0.0)):
        other = run_benchmark(
            ds, BenchConfig(mode=mode, seconds_per_action=s, **common), tmp_path / f"{mode}{s}"
        )
        assert all(r.rounds_kept == 0 for r in other.images)
        assert len(other.train_rounds_s) == (0 if mode == "manual" else len(other.images))
    with pytest.raises(AnnotatorError, match="seconds-per-action"):
        BenchConfig(seconds_per_action=-1)
