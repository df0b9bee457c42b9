"""What a failed autosave leaves in the log: one line for a failure the user can fix
(the database locked by another program, a full disk), which comes back every few
seconds while it lasts; a traceback only for an unexpected error (a bug to report)."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from annotator.core.errors import ProjectError
from annotator.core.schema import LabelSchema
from annotator.services.autosave import Autosaver, SaveRequest
from annotator.storage.project import Project


@pytest.fixture
def project(tmp_path):
    (tmp_path / "imgs").mkdir()
    cv2.imwrite(str(tmp_path / "imgs" / "a.png"), np.full((8, 8), 40, np.uint8))
    p = Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"]))
    p.add_images([tmp_path / "imgs"])
    yield p
    p.close()


@pytest.mark.parametrize(
    ("raised", "traceback"),
    [
        (ProjectError("the project database is locked by another program"), False),
        (OSError(28, "No space left on device"), False),
        (KeyError("a bug"), True),
    ],
)
def test_a_failed_autosave_is_one_line_unless_unexpected(project, caplog, raised, traceback):
    def failing_save(*_a, **_k):
        raise raised

    project.save_mask = failing_save
    errors = []
    saver = Autosaver(project, on_error=lambda _r, e: errors.append(e))
    image_id = project.images()[0].id
    with caplog.at_level(logging.WARNING, logger="annotator.services.autosave"):
        saver.submit(SaveRequest(image_id, np.zeros((8, 8), np.uint8), 1))
        assert saver.flush(10)
    saver.close()
    # the user is told, whatever the log says (a full disk naming the project folder)
    assert errors == [raised] or errors[0].__cause__ is raised
    [record] = [r for r in caplog.records if r.name == "annotator.services.autosave"]
    assert f"autosave of image {image_id} failed" in record.getMessage()
    assert (record.exc_info is not None) is traceback
    if not traceback:
        assert str(errors[0]) in record.getMessage() and record.levelno == logging.WARNING
