"""``predict --out DIR`` is all or nothing, as export is: an interrupted run leaves DIR
as it was (the proposals it finished stay in the project), and a rerun needs no
``--overwrite``."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from annotator.cli import main
from annotator.core.errors import AnnotatorError
from annotator.core.proposal import Proposal
from annotator.services import proposals
from annotator.services.projects import create_project, open_project


def _ones(image: np.ndarray) -> np.ndarray:
    return np.ones(image.shape[:2], np.uint8)


class _Predictor:
    """Proposes ``propose(image)`` (class 1 everywhere by default); Ctrl+C
    (KeyboardInterrupt) at image ``stop``."""

    def __init__(self, stop: int | None = None, propose=_ones) -> None:
        self.stop, self.calls, self.propose = stop, 0, propose

    def predict(self, image, cancel=None, keep_probabilities=True, progress=None):
        self.calls += 1
        if self.calls == self.stop:
            raise KeyboardInterrupt
        h, w = image.shape[:2]
        return Proposal(None, self.propose(image), np.zeros((h, w), np.float32), 0.5, 1)


@pytest.fixture
def project_root(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(5):
        cv2.imwrite(str(images / f"im{i}.png"), np.full((8, 8), i * 40, np.uint8))
    with create_project(tmp_path / "P", ["bg", "cell"]) as project:
        project.add_images([images])
    return tmp_path / "P"


def _hidden(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_an_interrupted_predict_out_writes_no_mask(project_root, tmp_path):
    """It left 2 of 5 masks, and the rerun was refused for them without --overwrite."""
    out = tmp_path / "out"
    with open_project(project_root) as project, pytest.raises(KeyboardInterrupt):
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(stop=3))
    assert not out.exists() and _hidden(tmp_path) == []
    with open_project(project_root) as project:
        done = proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    assert sorted(p.name for p in out.iterdir()) == [
        "class_names.txt",
        *(f"im{i}.png" for i in range(5)),
        "images.json",
    ]
    assert all(d.exported_path == out / f"{d.name}" for d in done)


def test_an_interrupted_predict_leaves_a_folder_holding_files_as_it_was(project_root, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "im0.png").write_bytes(b"older")
    with open_project(project_root) as project, pytest.raises(KeyboardInterrupt):
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(stop=3), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["im0.png", "notes.txt"]
    assert (out / "im0.png").read_bytes() == b"older"
    with open_project(project_root) as project:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(), overwrite=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "class_names.txt",
        *(f"im{i}.png" for i in range(5)),
        "images.json",
        "notes.txt",
    ]
    assert (out / "im0.png").read_bytes() != b"older"


def test_the_cli_says_an_interrupted_predict_wrote_nothing_to_out(
    project_root, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(proposals, "load_predictor", lambda *a, **k: _Predictor(stop=3))
    out = tmp_path / "out"
    assert main(["predict", str(project_root), "--out", str(out)]) == 130
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"annotator: interrupted after 2 of 5 image(s), whose proposals stay in the project; "
        f"nothing was written to {out}"
    )
    assert not out.exists()
    with open_project(project_root) as project:  # as it says
        kept = [proposals.proposal_store.version_and_score(project, r.id) for r in project.images()]
        assert sum(k is not None for k in kept) == 2
    monkeypatch.setattr(proposals, "load_predictor", lambda *a, **k: _Predictor())
    assert main(["predict", str(project_root), "--out", str(out)]) == 0  # no --overwrite


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_the_masks_folder_gets_the_mode_mkdir_gives(project_root, tmp_path):
    previous = os.umask(0o027)
    try:
        with open_project(project_root) as project:
            proposals.predict_images(project, out_dir=tmp_path / "out", predictor=_Predictor())
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o750


def test_a_full_disk_names_the_out_folder_and_writes_no_mask_there(
    project_root, tmp_path, monkeypatch
):
    write = proposals.atomic_write_bytes

    def filling(path, data):
        if path.name == "im2.png":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write(path, data)

    monkeypatch.setattr(proposals, "atomic_write_bytes", filling)
    out = tmp_path / "out"
    with open_project(project_root) as project, pytest.raises(AnnotatorError) as err:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    assert str(err.value).startswith(f"{out}: the disk is full (No space left on device)")
    assert not out.exists() and _hidden(tmp_path) == []


class _OutOfMemory(_Predictor):
    def predict(self, image, cancel=None, keep_probabilities=True, progress=None):
        if self.calls == 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().predict(image, cancel, keep_probabilities)


def test_running_out_of_memory_says_what_was_kept_and_writes_no_mask(project_root, tmp_path):
    """It said "(those are saved)" of the images proposed before, though --out's masks
    of them are not written (all or nothing)."""
    out = tmp_path / "out"
    with open_project(project_root) as project, pytest.raises(AnnotatorError) as err:
        proposals.predict_images(project, out_dir=out, predictor=_OutOfMemory())
    said = str(err.value)
    assert "ran out of memory after 2 image(s)" in said
    assert f"their proposals are kept in the project, {out} was not written" in said
    assert not out.exists() and _hidden(tmp_path) == []


def _scenes(tmp_path):
    """A project of a/x.png and b/x.png (one file name, two pictures) and c.png."""
    src = tmp_path / "scenes"
    for i, rel in enumerate(("a/x.png", "b/x.png", "c.png")):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(src / rel), np.full((8, 8), 30 + i * 60, np.uint8))
    with create_project(tmp_path / "S", ["bg", "cell"]) as project:
        project.add_images([src])
    return tmp_path / "S", src


def test_predict_out_names_each_masks_image_in_images_json(tmp_path):
    """The flat names (x.png, x~2.png) said no more which picture each mask is of."""
    import json

    root, src = _scenes(tmp_path)
    out = tmp_path / "out"
    with open_project(root) as project:
        by_name = {r.name: r for r in project.images()}
        proposals.predict_images(
            project, [by_name["a/x.png"], by_name["b/x.png"]], out_dir=out, predictor=_Predictor()
        )
    index = json.loads((out / "images.json").read_text())
    assert index["format"] == "annotator-predicted-masks"
    assert {f: (e["image"], e["file"], e["sha1"]) for f, e in index["masks"].items()} == {
        "x.png": ("a/x.png", str(src / "a" / "x.png"), by_name["a/x.png"].sha1),
        "x~2.png": ("b/x.png", str(src / "b" / "x.png"), by_name["b/x.png"].sha1),
    }
    # a later run into the folder keeps the entries of the masks it does not replace
    with open_project(root) as project:
        proposals.predict_images(project, [by_name["c.png"]], out_dir=out, predictor=_Predictor())
    index = json.loads((out / "images.json").read_text())
    assert sorted(index["masks"]) == ["c.png", "x.png", "x~2.png"]
    assert index["masks"]["x~2.png"]["image"] == "b/x.png"


def test_predicted_masks_import_back_onto_their_own_images(tmp_path, capsys):
    """x~2.png named no image: the import found b/x.png through images.json."""
    root, _src = _scenes(tmp_path)
    out = tmp_path / "out"
    with open_project(root) as project:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    assert main(["import", str(root), str(out), "--format", "masks"]) == 0
    with open_project(root) as project:
        labelled = {r.name for r in project.images() if project.load_mask(r) is not None}
    assert labelled == {"a/x.png", "b/x.png", "c.png"}


def test_a_users_own_images_json_in_out_is_not_replaced_unasked(project_root, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "images.json").write_text('{"mine": true}')
    with open_project(project_root) as project, pytest.raises(AnnotatorError, match="images.json"):
        proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    assert (out / "images.json").read_text() == '{"mine": true}'


def test_predicted_masks_import_by_their_class_names_wherever_they_lie(
    project_root, tmp_path, capsys
):
    """A docs audit: `predict --out pred` then `import d2 pred --format masks` read an
    unrelated classes.txt in the folder above (the working folder) and failed ("values
    [2] are not ids of the 2 classes in classes.txt"); the masks now come with their
    class list."""
    (tmp_path / "classes.txt").write_text("background\ncell, big\nnucleus\n")
    out = tmp_path / "pred"
    with open_project(project_root) as project:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    assert (out / "class_names.txt").read_text() == "bg\ncell\n"
    with create_project(tmp_path / "P2", ["cell", "bg"]) as project:  # other ids, same names
        project.add_images([tmp_path / "images"])
    capsys.readouterr()
    assert main(["import", str(tmp_path / "P2"), str(out), "--format", "masks"]) == 0
    said = capsys.readouterr().out
    assert f"classes read from {out / 'class_names.txt'}" in said
    with open_project(tmp_path / "P2") as project:
        assert project.schema.names == ["cell", "bg"]
        for rec in project.images():
            assert (project.load_mask(rec) == 0).all()  # class 'cell': id 0 here
    # another class list in DIR is replaced only with --overwrite
    (out / "class_names.txt").write_text("a\nb\n")
    with open_project(project_root) as project, pytest.raises(AnnotatorError, match="--overwrite"):
        proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    # named for what it is when no mask is in the way (it said "named as the masks")
    for f in out.glob("*.png"):
        f.unlink()
    with open_project(project_root) as project, pytest.raises(AnnotatorError) as refused:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    assert "its class_names.txt lists other classes than the project's" in str(refused.value)


def test_a_run_into_a_folder_of_an_earlier_one_puts_its_masks_in_at_once(
    project_root, tmp_path, monkeypatch
):
    """Its masks were moved in one by one: a kill part way left the folder with some
    masks of the new model and the rest of the old under the old images.json (naming
    the old version for all). Now one rename puts the new folder in place, holding the
    files of the old it does not replace; killed at that rename, the next run finds the
    old folder again and finishes, nothing of the user's lost."""
    import json

    out = tmp_path / "out"
    with open_project(project_root) as project:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    (out / "notes.txt").write_text("mine")
    (out / "sub").mkdir()
    (out / "sub" / "more.txt").write_text("mine too")
    twos = _Predictor(propose=lambda image: np.full(image.shape[:2], 2, np.uint8))

    class _Killed(BaseException):
        pass

    real_replace, real_rename = os.replace, os.rename
    into_out: list[str] = []

    def watched(real):  # type: ignore[no-untyped-def]
        def rename(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
            if os.fspath(dst) == os.fspath(out) or os.path.dirname(dst) == os.fspath(out):
                into_out.append(os.fspath(src))
                if kill:
                    raise _Killed()  # (no clean-up runs after a real kill)
            return real(src, dst, *args, **kwargs)

        return rename

    kill = False
    monkeypatch.setattr(os, "replace", watched(real_replace))
    monkeypatch.setattr(os, "rename", watched(real_rename))
    with open_project(project_root) as project:
        proposals.predict_images(project, out_dir=out, predictor=twos, overwrite=True)
    assert len(into_out) == 1  # one rename: the whole folder
    kill, into_out[:] = True, []
    with open_project(project_root) as project, pytest.raises(_Killed):
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(), overwrite=True)
    kill = False
    with open_project(project_root) as project:  # finds the folder again, and finishes
        proposals.predict_images(project, out_dir=out, predictor=twos, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "sub" / "more.txt").read_text() == "mine too"
    for i in range(5):
        assert (cv2.imread(str(out / f"im{i}.png"), cv2.IMREAD_UNCHANGED) == 2).all()
    index = json.loads((out / "images.json").read_text())
    assert sorted(index["masks"]) == [f"im{i}.png" for i in range(5)]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []


def test_a_run_into_a_link_to_a_folder_keeps_the_link(project_root, tmp_path):
    real, out = tmp_path / "real", tmp_path / "out"
    real.mkdir()
    (real / "notes.txt").write_text("mine")
    out.symlink_to(real)
    with open_project(project_root) as project:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor())
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(), overwrite=True)
    assert out.is_symlink() and (real / "im0.png").is_file()
    assert (real / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "names", [("Label", "cell", "nucleus"), ("1 cell", "2 nucleus", "3 membrane")]
)
def test_predicted_masks_import_back_whatever_the_class_names(tmp_path, names):
    """A plain class_names.txt whose first class is "Label" read back as a header (and
    "1 cell", "2 nucleus" as ids from 1): the import put every pixel one class off."""
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        cv2.imwrite(str(images / f"im{i}.png"), np.full((8, 8), i * 40, np.uint8))
    with create_project(tmp_path / "P", list(names)) as project:
        project.add_images([images])

    def stripes(image):  # type: ignore[no-untyped-def]
        labels = np.zeros(image.shape[:2], np.uint8)
        labels[3:6] = 1
        labels[6:] = 2
        return labels

    out = tmp_path / "out"
    with open_project(tmp_path / "P") as project:
        proposals.predict_images(project, out_dir=out, predictor=_Predictor(propose=stripes))
    with create_project(tmp_path / "Q", list(names)) as again:
        again.add_images([images])
    assert main(["import", str(tmp_path / "Q"), str(out), "--format", "masks"]) == 0
    with open_project(tmp_path / "Q") as again:
        assert again.schema.names == list(names)
        for rec in again.images():
            np.testing.assert_array_equal(again.load_mask(rec), stripes(np.zeros((8, 8))))


