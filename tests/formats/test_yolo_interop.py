"""YOLO datasets as ultralytics reads and writes them: ``data.yaml`` paths and splits,
the split-first folder layout (Roboflow), and rasterising polygons exactly as
ultralytics' ``polygon2mask`` (float32 scaling, int32 truncation, ``cv2.fillPoly``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from fmthelpers import CLASSES, write_image

from annotator.core.errors import FormatError
from annotator.formats.base import UNLABELLED, ClassInfo, ExportDataset, ExportSample, ImportOptions
from annotator.formats.yolo import (
    fill_polygon,
    parse_label_file,
    polygon_pixels,
    read_yolo,
    write_yolo,
)

U = 255


def _dataset(tmp: Path, splits: dict[str, list[str]]) -> ExportDataset:
    mask = np.full((8, 10), U, np.uint8)
    mask[2:6, 3:8] = 1
    samples = {}
    for split, stems in splits.items():
        samples[split] = tuple(
            ExportSample(s, write_image(tmp / "src" / f"{s}.png", (8, 10)), 10, 8, lambda: mask)
            for s in stems
        )
    return ExportDataset(
        classes=tuple(ClassInfo(i, n, "#000000") for i, n in enumerate(CLASSES)),
        void=254,
        unlabelled=U,
        dtype="uint8",
        splits=samples,
    )


def _folder(yaml_file: Path, key: str) -> Path:
    """A split's folder as ultralytics' ``check_det_dataset`` resolves it: against
    ``path`` (relative to the current directory) or, without one, the YAML's folder."""
    doc = yaml.safe_load(yaml_file.read_text())
    return Path(doc.get("path") or yaml_file.parent) / doc[key]


