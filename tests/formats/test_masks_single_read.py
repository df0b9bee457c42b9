"""A mask file is opened once each time the masks import reads it.

An import reads a mask file twice, by design: once to check it (``read_masks`` keeps
only its size and the values it holds, so that a big import holds one mask at a time)
and once to save its labels, after the import-wide decisions (the classes to add,
whether 255 is a class in 0/255 masks) were made over every file. Each of these reads
opens the file once: telling class ids, a palette or colours apart is done on the image
opened to read the pixels (it opened a grey mask a second time: 12,000 Pillow opens for
3,000 masks where 6,000 did). What the masks give is unchanged: labels, refusals and
their messages, the 0/255 decision.
"""

from __future__ import annotations

import collections
import json
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from fmthelpers import write_image
from PIL import Image

from annotator.core.schema import LabelSchema
from annotator.formats.base import ImportOptions
from annotator.formats.colour_table import voc_colormap
from annotator.formats.masks import read_masks
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

U, V = 255, 254  # a uint8 project's unlabelled and void
LABELMAP = (
    "# label:color_rgb:parts:actions\nbackground:0,0,0::\ncar:250,50,83::\nroad:128,64,128::\n"
)
COLOURS = np.array([(0, 0, 0), (250, 50, 83), (128, 64, 128)], np.uint8)
TABLE_CLASSES = ["background", "car", "road"]


@pytest.fixture
def opens(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Pillow opens by file name (``PIL.Image.open`` counted while the test runs)."""
    counts: collections.Counter[str] = collections.Counter()
    original = Image.open

    def counting_open(fp, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = os.fspath(fp) if isinstance(fp, str | os.PathLike) else "<stream>"
        counts[Path(name).name] += 1
        return original(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    return counts


def _ids(seed: int, values: tuple[int, ...], shape: tuple[int, int] = (12, 16)) -> np.ndarray:
    """Random pixels of ``values`` (each at least once, in the first pixels)."""
    ids = np.random.default_rng(seed).choice(np.array(values), shape)
    ids.reshape(-1)[: len(values)] = values
    return ids


def _palette_png(path: Path, indices: np.ndarray, palette: np.ndarray) -> None:
    im = Image.fromarray(indices.astype(np.uint8), "P")
    im.putpalette(palette.reshape(-1).tolist())
    im.save(path)


# Each source: how to write mask ``i`` (its file, its index) -> the project values it
# must give; the project's classes; a class table beside masks/, if any.
Writer = Callable[[Path, int], np.ndarray]


def _binary(path: Path, i: int) -> np.ndarray:
    """0/255 masks (one with no 255 at all): 255 is the second class of the import."""
    raw = _ids(i, (0, 255)) if i else np.zeros((12, 16), np.int64)
    Image.fromarray(raw.astype(np.uint8), "L").save(path)
    return np.where(raw == 255, 1, raw)


def _ignore_255(path: Path, i: int) -> np.ndarray:
    """0/1 masks whose 255 is "ignore", one holding only 0 and 255: 255 stays unlabelled
    in every mask (the import holds 1), never the second class."""
    raw = _ids(i, (0, 1, 255) if i else (0, 255))
    Image.fromarray(raw.astype(np.uint8), "L").save(path)
    return raw


def _grey_16(path: Path, i: int) -> np.ndarray:
    raw = _ids(i, (0, 1, 2, 65534, 65535))
    cv2.imwrite(str(path), raw.astype(np.uint16))
    return np.select([raw == 65535, raw == 65534], [U, V], raw)


def _palette_voc(path: Path, i: int) -> np.ndarray:
    raw = _ids(i, (0, 1, 2, 255))
    _palette_png(path, raw, voc_colormap())
    return raw


def _palette_grey(path: Path, i: int) -> np.ndarray:
    raw = _ids(i, (0, 1, 2))
    _palette_png(path, raw, np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, 1))
    return raw


def _rgb(path: Path, i: int) -> np.ndarray:
    ids = _ids(i, (0, 1, 2))
    Image.fromarray(COLOURS[ids], "RGB").save(path)
    return ids


def _rgba(path: Path, i: int) -> np.ndarray:
    ids = _ids(i, (0, 1, 2))
    rgba = np.dstack([COLOURS[ids], np.full(ids.shape, 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(path)
    return ids


def _palette_of_table_colours(path: Path, i: int) -> np.ndarray:
    """The table's colours stored as a palette PNG, in another order (an optimiser's)."""
    ids = _ids(i, (0, 1, 2))
    order = np.array([2, 0, 1])
    _palette_png(path, np.argsort(order)[ids], COLOURS[order])
    return ids


def _exported(path: Path, i: int) -> np.ndarray:
    """An export's masks: ids of class_names.txt, void and unlabelled by dataset.json."""
    raw = _ids(i, (0, 1, 2, V, U))
    Image.fromarray(raw.astype(np.uint8), "L").save(path)
    return raw