@pytest.mark.parametrize("earlier", [False, True])
def test_predict_out_into_the_current_folder_keeps_it(project_root, tmp_path, monkeypatch, earlier):
    """`cd preds; annotator predict P --out .`: the folder was swapped for a new one, the
    shell left in a deleted folder. An empty folder, or the current one, is kept."""
    out = tmp_path / "preds"
    out.mkdir()
    if earlier:
        with open_project(project_root) as project:
            proposals.predict_images(project, out_dir=out, predictor=_Predictor())
    inode = out.stat().st_ino
    monkeypatch.chdir(out)
    with open_project(project_root) as project:
        proposals.predict_images(project, out_dir=Path("."), predictor=_Predictor(), overwrite=True)
    assert out.stat().st_ino == inode and Path.cwd().exists()
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".png") == [
        f"im{i}.png" for i in range(5)
    ]


def test_an_out_that_is_a_link_to_nothing_is_said_by_its_own_name(tmp_path):
    """The error named the hidden stage folder ('.out.partial-...: Not a directory')."""
    from annotator.services.proposals import _out_stage

    link = tmp_path / "out"
    os.symlink(tmp_path / "gone", link)
    with pytest.raises(AnnotatorError, match="out: a symbolic link to .*gone, which is not there"):
        _out_stage(link)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())
