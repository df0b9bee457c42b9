"""End to end through the CLI: choose an architecture, train, propose, list, roll back."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import write_png

from annotator.cli import main


def _colour_project(tmp_path):
    """``annotator new`` + ``add`` + ``import`` of four small colour images with masks."""
    rng = np.random.default_rng(0)
    for i in range(4):
        image = rng.integers(0, 80, (40, 56, 3), dtype=np.uint8)
        mask = np.zeros((40, 56), np.uint8)
        mask[10 + i : 25 + i, 8:30] = 1  # a red square on a dark background
        image[mask == 1] = (200, 40, 40)
        write_png(tmp_path / "src" / f"photo_{i}.png", image[..., ::-1])  # cv2 writes BGR
        if i < 3:
            write_png(tmp_path / "masks" / f"photo_{i}.png", mask)
    root = str(tmp_path / "project")
    assert main(["new", root, "--classes", "background,square"]) == 0
    assert main(["add", root, str(tmp_path / "src")]) == 0
    assert main(["import", root, str(tmp_path / "masks"), "--format", "masks"]) == 0
    return root


@pytest.mark.slow
def test_train_with_arch_then_predict_list_and_roll_back(tmp_path, capsys):
    root = _colour_project(tmp_path)
    capsys.readouterr()
    tiny = ["--steps", "2", "--device", "cpu", "--depth", "2", "--width", "4"]
    assert main(["train", root, "--arch", "deeplab", *tiny]) == 0
    assert "published model v1 (from scratch)" in capsys.readouterr().out
    assert main(["predict", root, "--out", str(tmp_path / "out")]) == 0
    assert "wrote 4 proposal(s) from model v1" in capsys.readouterr().out
    assert (tmp_path / "out" / "photo_3.png").exists()

    # Continuing cannot change the architecture silently; an unknown name lists choices.
    assert main(["train", root, "--arch", "unet", "--steps", "1", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "v1 is a deeplab" in err and "--from-scratch" in err and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
        main(["train", root, "--arch", "segformer", "--from-scratch", *tiny])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --arch: unknown architecture 'segformer'; choose one of: fcn" in err

    # Continuing with the same architecture (or none given) is fine.
    assert main(["train", root, "--arch", "deeplab", "--steps", "1", "--device", "cpu"]) == 0
    assert "published model v2 (from v1)" in capsys.readouterr().out
    assert main(["train", root, "--arch", "gcn", "--from-scratch", *tiny]) == 0
    capsys.readouterr()
    assert main(["models", root]) == 0
    listing = capsys.readouterr().out
    assert "arch" in listing and "params" in listing
    lines = {ln.lstrip("* ").split()[0]: ln for ln in listing.splitlines()[1:]}
    assert "deeplab" in lines["v1"] and "deeplab" in lines["v2"] and "gcn" in listing
    assert main(["models", root, "--json"]) == 0
    cards = [m["card"] for m in json.loads(capsys.readouterr().out)]
    assert [c["architecture"]["arch"] for c in cards] == ["deeplab", "deeplab", "gcn"]
    assert all(c["parameters"] > 0 for c in cards)

    # Rollback across architectures: the deeplab version proposes again.
    assert main(["models", root, "--rollback", "2"]) == 0
    capsys.readouterr()
    assert main(["predict", root, "--images", "photo_3"]) == 0
    assert "from model v2" in capsys.readouterr().out


def test_bench_refuses_an_unknown_architecture_with_its_usage(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench", str(tmp_path), "--arch", "segformer", "--out", str(tmp_path / "o")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: annotator bench ")
    assert "argument --arch: unknown architecture 'segformer'; choose one of: fcn" in err


def test_bench_config_carries_the_architecture():
    from annotator.bench.effort import BenchConfig

    assert BenchConfig(arch="deeplab").arch == "deeplab"
    from annotator.ml.networks import DEFAULT_ARCH

    assert BenchConfig().arch == DEFAULT_ARCH == "fcn"


def test_a_new_model_without_arch_gets_the_default_architecture(tmp_path, capsys):
    from annotator.ml.networks import DEFAULT_ARCH

    root = _colour_project(tmp_path)
    tiny = ["--steps", "1", "--device", "cpu", "--depth", "2", "--width", "4"]
    assert main(["train", root, *tiny]) == 0
    capsys.readouterr()
    assert main(["models", root, "--json"]) == 0
    cards = [m["card"] for m in json.loads(capsys.readouterr().out)]
    assert [c["architecture"]["arch"] for c in cards] == [DEFAULT_ARCH]


def test_train_stopping_on_a_missing_file_says_what_to_do_about_it(tmp_path, capsys):
    """It said only "...: no such file", and stopped on the first one."""
    root = _colour_project(tmp_path)
    (tmp_path / "src" / "photo_1.png").rename(tmp_path / "elsewhere.png")
    (tmp_path / "src" / "photo_3.png").unlink()
    capsys.readouterr()
    assert main(["train", root, "--steps", "1", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"annotator: error: {tmp_path / 'src' / 'photo_1.png'}: no such file (1 other "
        "image(s) have no file either); put the file back, or remove the image from the "
        f"project with `annotator remove {root} photo_1.png` (its labels are kept in "
        f"{root}/removed/)\n"
    )


def test_the_remove_command_suggested_for_a_missing_file_runs_as_it_is(tmp_path, capsys):
    """For a picture named -dash.png it suggested `annotator remove P -dash.png`, which
    argparse refuses (-dash.png read as an option): now `... -- -dash.png`."""
    import shlex

    root = _colour_project(tmp_path)
    picture = np.random.default_rng(1).integers(0, 255, (40, 56, 3), dtype=np.uint8)
    write_png(tmp_path / "src" / "-dash.png", picture)
    assert main(["add", root, "--", str(tmp_path / "src" / "-dash.png")]) == 0
    masks = tmp_path / "dash_masks"
    write_png(masks / "-dash.png", (np.arange(40 * 56).reshape(40, 56) % 2).astype(np.uint8))
    assert main(["import", root, str(masks), "--format", "masks"]) == 0
    (tmp_path / "src" / "-dash.png").unlink()
    capsys.readouterr()
    assert main(["train", root, "--steps", "1", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    suggested = err.partition("`annotator remove ")[2].partition("`")[0]
    assert suggested == f"{root} -- -dash.png", err
    assert main(["remove", *shlex.split(suggested)]) == 0
    assert "-dash.png" not in capsys.readouterr().err