def test_data_yaml_resolves_from_any_directory(tmp_path, monkeypatch):
    """``path: .`` meant the current directory to ultralytics: training from elsewhere
    failed, or read another ``images/`` tree."""
    out = tmp_path / "export"
    write_yolo(out, _dataset(tmp_path, {"train": ["a", "b"], "val": ["c"], "test": []}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    doc = yaml.safe_load((out / "data.yaml").read_text())
    assert "path" not in doc
    for key, files in (("train", {"a.png", "b.png"}), ("val", {"c.png"})):
        folder = _folder(out / "data.yaml", key).resolve()
        assert folder == (out / "images" / key).resolve()
        assert {p.name for p in folder.iterdir()} == files
    assert "test" not in doc


@pytest.mark.parametrize(
    ("splits", "expected", "commented"),
    [
        ({"train": ["a"], "val": [], "test": ["b"]}, ("train", "train", "test"), ["val"]),
        ({"train": [], "val": ["a"], "test": []}, ("val", "val", None), ["train"]),
        ({"train": [], "val": [], "test": ["a"]}, ("test", "test", "test"), ["train", "val"]),
    ],
)
def test_an_empty_train_or_val_split_names_another_splits_images(
    tmp_path, splits, expected, commented
):
    """Ultralytics refuses a data.yaml without 'train' and 'val' ("'val:' key missing"),
    as 5 images under the default 0.8,0.1,0.1 split gave; a comment says what stands in."""
    out = tmp_path / "export"
    write_yolo(out, _dataset(tmp_path, splits))
    text = (out / "data.yaml").read_text()
    doc = yaml.safe_load(text)
    got = tuple(doc.get(k) for k in ("train", "val", "test"))
    assert got == tuple(f"images/{s}" if s else None for s in expected)
    assert list(doc)[:2] == ["train", "val"]
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert [c.split(":")[0] for c in comments] == [f"# {k}" for k in commented]
    for key in ("train", "val"):
        assert _folder(out / "data.yaml", key).is_dir()
    result = read_yolo(out)  # our reader takes the commented YAML back
    assert result.errors == [] and len(result.items) == sum(map(len, splits.values()))


def _label(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(line + "\n")


def _split_first(ds: Path) -> None:
    """Roboflow's YOLO export: ``<split>/images`` beside ``<split>/labels``, README notes."""
    (ds).mkdir(parents=True)
    (ds / "data.yaml").write_text(
        "train: ../train/images\nval: ../valid/images\nnc: 3\n"
        "names: ['background', 'cell', 'nucleus']\n"
    )
    (ds / "README.dataset.txt").write_text("# cells > raw\nhttps://example.org\n")
    (ds / "README.roboflow.txt").write_text("\nExported via roboflow.com\n")
    for i, split in enumerate(("train", "valid")):
        write_image(ds / split / "images" / f"{split}1.jpg", (40, 50), seed=i)
        _label(ds / split / "labels" / f"{split}1.txt", "1 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5")


def test_split_first_layout_imports_from_the_dataset_folder(tmp_path):
    ds = tmp_path / "ds"
    _split_first(ds)
    result = read_yolo(ds)
    assert result.errors == []
    assert {it.image_file for it in result.items} == {
        ds / "train/images/train1.jpg",
        ds / "valid/images/valid1.jpg",
    }
    for item in result.items:
        assert (item.height, item.width) == (40, 50)
        assert (item.mask == 1).sum() == 21 * 17  # x 5..25, y 4..20, edges included


def test_split_first_layout_imports_from_a_split_folder(tmp_path):
    ds = tmp_path / "ds"
    _split_first(ds)
    result = read_yolo(ds / "train")
    assert result.errors == []
    assert [it.image_file for it in result.items] == [ds / "train/images/train1.jpg"]


def test_images_first_and_beside_layouts_still_import(tmp_path):
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "data.yaml").write_text("names: ['background', 'cell', 'nucleus']\n")
    write_image(ds / "images/train/a.png", (10, 10))
    _label(ds / "labels/train/a.txt", "2 0.1 0.1 0.5 0.1 0.5 0.5")
    write_image(ds / "labels/val/b.png", (10, 10))  # the image beside its labels
    _label(ds / "labels/val/b.txt", "2 0.1 0.1 0.5 0.1 0.5 0.5")
    for src in (ds, ds / "labels"):
        result = read_yolo(src)
        assert result.errors == []
        assert sorted(it.image_file for it in result.items) == [
            ds / "images/train/a.png",
            ds / "labels/val/b.png",
        ]


def _filled(tmp_path: Path, line: str, w: int, h: int) -> np.ndarray:
    f = tmp_path / "l.txt"
    f.write_text(line + "\n")
    ((_, pix),) = parse_label_file(f, w, h, 3)
    return fill_polygon((h, w), pix)


def test_a_vertex_on_the_border_is_not_moved_inside(tmp_path):
    """A triangle tipped at x=1.0 on 20x20: ultralytics fills 219 px (the vertex lies at
    x=20, past the image, and fillPoly clips the edges); clipping the vertex to x=19
    first changed the slopes and filled 210."""
    mask = _filled(tmp_path, "0 0.0 0.0 1.0 0.5 0.0 1.0", 20, 20)
    assert mask.sum() == 219
    assert mask[:, 19].sum() == 1 and mask[10, 19]
    assert mask[9, 18] and mask[11, 18]


def test_vertices_scale_in_float32_like_ultralytics(tmp_path):
    """0.29 * 100 is 28.999... in float64 but 29.0 in float32, ultralytics' dtype."""
    f = tmp_path / "l.txt"
    f.write_text("0 0.29 0.1 0.6 0.1 0.6 0.6 0.29 0.6\n")
    ((_, pix),) = parse_label_file(f, 100, 100, 1)
    assert pix.tolist() == [[29, 10], [60, 10], [60, 60], [29, 60]]
    mask = fill_polygon((100, 100), pix)
    assert mask.sum() == 32 * 51 and mask[10, 29] and not mask[10, 28]


def test_slightly_negative_vertices_truncate_towards_zero(tmp_path):
    f = tmp_path / "l.txt"
    f.write_text("0 -0.009 -0.009 0.5 -0.009 0.5 0.5\n")
    ((_, pix),) = parse_label_file(f, 100, 100, 1)
    assert pix.tolist() == [[0, 0], [50, 0], [50, 50]]


@pytest.mark.parametrize(
    "line",
    [
        "0 0.1 0.1 1.5 0.1 0.5 0.5",  # (box 1.4 wide)
        "0 -0.6 0.1 0.5 0.1 0.5 0.5",  # (box centred at x -0.05)
        "0 12 30 50 30 50 60",  # (pixels, not normalised)
    ],
)
def test_coordinates_far_outside_the_image_are_an_error_with_the_line(tmp_path, line):
    """Refused where ultralytics refuses the line: its box past -0.01..1.01."""
    f = tmp_path / "l.txt"
    f.write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n" + line + "\n")
    with pytest.raises(FormatError, match=r"l\.txt:2: coordinates must be normalised"):
        parse_label_file(f, 10, 10, 1)


def test_pixel_centre_polygons_come_back_exactly_on_wide_images(tmp_path):
    """The writer's ``(c + 0.5) / width`` with 6 decimals survives float32 truncation."""
    from annotator.formats.yolo import mask_to_lines

    rng = np.random.default_rng(3)
    for w in (7, 1000, 65536):
        mask = (rng.random((3, w)) < 0.5).astype(np.uint8)
        mask[1, -1] = mask[0, 0] = 1  # both borders
        got = np.zeros_like(mask)
        f = tmp_path / "l.txt"
        f.write_text("".join(x + "\n" for x in mask_to_lines(mask, 2)))
        for cls, pix in parse_label_file(f, w, 3, 2):
            got[fill_polygon((3, w), pix)] = cls
        assert np.array_equal(got, mask), w


def test_where_objects_overlap_the_smaller_wins_as_in_ultralytics_training_masks(tmp_path):
    """Filled in file order, a big object listed after a small one buried it; ultralytics
    draws the largest first (``polygons2masks_overlap``), so the small one shows."""
    small, big = "1 0.2 0.2 0.4 0.2 0.4 0.4 0.2 0.4", "0 0.0 0.0 0.9 0.0 0.9 0.9 0.0 0.9"
    for lines in ([small, big], [big, small]):
        root = tmp_path / str(len(list(tmp_path.iterdir())))
        write_image(root / "images/train/a.png", (20, 20))
        (root / "labels/train").mkdir(parents=True)
        (root / "labels/train/a.txt").write_text("\n".join(lines) + "\n")
        (root / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [a, b]\n")
        (item,) = read_yolo(root).items
        mask = item.labels()
        assert mask[6, 6] == 1 and mask[2, 2] == 0 and mask[15, 15] == 0, lines
    assert polygon_pixels((20, 20), np.array([[4, 4], [8, 4], [8, 8], [4, 8]])) == 25
    assert polygon_pixels((20, 20), np.array([[30, 30], [40, 30], [40, 40]])) == 0


def test_images_without_a_label_file_are_imported_not_dropped(tmp_path):
    """ultralytics reads an image with no label file as one with no object."""
    ds = tmp_path / "ds"
    _split_first(ds)
    write_image(ds / "train/images/empty1.jpg", (40, 50), seed=5)
    write_image(ds / "train/images/empty2.png", (30, 20), seed=6)
    result = read_yolo(ds)
    assert result.errors == []
    by_name = {it.image_name: it for it in result.items}
    assert set(by_name) == {"train1.jpg", "valid1.jpg", "empty1.jpg", "empty2.png"}
    assert (by_name["empty2.png"].height, by_name["empty2.png"].width) == (30, 20)
    assert (by_name["empty1.jpg"].mask == UNLABELLED).all()
    assert result.notes == []  # (the summary's line on unlabelled images counts them)
    assert sorted(result.without_label_file) == ["empty1.jpg", "empty2.png"]
    from_yaml = read_yolo(ds / "data.yaml")  # the folders the YAML names: the same
    assert {it.image_name for it in from_yaml.items} == set(by_name)
    with_background = read_yolo(ds, ImportOptions(background="background"))
    empty = {it.image_name: it for it in with_background.items}["empty1.jpg"]
    assert (empty.mask == 0).all() and with_background.without_label_file == []


def test_the_summary_names_background_for_pixels_no_object_covers(tmp_path, capsys):
    """A defect dataset imported without --background was marked done with only its
    objects labelled, and nothing said which option labels the rest."""
    from annotator.cli import main

    ds = tmp_path / "ds"
    _split_first(ds)
    root = tmp_path / "P"
    assert main(["new", str(root), "--classes", "background,cell,nucleus"]) == 0
    assert main(["import", str(root), str(ds), "--format", "yolo"]) == 0
    out = capsys.readouterr().out
    assert (
        "pixels no object covers stay unlabelled in 2 image(s) imported; in a dataset of objects "
        "they are background: --background background labels them so"
    ) in out
    again = tmp_path / "Q"
    assert main(["new", str(again), "--classes", "background,cell,nucleus"]) == 0
    argv = ["import", str(again), str(ds), "--format", "yolo", "--background", "background"]
    assert main(argv) == 0
    assert "no object covers" not in capsys.readouterr().out


def test_a_polygon_painted_within_its_box_fills_what_the_whole_picture_fill_does():
    """The import drew each polygon on a mask of the whole picture (a 10000x8000 export
    of 2457 objects did not import back in 4 minutes): drawn within its box, every
    pixel is the same, vertices outside the picture included."""
    from annotator.formats.yolo import paint_polygon

    rng = np.random.default_rng(0)
    for trial in range(300):
        h, w = (int(v) for v in rng.integers(5, 60, 2))
        points = rng.integers(-20, 80, (int(rng.integers(3, 9)), 2))
        whole = np.zeros((h, w), np.int32)
        whole[fill_polygon((h, w), points)] = 3
        boxed = np.zeros((h, w), np.int32)
        paint_polygon(boxed, points, 3)
        assert np.array_equal(whole, boxed), trial
