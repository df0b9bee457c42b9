"""Removing images from a project: their records and files go, their labels are kept."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from storehelpers import image_folder

from annotator.cli import main
from annotator.core.errors import ProjectError
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage import kept_labels
from annotator.storage.image_removal import clear_orphans, remove_images
from annotator.storage.project import Project


def _project(tmp_path):
    project = Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"]))
    project.add_images([image_folder(tmp_path / "pics", n=3, size=(6, 8))])
    return project


def _label(project, record, value=1):
    mask = np.full((6, 8), 255, np.uint8)
    mask[:3] = value
    project.save_mask(record.id, mask, source="proposal:v2", accepted=mask.copy())
    return mask


def test_removed_images_leave_the_project_and_their_labels_are_kept_to_import(tmp_path):
    with _project(tmp_path) as project:
        a, b, c = project.images()
        mask = _label(project, a)
        (project.root / "proposals" / f"{a.id}.json").write_text("{}")
        report = remove_images(project, [a.id, b.id])
        assert [r.name for r in project.images()] == [c.name]
        assert report.removed == [a.name, b.name] and report.with_labels == 1
        assert not project.mask_path(a.id).exists()
        assert not any((project.root / "accepted").iterdir())
        assert not (project.root / "proposals" / f"{a.id}.json").exists()
        kept = report.kept_in
        assert kept is not None and kept.parent == project.root / "removed"
        assert np.array_equal(np.asarray(Image.open(kept / "masks" / "img0.png.png")), mask)
        assert not list(kept.parent.glob(".*partial"))
        assert (kept / "class_names.txt").read_text() == "bg\ncell\n"
        assert (tmp_path / "pics" / a.name).is_file()  # the picture is the user's
        assert "the picture files were not touched" in report.summary()
        with pytest.raises(ProjectError, match="no image"):
            project.image(a.id)
    # added again and imported from the kept folder, the labels come back exactly
    root = str(tmp_path / "proj")
    assert main(["add", root, str(tmp_path / "pics")]) == 0
    assert main(["import", root, "--format", "masks", str(kept)]) == 0
    with Project.open(root) as project:
        back = project.image(a.name)
        assert np.array_equal(project.load_mask(back), mask)
        assert back.id > c.id  # ids are never reused
        assert project.image(b.name).status is ImageStatus.NEW


def test_nothing_is_removed_when_the_labels_cannot_be_kept(tmp_path, monkeypatch):
    with _project(tmp_path) as project:
        a = project.images()[0]
        _label(project, a)

        def full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(kept_labels, "write_synced", full)
        with pytest.raises(ProjectError, match="nothing was removed"):
            remove_images(project, [a.id])
        assert len(project.images()) == 3 and project.load_mask(a) is not None
        assert not any((project.root / "removed").iterdir())  # no half copy left


def test_copies_of_a_removal_killed_while_keeping_them_are_cleared_on_opening(tmp_path):
    with _project(tmp_path) as project:
        a, b = project.images()[:2]
        _label(project, a)
        _label(project, b)
        kept = kept_labels.KeptLabels(project, [a, b], project.schema)
        kept.add(a)  # killed here: before the rename, before the commit
        partial = next((project.root / "removed").iterdir())
        assert partial.name.startswith(".") and partial.name.endswith(".partial")
    with Project.open(tmp_path / "proj", lock=False) as project:  # a reader leaves it
        assert partial.exists()
    with Project.open(tmp_path / "proj") as project:
        assert not partial.exists()
        assert len(project.images()) == 3 and project.load_mask(a) is not None


def test_files_of_a_removal_killed_after_its_commit_are_cleared_on_opening(tmp_path):
    with _project(tmp_path) as project:
        a = project.images()[0]
        _label(project, a)
        project.delete_image_records([a.id])  # the commit; killed before the files went
        assert project.mask_path(a.id).exists()
    with Project.open(tmp_path / "proj") as project:
        assert not project.mask_path(a.id).exists()
        assert not any((project.root / "accepted").iterdir())
        assert clear_orphans(project) == 0 and project.removed_image_ids() == []


def test_a_label_map_no_record_names_is_never_deleted(tmp_path):
    """A database restored from an older backup lists fewer images: their maps stay."""
    with _project(tmp_path) as project:
        a = project.images()[0]
        _label(project, a)
        stray = project.root / "masks" / "77.png"
        stray.write_bytes(project.mask_path(a.id).read_bytes())
    with Project.open(tmp_path / "proj") as project:
        assert stray.exists()
        remove_images(project, [project.images()[1].id])
        assert stray.exists()


def test_an_image_whose_map_is_missing_can_still_be_removed(tmp_path):
    with _project(tmp_path) as project:
        a = project.images()[0]
        _label(project, a)
        project.mask_path(a.id).unlink()
        report = remove_images(project, [a.id])
        assert report.removed == [a.name] and report.kept_in is None


def test_namesakes_come_back_to_their_own_image(tmp_path):
    """x.jpg removed beside x.png: its labels must come back to x.jpg, never to x.png."""
    pics = tmp_path / "pics"
    pics.mkdir()
    for name, value in (("x.png", 10), ("x.jpg", 200)):
        Image.fromarray(np.full((6, 8), value, np.uint8)).save(pics / name, quality=100)
    with Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"])) as project:
        project.add_images([pics])
        png, jpg = project.image("x.png"), project.image("x.jpg")
        _label(project, png, value=0)
        mask = _label(project, jpg, value=1)
        report = remove_images(project, [jpg.id])
    root = str(tmp_path / "proj")
    assert main(["import", root, "--format", "masks", str(report.kept_in)]) in (1, 2)
    with Project.open(root) as project:  # x.jpg is not back yet: x.png keeps its labels
        assert (project.load_mask(project.image("x.png"))[:3] == 0).all()
    assert main(["add", root, str(pics)]) == 0
    assert main(["import", root, "--format", "masks", str(report.kept_in)]) == 0
    with Project.open(root) as project:
        assert np.array_equal(project.load_mask(project.image("x.jpg")), mask)
        assert (project.load_mask(project.image("x.png"))[:3] == 0).all()


def test_the_command_removes_by_name_id_and_status(tmp_path, capsys):
    with _project(tmp_path) as project:
        a, b, c = project.images()
        _label(project, a)
        project.set_status(a.id, ImageStatus.DONE)
    root = str(tmp_path / "proj")
    assert main(["remove", root, "img0", "--status", "new"]) == 0  # img0 is done: kept
    assert "no image removed" in capsys.readouterr().out
    assert main(["remove", root, str(b.id)]) == 0
    assert "removed 1 image(s)" in capsys.readouterr().out
    assert main(["remove", root, "--status", "done"]) == 0
    assert "the label maps of the 1 with labels are in" in capsys.readouterr().out
    assert main(["remove", root, "nosuch"]) == 1
    assert "no image 'nosuch'" in capsys.readouterr().err
    assert main(["remove", root]) == 2  # (neither names nor --status: a usage error)
    with Project.open(root) as project:
        assert [r.name for r in project.images()] == [c.name]
    # the kept label maps are never added back as pictures
    assert main(["add", root, root]) == 0
    with Project.open(root) as project:
        assert len(project.images()) == 1


def test_a_reader_meeting_an_image_removed_meanwhile_says_so(tmp_path):
    """An export beside `annotator remove` said 'missing; restore it from a backup'."""
    with _project(tmp_path) as project:
        a = project.images()[0]
        _label(project, a)
        with Project.open(tmp_path / "proj", lock=False) as reader:
            record = reader.image(a.id)
            remove_images(project, [a.id])
            with pytest.raises(ProjectError, match="was removed from the project while this"):
                reader.load_mask(record)


def test_an_image_named_with_its_folder_is_kept_by_its_file_name(tmp_path):
    """``scene2/0001.png``'s kept map was written to ``masks/scene2/0001.png.png``, a folder
    never made: the removal failed ("No such file or directory")."""
    for value, scene in enumerate(("scene1", "scene2")):
        (tmp_path / "pics" / scene).mkdir(parents=True)
        Image.fromarray(np.full((6, 8), value, np.uint8)).save(tmp_path / "pics" / scene / "0.png")
    with Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"])) as project:
        project.add_images([tmp_path / "pics"])
        record = project.image("scene2/0.png")
        mask = _label(project, record)
        report = remove_images(project, [record.id])
        assert report.kept_in is not None
        kept = np.asarray(Image.open(report.kept_in / "masks" / "0.png.png"))
        assert np.array_equal(kept, mask)


def _scenes(tmp_path):
    """Two different pictures called 0001.png, in scene1/ and scene2/."""
    rng = np.random.default_rng(5)
    for scene in ("scene1", "scene2"):
        (tmp_path / "pics" / scene).mkdir(parents=True)
        picture = rng.integers(0, 255, (6, 8), dtype=np.uint8)
        Image.fromarray(picture).save(tmp_path / "pics" / scene / "0001.png")
    project = Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"]))
    project.add_images([tmp_path / "pics"])
    return project


def test_removed_images_come_back_with_the_status_they_had(tmp_path, capsys):
    """Every import made its images done: an image removed half labelled came back done
    from its kept folder, and would have trained as finished."""
    with _project(tmp_path) as project:
        a, b, _ = project.images()
        half = _label(project, a)  # labelled, not marked done: in progress
        whole = _label(project, b, value=0)
        project.set_status(b.id, ImageStatus.DONE)
        assert project.image(a.id).status is ImageStatus.IN_PROGRESS
        kept = remove_images(project, [a.id, b.id]).kept_in
    root = str(tmp_path / "proj")
    assert main(["add", root, str(tmp_path / "pics")]) == 0
    capsys.readouterr()
    assert main(["import", root, "--format", "masks", str(kept)]) == 0
    assert "2 image(s) got back the status they had when their labels were kept" in (
        capsys.readouterr().out
    )
    with Project.open(root) as project:
        back_a, back_b = project.image(a.name), project.image(b.name)
        assert back_a.status is ImageStatus.IN_PROGRESS
        assert back_b.status is ImageStatus.DONE
        assert np.array_equal(project.load_mask(back_a), half)
        assert np.array_equal(project.load_mask(back_b), whole)


def test_the_kept_maps_of_namesakes_in_two_folders_come_back_each_to_its_own(tmp_path):
    """scene1/0001.png and scene2/0001.png removed together were kept as 0001.png.png and
    0001.png~2.png: both names meant both images added again, and the import refused
    them."""
    with _scenes(tmp_path) as project:
        one, two = project.image("scene1/0001.png"), project.image("scene2/0001.png")
        first, second = _label(project, one, value=1), _label(project, two, value=0)
        kept = remove_images(project, [one.id, two.id]).kept_in
    root = str(tmp_path / "proj")
    assert main(["add", root, str(tmp_path / "pics")]) == 0
    assert main(["import", root, "--format", "masks", str(kept)]) == 0
    with Project.open(root) as project:
        assert np.array_equal(project.load_mask(project.image("scene1/0001.png")), first)
        assert np.array_equal(project.load_mask(project.image("scene2/0001.png")), second)


def test_kept_labels_whose_picture_is_not_back_say_to_add_it(tmp_path, capsys):
    with _scenes(tmp_path) as project:
        one, two = project.image("scene1/0001.png"), project.image("scene2/0001.png")
        _label(project, one)
        _label(project, two)
        kept = remove_images(project, [one.id, two.id]).kept_in
    root = str(tmp_path / "proj")
    capsys.readouterr()
    assert main(["import", root, "--format", "masks", str(kept)]) == 1
    err = capsys.readouterr().err
    assert "the labels of 'scene2/0001.png', whose picture is not in the project" in err
    assert "add that picture again, then import this folder again" in err


def test_a_damaged_list_of_kept_images_is_refused_in_one_line(tmp_path, capsys):
    with _project(tmp_path) as project:
        a = project.images()[0]
        _label(project, a)
        kept = remove_images(project, [a.id]).kept_in
    (kept / "images.json").write_text('{"format": "annotator-kept-labels", "masks": []}')
    root = str(tmp_path / "proj")
    assert main(["add", root, str(tmp_path / "pics")]) == 0
    capsys.readouterr()
    assert main(["import", root, "--format", "masks", str(kept)]) == 1
    err = capsys.readouterr().err
    assert "images.json: damaged" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
