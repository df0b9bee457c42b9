"""A masks export imported again without its dataset.json: the error says what is
missing and what to do, not only that 254 is no class id."""

from __future__ import annotations

from fmthelpers import make_project

from annotator.formats.masks import read_masks
from annotator.services.exchange import ExportRequest, export_project


def test_void_without_dataset_json_names_the_missing_file(tmp_path, masks):
    project = make_project(tmp_path, masks)
    out = tmp_path / "out"
    export_project(project, ExportRequest(format="masks", out=out, split=(1, 0, 0)))
    (out / "dataset.json").unlink()
    result = read_masks(out)
    errors = dict(result.errors)
    # the masks holding void (254) fail; the message names dataset.json and the fix
    assert errors
    for message in errors.values():
        assert "values [254] are not ids of the 3 classes in class_names.txt" in message
        assert "dataset.json" in message and '{"void": 254, "unlabelled": 255}' in message
        assert "\n" not in message
    (out / "dataset.json").write_text('{"void": 254, "unlabelled": 255}')
    assert not read_masks(out).errors
