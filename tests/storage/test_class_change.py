"""Taking a class out of a project: every map remapped, or nothing changed."""

from __future__ import annotations

import numpy as np
import pytest
from storehelpers import image_folder

from annotator.core.errors import ProjectError, SchemaError
from annotator.core.schema import MAX_CLASSES_8BIT, ClassChange, LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage import class_change
from annotator.storage.class_change import PENDING_KEY, STAGING_DIR, change_classes
from annotator.storage.lock import ProjectLock
from annotator.storage.project import Project
from annotator.storage.proposals import proposals_dir

NAMES = ["background", "cell", "debris", "nucleus"]


def _project(tmp_path, names=NAMES):
    project = Project.create(tmp_path / "proj", LabelSchema.from_names(names))
    project.add_images([image_folder(tmp_path / "pics", n=3, size=(6, 8))])
    return project


def _maps(project):
    """Image 0: every class; image 1: only debris; image 2: nothing saved."""
    s = project.schema
    a, b, c = project.images()
    first = np.array([[0, 1, 2, 3] * 2] * 6, dtype=s.dtype)
    first[0, 0], first[0, 1] = s.void, s.unlabelled
    project.save_mask(a.id, first, status=ImageStatus.DONE)
    second = np.full((6, 8), s.unlabelled, s.dtype)
    second[2:4, 2:4] = 2
    project.save_mask(b.id, second, status=ImageStatus.DONE)
    return first, second


def test_schema_removal_moves_later_ids_down_and_keeps_names_and_colours():
    old = LabelSchema.from_names(NAMES)
    change = ClassChange.removal(old, 1, into=3)
    assert change.new.names == ["background", "debris", "nucleus"]
    assert [c.color for c in change.new.classes] == [old.classes[i].color for i in (0, 2, 3)]
    assert change.into is not None and change.into.name == "nucleus" and change.into.id == 2
    assert change.lut[:4].tolist() == [0, 2, 1, 2]
    assert change.lut[old.void] == change.new.void
    assert change.lut[old.unlabelled] == change.new.unlabelled
    removed = ClassChange.removal(old, 0)
    assert removed.lut[:4].tolist() == [removed.new.unlabelled, 0, 1, 2]
    for bad in ((9, None), (1, 1), (1, 9)):
        with pytest.raises(SchemaError):
            ClassChange.removal(old, *bad)
    with pytest.raises(SchemaError, match="only one"):
        ClassChange.removal(LabelSchema.from_names(["x"]), 0)


def test_a_sixteen_bit_project_that_drops_to_254_classes_becomes_eight_bit():
    old = LabelSchema.from_names([f"c{i}" for i in range(MAX_CLASSES_8BIT + 1)])
    change = ClassChange.removal(old, 3)
    assert old.dtype == np.uint16 and change.new.dtype == np.uint8
    assert change.lut[old.void] == 254 and change.lut[old.unlabelled] == 255
    assert change.lut[MAX_CLASSES_8BIT] == MAX_CLASSES_8BIT - 1


def test_merge_rewrites_every_map_and_its_record(tmp_path):
    with _project(tmp_path) as project:
        first, second = _maps(project)
        a, b, c = project.images()
        heard: list[tuple[int, int, str]] = []
        report = change_classes(
            project,
            ClassChange.removal(project.schema, 2, into=1),
            progress=lambda *said: heard.append(said),
        )
        assert project.schema.names == ["background", "cell", "nucleus"]
        assert (report.images_with_class, report.pixels, report.masks_rewritten) == (2, 16, 2)
        # the syncing and moving after the last map is said (seconds at 8,000 maps)
        assert heard[-1] == (3, 3, "putting 2 rewritten map(s) in place…")
        want = np.array([[0, 1, 1, 2] * 2] * 6, np.uint8)
        want[0, 0], want[0, 1] = 254, 255
        assert np.array_equal(project.load_mask(project.image(a.id)), want)
        assert project.load_mask(project.image(b.id))[2:4, 2:4].tolist() == [[1, 1], [1, 1]]
        assert project.load_mask(project.image(c.id)) is None
        assert project.image(b.id).labelled_pixels == 4
        assert not (project.root / STAGING_DIR).exists() and not project.has_meta(PENDING_KEY)
        assert "merged 'debris' into 'cell'" in report.summary()
    with Project.open(tmp_path / "proj") as again:  # the new classes are in the database
        assert again.schema.names == ["background", "cell", "nucleus"]


def test_removal_unlabels_its_pixels_and_empties_images_to_new(tmp_path):
    with _project(tmp_path) as project:
        _maps(project)
        a, b, _ = project.images()
        report = change_classes(project, ClassChange.removal(project.schema, 2))
        assert report.emptied == [b.name]
        assert project.image(b.id).status is ImageStatus.NEW
        assert project.image(b.id).labelled_pixels == 0
        assert project.image(a.id).status is ImageStatus.DONE
        mask = project.load_mask(project.image(a.id))
        assert mask[1, :4].tolist() == [0, 1, 255, 2]
        assert project.image(a.id).labelled_pixels == 48 - 1 - 12  # unlabelled: 1 + debris


