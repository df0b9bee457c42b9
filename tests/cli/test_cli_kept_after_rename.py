"""The labels kept before a class was removed come back by name, also after another
class was renamed: the import split the renamed class in two (its pixels went to a new
class of its old name)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from annotator.cli import main
from annotator.storage.project import Project


def test_kept_labels_imported_after_a_rename_follow_it(tmp_path, capsys):
    root = tmp_path / "B"
    assert main(["new", str(root), "--classes", "bg,a,b,c"]) == 0
    Image.fromarray(np.zeros((8, 12), np.uint8)).save(tmp_path / "p.png")
    assert main(["add", str(root), str(tmp_path / "p.png")]) == 0
    labels = np.repeat(np.array([0, 1, 2, 3], np.uint8), 3)[None].repeat(8, axis=0)
    with Project.open(root) as project:
        (rec,) = project.images()
        project.save_mask(rec.id, labels)
    assert main(["classes", str(root), "--remove", "b"]) == 0
    assert main(["classes", str(root), "--rename", "a", "alpha"]) == 0
    (kept,) = (root / "removed").iterdir()
    capsys.readouterr()
    assert main(["import", str(root), str(kept), "--format", "masks"]) == 0
    out = capsys.readouterr().out
    assert "read the classes renamed since by their names now: 'a' as 'alpha'" in out, out
    with Project.open(root, lock=False) as project:
        assert project.schema.names == ["bg", "alpha", "c", "b"]  # b back, no second 'a'
        (rec,) = project.images()
        got = project.load_mask(rec)
    ids = {"bg": 0, "alpha": 1, "c": 2, "b": 3}
    want = np.vectorize({0: ids["bg"], 1: ids["alpha"], 2: ids["b"], 3: ids["c"]}.get)(labels)
    np.testing.assert_array_equal(got, want.astype(got.dtype))


def test_a_dataset_of_others_is_not_read_through_the_renames(tmp_path, capsys):
    """A class renamed and renamed back ('cell' -> 'nucleus' -> 'cell'): an export of
    another project with 'cell' and 'nucleus' had every nucleus pixel imported as cell."""
    other = tmp_path / "O"
    assert main(["new", str(other), "--classes", "background,cell,nucleus"]) == 0
    Image.fromarray(np.zeros((8, 12), np.uint8)).save(tmp_path / "p.png")
    assert main(["add", str(other), str(tmp_path / "p.png")]) == 0
    labels = np.repeat(np.array([0, 1, 2], np.uint8), 4)[None].repeat(8, axis=0)
    with Project.open(other) as project:
        (rec,) = project.images()
        project.save_mask(rec.id, labels)
    out = tmp_path / "ex"
    assert main(["export", str(other), str(out), "--format", "masks", "--include", "all"]) == 0
    root = tmp_path / "R"
    assert main(["new", str(root), "--classes", "background,cell"]) == 0
    assert main(["add", str(root), str(tmp_path / "p.png")]) == 0
    assert main(["classes", str(root), "--rename", "cell", "nucleus"]) == 0
    assert main(["classes", str(root), "--rename", "nucleus", "cell"]) == 0
    capsys.readouterr()
    assert main(["import", str(root), str(out), "--format", "masks"]) == 0
    assert "renamed since" not in capsys.readouterr().out
    with Project.open(root, lock=False) as project:
        assert project.schema.names == ["background", "cell", "nucleus"]
        (rec,) = project.images()
        np.testing.assert_array_equal(project.load_mask(rec), labels)
