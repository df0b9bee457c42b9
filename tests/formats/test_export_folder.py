"""The output folder of an export: its mode."""

from __future__ import annotations

import os
import stat

import pytest
from fmthelpers import make_project

from annotator.services.exchange import ExportRequest, export_project


@pytest.fixture
def umask_027():
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_a_new_export_folder_gets_the_mode_mkdir_gives(tmp_path, masks, umask_027):
    """It came from tempfile.mkdtemp and kept its 0o700."""
    project = make_project(tmp_path, masks)
    out = tmp_path / "out"
    export_project(project, ExportRequest(format="voc", out=out))
    assert _mode(out) == 0o750
    assert _mode(out / "SegmentationClass") == 0o750


@pytest.mark.skipif(os.name == "nt", reason="POSIX modes")
def test_an_empty_folder_given_keeps_its_mode(tmp_path, masks, umask_027):
    project = make_project(tmp_path, masks)
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o755)
    export_project(project, ExportRequest(format="masks", out=out))
    assert _mode(out) == 0o755
    assert (out / "class_names.txt").is_file()
