"""COCO annotation JSON (one file per split), polygons or RLE.

Written::

    OUT/<split>.json       images, categories (the schema's classes, id = class id + 1,
                           whatever is left out), one annotation per class and
                           8-connected region
    OUT/images/<stem>.<ext>

``coco_mode="polygon"``: ``iscrowd`` 0, ``segmentation`` a list of corner-convention
polygons (a region with holes is cut into hole-free pieces, along the fewest columns or
rows that meet every hole: COCO polygons cannot have holes, and an annotation decodes
alone), which pycocotools decodes back to exactly the region's pixels.
``coco_mode="rle"``: compressed RLE, also with ``iscrowd`` 0. COCO's own data gives RLE
to crowds (``iscrowd`` 1), but a crowd is what COCOeval ignores and detectron2 and
mmdetection leave out of training; pycocotools decodes RLE whatever ``iscrowd`` says,
and so do those trainers (COCO-Stuff ships its regions so).
A class left out (``ExportOptions.leave_out``: ``export --leave-out``, and the
project's background class by default) has no category and no annotation: its pixels
are what no annotation covers, as in COCO's own data.
``area`` is the pixel count and ``bbox`` the pixel box ``[x, y, w, h]`` in both modes,
equal to pycocotools' ``area`` and ``toBbox`` of the decoded mask. Void and unlabelled
pixels are not annotated.

Read: polygons, uncompressed and compressed RLE. Annotations are painted in file
order (a later one wins where they overlap); the class of each is its category name.
An annotation that cannot be drawn (a polygon of fewer than 3 points, RLE whose counts
do not add up, a segmentation of another type) is left out and named in the summary,
the rest imported (``formats.left_out``); a file none of whose annotations can be drawn
is refused, as are its structural faults (ids twice, an image or category missing).
A category no annotation uses that is the ``supercategory`` of every other one (Roboflow's
dataset category, id 0) is no class: left out, and the summary says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from annotator.core.errors import FormatError, SchemaError
from annotator.core.folders import hidden
from annotator.core.schema import check_name, name_key
from annotator.formats.base import (
    BACKGROUND_HOW,
    BACKGROUND_LABEL,
    DEFAULT_EXPORT,
    DEFAULT_IMPORT,
    UNLABELLED,
    ExportDataset,
    ExportOptions,
    ImportItem,
    ImportOptions,
    OutputFolder,
    Progress,
    ReadResult,
    WriteResult,
    as_project_names,
    check_number,
    chosen_background,
    compact_labels,
    json_files,
    load_json,
    names_lut,
)
from annotator.formats.detect import json_file_kind, json_hint
from annotator.formats.left_out import ObjectsLeftOut
from annotator.formats.paths import AnyCase, safe_join
from annotator.formats.polygons import Region, class_regions, pad_to_three, region_polygons

DESCRIPTION = "COCO JSON per split: one annotation per class region (polygons or RLE)"


def region_annotation(
    region: Region, shape: tuple[int, int], mode: str, polygons: list[np.ndarray] | None = None
) -> dict[str, Any]:
    """The ``segmentation``/``area``/``bbox``/``iscrowd`` of one region (``polygons``:
    its corner outlines, when already traced)."""
    from pycocotools import mask as mask_utils

    if mode not in ("rle", "polygon"):
        raise FormatError(f"unknown COCO mode {mode!r}; use polygon or rle")
    if mode == "rle":
        rle = mask_utils.encode(np.asfortranarray(region.full(shape)))
        seg: Any = {"size": [int(shape[0]), int(shape[1])], "counts": rle["counts"].decode("ascii")}
    elif mode == "polygon":
        if polygons is None:
            polygons = [p for _, ps in region_polygons(region.mask, [True], "corner") for p in ps]
            polygons = [p + np.array([region.x0, region.y0]) for p in polygons]
        seg = [pad_to_three(p).ravel().tolist() for p in polygons]
    x, y, w, h = region.bbox
    return {
        "segmentation": seg,
        "area": float(region.area),
        "bbox": [float(x), float(y), float(w), float(h)],
        "iscrowd": 0,
    }


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def write_coco(
    out: Path,
    dataset: ExportDataset,
    options: ExportOptions = DEFAULT_EXPORT,
    progress: Progress | None = None,
) -> WriteResult:
    if options.coco_mode not in ("rle", "polygon"):
        raise FormatError(f"unknown COCO mode {options.coco_mode!r}; use polygon or rle")
    folder = OutputFolder(out)
    # A class left out (``export --leave-out``, the background by default) is no
    # category; the others keep their ids (class id + 1) whatever is left out.
    kept = [c for c in dataset.classes if c.id not in options.leave_out]
    categories = [{"id": c.id + 1, "name": c.name, "supercategory": ""} for c in kept]
    class_ids = [c.id for c in kept]
    total = sum(len(v) for v in dataset.splits.values())
    done = 0
    for split, items in dataset.splits.items():
        # The annotations are streamed into the file as they are traced, so memory holds
        # one label map and its regions, not every annotation of the split.
        rel = f"{split}.json"
        head = {
            "info": {"description": f"annotator export ({split})", "version": "1.0"},
            "licenses": [],
            "categories": categories,
        }
        images: list[dict[str, Any]] = []
        n_annotations = 0
        with open(folder.path(rel), "w", encoding="utf-8") as fh:
            fh.write(_compact(head)[:-1] + ',"annotations":[')
            for image_id, s in enumerate(items, start=1):
                if progress:
                    progress(done, total, s.stem)
                done += 1
                mask = s.load_mask()
                shape = (int(mask.shape[0]), int(mask.shape[1]))
                images.append(
                    {
                        "id": image_id,
                        "file_name": s.image_file_name,
                        "width": shape[1],
                        "height": shape[0],
                    }
                )
                traced: Iterable[tuple[Region, list[np.ndarray] | None]]
                if options.coco_mode == "polygon":
                    traced = region_polygons(mask, class_ids, "corner")
                else:
                    traced = ((r, None) for r in class_regions(mask, class_ids))
                for region, polys in traced:
                    n_annotations += 1
                    ann = {
                        "id": n_annotations,
                        "image_id": image_id,
                        "category_id": region.class_id + 1,
                    }
                    ann.update(region_annotation(region, shape, options.coco_mode, polys))
                    fh.write(("," if n_annotations > 1 else "") + _compact(ann))
                del mask
                folder.place_image(f"images/{s.image_file_name}", s.image_path, options.image_mode)
            fh.write('],"images":' + _compact(images) + "}\n")
        folder.files.append(rel)
    return folder.result()


# --- reading ---------------------------------------------------------------------------


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(f"{where}: expected an integer, got {value!r}")
    return value


def compressed_counts(text: str, where: str) -> list[int]:
    """The run lengths of a compressed COCO RLE string, checked.

    pycocotools decodes a string that ends early by leaving the rest of the mask as
    whatever memory held, so the runs are read here first (the format of its
    ``rleFrString``: 5-bit groups offset by 48, bit 0x20 continues a number, bit 0x10 of
    the last group is the sign; from the third run on, each is stored as the difference
    to the run two before).
    """
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(text):
                raise FormatError(f"{where}: RLE string ends inside a number")
            c = ord(text[pos]) - 48
            if not 0 <= c < 64:
                raise FormatError(f"{where}: RLE string has the character {text[pos]!r}")
            value |= (c & 0x1F) << shift
            more = bool(c & 0x20)
            pos, shift = pos + 1, shift + 5
            if not more and c & 0x10:
                value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        if value < 0:
            raise FormatError(f"{where}: RLE string gives a negative run length")
        counts.append(value)
    return counts


def decode_segmentation(seg: Any, height: int, width: int, where: str) -> np.ndarray:
    """A COCO ``segmentation`` (polygons, RLE or compressed RLE) as a bool mask."""
    out = np.zeros((height, width), bool)
    box = decode_in_box(seg, height, width, where)
    if box is not None:
        pixels, y0, x0 = box
        out[y0 : y0 + pixels.shape[0], x0 : x0 + pixels.shape[1]] = pixels
    return out


def decode_in_box(
    seg: Any, height: int, width: int, where: str
) -> tuple[np.ndarray, int, int] | None:
    """A COCO ``segmentation`` (polygons, RLE or compressed RLE) as the bool mask of its
    box within the image, and the box's top and left (None: no pixel). Polygons are
    turned into RLE by pycocotools (exactly its pixels), and RLE drawn in the columns
    its runs span alone (:func:`runs_in_box`), never as a mask of the whole image: a big
    image of hundreds of objects took minutes. (pycocotools' polygons filled in a box of
    their own are not its pixels shifted: it rounds ``5 * x``.)"""
    from pycocotools import mask as mask_utils

    if isinstance(seg, list):
        if not seg:
            raise FormatError(f"{where}: empty polygon list")
        polys = []
        for k, poly in enumerate(seg):
            if not isinstance(poly, list) or len(poly) < 6 or len(poly) % 2:
                raise FormatError(
                    f"{where}: polygon {k} must be a flat list of at least 3 x,y pairs"
                )
            coords = [check_number(v, f"{where}: polygon {k}") for v in poly]
            # pycocotools crashes (SIGSEGV) on coordinates near 2**64; real ones are near
            far = 16 * max(width, height) + 1024
            if any(abs(c) > far for c in coords):
                raise FormatError(f"{where}: polygon {k} has coordinates far outside the image")
            polys.append(coords)
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, height, width))
        return runs_in_box(compressed_counts(rle["counts"].decode("ascii"), where), height)
    if isinstance(seg, dict):
        size, counts = seg.get("size"), seg.get("counts")
        if not (isinstance(size, list) and len(size) == 2 and size == [height, width]):
            raise FormatError(
                f"{where}: RLE size {size!r} is not the image size [{height}, {width}]"
            )
        if isinstance(counts, list):
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
                raise FormatError(f"{where}: RLE counts must be non-negative integers")
            runs = counts
        elif isinstance(counts, str):
            runs = compressed_counts(counts, where)
        else:
            raise FormatError(f"{where}: RLE counts must be a list or a string")
        if sum(runs) != height * width:
            raise FormatError(f"{where}: RLE counts sum to {sum(runs)}, not {height * width}")
        return runs_in_box(runs, height)
    raise FormatError(f"{where}: segmentation must be polygons or RLE, got {type(seg).__name__}")


def runs_in_box(runs: list[int], height: int) -> tuple[np.ndarray, int, int] | None:
    """The pixels of COCO RLE ``runs`` (lengths of alternate runs of 0 and 1, down the
    columns of an image ``height`` tall, as pycocotools decodes them) as the bool mask of
    their box, and its top and left (None: no pixel). Only the columns the runs of 1
    span are drawn, not the whole image."""
    ends = np.cumsum(np.asarray(runs, np.int64))
    starts = ends - np.asarray(runs, np.int64)
    on_start, on_end = starts[1::2], ends[1::2]
    keep = on_end > on_start
    on_start, on_end = on_start[keep], on_end[keep]
    if not on_start.size:
        return None
    c0, c1 = int(on_start[0]) // height, (int(on_end[-1]) - 1) // height + 1
    last = on_end - 1
    if np.any(on_start // height != last // height):  # a run down into the next column
        r0, r1 = 0, height
    else:  # every run within a column: only the rows they span are drawn
        r0, r1 = int((on_start % height).min()), int((last % height).max()) + 1
    rows = r1 - r0
    # a run from row a to row b of column c: +1 at (c, a), -1 at (c, b + 1), summed down
    if r0 == 0 and r1 == height:  # (runs across columns: the image's own layout)
        edges = np.zeros((c1 - c0) * height + 1, np.int32)
        base = c0 * height
        np.add.at(edges, on_start - base, 1)
        np.add.at(edges, on_end - base, -1)
        crop = (np.cumsum(edges[:-1]) > 0).reshape(c1 - c0, height).T
    else:
        edges = np.zeros((c1 - c0) * (rows + 1) + 1, np.int32)
        col = on_start // height - c0
        np.add.at(edges, col * (rows + 1) + on_start % height - r0, 1)
        np.add.at(edges, col * (rows + 1) + last % height - r0 + 1, -1)
        grid = edges[:-1].reshape(c1 - c0, rows + 1)
        crop = (np.cumsum(grid, axis=1)[:, :rows] > 0).T
    cols = np.flatnonzero(crop.any(axis=0))
    used = np.flatnonzero(crop.any(axis=1))
    return (
        crop[int(used[0]) : int(used[-1]) + 1, int(cols[0]) : int(cols[-1]) + 1],
        r0 + int(used[0]),
        c0 + int(cols[0]),
    )


#: The names COCO's tools give a split's JSON file: ``instances_<split>.json`` (COCO's
#: own ``instances_val2017.json``; datumaro's and CVAT's "COCO 1.0" export,
#: ``instances_default.json``), ``person_keypoints_<split>.json``, ``panoptic_<split>.json``...
_SPLIT_JSON = re.compile(
    r"(?:instances|person_keypoints|captions|image_info|labels|panoptic|stuff)_([\w.\- ]+)",
    re.IGNORECASE,
)


def split_of(json_file: Path) -> str | None:
    """The split a COCO JSON file's name says it is of (``train`` of
    ``instances_train.json``), or None: one name, never ``.`` or ``..``."""
    found = _SPLIT_JSON.fullmatch(json_file.stem)
    if found is None or set(found.group(1)) <= {"."}:
        return None
    return found.group(1)


def _find_image(
    root: Path, file_name: str, files: AnyCase, split: str | None = None
) -> Path | None:
    """The picture a COCO ``file_name`` names (its folders too: ``sub1/a.jpg``), found
    beside the JSON file in ``root``, in ``images/`` there, or, as CVAT and COCO lay
    them out, in ``images/`` beside it (``annotations/instances_default.json`` beside
    ``images/sub1/a.jpg``), then in the folder of the JSON's ``split`` (:func:`split_of`)
    in those ``images/`` folders and beside ``root`` (datumaro's and CVAT's
    ``images/train/a.jpg`` of ``annotations/instances_train.json``; COCO's own
    ``val2017/a.jpg`` of ``annotations/instances_val2017.json``); else by its file name
    alone in those places: the only places looked in for an absolute name (another
    machine's; the whole file was refused for it). A name that leaves its folder
    (``../val/a.png``) refuses the file, as ever: it is neither followed, nor taken by
    its file name alone (``train/a.png`` would be another picture).
    In any letters' case where only that one file is so named (:class:`AnyCase`)."""
    what = "COCO file_name"
    name = file_name.replace("\\", "/")
    base = PurePosixPath(name).name
    up = root.parent if root.name else root.absolute().parent
    try:
        safe_join(root, file_name, what=what)
    except FormatError:
        if not _absolute(name):  # '../val/a.png' is never followed (no path escapes,
            raise  # docs/reliability.md), nor taken by its file name: train/a.png
        tried = []  # another machine's path (detectron2 writes them): its file name
    else:
        tried = [(root, name), (root, f"images/{name}"), (up, f"images/{name}")]
        tried += _in_split(root, up, split, name)
    tried += [(root, f"images/{base}"), (root, base), (up, f"images/{base}")]
    tried += _in_split(root, up, split, base)
    for folder, rel in dict.fromkeys(tried):
        if (found := files.file(folder, rel, what=what)) is not None:
            return found
    return None


def _in_split(root: Path, up: Path, split: str | None, name: str) -> list[tuple[Path, str]]:
    """Where :func:`_find_image` looks for ``name`` in the folder of a ``split``."""
    if split is None:
        return []
    return [
        (root, f"images/{split}/{name}"),
        (up, f"images/{split}/{name}"),
        (up, f"{split}/{name}"),
    ]


def _absolute(name: str) -> bool:
    """Whether a ``file_name`` (``/`` separators) is an absolute path, of this system's
    kind or Windows' (``C:/data/a.png``, ``//server/a.png``)."""
    return (
        name.startswith("/")
        or PureWindowsPath(name).is_absolute()
        or bool(PureWindowsPath(name).drive)
    )


def _unused_parent(categories: list[Any], annotations: list[Any]) -> int | None:
    """The id of the category that is the ``supercategory`` of every other one and that
    no annotation uses, if any: Roboflow's COCO export has one (id 0, named after the
    dataset, its ``supercategory`` "none"), a parent of the classes and no class itself,
    which would give the project a class no pixel ever holds (and make ``--strict``
    refuse a project holding exactly the dataset's classes)."""
    cats = [c for c in categories if isinstance(c, dict)]
    if len(cats) < 2 or len(cats) != len(categories):
        return None
    used = {
        a.get("category_id")
        for a in annotations
        if isinstance(a, dict) and isinstance(a.get("category_id"), int | str)
    }
    for cat in cats:
        cid, name = cat.get("id"), cat.get("name")
        if not isinstance(cid, int) or isinstance(cid, bool) or cid in used:
            continue
        others = [c for c in cats if c is not cat]
        if isinstance(name, str) and all(c.get("supercategory") == name for c in others):
            return cid
    return None


def _read_one(
    path: Path, options: ImportOptions, result: ReadResult, left_out: ObjectsLeftOut
) -> list[ImportItem]:
    if options.progress:  # (a large file takes seconds to parse)
        options.progress(0, 0, f"reading {path.name}…")
    data = load_json(path)
    if not isinstance(data, dict):
        raise FormatError(
            f"{path}: not a COCO file (the top level is not an object)"
            + json_hint(path, data, "coco", options.format_how)
        )
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise FormatError(
                f"{path}: not a COCO file ('{key}' is missing or not a list)"
                + json_hint(path, data, "coco", options.format_how)
            )
    names: list[str] = []
    cat_index: dict[int, int] = {}
    ids: set[int] = set()
    seen: dict[str, tuple[int, str]] = {}  # name_key -> (id, name) of the first category
    parent = _unused_parent(data["categories"], data["annotations"])
    for k, cat in enumerate(data["categories"]):
        where = f"{path}: categories[{k}]"
        if not isinstance(cat, dict) or not isinstance(cat.get("name"), str):
            raise FormatError(f"{where}: needs an integer 'id' and a 'name'")
        cid = _int(cat.get("id"), where + ".id")
        if cid in ids:
            raise FormatError(f"{where}: category id {cid} appears twice")
        ids.add(cid)
        name = cat["name"].strip()
        try:  # (said here with the file and category, not when the classes are added)
            check_name(name)
        except SchemaError as exc:
            raise FormatError(f"{where} (id {cid}): {exc}; rename the category") from None
        first = seen.setdefault(name_key(name), (cid, name))
        if first[0] != cid:
            same = repr(name) if name == first[1] else f"{first[1]!r} and {name!r}, in any case"
            raise FormatError(
                f"{path}: categories {first[0]} and {cid} have the same name ({same}): "
                "rename one, or give their annotations one category"
            )
        if cid == parent:
            note = (
                f"left out the category {name!r}: no annotation uses it and it is the "
                "supercategory of all the others (Roboflow's dataset category), not a class"
            )
            result.notes += [] if note in result.notes else [note]
            continue
        cat_index[cid] = len(names)
        names.append(name)
    images: dict[int, dict[str, Any]] = {}
    files = AnyCase()
    split = split_of(path)
    for k, img in enumerate(data["images"]):
        where = f"{path}: images[{k}]"
        if not isinstance(img, dict):
            raise FormatError(f"{where}: not an object")
        iid = _int(img.get("id"), where + ".id")
        if iid in images:
            raise FormatError(f"{where}: image id {iid} appears twice")
        w, h = _int(img.get("width"), where + ".width"), _int(img.get("height"), where + ".height")
        if w <= 0 or h <= 0:
            raise FormatError(f"{where}: invalid size {w}x{h}")
        from annotator.core.limits import max_pixels

        if w * h > max_pixels():
            raise FormatError(f"{where}: {w}x{h} is more than the limit of {max_pixels():,} pixels")
        if "file_name" not in img:
            raise FormatError(f"{where}: 'file_name' is missing")
        if not isinstance(img["file_name"], str):
            raise FormatError(f"{where}: 'file_name' is not a file name ({img['file_name']!r})")
        try:
            image_file = _find_image(path.parent, img["file_name"], files, split)
        except FormatError as exc:
            raise FormatError(f"{where}: {exc}") from None
        images[iid] = {"file_name": img["file_name"], "w": w, "h": h, "file": image_file}
    info = data.get("info")
    description = info.get("description") if isinstance(info, dict) else None
    # Annotator's own export writes every labelled pixel as an annotation, _background_
    # too: what no annotation covers was unlabelled, and comes back so.
    ours = isinstance(description, str) and description.startswith("annotator export")
    background = chosen_background(options, names, automatic=not ours)
    renamed = as_project_names(names, options.project_classes)
    alias = {a.lower(): b for a, b in zip(names, renamed, strict=True)}
    names = renamed
    if background is not None:
        background = alias.get(background.lower(), background)
    lut = names_lut(names)
    if background is not None and background.lower() not in lut:
        names.append(background)
        result.background_added = options.background is not None
        lut = names_lut(names)
    fill = lut[background.lower()] if background is not None else UNLABELLED
    if background is not None and options.background is None:
        how = options.background_how
        none = f"{how} none" if how == BACKGROUND_HOW else f"none in {how}"
        result.notes.append(
            f"pixels no annotation covers became class {background!r}: the source has a "
            f"category {BACKGROUND_LABEL!r}, as labelme2coco writes ({none} keeps them "
            "unlabelled)"
        )
    # Regions are painted on unlabelled maps; the background fills what they left, but
    # not a box's area: a box says no pixel is or is not its object. Filled last, so a
    # box never takes back pixels an annotation labelled (background ones too).
    by_image: dict[int, list[tuple[int, dict[str, Any]]]] = {iid: [] for iid in images}
    for k, ann in enumerate(data["annotations"]):
        where = f"{path}: annotations[{k}]"
        if not isinstance(ann, dict):
            raise FormatError(f"{where}: not an object")
        iid = _int(ann.get("image_id"), where + ".image_id")
        if iid not in images:
            raise FormatError(f"{where}: image_id {iid} is not in 'images'")
        cid = _int(ann.get("category_id"), where + ".category_id")
        if cid not in cat_index:
            raise FormatError(f"{where}: category_id {cid} is not in 'categories'")
        by_image[iid].append((k, ann))
    items = []
    left = ObjectsLeftOut()
    for n, (iid, im) in enumerate(images.items()):
        if options.progress:
            options.progress(n, len(images), f"reading annotations… {im['file_name']}")
        mask = _painted(path, im, by_image.pop(iid), cat_index, (fill, background), result, left)
        items.append(
            ImportItem(
                source=path,
                image_name=PurePosixPath(im["file_name"].replace("\\", "/")).name,
                width=im["w"],
                height=im["h"],
                mask=None,
                names=tuple(names),
                image_file=im["file"],
                image_path=im["file_name"].replace("\\", "/"),
                **compact_labels(mask),
            )
        )
    # A file none of whose annotations can be drawn is refused, not imported as images
    # with no labels (left_out.py says why); one with a few is imported without them.
    left.check_some_drawn(path)
    left_out.extend(left)
    result.declared = list(dict.fromkeys(result.declared + names))
    return items


def _painted(
    path: Path,
    im: dict[str, Any],
    anns: list[tuple[int, dict[str, Any]]],
    cat_index: dict[int, int],
    background: tuple[int, str | None],
    result: ReadResult,
    left: ObjectsLeftOut,
) -> np.ndarray:
    """The label map of one image: its annotations painted in file order (a later one
    over an earlier one), then the background class (``background``: its index, or
    UNLABELLED, and its name) where none painted and no box lies, unless an annotation
    of the image cannot be drawn: it is left out, named in ``left``, and the pixels no
    annotation covers stay unlabelled (the one left out may lie there)."""
    h, w = im["h"], im["w"]
    fill, fill_name = background
    # (the smallest type that holds the class indices: a quarter of int32's memory)
    top = max([fill, *cat_index.values()])
    kind = np.int8 if top <= np.iinfo(np.int8).max else np.int32
    mask = np.full((h, w), UNLABELLED, kind)
    boxed: np.ndarray | None = None
    lost = len(left.objects)
    for k, ann in anns:
        where = f"{path}: annotations[{k}]"
        try:
            box = _box_only(ann, where)
            if box is not None:
                result.boxes_only += 1
                if fill != UNLABELLED:
                    boxed = np.zeros((h, w), bool) if boxed is None else boxed
                    boxed[box] = True
                continue
            box_pixels = decode_in_box(ann.get("segmentation"), h, w, where)
        except FormatError as exc:
            aid = ann.get("id")
            named = f"annotation id {aid}" if _is_int(aid) else f"annotations[{k}]"
            left.leave_out(im["file_name"], named, exc, where)
            continue
        left.drawn += 1
        if box_pixels is not None:
            pixels, y0, x0 = box_pixels
            cls = cat_index[int(ann["category_id"])]
            mask[y0 : y0 + pixels.shape[0], x0 : x0 + pixels.shape[1]][pixels] = cls
    if fill != UNLABELLED and len(left.objects) > lost:
        left.keep_unlabelled(im["file_name"], str(fill_name))
    elif fill != UNLABELLED:
        uncovered = mask == UNLABELLED
        if boxed is not None:
            uncovered &= ~boxed
        mask[uncovered] = fill
    return mask


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _box_only(ann: dict[str, Any], where: str) -> tuple[slice, slice] | None:
    """The pixel box of an annotation that is a box without a mask (``segmentation``
    empty, as CVAT and Label Studio write rectangles); None for any other."""
    if ann.get("segmentation") not in ([], None, {}) or ann.get("bbox") is None:
        return None
    box = ann["bbox"]
    if not isinstance(box, list) or len(box) != 4:
        raise FormatError(f"{where}.bbox: expected [x, y, width, height]")
    bx, by, bw, bh = (check_number(v, where + ".bbox") for v in box)
    y0, x0 = max(0, int(by)), max(0, int(bx))
    y1, x1 = max(y0, int(np.ceil(by + bh))), max(x0, int(np.ceil(bx + bw)))
    return slice(y0, y1), slice(x0, x1)


def read_coco(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> ReadResult:
    result = ReadResult()
    left_out = ObjectsLeftOut()
    for path in _coco_files(Path(src), options.format_how):
        try:
            # Decode the whole file before handing anything over: all or nothing (but
            # the annotations that cannot be drawn, left out and named).
            result.items.extend(_read_one(path, options, result, left_out))
        except FormatError as exc:
            result.errors.append((str(path), str(exc)))
    if note := left_out.note():
        result.notes.append(note)
    return result


def _coco_files(src: Path, how: str) -> list[Path]:
    """The COCO JSON files an import of ``src`` reads: ``src`` itself, the JSON files in
    it (:func:`json_files`), else, for the folder of a dataset laid out as COCO, CVAT and
    datumaro lay it out, the COCO files of its ``annotations/`` folder (any case:
    ``annotations/instances_train.json`` beside ``images/train/``)."""
    try:
        return json_files(src, "COCO JSON file", "coco", how=how)
    except FormatError:
        found = _annotations_files(src)
        if not found:
            raise
        return found


def _annotations_files(src: Path) -> list[Path]:
    """The COCO JSON files in the ``annotations/`` folder (any case) of ``src``."""
    if not src.is_dir():
        return []
    folders = [p for p in sorted(src.iterdir()) if p.name.lower() == "annotations" and p.is_dir()]
    return [
        p
        for folder in folders
        for p in sorted(folder.glob("*.json"))
        if not hidden(p) and p.is_file() and json_file_kind(p) == "coco"
    ]
