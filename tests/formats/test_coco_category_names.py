"""COCO categories with one name: the error names the name and both ids (it said only
"two categories have the same name")."""

from __future__ import annotations

import json

from annotator.formats.coco import read_coco


def _coco(path, categories):
    path.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "x.png", "width": 4, "height": 3}],
                "annotations": [],
                "categories": categories,
            }
        )
    )
    return path


def test_two_categories_of_one_name_are_named_with_their_ids(tmp_path):
    cats = [{"id": 1, "name": "cell"}, {"id": 2, "name": "nucleus"}, {"id": 7, "name": "cell"}]
    ((_, message),) = read_coco(_coco(tmp_path / "a.json", cats)).errors
    assert "categories 1 and 7 have the same name ('cell'):" in message
    assert "rename one" in message


def test_names_that_differ_only_in_case_are_both_shown(tmp_path):
    cats = [{"id": 3, "name": "Cell"}, {"id": 5, "name": "cell "}]
    ((_, message),) = read_coco(_coco(tmp_path / "b.json", cats)).errors
    assert "categories 3 and 5 have the same name ('Cell' and 'cell', in any case)" in message


def test_a_category_name_no_class_can_have_is_said_with_its_file_and_category(tmp_path):
    """(It stopped the import when the classes were added, naming neither.)"""
    for k, (name, why) in enumerate(
        [("", "a class name cannot be empty"), ("a\tb", "contains a control character (U+0009)")]
    ):
        cats = [{"id": 1, "name": "cell"}, {"id": 4, "name": name}]
        ((path, message),) = read_coco(_coco(tmp_path / f"{k}.json", cats)).errors
        assert path.endswith(f"{k}.json")
        assert message.startswith(f"{tmp_path / f'{k}.json'}: categories[1] (id 4): ")
        assert why in message and "rename the category" in message
