"""Names as the CLI takes and says them: a rename says the name the class has now, an
image named like the ``id:N`` form is not passed over, and an option after ``--`` is
told apart from a mistyped one."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from annotator.cli import main
from annotator.storage.project import Project


def test_a_rename_says_the_name_as_stored_and_a_rename_to_itself_changes_nothing(tmp_path, capsys):
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "bg,é"])
    capsys.readouterr()
    assert main(["classes", proj, "--rename", "1", "  Zz  "]) == 0
    assert capsys.readouterr().out == "renamed 'é' to 'Zz'\n"  # (it said '  Zz  ')
    assert main(["classes", proj, "--rename", "Zz", "Zz "]) == 0
    assert capsys.readouterr().out == "the class is named 'Zz' already; nothing changed\n"
    with Project.open(proj) as p:
        assert p.schema.names == ["bg", "Zz"]


def test_id_n_is_refused_when_an_image_is_named_so(tmp_path, capsys):
    """``remove P id:3`` removed image 3 though an image ``id:3.png`` was there."""
    pics = tmp_path / "pics"
    pics.mkdir()
    for i, name in enumerate(["a.png", "b.png", "c.png", "id:1.png"]):
        cv2.imwrite(str(pics / name), np.full((8, 8), 40 * i, np.uint8))
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "a,b"])
    main(["add", proj, str(pics)])
    capsys.readouterr()
    assert main(["remove", proj, "id:1"]) == 1
    err = capsys.readouterr().err
    assert "image name 'id:1' is the file stem of 'id:1.png' and means the id of 'a.png'" in err
    with Project.open(proj) as p:
        assert len(p.images()) == 4
    assert main(["remove", proj, "id:2"]) == 0  # no image named so: the id
    with Project.open(proj) as p:
        assert sorted(r.name for r in p.images()) == ["a.png", "c.png", "id:1.png"]


def test_an_option_after_the_double_dash_is_said_as_such(tmp_path, capsys):
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "a,b"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["status", "--", proj, "--json"])
    err = capsys.readouterr().err
    assert "options go before '--': every word after it is a name" in err
    assert "did you mean --json" not in err


def test_a_class_file_read_as_an_id_table_is_said(tmp_path, capsys):
    """'1 x' lines lost their numbers and were put in id order without a word."""
    table = tmp_path / "cn.txt"
    table.write_text("1 x\n0 y\n255 z\n")
    assert main(["new", str(tmp_path / "P"), "--classes-file", str(table)]) == 0
    out, err = capsys.readouterr()
    assert "with classes 0=y, 1=x, 2=z" in out
    assert "read as a table of '<id> <name>' lines (0 y, 1 x, 255 z)" in err
    plain = tmp_path / "plain.txt"
    plain.write_text("0 y\n1 x\n")  # the ids are the lines' order: nothing to say
    assert main(["new", str(tmp_path / "Q"), "--classes-file", str(plain)]) == 0
    assert "read as a table" not in capsys.readouterr().err


def test_an_add_says_the_names_it_gave_apart(tmp_path, capsys):
    """A file named as an image already there became 'x~2.png' without a word: a name
    no file has, by which every later command knows it."""
    for folder, value in (("n1", 1), ("n2", 2)):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "x.png"), np.full((8, 8), value, np.uint8))
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "a,b"])
    main(["add", proj, str(tmp_path / "n1" / "x.png")])
    assert "named apart" not in capsys.readouterr().out
    main(["add", proj, str(tmp_path / "n2" / "x.png")])
    out = capsys.readouterr().out
    assert f"named apart from images of the same name (first: {tmp_path / 'n2' / 'x.png'} " in out
    assert "is 'x~2.png'" in out and "named apart" in out


def test_a_name_holding_a_newline_is_one_line_in_the_listing_and_the_image_list(
    tmp_path, capsys, qtbot
):
    """`status --images` printed the name raw (one image read as two lines), and the
    image list showed 'newline.png', a name no command takes."""
    from annotator.core.records import ImageRecord
    from annotator.gui.image_list import row_text

    pics = tmp_path / "pics"
    pics.mkdir()
    cv2.imwrite(str(pics / "plain.png"), np.full((8, 8), 1, np.uint8))
    ok, data = cv2.imencode(".png", np.full((8, 8), 2, np.uint8))
    (pics / "new\nline.png").write_bytes(data.tobytes())
    proj = str(tmp_path / "P")
    main(["new", proj, "--classes", "a,b"])
    main(["add", proj, str(pics)])
    capsys.readouterr()
    assert main(["status", proj, "--images"]) == 0
    table = capsys.readouterr().out.split("id  status")[1].splitlines()[1:]
    assert len(table) == 2 and table[0].endswith("new\\nline.png")
    with Project.open(proj) as p:
        record: ImageRecord = p.image("new\nline.png")
    assert row_text(record).startswith("new\\nline.png")
