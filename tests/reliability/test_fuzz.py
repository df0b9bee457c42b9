"""Fuzzing every entrance, short form (the long form is ``benchmarks/fuzz.py``).

Mutated images, masks, labelme/COCO/YOLO/VOC files, damaged databases and checkpoints
go through the real CLI in forked children; every case must end in a one-line refusal
that leaves the project unchanged, or in an accepted input that leaves it consistent.
Hypothesis adds random JSON documents straight into the labelme and COCO readers.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotator.core.errors import FormatError
from annotator.formats.base import ImportOptions

ROOT = Path(__file__).resolve().parents[2]


def _fuzz_module():
    spec = importlib.util.spec_from_file_location(
        "annotator_bench_fuzz", ROOT / "benchmarks" / "fuzz.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(sys.platform == "win32", reason="forks a child per case")
def test_short_fuzz_of_every_entrance_has_no_failures(tmp_path):
    fuzz = _fuzz_module()
    out = tmp_path / "fuzz.json"
    report = fuzz.run(40, seed=7, timeout=60, out=out, progress=False)
    assert report["cases"] == 40
    assert set(report["by_entrance"]) == set(fuzz.ENTRANCES)
    details = [
        (f["entrance"], f["seed"], f["verdict"], f.get("detail")) for f in report["failure_cases"]
    ]
    assert report["failures"] == 0, details
    # the attacks really are attacks: most cases are refused
    refused = sum(v.get("refused", 0) for v in report["by_entrance"].values())
    assert refused >= 20


def test_mutations_are_reproducible():
    fuzz = _fuzz_module()
    a, b = fuzz.make_case("labelme", 123), fuzz.make_case("labelme", 123)
    assert a.files == b.files and a.what == b.what
    assert fuzz.make_case("labelme", 124).files != a.files


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)

points = st.lists(
    st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=0, max_size=3),
    max_size=8,
)

labelme_docs = st.fixed_dictionaries(
    {
        "shapes": st.lists(
            st.fixed_dictionaries(
                {
                    "label": st.sampled_from(["cell", "nucleus", "__ignore__", "", "x"])
                    | json_values,
                    "points": points | json_values,
                    "shape_type": st.sampled_from(
                        [
                            "polygon",
                            "rectangle",
                            "circle",
                            "line",
                            "linestrip",
                            "point",
                            "mask",
                            "?",
                        ]
                    )
                    | json_values,
                }
            ),
            max_size=4,
        )
        | json_values,
        "imagePath": st.sampled_from(["cell000.png", "", "../x.png"]) | json_values,
        "imageData": st.none() | json_values,
        "imageHeight": st.sampled_from([16, 0, -1]) | json_values,
        "imageWidth": st.sampled_from([16, 2**40]) | json_values,
    }
)


def _dump(doc) -> str:
    return json.dumps(doc, allow_nan=True)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=labelme_docs)
def test_labelme_reader_refuses_or_reads_any_json(tmp_path, doc):
    from annotator.formats.labelme import read_labelme

    f = tmp_path / "a.json"
    f.write_text(_dump(doc))
    try:
        result = read_labelme(f, ImportOptions())
    except FormatError as exc:
        assert "\n" not in str(exc)
        return
    for item in result.items:
        assert item.mask.shape == (item.height, item.width)
    for _source, reason in result.errors:
        assert "\n" not in reason


coco_docs = st.fixed_dictionaries(
    {
        "images": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.integers(0, 3) | json_values,
                    "file_name": st.just("cell000.png") | json_values,
                    "width": st.sampled_from([16, 0]) | json_values,
                    "height": st.just(16) | json_values,
                }
            ),
            max_size=3,
        )
        | json_values,
        "annotations": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.integers(0, 3) | json_values,
                    "image_id": st.integers(0, 3) | json_values,
                    "category_id": st.integers(0, 3) | json_values,
                    "segmentation": st.lists(
                        st.lists(st.floats(-50, 50) | json_values, max_size=10), max_size=2
                    )
                    | st.fixed_dictionaries(
                        {
                            "size": st.just([16, 16]) | json_values,
                            "counts": st.lists(st.integers(-5, 300), max_size=5)
                            | st.text(max_size=10)
                            | json_values,
                        }
                    )
                    | json_values,
                    "iscrowd": st.integers(0, 1) | json_values,
                }
            ),
            max_size=3,
        )
        | json_values,
        "categories": st.lists(
            st.fixed_dictionaries(
                {
                    "id": st.integers(0, 3) | json_values,
                    "name": st.sampled_from(["cell", "nucleus", ""]) | json_values,
                }
            ),
            max_size=3,
        )
        | json_values,
    }
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=coco_docs)
def test_coco_reader_refuses_or_reads_any_json(tmp_path, doc):
    from annotator.formats.coco import read_coco

    f = tmp_path / "annotations.json"
    f.write_text(_dump(doc))
    try:
        result = read_coco(f, ImportOptions())
    except FormatError as exc:
        assert "\n" not in str(exc)
        return
    for item in result.items:  # (drawn labels are kept compact: labels() gives them)
        labels = item.labels()
        assert labels.shape == (item.height, item.width)
        assert not math.isnan(float(labels.max(initial=0)))
