"""A project whose own folders are missing (a process killed while creating it, after
its database and before them; a copy or version control that keeps no empty folder)
still saves labels, trains and proposes: a writer makes them again."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from storehelpers import image_folder

from annotator.core.errors import ProjectError
from annotator.core.schema import LabelSchema
from annotator.storage.project import Project


def _project_without_folders(tmp_path):
    root = tmp_path / "p"
    with Project.create(root, LabelSchema.from_names(["bg", "cell"])) as p:
        p.add_images([image_folder(tmp_path / "imgs", n=1)])
    for sub in ("masks", "proposals", "models"):
        shutil.rmtree(root / sub)
    return root


def test_a_writer_makes_the_missing_folders_again_and_saves(tmp_path):
    root = _project_without_folders(tmp_path)
    with Project.open(root) as p:
        assert all((root / sub).is_dir() for sub in ("masks", "proposals", "models"))
        rec = p.images()[0]
        mask = np.full((rec.height, rec.width), 1, np.uint8)
        p.save_mask(rec.id, mask)
    with Project.open(root, lock=False) as p:
        assert (p.load_mask(p.images()[0]) == 1).all()


def test_a_save_after_the_masks_folder_went_makes_it_again(tmp_path):
    root = _project_without_folders(tmp_path)
    with Project.open(root) as p:
        shutil.rmtree(root / "masks")  # deleted while the project is open
        rec = p.images()[0]
        p.save_mask(rec.id, np.zeros((rec.height, rec.width), np.uint8))
        assert (p.load_mask(rec) == 0).all()


def test_a_reader_changes_nothing(tmp_path):
    root = _project_without_folders(tmp_path)
    with Project.open(root, lock=False):
        assert not (root / "masks").exists()


def test_a_folder_that_cannot_be_made_is_said(tmp_path):
    root = _project_without_folders(tmp_path)
    (root / "models").write_text("a file where the folder should be")
    with pytest.raises(ProjectError, match="models: the project's folder is missing"):
        Project.open(root)
