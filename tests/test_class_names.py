"""Class names with control characters are refused in one line wherever a name enters:
the schema API, ``annotator new --classes`` and classes an import adds."""

import numpy as np
import pytest
from PIL import Image

from annotator.cli import main
from annotator.core.errors import SchemaError
from annotator.core.schema import LabelSchema
from annotator.services.projects import open_project

# NUL, ESC, CR, BEL, DEL, a C1 control, the Unicode line separator
CONTROL = ["\x00", "\x1b", "\r", "\x07", "\x7f", "\x85", "\u2028"]


@pytest.mark.parametrize("char", CONTROL)
def test_schema_refuses_a_control_character_inside_a_name(char):
    name = f"ce{char}ll"
    with pytest.raises(SchemaError, match="contains a control character") as err:
        LabelSchema.from_names(["bg", name])
    assert "\n" not in str(err.value) and f"U+{ord(char):04X}" in str(err.value)
    schema = LabelSchema.from_names(["bg"])
    with pytest.raises(SchemaError, match="contains a control character"):
        schema.with_class(name)
    with pytest.raises(SchemaError, match="contains a control character"):
        schema.renamed(0, name)


@pytest.mark.parametrize("name", ["cell nucleus", "Zelle-Kern_2", "núcleo", "細胞", "a/b (c)"])
def test_printable_names_are_still_accepted(name):
    assert LabelSchema.from_names(["bg", name]).names == ["bg", name]


def _error_line(capsys):
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\r"])
def test_cli_new_refuses_a_control_character_in_a_class_name(tmp_path, capsys, char):
    proj = tmp_path / "P"
    with pytest.raises(SystemExit) as exit_:  # wrong by itself: the usage, exit code 2
        main(["new", str(proj), "--classes", f"bg,ce{char}ll"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.rstrip().splitlines()[-1]
    assert err.startswith("annotator new: error: argument --classes: class name")
    assert "control character" in err
    assert not proj.exists() or not any(proj.iterdir())


def test_cli_import_refuses_to_add_a_class_with_a_control_character(tmp_path, capsys):
    proj, imgs, masks = tmp_path / "P", tmp_path / "imgs", tmp_path / "masks"
    imgs.mkdir()
    masks.mkdir()
    Image.fromarray(np.full((8, 8), 40, np.uint8)).save(imgs / "a.png")
    Image.fromarray(np.full((8, 8), 2, np.uint8)).save(masks / "a.png")
    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"bg\ncell\nbad\x1bname\n")
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(imgs)]) == 0
    capsys.readouterr()
    assert (
        main(["import", str(proj), str(masks), "--format", "masks", "--labels", str(labels)]) == 1
    )
    err = _error_line(capsys)
    assert "'bad\\x1bname' contains a control character (U+001B)" in err
    with open_project(proj, lock=False) as project:  # nothing changed
        assert project.schema.names == ["bg", "cell"]
        assert project.load_mask(project.images()[0]) is None


def test_classes_past_the_palette_get_colours_of_their_own():
    """The palette repeated: classes 0, 20 and 40 of a 60-class project were one blue."""
    import cv2
    import numpy as np

    from annotator.core.schema import PALETTE, LabelSchema, hex_to_rgb

    schema = LabelSchema.from_names([f"c{i}" for i in range(254)])
    colours = [c.color for c in schema.classes]
    assert colours[: len(PALETTE)] == list(PALETTE)  # the first ones as before
    assert len(set(colours)) == 254
    rgb = np.array([hex_to_rgb(c) for c in colours[:60]], np.uint8).reshape(1, -1, 3)
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[0].astype(float)
    gaps = np.linalg.norm(lab[:, None] - lab[None], axis=2)
    np.fill_diagonal(gaps, np.inf)
    palette_gap = gaps[: len(PALETTE), : len(PALETTE)].min()
    assert gaps.min() >= palette_gap - 1e-9  # no two of 60 closer than the palette's closest


def test_names_in_either_unicode_form_are_one_name():
    """ "é" typed as one character and as "e" + a combining accent look the same: two
    classes of those names could not be told apart in any list."""
    import unicodedata

    from annotator.core.schema import LabelSchema, SchemaError

    nfc, nfd = "caf\u00e9", unicodedata.normalize("NFD", "caf\u00e9")
    assert nfc != nfd
    with pytest.raises(SchemaError, match="is there already"):
        LabelSchema.from_names(["bg", nfc, nfd])
    schema = LabelSchema.from_names(["bg", nfd])
    assert schema.names[1] == nfc  # stored in one form
    assert schema.by_name(nfd.upper()).id == 1 and schema.has_name(nfc)


