"""The output folder of an export: its mode, and never a folder inside the project."""

from __future__ import annotations

import os
import stat

import pytest
from fmthelpers import make_project

from annotator.cli import main
from annotator.core.errors import AnnotatorError
from annotator.services.exchange import ExportRequest, export_project


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_a_new_export_folder_gets_the_mode_mkdir_gives(tmp_path, masks, umask_027):
    """It came from tempfile.mkdtemp and kept its 0o700."""
    project = make_project(tmp_path, masks)
    out = tmp_path / "out"
    export_project(project, ExportRequest(format="voc", out=out))
    assert _mode(out) == 0o750
    assert _mode(out / "SegmentationClass") == 0o750


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_an_empty_folder_given_keeps_its_mode(tmp_path, masks, umask_027):
    project = make_project(tmp_path, masks)
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o755)
    export_project(project, ExportRequest(format="masks", out=out))
    assert _mode(out) == 0o755
    assert (out / "class_names.txt").is_file()


@pytest.mark.parametrize("inside", ["", "models", "proposals", "new/folder"])
def test_an_export_inside_the_project_folder_is_refused(tmp_path, masks, inside, capsys):
    """``predict --out`` refused it; export wrote its files among the project's."""
    make_project(tmp_path, masks).close()
    root = tmp_path / "project"
    out = root / inside if inside else root
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    capsys.readouterr()
    assert main(["export", str(root), str(out), "--format", "masks"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{out}: is inside the project folder {root}; write the export somewhere else" in err
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


def test_an_export_through_a_link_into_the_project_is_refused(tmp_path, masks):
    project = make_project(tmp_path, masks)
    link = tmp_path / "link"
    link.symlink_to(project.root, target_is_directory=True)
    with pytest.raises(AnnotatorError, match="is inside the project folder"):
        export_project(project, ExportRequest(format="voc", out=link / "export"))
    assert not (project.root / "export").exists()


def test_overwrite_replaces_a_folder_holding_files_only_once_the_new_one_is_complete(
    tmp_path, masks, capsys, monkeypatch
):
    make_project(tmp_path, masks).close()
    root, out = tmp_path / "project", tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("an older export")
    args = ["export", str(root), str(out), "--format", "masks"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err == (
        f"annotator: error: {out}: already exists and is not an empty folder; give a new or "
        "empty folder, or --overwrite to replace it\n"
    )

    def cut_short():  # the export stops after writing its files, before the swap
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "sync", cut_short)
    assert main([*args, "--overwrite"]) != 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"]  # kept whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project", "src"]
    monkeypatch.undo()
    assert main([*args, "--overwrite"]) == 0
    assert f"to {out}" in capsys.readouterr().out
    assert not (out / "old.txt").exists() and (out / "class_names.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project", "src"]


@pytest.mark.parametrize("holds", ["project", "pictures"])
def test_overwrite_never_replaces_a_folder_holding_the_project_or_its_pictures(
    tmp_path, masks, holds, capsys
):
    make_project(tmp_path, masks).close()
    root = tmp_path / "project"
    out = tmp_path if holds == "project" else tmp_path / "src"
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert main(["export", str(root), str(out), "--format", "masks", "--overwrite"]) == 1
    err = capsys.readouterr().err
    what = f"the project folder {root}" if holds == "project" else "the image file of "
    assert f"{out}: holds {what}" in err and err.count("\n") == 1
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_overwrite_refuses_an_output_folder_that_is_a_link(tmp_path, masks, capsys):
    """A rename moves a link, not the folder it names: the export would land beside the
    link's target and a hidden link would stay behind. Refused, naming the target."""
    make_project(tmp_path, masks).close()
    target = tmp_path / "target"
    target.mkdir()
    (target / "old.txt").write_text("an older export")
    link = tmp_path / "out"
    link.symlink_to(target, target_is_directory=True)
    args = ["export", str(tmp_path / "project"), str(link), "--format", "masks"]
    assert main([*args, "--overwrite"]) == 1
    err = capsys.readouterr().err
    assert (
        err == f"annotator: error: {link}: is a link to {target}; give that folder to replace it\n"
    )
    assert link.is_symlink() and (target / "old.txt").read_text() == "an older export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "project", "src", "target"]
    assert (
        main(
            [
                str(a)
                for a in [
                    "export",
                    tmp_path / "project",
                    target,
                    "--format",
                    "masks",
                    "--overwrite",
                ]
            ]
        )
        == 0
    )
    assert (target / "class_names.txt").is_file() and not (target / "old.txt").exists()