SOURCES: dict[str, tuple[Writer, list[str], dict[str, str]]] = {
    "grey 0/255": (_binary, ["bg", "fg"], {}),
    "grey 0/1/255": (_ignore_255, ["bg", "fg"], {}),
    "grey 16-bit": (_grey_16, ["a", "b", "c"], {}),
    "palette VOC": (_palette_voc, ["a", "b", "c"], {}),
    "palette grey": (_palette_grey, ["a", "b", "c"], {}),
    "RGB + labelmap": (_rgb, TABLE_CLASSES, {"labelmap.txt": LABELMAP}),
    "RGBA + labelmap": (_rgba, TABLE_CLASSES, {"labelmap.txt": LABELMAP}),
    "palette + labelmap": (_palette_of_table_colours, TABLE_CLASSES, {"labelmap.txt": LABELMAP}),
    "export": (
        _exported,
        ["a", "b", "c"],
        {
            "class_names.txt": "a\nb\nc\n",
            "dataset.json": json.dumps({"format": "annotator-masks", "void": V, "unlabelled": U}),
        },
    ),
}


def _source(root: Path, kind: str, n: int = 3) -> tuple[Path, dict[str, np.ndarray]]:
    """``root/images`` and ``root/masks`` of ``n`` masks of ``kind``, with its table; the
    project values each mask must give, by image name."""
    write, _, tables = SOURCES[kind]
    (root / "masks").mkdir(parents=True)
    want = {}
    for i in range(n):
        want[f"m{i}.png"] = write(root / "masks" / f"m{i}.png", i)
        write_image(root / "images" / f"m{i}.png", want[f"m{i}.png"].shape, seed=100 + i)
    for name, text in tables.items():
        (root / name).write_text(text)
    return root / "masks", want


@pytest.mark.parametrize("kind", list(SOURCES))
def test_an_import_opens_each_mask_once_to_check_it_and_once_to_save_it(tmp_path, opens, kind):
    masks, want = _source(tmp_path / "src", kind)
    with Project.create(tmp_path / "p", LabelSchema.from_names(SOURCES[kind][1])) as p:
        p.add_images([tmp_path / "src/images"])
        opens.clear()
        report = import_into_project(p, ImportRequest("masks", masks))
        assert report.skipped == [] and report.classes_added == []
        assert sorted(report.imported) == sorted(want)
        got = {r.name: p.load_mask(r) for r in p.images()}
    assert {name: opens[name] for name in want} == {name: 2 for name in want}
    for name, values in want.items():
        assert np.array_equal(got[name], values), name


@pytest.mark.parametrize("kind", list(SOURCES))
def test_each_read_of_a_mask_opens_it_once_and_keeps_no_pixels(tmp_path, opens, kind):
    masks, want = _source(tmp_path / "src", kind)
    classes = tuple(SOURCES[kind][1])
    result = read_masks(masks, ImportOptions(project_classes=classes))
    assert result.errors == []
    assert {name: opens[name] for name in want} == {name: 1 for name in want}
    # a big import holds one mask at a time: the check keeps the values, not the pixels
    assert all(item.mask is None and item.used is not None for item in result.items)
    for item in result.items:
        before = opens[item.source.name]
        labels = item.labels()
        assert opens[item.source.name] == before + 1
        assert labels.shape == want[item.source.name].shape


def test_the_0_255_decision_is_the_import_s_whatever_file_comes_first(tmp_path, opens):
    """A 0/1 mask after a 0/255 one keeps 255 unlabelled in both; files read once."""
    masks, images = tmp_path / "src/masks", tmp_path / "src/images"
    masks.mkdir(parents=True)
    a = np.zeros((8, 8), np.uint8)
    a[:2] = 255  # alone, a 0/255 mask: would be the second class
    b = np.zeros((8, 8), np.uint8)
    b[2:4] = 1
    b[7] = 255
    for name, mask in {"a": a, "b": b}.items():
        Image.fromarray(mask, "L").save(masks / f"{name}.png")
        write_image(images / f"{name}.png", mask.shape, seed=ord(name))
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "fg"])) as p:
        p.add_images([images])
        opens.clear()
        import_into_project(p, ImportRequest("masks", masks))
        got = {r.name: p.load_mask(r) for r in p.images()}
    assert np.array_equal(got["a.png"], a) and np.array_equal(got["b.png"], b)
    assert opens["a.png"] == opens["b.png"] == 2