def test_every_class_name_comparison_takes_either_unicode_form(tmp_path):
    """The schema knew both spellings of "café" as one name, the rest did not: a labelme
    source spelling it both ways failed to import, and a model's card spelling it the
    other way did not fit the project."""
    import json
    import unicodedata

    import cv2
    import numpy as np

    from annotator.core.card import classes_fit
    from annotator.core.naming import unique_stems
    from annotator.formats.labelme import read_labelme

    nfc, nfd = "caf\u00e9", unicodedata.normalize("NFD", "caf\u00e9")
    assert classes_fit(["bg", nfd], ["bg", nfc, "dog"])
    assert len(set(unique_stems([(1, nfc), (2, nfd)], 100).values())) == 2
    assert unique_stems([(1, nfc), (2, nfd)], 100)[2].endswith("~2")
    src = tmp_path / "src"
    src.mkdir()
    for i, label in enumerate((nfc, nfd)):
        cv2.imwrite(str(src / f"{i}.png"), np.zeros((10, 10), np.uint8))
        shape = {"label": label, "points": [[1, 1], [6, 6]], "shape_type": "rectangle"}
        doc = {"shapes": [shape], "imagePath": f"{i}.png", "imageHeight": 10, "imageWidth": 10}
        (src / f"{i}.json").write_text(json.dumps(doc))
    result = read_labelme(src)
    assert result.errors == []
    assert all(item.names == (nfc,) for item in result.items)


@pytest.mark.parametrize("name", ["#", "# x", "## notes"])
def test_a_name_a_class_list_reads_as_a_comment_is_refused(name):
    """Exports write class_names.txt, whose '#'-then-space lines read as comments: such a
    class would vanish on re-import and every later id shift by one."""
    with pytest.raises(SchemaError, match="read as a comment"):
        LabelSchema.from_names(["background", name])
    assert LabelSchema.from_names(["#1", "#x", "a # b"]).names == ["#1", "#x", "a # b"]


def test_a_class_added_after_a_removal_never_wears_a_colour_in_use():
    from annotator.core.schema import ClassChange, LabelSchema

    schema = ClassChange.removal(LabelSchema.from_names(["a", "b", "c"]), 1).new  # a, c
    added = schema.with_class("d")
    colours = [c.color for c in added.classes]
    assert len(set(colours)) == 3, colours
    assert added.classes[-1].color == LabelSchema.from_names(["a", "b"]).classes[1].color


def test_a_colour_that_cannot_be_told_from_another_classs_is_said(tmp_path, capsys):
    """Two classes of one colour look like one on the image: a recolour to a colour
    another class wears (or one a few levels from it) was taken without a word."""
    from annotator.gui.class_panel import explain_schema_change

    schema = LabelSchema.from_names(["bg", "cell", "nucleus"])
    cell = schema.classes[1].color
    near = "#" + bytes(min(255, v + 10) for v in bytes.fromhex(cell[1:])).hex()
    same = schema.recoloured(2, near)
    assert same.looking_alike(2) == ["cell"] and same.looking_alike(0) == []
    said = explain_schema_change(schema, same)
    assert "'cell' has the same colour as 'nucleus', or one hard to tell from it" in said
    apart = schema.recoloured(2, "#000000")
    assert apart.looking_alike(2) == []
    assert "same colour" not in explain_schema_change(schema, apart)
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "bg,cell,nucleus"])
    assert main(["classes", proj, "--color", "nucleus", near]) == 0
    out = capsys.readouterr().out
    assert "'cell' has the same colour, or one hard to tell from it" in out
    assert main(["classes", proj, "--color", "nucleus", "#000000"]) == 0
    assert "same colour" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "name", ["cell\u200b", "\u202egnp", "a\u2066b", "\ufeffcell", "\u200dcell"]
)
def test_a_name_with_an_invisible_character_is_refused(name):
    """'cell' and 'cell' with a zero-width space were two classes that looked the same
    everywhere; a bidi override showed a name reversed."""
    with pytest.raises(SchemaError, match="holds an invisible character"):
        LabelSchema.from_names(["bg", name])


@pytest.mark.parametrize("name", ["a\u200db", "\u067e\u06cc\u0634\u200c\u0646\u0648\u06cc\u0633"])
def test_the_joiners_scripts_and_emoji_need_are_kept_inside_a_name(name):
    assert LabelSchema.from_names([name]).names == [name]


def test_a_name_of_bytes_the_locale_could_not_read_is_refused_in_one_line():
    """A Latin-1 'Ärger' read by a UTF-8 Python (or the reverse) holds surrogate escapes,
    which the database refused: an internal error, exit 70."""
    with pytest.raises(SchemaError, match="holds bytes that are not UTF-8 text"):
        LabelSchema.from_names(["a", "\udcc4rger"])
