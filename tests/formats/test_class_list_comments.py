"""Comments in class lists and tables, and class names that begin with '#'.

A comment must never become a class (every later id would shift by one: silent wrong
labels), and a table line with the table's full structure is a class whatever its first
character. What cannot be told apart is refused with the line's number.
"""

from __future__ import annotations

import numpy as np
import pytest
from fmthelpers import write_image
from PIL import Image

from annotator.core.errors import FormatError
from annotator.formats.base import read_names_file
from annotator.formats.colour_table import read_class_table
from annotator.formats.labelme import read_labels_file
from annotator.formats.masks import read_masks

CVAT_HEADER = "# label:color_rgb:parts:actions\n"


# --- plain lists: one name per line ---------------------------------------------------


@pytest.mark.parametrize("file_name", ["class_names.txt", "labels.txt", "classes.txt"])
def test_a_first_comment_line_of_a_plain_list_is_no_class(tmp_path, file_name):
    (tmp_path / file_name).write_text("# classes of my dataset\nbackground\ncell\nnucleus\n")
    table = read_class_table(tmp_path / file_name)
    assert table.names == ("background", "cell", "nucleus")
    assert table.ids == (0, 1, 2)  # not shifted by the comment
    assert table.colours is None


def test_comment_lines_anywhere_in_a_plain_list_are_skipped_and_hash_names_kept(tmp_path):
    text = "#\n# my classes\n\nbackground\n#1\n  # vehicles  \ncar\n#\t tab comment\n##\nbus\n"
    (tmp_path / "class_names.txt").write_text(text)
    assert read_names_file(tmp_path / "class_names.txt") == ["background", "#1", "car", "bus"]


def test_labelme_labels_txt_with_a_comment_keeps_ignore_first(tmp_path):
    text = "# labelme labels\n__ignore__\n_background_\n\ncat\n"
    (tmp_path / "labels.txt").write_text(text)
    assert read_labels_file(tmp_path / "labels.txt") == ["__ignore__", "_background_", "cat"]
    table = read_class_table(tmp_path / "labels.txt").without_leading_ignore()
    assert table.names == ("_background_", "cat")
    assert table.ids == (0, 1)


def test_a_commented_class_list_reads_masks_by_the_right_ids(tmp_path):
    """The user-visible defect: ``--labels`` with a first comment line shifted every id."""
    (tmp_path / "masks").mkdir()
    write_image(tmp_path / "images/x.png", (4, 6))
    ids = np.zeros((4, 6), np.uint8)
    ids[2:] = 1
    Image.fromarray(ids).save(tmp_path / "masks/x.png")
    (tmp_path / "class_names.txt").write_text("# classes of my dataset\nsky\nroad\n")
    result = read_masks(tmp_path / "masks")
    assert result.errors == []
    (item,) = result.items
    assert item.names == ("sky", "road")
    assert np.array_equal(item.labels(), ids)


# --- CVAT labelmap.txt ----------------------------------------------------------------


def test_a_labelmap_class_whose_name_begins_with_hash_is_a_class(tmp_path):
    text = CVAT_HEADER + "background:0,0,0::\n# x:1,2,3::\n#y:4,5,6:part:\ncar:250,50,83::\n"
    (tmp_path / "labelmap.txt").write_text(text)
    table = read_class_table(tmp_path / "labelmap.txt")
    assert table.kind == "CVAT labelmap"
    assert table.names == ("background", "# x", "#y", "car")
    assert table.ids == (0, 1, 2, 3)
    assert table.colours == ((0, 0, 0), (1, 2, 3), (4, 5, 6), (250, 50, 83))


def test_a_labelmap_whose_first_class_begins_with_hash_is_still_a_labelmap(tmp_path):
    (tmp_path / "labelmap.txt").write_text("# x:1,2,3::\ncar:250,50,83::\n")
    table = read_class_table(tmp_path / "labelmap.txt")
    assert table.names == ("# x", "car")
    assert table.colours == ((1, 2, 3), (250, 50, 83))
    (tmp_path / "only.txt").write_text(CVAT_HEADER + "#x:1,2,3::\n")
    assert read_class_table(tmp_path / "only.txt").names == ("#x",)


