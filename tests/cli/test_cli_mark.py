"""``annotator mark``: images marked done or not done by name, --all or --status, by the
rule of the window's Ctrl+D (no done image without a labelled pixel)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from annotator.cli import EXIT_USAGE, main
from annotator.core.status import ImageStatus
from annotator.storage.project import Project


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Images a.png and b.png with a few labelled pixels (in progress), c.png and d.png
    with none (new)."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, name in enumerate("abcd"):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{name}.png")
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "background,cell"]) == 0
    assert main(["add", str(root), str(folder)]) == 0
    with Project.open(root) as project:
        for record in project.images()[:2]:
            labels = np.full((8, 8), project.schema.unlabelled, np.uint8)
            labels[:2, :2] = 1
            project.save_mask(record.id, labels)
    return root


def _statuses(root: Path) -> dict[str, str]:
    with Project.open(root, lock=False) as project:
        return {Path(r.name).stem: r.status.value for r in project.images()}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_marked_done_then_not_done_the_status_follows_the_labels(root, capsys):
    code, out, _ = _run(capsys, "mark", str(root), "a.png", "b", "--done")
    assert code == 0
    assert out == "2 images marked done"
    assert _statuses(root) == {"a": "done", "b": "done", "c": "new", "d": "new"}
    code, out, _ = _run(capsys, "mark", str(root), "a", "c", "--not-done")
    assert code == 0
    assert out == "1 image marked not done (1 was not done already)"
    assert _statuses(root)["a"] == "in_progress"  # it has labels
    # a done image without labels (an import's, say) goes back to new, as its labels say
    with Project.open(root) as project:
        project.set_status(project.images()[3].id, ImageStatus.DONE)
    assert _run(capsys, "mark", str(root), "d", "--not-done")[0] == 0
    assert _statuses(root)["d"] == "new"


def test_an_image_without_labels_is_not_marked_done_and_the_summary_says_why(root, capsys):
    code, out, _ = _run(capsys, "mark", str(root), "a", "c", "--done")
    assert code == 2  # went on past an image it could not mark
    assert out == (
        "1 image marked done; 1 left: c.png has no labelled pixel, so it cannot be done "
        "yet: paint or accept a proposal first"
    )
    assert _statuses(root) == {"a": "done", "b": "in_progress", "c": "new", "d": "new"}


def test_only_images_without_labels_is_an_error_in_one_line(root, capsys):
    code, out, err = _run(capsys, "mark", str(root), "c", "d", "--done")
    assert code == 1 and out == ""
    assert err == (
        "annotator: error: c.png, d.png have no labelled pixel, so they cannot be done "
        "yet: paint or accept a proposal first"
    )
    assert _statuses(root) == {"a": "in_progress", "b": "in_progress", "c": "new", "d": "new"}


def test_all_and_status_select_the_images_as_remove_does(root, capsys):
    code, out, _ = _run(capsys, "mark", str(root), "--status", "in_progress", "--done")
    assert (code, out) == (0, "2 images marked done")
    # names and --status: those of the names that have the status
    code, out, _ = _run(capsys, "mark", str(root), "a", "c", "--status", "done", "--not-done")
    assert (code, out) == (0, "1 image marked not done")
    assert _statuses(root) == {"a": "in_progress", "b": "done", "c": "new", "d": "new"}
    code, out, _ = _run(capsys, "mark", str(root), "--all", "--not-done")
    assert (code, out) == (0, "1 image marked not done (3 were not done already)")
    code, out, _ = _run(capsys, "mark", str(root), "--status", "done", "--not-done")
    assert (code, out) == (0, "no image is done: nothing marked")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["a"], "one of the arguments --done --not-done is required"),
        (["a", "--done", "--not-done"], "argument --not-done: not allowed with argument --done"),
    ],
)
def test_done_or_not_done_is_required_once(root, capsys, argv, said):
    with pytest.raises(SystemExit) as exit_:
        main(["mark", str(root), *argv])
    assert exit_.value.code == EXIT_USAGE
    assert said in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--done"], "name the images, or give --all or --status"),
        (["a", "--all", "--done"], "give IMAGE names or --all, not both"),
    ],
)
def test_a_selection_that_is_none_or_twice_is_a_usage_error(root, capsys, argv, said):
    code, _, err = _run(capsys, "mark", str(root), *argv)
    assert code == EXIT_USAGE
    assert err == f"annotator: error: {said} (see `annotator mark --help`)"


def test_an_unknown_name_is_refused_naming_the_near_one_and_nothing_changes(root, capsys):
    code, _, err = _run(capsys, "mark", str(root), "a", "bb.png", "--done")
    assert code == 1
    assert err.startswith("annotator: error: no image 'bb.png' in project ")
    assert "did you mean" in err and "b.png" in err
    assert _statuses(root)["a"] == "in_progress"


def test_json_lists_the_images_marked_unchanged_and_refused(root, capsys):
    code, out, _ = _run(capsys, "mark", str(root), "a", "b", "c", "--done", "--json")
    assert code == 2
    data = json.loads(out)
    assert data["done"] is True
    assert [(i["name"], i["status"]) for i in data["marked"]] == [
        ("a.png", "done"),
        ("b.png", "done"),
    ]
    assert data["unchanged"] == []
    (refused,) = data["refused"]
    assert refused["name"] == "c.png" and refused["status"] == "new"
    assert "no labelled pixel" in refused["reason"]


def test_json_when_every_image_is_refused_is_the_object_with_the_error(root, capsys):
    code, out, _ = _run(capsys, "mark", str(root), "c", "--done", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["exit_code"] == 1 and "c.png has no labelled pixel" in data["error"]
    # the documented object, not only the error: what was refused, and why
    assert data["done"] is True and data["marked"] == [] and data["unchanged"] == []
    assert [r["name"] for r in data["refused"]] == ["c.png"]
    code, out, _ = _run(capsys, "mark", str(root), "a", "--done", "--json")
    assert code == 0 and json.loads(out)["exit_code"] == 0


def test_interrupted_the_images_marked_so_far_stay_marked(root, capsys, monkeypatch):
    from annotator.services import image_status

    monkeypatch.setattr(image_status, "BATCH", 1)  # (a batch an image)
    real = Project.set_statuses
    calls = []

    def set_statuses(self, changes, **kwargs):
        calls.append(changes)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(self, changes, **kwargs)

    monkeypatch.setattr(Project, "set_statuses", set_statuses)
    code, _, err = _run(capsys, "mark", str(root), "a", "b", "--done")
    assert code == 130
    assert err == "annotator: interrupted after marking 1 of 2 image(s) done, which stay so"
    assert _statuses(root) == {"a": "done", "b": "in_progress", "c": "new", "d": "new"}


def test_statuses_are_written_a_batch_a_transaction(root, capsys, monkeypatch):
    """Each status its own transaction took 7 ms an image (70 s for 10,000): a batch of
    them is one, and an interrupted run keeps the batches written."""
    from annotator.services import image_status

    monkeypatch.setattr(image_status, "BATCH", 1)
    calls: list[list[tuple[int, ImageStatus]]] = []
    real = Project.set_statuses

    def counted(self, changes, **kw):
        calls.append(list(changes))
        return real(self, changes, **kw)

    monkeypatch.setattr(Project, "set_statuses", counted)
    assert _run(capsys, "mark", str(root), "a", "b", "--done")[0] == 0
    assert [len(c) for c in calls] == [1, 1]
    calls.clear()
    monkeypatch.setattr(image_status, "BATCH", 500)
    code, out, _ = _run(capsys, "mark", str(root), "--all", "--not-done")
    assert code == 0 and out == "2 images marked not done (2 were not done already)"
    assert [len(c) for c in calls] == [2]  # a and b, in one
    assert _statuses(root) == {"a": "in_progress", "b": "in_progress", "c": "new", "d": "new"}


def test_names_after_the_options_are_taken_as_names_before_them(root, capsys):
    """`mark P --done a` as `mark P a --done` (it was refused: unrecognized arguments)."""
    code, out, _ = _run(capsys, "mark", str(root), "--done", "a.png")
    assert (code, out) == (0, "1 image marked done")
    code, out, _ = _run(capsys, "mark", str(root), "a", "--not-done", "b")
    assert (code, out) == (0, "1 image marked not done (1 was not done already)")
    assert _statuses(root) == {"a": "in_progress", "b": "in_progress", "c": "new", "d": "new"}
    code, out, _ = _run(capsys, "mark", str(root), "--status", "in_progress", "--done", "b")
    assert (code, out) == (0, "1 image marked done")
    assert _statuses(root)["b"] == "done"
