"""Stored proposals: the JSON commits the PNGs, and it is read once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from annotator.core.proposal import Proposal
from annotator.core.schema import LabelSchema
from annotator.storage import proposals
from annotator.storage.project import Project


@pytest.fixture
def project(tmp_path):
    image = tmp_path / "a.png"
    from PIL import Image

    Image.fromarray(np.zeros((6, 8), np.uint8)).save(image)
    p = Project.create(tmp_path / "proj", LabelSchema.from_names(["background", "cell"]))
    p.add_images([image])
    yield p
    p.close()


def _proposal(version: int) -> Proposal:
    mask = np.zeros((6, 8), np.uint8)
    mask[2:4, 3:6] = 1
    unc = np.linspace(0, 1, 48, dtype=np.float32).reshape(6, 8)
    return Proposal(None, mask, unc, 0.25, version)


def test_a_saved_proposal_loads_back(project):
    record = project.images()[0]
    assert proposals.load_proposal(project, record) is None
    proposals.save_proposal(project, record.id, _proposal(3))
    loaded = proposals.load_proposal(project, record)
    assert loaded is not None and loaded.model_version == 3 and loaded.score == 0.25
    np.testing.assert_array_equal(loaded.mask, _proposal(3).mask)
    np.testing.assert_allclose(loaded.uncertainty, _proposal(3).uncertainty, atol=1 / 255)


def test_asking_for_another_version_reads_the_json_once_and_no_image(project, monkeypatch):
    record = project.images()[0]
    proposals.save_proposal(project, record.id, _proposal(3))
    reads: list[str] = []
    real_read_text = Path.read_text
    real_fromfile = np.fromfile

    def read_text(self, *args, **kwargs):
        reads.append(self.name)
        return real_read_text(self, *args, **kwargs)

    def fromfile(path, *args, **kwargs):
        reads.append(Path(path).name)
        return real_fromfile(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.setattr(np, "fromfile", fromfile)
    assert proposals.load_proposal(project, record, version=4) is None
    assert reads == [f"{record.id}.json"]
    reads.clear()
    assert proposals.load_proposal(project, record, version=3) is not None
    assert reads == [f"{record.id}.json", f"{record.id}.png", f"{record.id}_uncertainty.png"]


def test_a_damaged_proposal_counts_as_none(project):
    record = project.images()[0]
    proposals.save_proposal(project, record.id, _proposal(1))
    mask_p, _, meta_p = proposals.proposal_paths(project, record.id)
    mask_p.write_bytes(b"not a png")
    assert proposals.load_proposal(project, record) is None
    meta_p.write_text("{broken", encoding="utf-8")
    assert proposals.load_proposal(project, record) is None
