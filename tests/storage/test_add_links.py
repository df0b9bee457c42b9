"""Adding a folder reaches pictures through symbolic links: linked folders are entered
(each real folder once, a link to an ancestor included), linked files added, and a file
reached twice counted once."""

import os

import numpy as np
from PIL import Image
from storehelpers import image_folder

from annotator.storage.project import collect_image_files


def _picture(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((20, 30), value, np.uint8)
    arr[0, 0] = 7
    Image.fromarray(arr).save(path)


def _linked_folder(tmp_path):
    image_folder(tmp_path / "f2", n=3)
    _picture(tmp_path / "imgs2" / "a" / "x.png", 200)
    dl = tmp_path / "dl"
    dl.mkdir()
    _picture(dl / "own.png", 150)
    os.symlink("../f2", dl / "f2")
    os.symlink("../f2", dl / "f2again")  # a second link to one folder
    os.symlink("../imgs2/a/x.png", dl / "filelink.png")
    os.symlink("..", dl / "up")  # a link to an ancestor: must not walk forever
    os.symlink(".", dl / "here")
    return dl


def test_add_follows_linked_folders_and_files_each_once(project, tmp_path):
    dl = _linked_folder(tmp_path)
    report = project.add_images([dl])
    assert not report.errors and not report.skipped
    names = sorted(r.name for r in report.added)
    # f2 through its first link; through "up" the ancestor holds only folders walked
    # already (f2, dl) and imgs2's picture, reached already through filelink.png
    assert len(report.added) == 5, names
    assert "own.png" in names and "filelink.png" in names
    assert sum(n.startswith("f2/") for n in names) == 3
    assert not any(n.startswith(("f2again/", "here/")) for n in names)


def test_a_link_into_the_projects_own_folders_is_not_followed(project, tmp_path):
    _picture(project.root / "masks" / "1.png", 1)
    src = tmp_path / "src"
    _picture(src / "a.png", 90)
    os.symlink(project.root / "masks", src / "m")
    os.symlink(project.root / "masks" / "1.png", src / "m1.png")
    found = collect_image_files([src], exclude=[(project.root / "masks").resolve()])
    assert [name for _, name in found] == ["a.png"]
