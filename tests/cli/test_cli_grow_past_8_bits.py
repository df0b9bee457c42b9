"""A project that dropped to 254 classes (8-bit) and is asked for a 255th: the refusal
says why and what to do, and the way it gives (export, import into a project with every
class) keeps every label."""

from __future__ import annotations

import numpy as np
from PIL import Image

from annotator.cli import main
from annotator.storage.project import Project


def _run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_the_255th_class_of_an_8_bit_project_is_refused_with_the_way_out(tmp_path, capsys):
    names = [f"k{i}" for i in range(256)]
    (tmp_path / "classes.txt").write_text("\n".join(names) + "\n")
    root = tmp_path / "W"
    assert _run(capsys, "new", str(root), "--classes-file", str(tmp_path / "classes.txt"))[0] == 0
    pic = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
    Image.fromarray(pic).save(tmp_path / "a.png")
    assert _run(capsys, "add", str(root), str(tmp_path / "a.png"))[0] == 0
    with Project.open(root) as project:
        (rec,) = project.images()
        labels = (np.arange(64 * 64) % 300).reshape(64, 64).astype(np.uint16)
        labels[labels >= 256] = 65535  # unlabelled
        project.save_mask(rec.id, labels)
    assert _run(capsys, "classes", str(root), "--remove", "k1")[0] == 0
    assert _run(capsys, "classes", str(root), "--remove", "k2")[0] == 0  # 254: 8-bit now
    code, _, err = _run(capsys, "classes", str(root), "--add", "n1")
    assert code != 0
    assert "keeps its labels in 8 bits and cannot grow past 254" in err, err
    assert "created with" not in err
    # the way out it gives
    out = tmp_path / "ex"
    assert (
        _run(capsys, "export", str(root), str(out), "--format", "masks", "--include", "all")[0] == 0
    )
    kept = [n for n in names if n not in ("k1", "k2")] + ["n1"]
    (tmp_path / "more.txt").write_text("\n".join(kept) + "\n")
    bigger = tmp_path / "B"
    assert _run(capsys, "new", str(bigger), "--classes-file", str(tmp_path / "more.txt"))[0] == 0
    code, _, err = _run(capsys, "import", str(bigger), str(out), "--format", "masks")
    assert code == 0, err
    with Project.open(root, lock=False) as small, Project.open(bigger, lock=False) as big:
        (a,) = small.images()
        (b,) = big.images()
        was, now = small.load_mask(a), big.load_mask(b)
        assert now.dtype == np.uint16
        named = {c.id: c.name for c in small.schema.classes}
        ids = {c.name: c.id for c in big.schema.classes}
        for value in np.unique(was):
            where = was == value
            if value == small.schema.unlabelled:
                assert (now[where] == big.schema.unlabelled).all()
            else:
                assert (now[where] == ids[named[int(value)]]).all()