def test_labelmap_comments_without_a_colour_stay_comments(tmp_path):
    text = CVAT_HEADER + "background:0,0,0::\n# exported 2024-01-02: by hand\n#\ncar:1,1,1::\n"
    text += "# written at 12:30\n"
    (tmp_path / "labelmap.txt").write_text(text)
    assert read_names_file(tmp_path / "labelmap.txt") == ["background", "car"]


@pytest.mark.parametrize("line", ["#x:1,2::", "# x: 1,2,3,4 ::", "#x:1;2;3::"])
def test_a_hash_labelmap_line_with_a_broken_colour_is_refused(tmp_path, line):
    """A class with a typo in its colour, or a comment? Neither guess is safe."""
    (tmp_path / "labelmap.txt").write_text(CVAT_HEADER + f"background:0,0,0::\n{line}\n")
    with pytest.raises(FormatError, match=r"labelmap.txt: line 3 .*begins with '#'"):
        read_class_table(tmp_path / "labelmap.txt")


# --- CamVid label_colors.txt and name,r,g,b lists -------------------------------------


def test_camvid_hash_names_are_classes_and_hash_lines_comments(tmp_path):
    text = "# r g b name\n64 128 64\tAnimal\n#192 0 128 Archway\n1 2 3 #x\n"
    (tmp_path / "label_colors.txt").write_text(text)
    table = read_class_table(tmp_path / "label_colors.txt")
    assert table.names == ("Animal", "#x")
    assert table.colours == ((64, 128, 64), (1, 2, 3))


def test_a_name_rgb_class_whose_name_begins_with_hash_is_a_class(tmp_path):
    (tmp_path / "colours.txt").write_text("# name,r,g,b\n#x,1,2,3\nsky,4,5,6\n")
    table = read_class_table(tmp_path / "colours.txt")
    assert table.names == ("#x", "sky")
    assert table.colours == ((1, 2, 3), (4, 5, 6))


# --- CSV tables -----------------------------------------------------------------------


def test_a_csv_row_whose_name_begins_with_hash_is_a_class(tmp_path):
    text = "# CamVid classes\nname,r,g,b\nAnimal,64,128,64\n#x,1,2,3\n# name,r,g,b\n"
    (tmp_path / "class_dict.csv").write_text(text)
    table = read_class_table(tmp_path / "class_dict.csv")
    assert table.names == ("Animal", "#x")
    assert table.colours == ((64, 128, 64), (1, 2, 3))


@pytest.mark.parametrize("line", ["#x,1,2", "#x,1,2,red"])
def test_a_hash_csv_row_with_part_of_a_colour_is_refused(tmp_path, line):
    (tmp_path / "class_dict.csv").write_text(f"name,r,g,b\nAnimal,64,128,64\n{line}\n")
    with pytest.raises(FormatError, match=r"class_dict.csv: line 3 .*begins with '#'"):
        read_class_table(tmp_path / "class_dict.csv")


def test_a_hash_row_of_a_csv_without_numbers_is_refused_unless_quoted(tmp_path):
    (tmp_path / "t.csv").write_text("name,description\n#x,a hash class\nsky,blue\n")
    with pytest.raises(FormatError, match=r"t.csv: line 2 .*begins with '#'"):
        read_class_table(tmp_path / "t.csv")
    (tmp_path / "t.csv").write_text('name,description\n"#x",a hash class\nsky,blue\n')
    assert read_names_file(tmp_path / "t.csv") == ["#x", "sky"]


def test_a_plain_list_under_a_hash_line_of_labelmap_form_is_refused_saying_why(tmp_path):
    """Its first line reads as a labelmap class named '# see': no silent guess either way."""
    (tmp_path / "classes.txt").write_text("# see: 1,2,3\nsky\nroad\n")
    with pytest.raises(FormatError, match=r"line 2 is not 'name:r,g,b.*line 1, a class whose"):
        read_class_table(tmp_path / "classes.txt")
