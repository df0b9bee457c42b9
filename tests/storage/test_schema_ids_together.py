"""A project's classes and the generation of ids they were read with change together:
``check_ids`` (``load_mask`` runs it, on the saver's and the readers' threads too) must
never see the new classes with the old ids, or the other way round, and refuse a read
(or let one through under the wrong classes)."""

from __future__ import annotations

import threading

import pytest
from storehelpers import image_folder

from annotator.core.errors import ProjectError
from annotator.core.schema import ClassChange, LabelSchema
from annotator.storage.class_change import change_classes
from annotator.storage.project import CLASS_CHANGE_KEY, Project

WATCHED = {"_schema", "_ids_read", "_schema_read"}


@pytest.fixture
def probed(monkeypatch):
    """After each assignment of the attributes that hold the classes and their ids, a
    reader on another thread runs ``check_ids`` right then (the writer waits for it):
    what it refused is recorded, unless the maps were being swapped right then (the
    change's mark is in the database: every reader is refused then, rightly)."""
    refused: list[str] = []
    probing = threading.local()
    watching = [False]

    def probe(project):
        probing.on = True
        try:
            project.check_ids()
        except ProjectError as exc:
            if not project.has_meta(CLASS_CHANGE_KEY):
                refused.append(str(exc))
        finally:
            probing.on = False

    def setattr_(self, name, value):
        object.__setattr__(self, name, value)
        if watching[0] and name in WATCHED and not getattr(probing, "on", False):
            reader = threading.Thread(target=probe, args=(self,))
            reader.start()
            reader.join()

    monkeypatch.setattr(Project, "__setattr__", setattr_)
    return refused, watching


def _project(tmp_path):
    project = Project.create(tmp_path / "proj", LabelSchema.from_names(["a", "b", "c"]))
    project.add_images([image_folder(tmp_path / "pics", n=2, size=(6, 8))])
    return project


def test_a_class_change_never_shows_a_reader_its_classes_without_their_ids(tmp_path, probed):
    refused, watching = probed
    with _project(tmp_path) as project:
        project.check_ids()
        watching[0] = True
        change_classes(project, ClassChange.removal(project.schema, 1))
        watching[0] = False
        assert project.schema.names == ["a", "c"]
        project.check_ids()  # this handle made the change: its reads go on
    assert refused == []


def test_the_first_read_of_the_classes_never_shows_a_reader_them_without_their_ids(
    tmp_path, probed
):
    refused, watching = probed
    with _project(tmp_path) as project:
        change_classes(project, ClassChange.removal(project.schema, 1))  # ids recorded
    with Project.open(tmp_path / "proj") as again:
        watching[0] = True
        assert again.schema.names == ["a", "c"]
        watching[0] = False
    assert refused == []
