"""Model version folders: written whole or not at all, listed only when complete."""

from __future__ import annotations

import pytest

from annotator.core.card import ModelCard
from annotator.core.errors import ModelError
from annotator.storage import models


def _card(version: int, parent: int | None = None) -> ModelCard:
    return ModelCard(
        version=version,
        parent=parent,
        architecture={"in_channels": 1, "n_classes": 2},
        classes=("background", "cell"),
    )


def test_publishing_writes_the_folder_then_records_the_version(project):
    record = models.publish_version(project, _card(1), b"weights", b"onnx")
    files = models.model_files(project, record)
    assert files.folder == project.root / "models" / "v0001"
    assert files.weights.read_bytes() == b"weights" and files.onnx.read_bytes() == b"onnx"
    assert ModelCard.from_json(files.card.read_text()) == record.card == _card(1)
    assert project.active_model() == record
    assert models.version_folders(project) == [1]
    assert sorted(p.name for p in (project.root / "models").iterdir()) == ["v0001"]


def test_a_version_without_onnx_has_no_onnx_file(project):
    record = models.publish_version(project, _card(1), b"weights")
    assert models.model_files(project, record).onnx is None


def test_a_crash_while_writing_leaves_no_version_at_all(project, monkeypatch):
    real = models.write_synced
    calls = []

    def dies_on_the_second_file(path, data):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        real(path, data)

    monkeypatch.setattr(models, "write_synced", dies_on_the_second_file)
    with pytest.raises(OSError, match="disk full"):
        models.publish_version(project, _card(1), b"weights", b"onnx")
    assert list((project.root / "models").iterdir()) == []
    assert project.models() == [] and models.version_folders(project) == []


def test_half_written_and_stray_folders_are_never_listed(project):
    root = project.root / "models"
    (root / ".v0001.abc.tmp").mkdir()
    (root / ".v0001.abc.tmp" / models.WEIGHTS_NAME).write_bytes(b"w")
    (root / "v0002").mkdir()  # no files: a folder someone made by hand
    (root / "notes").mkdir()
    assert models.version_folders(project) == []
    models.publish_version(project, _card(1), b"w")
    assert models.version_folders(project) == [1]


def test_staging_folders_an_interrupted_publish_left_are_cleared(project):
    root = project.root / "models"
    stale = root / ".v0001.k1ll3d.tmp"
    stale.mkdir()
    (stale / models.WEIGHTS_NAME).write_bytes(b"half")
    models.publish_version(project, _card(1), b"w")
    assert sorted(p.name for p in root.iterdir()) == ["v0001"]


def test_a_leftover_folder_of_an_unrecorded_version_is_replaced(project):
    stale = project.root / "models" / "v0001"
    stale.mkdir()
    (stale / models.WEIGHTS_NAME).write_bytes(b"from a crash before the database knew")
    record = models.publish_version(project, _card(1), b"new")
    assert models.model_files(project, record).weights.read_bytes() == b"new"


def test_only_the_next_version_can_be_published(project):
    models.publish_version(project, _card(1), b"w")
    with pytest.raises(ModelError, match="not the next one"):
        models.publish_version(project, _card(3, 1), b"w")
    assert models.publish_version(project, _card(2, 1), b"w").parent == 1


def test_a_card_is_parsed_once_however_often_the_active_version_is_asked(project, monkeypatch):
    """A card lists every image it trained on; the window asked for the active version
    (every version's card parsed) four times per image opened: 112 ms a step at 1,000
    images and 10 versions, 13 ms now."""
    from annotator.storage import project as project_module

    for v in (1, 2, 3):
        models.publish_version(project, _card(v, v - 1 if v > 1 else None), b"w")
    parsed = []
    real = ModelCard.from_json

    def counting(text, where=""):
        parsed.append(where)
        return real(text, where)

    monkeypatch.setattr(project_module.ModelCard, "from_json", staticmethod(counting))
    with project_module.Project.open(project.root) as fresh:  # nothing parsed yet
        for _ in range(5):
            assert fresh.active_model().version == 3
        assert len(parsed) == 1  # only the active version's card, once
        assert [m.version for m in fresh.models()] == [1, 2, 3]
        assert len(parsed) == 3  # the two others, once each
        fresh.models()
        fresh.model(2)
        assert len(parsed) == 3
