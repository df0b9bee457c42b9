"""A round on labels of one class is refused, in the app and by ``annotator train``: it
trained a model that could only ever propose that class (a UX audit)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.services.train_checks import one_class_text
from annotator.storage.project import Project

U = 255  # unlabelled
VOID = 254


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"im{i}.png"), np.full((16, 16), 40 * i, np.uint8))
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["cell", "membrane", "background"])) as p:
        p.add_images([folder])
    return root


def _label(project, index, value, status=ImageStatus.IN_PROGRESS):
    mask = np.full((16, 16), U, np.uint8)
    mask[2:6, 2:6] = value
    mask[10:12, 10:12] = VOID  # (void is no class)
    project.save_mask(project.images()[index].id, mask, status=status)


def test_labels_of_one_class_are_named_with_what_to_label(root):
    with Project.open(root) as p:
        assert one_class_text(p) is None  # nothing labelled: said elsewhere
        _label(p, 0, 0)
        _label(p, 1, 0, ImageStatus.DONE)
        assert one_class_text(p) == (
            "Only 'cell' is labelled so far: a model needs at least two classes to tell "
            "apart (label some 'background' or 'membrane' too)"
        )
        _label(p, 2, 2)  # background, in progress: trains, but not on the done images
        assert one_class_text(p) is None
        assert one_class_text(p, done_only=True) == (
            "Only 'cell' is labelled in the done images: a model needs at least two classes "
            "to tell apart (label some 'background' or 'membrane' too)"
        )


def test_a_project_of_one_class_is_told_to_add_one(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((16, 16), np.uint8))
    with Project.create(tmp_path / "p", LabelSchema.from_names(["cell"])) as p:
        p.add_images([folder])
        _label(p, 0, 0)
        text = one_class_text(p)
    assert text is not None and text.endswith(
        "(add a class for the rest, such as background, and label some of it)"
    )


def test_annotator_train_refuses_labels_of_one_class(root, capsys):
    with Project.open(root) as p:
        _label(p, 0, 1, ImageStatus.DONE)
    assert main(["train", str(root), "--steps", "1", "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "Only 'membrane' is labelled so far: a model needs at least two classes" in err
    with Project.open(root) as p:
        assert p.models() == []


def test_a_picture_lacking_the_channel_choice_does_not_count_as_a_second_class(tmp_path, capsys):
    """Training leaves out the RGB picture of a Channel Choice 4,3,2: its background
    cannot save a round whose four-channel pictures hold 'cell' alone (it published a
    model of one class)."""
    import tifffile

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        tifffile.imwrite(folder / f"t{i}.tif", np.full((16, 16, 4), 30 * i, np.uint8))
    cv2.imwrite(str(folder / "rgb.png"), np.zeros((16, 16, 3), np.uint8))
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["cell", "background"])) as p:
        p.add_images([folder])
        p.set_channel_choice((3, 2, 1))
        for rec in p.images():
            _label(p, p.images().index(rec), 1 if rec.name == "rgb.png" else 0)
        assert one_class_text(p) == (
            "Only 'cell' is labelled so far: a model needs at least two classes to tell "
            "apart (label some 'background' too)"
        )
        p.set_channel_choice(())
        assert one_class_text(p) is None  # (no choice: the RGB picture trains)
        p.set_channel_choice((3, 2, 1))
    assert main(["train", str(root), "--steps", "1", "--device", "cpu"]) == 1
    assert "Only 'cell' is labelled so far" in capsys.readouterr().err
    with Project.open(root) as p:
        assert p.models() == []


def test_the_checks_before_a_round_read_the_labelled_records_alone(tmp_path, monkeypatch):
    """Ctrl+D froze the window 0.7-1.3 s in a project of 8,000 images: the checks before
    a round read every image's record twice, on the GUI thread."""
    from annotator.services import training
    from annotator.services.train_checks import labelled_class_ids

    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(140):
        cv2.imwrite(str(folder / f"im{i:03d}.png"), np.full((8, 8), i, np.uint8))
    with Project.create(tmp_path / "P", LabelSchema.from_names(["a", "b", "c"])) as p:
        p.add_images([folder])
        records = p.images()
        for i, status in ((3, ImageStatus.DONE), (70, ImageStatus.IN_PROGRESS), (139, None)):
            mask = np.full((8, 8), U, np.uint8)
            mask[:2] = 0
            mask[4:] = 1 + (i % 2)
            p.save_mask(records[i].id, mask, status=status or ImageStatus.DONE)
        p.save_mask(records[5].id, np.full((8, 8), U, np.uint8), status=ImageStatus.DONE)
        everything = p.images()
        for done_only in (False, True):
            statuses = {ImageStatus.DONE} | (set() if done_only else {ImageStatus.IN_PROGRESS})
            want = [r for r in everything if r.labelled_pixels > 0 and r.status in statuses]
            assert training.labelled_records(p, done_only) == want
            assert list(training.labelled_batches(p, done_only, size=2)) == want

        def whole_table(*_a, **_k):
            raise AssertionError("every image's record read")

        monkeypatch.setattr(Project, "images", whole_table)
        assert training.has_labelled(p) and training.has_labelled(p, done_only=True)
        assert labelled_class_ids(p) == {0, 2}  # (two classes: the first map is enough)