def test_accepted_proposals_and_stored_proposals_follow(tmp_path):
    from annotator.core.proposal import Proposal
    from annotator.storage.proposals import load_proposal, save_proposal

    with _project(tmp_path) as project:
        a = project.images()[0]
        labels = np.array([[3, 2, 1, 0] * 2] * 6, np.uint8)
        accepted = labels.copy()
        project.save_mask(a.id, labels, source="proposal:v4", accepted=accepted)
        save_proposal(project, a.id, Proposal(None, labels, np.zeros((6, 8), np.float32), 0.5, 4))
        change_classes(project, ClassChange.removal(project.schema, 1))
        moved = project.load_accepted(project.image(a.id))
        assert moved is not None and moved[0, :4].tolist() == [2, 1, 255, 0]
        # made for the old ids: stored proposals are dropped (a cache, made again)
        assert load_proposal(project, project.image(a.id)) is None
        assert not any(proposals_dir(project).iterdir())


def test_cancel_or_damage_while_staging_changes_nothing(tmp_path):
    with _project(tmp_path) as project:
        first, _ = _maps(project)
        a = project.images()[0]

        def cancel(done, total, name):
            if done == 1:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            change_classes(project, ClassChange.removal(project.schema, 1), cancel)
        assert project.schema.names == NAMES
        assert np.array_equal(project.load_mask(project.image(a.id)), first)
        assert not (project.root / STAGING_DIR).exists()

        b = project.images()[1]
        project.mask_path(b.id).write_bytes(b"not a png")
        with pytest.raises(ProjectError, match="damaged"):
            change_classes(project, ClassChange.removal(project.schema, 1))
        assert project.schema.names == NAMES
        assert np.array_equal(project.load_mask(project.image(a.id)), first)
        assert not any((project.root / "removed").glob("*"))  # no copy of a change not made


def test_the_maps_a_merge_takes_pixels_from_are_kept_and_import_brings_the_class_back(
    tmp_path,
):
    from annotator.services.exchange import ImportRequest, import_into_project

    with _project(tmp_path) as project:
        first, second = _maps(project)
        a, b, c = project.images()
        project.save_mask(c.id, np.full((6, 8), 3, np.uint8))  # nucleus only: not kept
        report = change_classes(project, ClassChange.removal(project.schema, 2, into=1))
        kept = report.kept_in
        assert kept is not None and kept.parent == project.root / "removed"
        assert kept.name.endswith("-classes") and str(kept) in report.summary()
        assert sorted(p.name for p in (kept / "masks").iterdir()) == sorted(
            f"{r.name}.png" for r in (a, b)
        )
        assert (kept / "class_names.txt").read_text().split() == NAMES
        import_into_project(project, ImportRequest(format="masks", src=kept))
        assert project.schema.names == ["background", "cell", "nucleus", "debris"]
        back = np.arange(256, dtype=np.uint8)
        back[2], back[3] = 3, 2  # debris is back, after nucleus
        assert np.array_equal(project.load_mask(project.image(a.id)), back[first])
        assert np.array_equal(project.load_mask(project.image(b.id)), back[second])


def test_a_move_keeps_no_copy(tmp_path):
    with _project(tmp_path) as project:
        _maps(project)
        report = change_classes(project, ClassChange.move(project.schema, 1, 3))
        assert report.kept_in is None and not (project.root / "removed").exists()


def test_a_change_killed_after_its_commit_is_finished_on_opening(tmp_path, monkeypatch):
    with _project(tmp_path) as project:
        _maps(project)
        a = project.images()[0]
        monkeypatch.setattr(class_change, "finish_class_change", lambda p: None)
        change_classes(project, ClassChange.removal(project.schema, 1))
        # committed, not swapped: the live map still holds the old ids
        assert project.has_meta(PENDING_KEY) and (project.root / STAGING_DIR).is_dir()
    monkeypatch.undo()
    with Project.open(tmp_path / "proj", lock=False) as reader:  # nobody writing: finishes
        assert not reader.has_meta(PENDING_KEY)
        assert reader.load_mask(reader.image(a.id))[1, :4].tolist() == [0, 255, 1, 2]


def test_a_reader_is_refused_while_the_writer_swaps(tmp_path, monkeypatch):
    with _project(tmp_path) as project:
        _maps(project)
        monkeypatch.setattr(class_change, "finish_class_change", lambda p: None)
        change_classes(project, ClassChange.removal(project.schema, 1))
        monkeypatch.undo()
        # another process holds the lock: simulate by failing to take it
        monkeypatch.setattr(
            ProjectLock,
            "acquire",
            classmethod(lambda cls, root: (_ for _ in ()).throw(ProjectError("held"))),
        )
        with pytest.raises(ProjectError, match="being changed right now"):
            Project.open(tmp_path / "proj", lock=False)


