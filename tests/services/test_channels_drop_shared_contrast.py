"""`annotator channels` drops the contrast window for every image as View > Channels
does: it stayed, the window said "Contrast for every image" while no image used it, and
`annotator channels --reset` brought it back."""

from __future__ import annotations

import numpy as np
import tifffile

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.services.shared_contrast import (
    SHARED_CONTRAST_SETTING,
    ContrastWindows,
    keep_shared_windows,
    shared_windows,
)
from annotator.storage.project import Project


def test_the_cli_channel_choice_drops_the_window_for_every_image(tmp_path, capsys):
    picture = tmp_path / "rgb16.tif"
    tifffile.imwrite(picture, np.full((8, 8, 3), 1000, np.uint16), photometric="rgb")
    root = tmp_path / "P"
    with Project.create(root, LabelSchema.from_names(["a", "b"])) as p:
        p.add_images([picture])
        shared = ContrastWindows(((100.0, 2000.0),) * 3, False, ())
        keep_shared_windows(p, shared)
        assert shared_windows(p) == shared
    assert main(["channels", str(root), "--use", "3,2,1"]) == 0
    with Project.open(root) as p:
        assert p.get_setting(SHARED_CONTRAST_SETTING) is None
        assert shared_windows(p) is None
    assert main(["channels", str(root), "--reset"]) == 0
    with Project.open(root) as p:
        assert shared_windows(p) is None  # (the reset brought the old window back)
        # one set under another choice (kept by an older version) fits no image
        keep_shared_windows(p, ContrastWindows(((1.0, 2.0),) * 3, False, (2, 1, 0)))
        assert shared_windows(p) is None