def _refused(folder: Path) -> dict[str, str]:
    """Masks each refused for its own reason (the message, ``{}`` the file's path)."""
    folder.mkdir(parents=True)
    ids = _ids(1, (0, 1, 2))
    Image.fromarray(COLOURS[ids], "RGB").save(folder / "rgb.png")
    stray = COLOURS[ids].copy()
    stray[0, :3] = (1, 2, 3)
    Image.fromarray(stray, "RGB").save(folder / "stray.png")
    rgba = np.dstack([COLOURS[ids], np.full(ids.shape, 255, np.uint8)])
    rgba[1, 1, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "see_through.png")
    cv2.imwrite(str(folder / "deep.png"), (ids[..., None] * 1000).repeat(3, 2).astype(np.uint16))
    Image.fromarray(COLOURS[ids], "RGB").save(folder / "jpeg.png", format="JPEG")
    Image.fromarray(np.dstack([ids, ids]).astype(np.uint8), "LA").save(folder / "la.png")
    (folder / "junk.png").write_bytes(b"not an image at all")
    _palette_png(folder / "tool.png", ids, COLOURS[[1, 2, 0]])
    return {
        "rgb.png": "{}: an RGB colour-coded mask, and no table of its colours was found: give "
        "the table of its colours with --labels FILE (CVAT labelmap.txt, CamVid "
        "label_colors.txt or class_dict.csv)",
        "stray.png": "{}: an RGB colour-coded mask, and no table of its colours was found: "
        "give the table of its colours with --labels FILE (CVAT labelmap.txt, CamVid "
        "label_colors.txt or class_dict.csv)",
        "see_through.png": "{}: 1 pixel(s) of this RGBA mask are see-through; a colour-coded "
        "mask needs every pixel opaque (save it as RGB)",
        "deep.png": "{}: a 16-bit RGB image is not a mask; save it with 8 bits a channel, or "
        "as a grey class-id PNG",
        "jpeg.png": "{}: not a PNG file",
        "la.png": "{}: a LA image is not a class-id mask; expected one channel (grey or "
        "palette) holding class ids",
        "junk.png": "{}: corrupt or unreadable PNG (cannot identify image file '{}')",
        "tool.png": "{}: a palette PNG whose colours are not VOC's colour map, and no table of "
        "its colours was found: give the table of its colours with --labels FILE (CVAT "
        "labelmap.txt, CamVid label_colors.txt or class_dict.csv), or save the mask as a "
        "grey class-id PNG",
    }


def test_refused_masks_are_opened_once_and_refused_as_before(tmp_path, opens):
    folder = tmp_path / "masks"
    expected = _refused(folder)
    result = read_masks(folder)
    assert result.items == []
    errors = {Path(f).name: message for f, message in result.errors}
    for name, message in expected.items():
        path = str(folder / name)
        assert errors.pop(name) == message.format(path, path), name
        assert opens[name] == 1, name
    assert errors == {}


def test_a_colour_the_table_lacks_is_refused_after_one_open(tmp_path, opens):
    folder = tmp_path / "src/masks"
    _refused(folder)
    (tmp_path / "src/labelmap.txt").write_text(LABELMAP)
    opens.clear()
    result = read_masks(folder)
    errors = {Path(f).name: message for f, message in result.errors}
    assert errors["stray.png"] == (
        f"{folder / 'stray.png'}: colour (1,2,3) on 3 pixel(s) is not in labelmap.txt; add it "
        "to the table or correct the mask"
    )
    assert {item.source.name for item in result.items} == {"rgb.png", "tool.png"}
    assert {opens[f.name] for f in folder.iterdir()} == {1}


def test_a_truncated_grey_mask_is_refused_with_pillow_s_reason_after_one_open(tmp_path, opens):
    folder = tmp_path / "masks"
    folder.mkdir()
    whole = folder / "whole.png"
    Image.fromarray(_ids(3, (0, 1, 2), (64, 64)).astype(np.uint8), "L").save(whole)
    data = whole.read_bytes()
    whole.unlink()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    opens.clear()
    (error,) = read_masks(folder).errors
    assert error[1].startswith(f"{folder / 'cut.png'}: corrupt or unreadable PNG (")
    assert opens["cut.png"] == 1


def test_checking_the_masks_is_counted_as_it_goes(tmp_path):
    """4,000 masks were checked for 9-12 s before the import's first progress line."""
    (tmp_path / "ds/masks").mkdir(parents=True)
    for i in range(3):
        write_image(tmp_path / "ds/images" / f"p{i}.png", (6, 7))
        cv2.imwrite(str(tmp_path / "ds/masks" / f"p{i}.png"), np.zeros((6, 7), np.uint8))
    heard: list[tuple[int, int, str]] = []
    options = ImportOptions(progress=lambda done, total, what: heard.append((done, total, what)))
    result = read_masks(tmp_path / "ds", options)
    assert len(result.items) == 3
    assert heard == [(i, 3, f"checking masks… p{i}.png") for i in range(3)]
