"""Small things the CLI said oddly: a project path with ``..`` in it, ``add`` of a path
that is not there (exit 1 without its error line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotator.cli import main
from annotator.storage.project import Project


@pytest.fixture
def root(tmp_path: Path) -> Path:
    assert main(["new", str(tmp_path / "P"), "--classes", "background,cell"]) == 0
    (tmp_path / "sub").mkdir()
    return tmp_path / "P"


def test_a_project_path_through_dot_dot_is_shown_without_it(root, capsys, monkeypatch):
    """`predict ../P` said it wrote into /x/sub/../P/proposals."""
    monkeypatch.chdir(root.parent / "sub")
    capsys.readouterr()
    assert main(["status", "../P"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == f"project  {root}"
    with Project.open(Path("../P"), lock=False) as project:
        assert project.root == root


def test_a_path_through_a_link_then_dot_dot_is_kept_as_given(root, tmp_path):
    """``link/..`` is the link's target's parent, not the link's folder: not tidied."""
    elsewhere = tmp_path / "far" / "away"
    elsewhere.mkdir(parents=True)
    assert main(["new", str(tmp_path / "far" / "P"), "--classes", "a,b"]) == 0
    (tmp_path / "link").symlink_to(elsewhere)
    through = tmp_path / "link" / ".." / "P"  # far/P, another project than tmp/P
    with Project.open(through, lock=False) as project:
        assert project.root == through and project.schema.classes[0].name == "a"


def test_add_of_a_path_that_is_not_there_says_so_in_one_error_line(root, capsys, tmp_path):
    capsys.readouterr()
    assert main(["add", str(root), str(tmp_path / "nothing.png")]) == 1
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        f"annotator: error: {tmp_path / 'nothing.png'}: no such file or folder"
    ]
    assert out == ""


def test_add_of_only_unreadable_pictures_ends_with_its_error_line(root, capsys, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    capsys.readouterr()
    assert main(["add", str(root), str(broken)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("annotator: error: nothing added: the 1 file(s) found could not")
    assert any("broken.png" in line for line in err[:-1])
