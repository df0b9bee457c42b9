"""File > Add of an nnU-Net folder of 2-D cases of a file per channel says, in its
summary, that each case became one picture with a channel per file (as `annotator add`
prints it)."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image


def test_the_add_summary_says_the_cases_became_one_picture_each(qapp, tmp_path):
    from annotator.core.schema import LabelSchema
    from annotator.gui.new_project_dialog import add_images_with_progress
    from annotator.storage.project import Project

    pictures = tmp_path / "Dataset101_Cells" / "imagesTr"
    pictures.mkdir(parents=True)
    names = {"channel_names": {"0": "DAPI", "1": "GFP"}}  # (its cases are joined)
    (pictures.parent / "dataset.json").write_text(json.dumps(names))
    for c in range(2):
        grey = np.random.default_rng(c).integers(0, 255, (8, 8)).astype(np.uint8)
        Image.fromarray(grey).save(pictures / f"cell_001_{c:04d}.png")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["a", "b"])) as project:
        outcome = add_images_with_progress(None, project, [pictures])
        assert [r.name for r in project.images()] == ["cell_001_0000.tif"]
    assert outcome.added == 1
    text = outcome.summary()
    assert (
        "1 nnU-Net case(s) of a file per channel are one picture with a channel per file "
        "(first: cell_001_0000.png and its 1 further channel(s))"
    ) in text, text
