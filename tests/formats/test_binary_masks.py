"""What 255 means in raw masks is decided over the whole import, never per mask.

In a two-class project a dataset of 0/255 masks means 255 = the second class. Decided
per mask, a 0/1 dataset whose 255 means "ignore" turned the ignored pixels of an image
without foreground (only 0 and 255 in it) into foreground.
"""

from __future__ import annotations

import cv2
import numpy as np

from annotator.core.schema import LabelSchema
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

U = 255


def _dataset(tmp_path, masks: dict[str, np.ndarray]):
    images, labels = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    labels.mkdir()
    rng = np.random.default_rng(0)
    for name, mask in masks.items():
        cv2.imwrite(str(images / f"{name}.png"), rng.integers(0, 255, mask.shape, np.uint8))
        cv2.imwrite(str(labels / f"{name}.png"), mask)
    return images, labels


def _imported(tmp_path, masks, notes=None):
    images, labels = _dataset(tmp_path, masks)
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "fg"])) as p:
        p.add_images([images])
        report = import_into_project(p, ImportRequest("masks", labels))
        if notes is not None:
            notes.extend(report.notes)
        return {r.name: p.load_mask(r) for r in p.images()}


def test_a_dataset_of_0_255_masks_is_binary(tmp_path):
    a = np.zeros((8, 8), np.uint8)
    a[2:5, 2:5] = 255
    notes: list[str] = []
    got = _imported(tmp_path, {"a": a, "b": np.zeros((8, 8), np.uint8)}, notes)
    assert (got["a.png"][2:5, 2:5] == 1).all() and (got["a.png"][0] == 0).all()
    assert (got["b.png"] == 0).all()
    # the summary says so: 255 means "unlabelled" in Annotator's own masks
    assert any("255 was read as class 'fg' (id 1)" in n for n in notes), notes


def test_255_of_a_0_1_dataset_is_ignore_in_every_mask(tmp_path):
    a = np.zeros((8, 8), np.uint8)
    a[2:5, 2:5] = 1
    a[7] = 255
    b = np.zeros((8, 8), np.uint8)  # no foreground: only 0 and 255
    b[7] = 255
    notes: list[str] = []
    got = _imported(tmp_path, {"a": a, "b": b}, notes)
    assert not any("255 was read as" in n for n in notes)
    assert (got["a.png"][7] == U).all() and (got["a.png"][2:5, 2:5] == 1).all()
    assert (got["b.png"][7] == U).all() and (got["b.png"][:7] == 0).all()


def test_one_odd_mask_has_no_say_in_what_255_means_for_the_others(tmp_path):
    """Found by an audit: one ISBI mask with a single pixel of 128 (refused, as no class
    has that id) made the other 29 masks' 255 unlabelled: 78 % of every image lost its
    class, with no word of it."""
    fg = np.zeros((8, 8), np.uint8)
    fg[2:6, 2:6] = 255
    odd = fg.copy()
    odd[0, 0] = 128
    notes: list[str] = []
    got = _imported(tmp_path, {"a": fg, "b": fg, "odd": odd}, notes)
    assert np.array_equal(got["a.png"], fg // 255) and np.array_equal(got["b.png"], fg // 255)
    assert got["odd.png"] is None  # refused, said in the skips
    assert any("255 was read as class 'fg' (id 1)" in n for n in notes)


def test_255_read_as_unlabelled_is_said_with_its_share(tmp_path):
    """A project of three classes reads 0/255 masks' 255 as unlabelled (the top value):
    the summary said nothing, though 78 % of ISBI's pixels stayed unlabelled."""
    images, labels = _dataset(tmp_path, {"a": np.array([[0, 255, 255, 255]] * 4, np.uint8)})
    with Project.create(tmp_path / "p", LabelSchema.from_names(["x", "y", "z"])) as p:
        p.add_images([images])
        report = import_into_project(p, ImportRequest("masks", labels))
        (rec,) = p.images()
        assert (p.load_mask(rec) == p.schema.unlabelled).sum() == 12
    said = [n for n in report.notes if n.startswith("255 in the masks was read as unlabelled")]
    assert len(said) == 1 and "75% of their pixels" in said[0] and "'255 <class>'" in said[0]


def test_a_few_pixels_of_255_read_as_unlabelled_are_counted_never_0_percent(tmp_path):
    """A 200x200 0/255 mask whose only defect pixel was lost said "0% of their pixels"."""
    mask = np.zeros((200, 200), np.uint8)
    mask[100, 100] = 255
    images, labels = _dataset(tmp_path, {"a": mask})
    with Project.create(tmp_path / "p", LabelSchema.from_names(["x", "y", "z"])) as p:
        p.add_images([images])
        report = import_into_project(p, ImportRequest("masks", labels))
    (said,) = [n for n in report.notes if n.startswith("255 in the masks was read as")]
    assert ": 1 pixel, <0.1% of their pixels" in said and "'255 scratch'" in said
    assert "0% of" not in said.replace("<0.1% of", "")
    from annotator.services.exchange import lost_share

    assert [lost_share(x) for x in (0.0004, 0.05, 0.75, 0.9999, 1.0)] == [
        "<0.1%",
        "5.0%",
        "75%",
        ">99%",
        "100%",
    ]


def test_values_no_class_has_say_how_to_give_the_masks_class_list(tmp_path):
    """16-bit 0/255 masks in a three-class project were refused with no word of
    --labels (found by an audit)."""
    images, labels = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    labels.mkdir()
    cv2.imwrite(str(images / "a.png"), np.zeros((4, 4), np.uint8))
    cv2.imwrite(str(labels / "a.png"), np.array([[0, 255, 255, 255]] * 4, np.uint16))
    with Project.create(tmp_path / "p", LabelSchema.from_names(["x", "y", "z"])) as p:
        p.add_images([images])
        report = import_into_project(p, ImportRequest("masks", labels))
    (skipped,) = report.skipped
    assert skipped[1].endswith(
        "values [255] are not class ids of this project (0..2); if the masks number their "
        "classes otherwise, give their class list with --labels FILE (id lines: '255 <class>')"
    )