def test_staged_files_of_an_uncommitted_change_are_cleared_on_opening(tmp_path):
    with _project(tmp_path) as project:
        first, _ = _maps(project)
        a = project.images()[0]
        staged = project.root / STAGING_DIR / "masks"
        staged.mkdir(parents=True)
        (staged / f"{a.id}.png").write_bytes(b"half")
    with Project.open(tmp_path / "proj") as again:
        assert not (again.root / STAGING_DIR).exists()
        assert np.array_equal(again.load_mask(again.image(a.id)), first)


def test_a_stale_change_is_refused(tmp_path):
    with _project(tmp_path) as project:
        change = ClassChange.removal(project.schema, 1)
        project.set_schema(project.schema.with_class("extra"))
        with pytest.raises(ProjectError, match="changed meanwhile"):
            change_classes(project, change)


def test_a_reader_opened_before_a_change_refuses_to_read_maps_after_it(tmp_path):
    """An export beside the change would mix old and new ids under the old classes."""
    with _project(tmp_path) as project:
        _maps(project)
        a = project.images()[0]
        with Project.open(tmp_path / "proj", lock=False) as reader:
            assert reader.load_mask(reader.image(a.id)) is not None
            change_classes(project, ClassChange.removal(project.schema, 1))
            with pytest.raises(ProjectError, match="removed, merged or moved"):
                reader.load_mask(reader.image(a.id))
        assert project.load_mask(project.image(a.id)) is not None  # the writer's own: fine
        with Project.open(tmp_path / "proj", lock=False) as again:
            assert again.load_mask(again.image(a.id))[1, :4].tolist() == [0, 255, 1, 2]


def test_a_full_disk_while_staging_is_one_line_and_changes_nothing(tmp_path, monkeypatch):
    with _project(tmp_path) as project:
        first, _ = _maps(project)

        def full(path, data):
            raise OSError(28, "No space left on device", str(path))

        monkeypatch.setattr(class_change, "write_synced", full)
        with pytest.raises(ProjectError, match="No space left on device; the classes and"):
            change_classes(project, ClassChange.removal(project.schema, 1))
        assert project.schema.names == NAMES
        assert not (project.root / STAGING_DIR).exists()


def test_the_summary_says_maps_were_rewritten_when_the_class_had_no_pixels(tmp_path):
    with _project(tmp_path) as project:
        a = project.images()[0]
        project.save_mask(a.id, np.full((6, 8), 3, np.uint8))  # nucleus only
        report = change_classes(project, ClassChange.removal(project.schema, 1))
        assert report.summary() == (
            "removed 'cell'; no image had pixels of it, 1 label map(s) rewritten for the ids "
            "that moved"
        )


def test_a_move_permutes_the_ids_and_keeps_every_pixel_s_class(tmp_path):
    old = LabelSchema.from_names(NAMES)
    change = ClassChange.move(old, 3, 0)
    assert change.new.names == ["nucleus", "background", "cell", "debris"]
    assert change.lut[:4].tolist() == [1, 2, 3, 0] and change.sources == (3, 0, 1, 2)
    assert [c.color for c in change.new.classes] == [old.classes[i].color for i in (3, 0, 1, 2)]
    assert ClassChange.move(old, 2, 2).identity and not change.identity
    with pytest.raises(SchemaError, match="place 5 is not in the list"):
        ClassChange.move(old, 0, 4)
    with _project(tmp_path) as project:
        first, second = _maps(project)
        a, b, _ = project.images()
        report = change_classes(project, change)
        assert project.schema.names == change.new.names
        assert np.array_equal(project.load_mask(project.image(a.id)), change.lut[first])
        assert project.image(a.id).labelled_pixels == 47
        assert report.summary() == (
            "moved 'nucleus' to id 0; 2 label map(s) rewritten for the ids that moved"
        )


def test_the_summary_keeps_the_case_of_the_kept_folder_and_the_class_names(tmp_path):
    from annotator.services.class_changes import apply_change

    names = ["Background", "Cell", "Debris", "Nucleus"]
    project = Project.create(tmp_path / "MyProject", LabelSchema.from_names(names))
    project.add_images([image_folder(tmp_path / "pics", n=3, size=(6, 8))])
    with project:
        _maps(project)
        result = apply_change(project, ClassChange.removal(project.schema, 2, into=1))
        text = result.summary()
        assert result.labels.kept_in is not None and str(result.labels.kept_in) in text
        assert "'Debris' into 'Cell'" in text and text[0].isupper()


def test_the_kept_maps_of_a_project_that_drops_to_eight_bit_promise_no_plain_import(tmp_path):
    names = [f"c{i}" for i in range(MAX_CLASSES_8BIT + 1)]
    with _project(tmp_path, names) as project:
        a = project.images()[0]
        project.save_mask(a.id, np.full((6, 8), 3, np.uint16))
        report = change_classes(project, ClassChange.removal(project.schema, 3))
        assert report.kept_in is not None and project.schema.dtype == np.uint8
        assert "a project created with as many" in report.summary()
