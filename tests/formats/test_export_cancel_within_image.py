"""A cancel stops a YOLO or labelme export within a big label map's polygons, not only
between images: converting one 8192 x 8192 map takes tens of seconds, and Cancel waited
10-31 s for it."""

from __future__ import annotations

import numpy as np
import pytest
from fmthelpers import make_project

from annotator.services.exchange import ExportRequest, export_project

NAMES = ("many", "other")


class _Stop(Exception):
    pass


@pytest.mark.parametrize("fmt", ["yolo", "labelme"])
def test_a_cancel_stops_within_the_first_images_polygons(tmp_path, fmt):
    many = np.zeros((200, 200), np.uint8)
    many[::4, ::4] = 1  # 2,500 one-pixel regions: one step of the export, many polygons
    calls: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, message: str) -> None:
        calls.append((done, total, message))
        if sum(1 for c in calls if c[2] == message) == 50 and message in NAMES:
            raise _Stop()

    maps = {"many": many, "other": many.copy()}
    with make_project(tmp_path, maps) as project, pytest.raises(_Stop):
        export_project(project, ExportRequest(fmt, tmp_path / "out"), progress)
    assert not (tmp_path / "out").exists()  # all or nothing
    # stopped within the first map written (the other is never begun)
    assert len({c[2] for c in calls if c[2] in NAMES}) == 1
