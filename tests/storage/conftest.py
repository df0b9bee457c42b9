"""Fixtures of the storage tests."""

import pytest

from annotator.core.schema import LabelSchema
from annotator.storage.project import Project


@pytest.fixture
def project(tmp_path):
    """An empty two-class project (``background``, ``cell``), closed afterwards."""
    p = Project.create(tmp_path / "proj", LabelSchema.from_names(["background", "cell"]))
    yield p
    p.close()
