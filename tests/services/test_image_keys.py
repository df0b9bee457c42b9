"""Image names as the commands take them (``predict --images``, ``remove``): one helper
(``services.projects.images_of``) accepts a file name or stem that one image has, and
says which image was meant when a name finds none or several."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from annotator.cli import main
from annotator.core.errors import AnnotatorError
from annotator.services.projects import create_project, image_of, images_of, open_project


def _project(tmp_path):
    """Images added from a dataset folder: their names keep the folders below it."""
    ds = tmp_path / "ds"
    for i, name in enumerate(("images/5.png", "images/Cell_7.png", "a/6.png", "b/6.png")):
        (ds / name).parent.mkdir(parents=True, exist_ok=True)
        noise = np.random.default_rng(i).integers(0, 255, (8, 8), np.uint8)
        Image.fromarray(noise).save(ds / name)
    root = tmp_path / "P"
    with create_project(root, ["bg", "cell"]) as project:
        project.add_images([ds])
        assert sorted(r.name for r in project.images()) == [
            "a/6.png",
            "b/6.png",
            "images/5.png",
            "images/Cell_7.png",
        ]
    return root


def test_a_file_name_or_stem_of_one_image_finds_it(tmp_path):
    with open_project(_project(tmp_path), lock=False) as project:
        five = project.image("images/5.png")
        assert image_of(project, "5.png") == five
        assert image_of(project, "5") == five
        assert image_of(project, "images/5.png") == five
        assert image_of(project, str(five.id)) == five  # no stem is a number of 1..4
        assert [r.name for r in images_of(project, ["Cell_7.png", "a/6.png"])] == [
            "images/Cell_7.png",
            "a/6.png",
        ]


def test_a_name_of_several_images_or_of_none_names_the_images_meant(tmp_path):
    with open_project(_project(tmp_path), lock=False) as project:
        with pytest.raises(AnnotatorError) as exc:
            image_of(project, "6.png")
        assert str(exc.value) == (
            "image name '6.png' is the file name of several images ('a/6.png', 'b/6.png'); "
            "give the whole name"
        )
        with pytest.raises(AnnotatorError) as exc:
            image_of(project, "cell_7.png")  # another case
        assert str(exc.value).endswith("; did you mean 'images/Cell_7.png'?")
        with pytest.raises(AnnotatorError) as exc:
            image_of(project, "Cell_8.png")  # a typo
        assert str(exc.value).endswith("; did you mean 'images/Cell_7.png'?")
        with pytest.raises(AnnotatorError) as exc:
            image_of(project, "Cell_8")  # a typo of a stem (no suffix typed)
        assert str(exc.value).endswith("; did you mean 'images/Cell_7.png'?")
        with pytest.raises(AnnotatorError) as exc:
            image_of(project, "zebra.png")
        assert str(exc.value) == f"no image 'zebra.png' in project {project.root}"


def test_predict_and_remove_take_the_file_name_and_hint_at_the_image_meant(tmp_path, capsys):
    root = _project(tmp_path)
    # the name is found: predict goes on to the model, which this project lacks
    assert main(["predict", str(root), "--images", "5.png", "--out", str(tmp_path / "o")]) == 1
    assert "no model yet" in capsys.readouterr().err
    assert main(["predict", str(root), "--images", "cell_7.png"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        f"annotator: error: no image 'cell_7.png' in project {root}; "
        "did you mean 'images/Cell_7.png'?"
    )
    assert main(["remove", str(root), "5.png"]) == 0
    assert main(["remove", str(root), "6.png", "--status", "new"]) == 1
    assert "give the whole name" in capsys.readouterr().err
    with open_project(root, lock=False) as project:
        assert sorted(r.name for r in project.images()) == [
            "a/6.png",
            "b/6.png",
            "images/Cell_7.png",
        ]


def test_a_number_that_is_a_stem_and_another_images_id_is_refused(tmp_path):
    """ISBI-style names (0.png, 1.png...) are numbers: `remove P 1` once removed the
    image of id 1 (0.png) when two images had the stem 1, and would pick either silently
    when a stem and an id disagree. Both are refused, naming the way to say each."""
    ds = tmp_path / "ds"
    for i, name in enumerate(("images/0.png", "images/1.png", "other/1.tif", "images/2.png")):
        (ds / name).parent.mkdir(parents=True, exist_ok=True)
        noise = np.random.default_rng(i).integers(0, 255, (8, 8), np.uint8)
        Image.fromarray(noise).save(ds / name)
    with create_project(tmp_path / "P", ["bg", "cell"]) as project:
        project.add_images([ds])
        ids = {r.name: r.id for r in project.images()}
        assert ids["images/0.png"] == 1 and ids["images/1.png"] == 2 and ids["images/2.png"] == 3
        with pytest.raises(AnnotatorError) as exc:  # stem of two images, and an id
            image_of(project, "1")
        assert str(exc.value) == (
            "image name '1' is the file name of several images ('images/1.png', 'other/1.tif'); "
            "give the whole name, or id:1 for the id"
        )
        with pytest.raises(AnnotatorError) as exc:  # stem of one image, id of another
            image_of(project, "2")
        assert str(exc.value) == (
            "image name '2' is the file name or stem of 'images/2.png' and the id of "
            "'images/1.png'; give the whole name, or id:2 for the id"
        )
        assert image_of(project, "id:1").name == "images/0.png"
        assert image_of(project, "id:2").name == "images/1.png"
        assert image_of(project, "0").name == "images/0.png"  # stem 0, no image of id 0
    with open_project(tmp_path / "P", lock=False) as project:
        before = len(project.images())
    assert main(["remove", str(tmp_path / "P"), "1"]) == 1
    with open_project(tmp_path / "P", lock=False) as project:
        assert len(project.images()) == before


def test_a_name_typed_in_the_other_unicode_form_finds_the_image(tmp_path):
    """'café.png' typed (composed) for the image added from a file named decomposed, as
    macOS names files: "no image 'café.png'; did you mean 'café.png'?"."""
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    (tmp_path / "pics").mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "pics" / f"{nfd}.png")
    with create_project(tmp_path / "P", ["bg", "cell"]) as project:
        project.add_images([tmp_path / "pics"])
        (rec,) = project.images()
        assert rec.name == f"{nfd}.png"
        assert image_of(project, f"{nfc}.png") == rec
        assert image_of(project, nfc) == rec
