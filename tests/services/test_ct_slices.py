"""The slices of a CT volume (int16, negative Hounsfield units) work as any picture: the
contrast window takes their negative values, the edge-stopped fill and GrabCut find the
body, the model's input normalisation keeps air and tissue apart."""

from __future__ import annotations

import numpy as np
from niftihelpers import ct_voxels, radiological, save_volume

from annotator.core.schema import LabelSchema
from annotator.core.smart import grabcut, to_uint8_rgb
from annotator.ml.data import fit_normalizer
from annotator.services.session import AnnotationSession
from annotator.storage.project import Project


def test_ct_slices_show_fill_and_normalise_by_their_hounsfield_units(tmp_path):
    voxels = ct_voxels((48, 40, 3))  # air (-1000) around a body (40), noise of 20
    save_volume(tmp_path / "ct.nii.gz", voxels)
    body = radiological(voxels, 1) > -500
    with Project.create(tmp_path / "p", LabelSchema.from_names(["air", "body"])) as project:
        assert len(project.add_images([tmp_path / "ct.nii.gz"]).added) == 3
        record = project.image("ct_z001.tif")
        session = AnnotationSession(project)
        try:
            doc = session.open_image(record.id)
            picture = doc.image
            assert picture.dtype == np.int16 and picture.min() < -900
            (low, high), *_ = doc.auto_windows
            assert low < -900 and 40 < high < 100  # air black, tissue white
            shown = doc.display_image()
            assert shown[body].min() > shown[~body].max()
            # the fill stops at the body's edge (tolerance in Hounsfield units)
            row, col = np.argwhere(body)[len(np.argwhere(body)) // 2]
            doc.fill(float(col), float(row), 1, tolerance=100)
            assert np.array_equal(doc.label_map.array == 1, body)
            # GrabCut in a box around it takes the body, not the air
            box = np.zeros(body.shape, bool)
            box[1:-1, 1:-1] = True
            cut = grabcut(picture, box)
            assert (cut & body).sum() > 0.9 * body.sum() and (cut & ~body).sum() < 0.1 * body.sum()
            assert len(np.unique(to_uint8_rgb(picture))) > 2
        finally:
            session.close()
    x = fit_normalizer(picture, 1).apply(picture)[0]
    assert x.min() > -2.5 and x.max() < 2.5
    assert x[body].mean() - x[~body].mean() > 3.0  # air and tissue at the two ends
