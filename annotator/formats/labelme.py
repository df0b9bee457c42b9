"""labelme JSON, one file per image.

Written::

    OUT/labels.txt              __ignore__, _background_, then the class names (the
                                input labelme2voc requires; _background_ takes the
                                pixels no shape covers, our unlabelled ones)
    OUT/<split>/<stem>.json     polygons per region; void regions as ``__ignore__``
    OUT/<split>/<stem>.<ext>    the image (``imagePath`` is this relative name)

labelme draws a polygon with ``PIL.ImageDraw.polygon(outline=1, fill=1)``, so polygons
run through the centres of the region's boundary pixels. labelme polygons have no holes
but are drawn in list order, a later shape over an earlier one: shapes are listed
largest first, and a hole filled by other regions (void ones included) stays inside its
region's outline, to be painted over by the smaller shapes that follow; a hole holding
unlabelled pixels is cut open (:func:`~annotator.formats.polygons.painted_polygons`).
Re-rasterised as labelme does, in order, the shapes give back exactly the label map.

Read: shapes are rasterised the way labelme's ``shapes_to_label`` does (polygon,
rectangle, circle, line, linestrip, point, mask), later shapes over earlier ones.
``__ignore__`` -> void. A ``labels.txt`` (in the source folder or given) lists the
known names; shapes with other labels are skipped and counted in ``unknown``.
``imageData`` (base64) is kept so the image can be added when it is not on disk.
A shape that cannot be drawn (an unknown ``shape_type``, a rectangle of one point,
coordinates that are no numbers or far outside the image, a label no class can be named
by: empty, a tab) is left out and named in the
summary, the rest imported (``formats.left_out``); a source none of whose shapes can be
drawn is refused.

Background: labelme itself gives the pixels no shape covers to ``_background_`` (id 0
of its ``labels.txt``). So do we, into the project's class named ``_background_`` or
``background`` (any case) when it has one (:func:`choose_background`); otherwise into
``_background_`` when the source's ``labels.txt`` lists it; otherwise they stay
unlabelled. ``--background CLASS`` picks the class, ``--background none`` keeps them
unlabelled. ``ReadResult.background`` says which class was used. Files we wrote carry
``"annotatorUncovered": "unlabelled"``: unless ``--background`` is given, their uncovered
pixels stay unlabelled, so a project survives an export and import unchanged. A class
left out of the export (``export --leave-out``, the background class by default) has no
shapes; a file whose uncovered pixels are all of that one class says so instead
(``"annotatorUncoveredClass": NAME``), and they come back as that class.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from annotator.core.errors import FormatError, SchemaError
from annotator.core.schema import check_name
from annotator.formats.base import (
    BACKGROUND_HOW,
    BACKGROUND_LABEL,
    DEFAULT_EXPORT,
    DEFAULT_IMPORT,
    FORMAT_HOW,
    IGNORE_LABEL,
    NO_BACKGROUND,
    UNLABELLED,
    VOID,
    ExportDataset,
    ExportOptions,
    ImportItem,
    ImportOptions,
    OutputFolder,
    Progress,
    ReadResult,
    WriteResult,
    check_number,
    check_pixels,
    image_size,
    joined_spellings,
    json_files,
    load_json,
    names_lut,
    open_pil,
    picture_orientation,
    read_names_file,
    ticker,
)
from annotator.formats.detect import json_hint
from annotator.formats.left_out import ObjectsLeftOut
from annotator.formats.paths import AnyCase, join_within
from annotator.formats.polygons import draw_pil_polygon, pad_to_three, painted_polygons

DESCRIPTION = "labelme JSON per image (polygons per region), plus labels.txt"
LABELME_VERSION = "5.0.1"

# A top-level key of the files we write: their uncovered pixels are unlabelled, not
# background (labelme keeps keys it does not know when it saves a file again).
UNCOVERED_KEY = "annotatorUncovered"
UNCOVERED_UNLABELLED = "unlabelled"
# A top-level key of the files we write with a class left out (``export --leave-out``)
# and no unlabelled pixel: the class of the pixels no shape covers.
UNCOVERED_CLASS_KEY = "annotatorUncoveredClass"
# Names of a project class that labelme's uncovered pixels go to, in order of preference.
PROJECT_BACKGROUND_NAMES = (BACKGROUND_LABEL, "background")


def project_background(project_names: Sequence[str]) -> str | None:
    """The project's class named ``_background_`` or ``background`` (any case), if any:
    where labelme's convention puts the pixels no shape covers."""
    by_lower = {n.lower(): n for n in project_names}
    for candidate in PROJECT_BACKGROUND_NAMES:
        if candidate in by_lower:
            return by_lower[candidate]
    return None


def background_summary(
    requested: str | None, default: str | None, result: ReadResult, how: str = BACKGROUND_HOW
) -> str:
    """One line for the import summary: where the uncovered pixels went, and why; ``how``
    names the option (or the GUI's field) that chooses their class."""
    used = result.background
    kept = result.kept_unlabelled
    recorded = result.recorded_background
    if recorded and sum(recorded.values()) == len(result.items):  # (all written by us)
        became = " or ".join(repr(n) for n in recorded)
        return (
            f"pixels no shape covers became class {became} (the class the files written by "
            "Annotator record for them)"
        )
    if requested is not None:
        why = f"{how} {requested}" if how == BACKGROUND_HOW else f"{how}: {requested}"
    elif used is not None and default is not None and used.lower() == default.lower():
        why = "the project's background class"
    elif used is not None:
        why = "the source's labels.txt lists _background_"
    else:
        why = "the project has no class named _background_ or background"
    if kept and kept == len(result.items):
        return "pixels no shape covers stay unlabelled (the files were written by Annotator)"
    if used is None:
        text = f"pixels no shape covers stay unlabelled ({why}; choose a class with {how})"
    else:
        text = f"pixels no shape covers became class {used!r} ({why}; change with {how})"
    if kept:
        text += f"; {kept} file(s) written by Annotator keep their unlabelled pixels"
    for name, n in recorded.items():
        text += f"; in {n} file(s) written by Annotator they became {name!r}, as recorded"
    return text


def mask_to_shapes(
    mask: np.ndarray,
    names: list[str],
    void: int,
    leave_out: Sequence[int] = (),
    tick: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """labelme ``shapes`` for a label map: one polygon per region (or per piece, for a
    region around unlabelled pixels), largest first, so that the smaller shapes inside
    a region's outline are drawn over it (labelme draws later shapes over earlier ones).
    The classes ``leave_out`` have no shape: their pixels are ones no shape covers.
    """
    label_of = {i: n for i, n in enumerate(names) if i not in leave_out}
    label_of[void] = IGNORE_LABEL
    return [
        {
            "label": label_of[class_id],
            "points": pad_to_three(poly).astype(float).tolist(),
            "group_id": None,
            "description": "",
            "shape_type": "polygon",
            "flags": {},
        }
        for class_id, poly in painted_polygons(mask, list(label_of), tick)
    ]


def write_labelme(
    out: Path,
    dataset: ExportDataset,
    options: ExportOptions = DEFAULT_EXPORT,
    progress: Progress | None = None,
) -> WriteResult:
    folder = OutputFolder(out)
    # labelme2voc's input: __ignore__ (void), _background_ (the pixels no shape covers,
    # here the unlabelled ones), then the classes.
    listed = [IGNORE_LABEL, BACKGROUND_LABEL, *(n for n in dataset.names if n != BACKGROUND_LABEL)]
    folder.write_text("labels.txt", "".join(n + "\n" for n in listed))
    samples = dataset.samples()
    unlabelled_images = 0
    mixed: list[str] = []  # images with unlabelled pixels and pixels of a class left out
    for i, (split, s) in enumerate(samples):
        tick = ticker(progress, i, len(samples), s.stem)
        tick()
        mask = s.load_mask()
        unlabelled = bool(np.any(mask == dataset.unlabelled))
        unlabelled_images += unlabelled
        doc: dict[str, Any] = {
            "version": LABELME_VERSION,
            "flags": {},
            "shapes": mask_to_shapes(mask, dataset.names, dataset.void, options.leave_out, tick),
            "imagePath": s.image_file_name,
            "imageData": None,
            "imageHeight": int(mask.shape[0]),
            "imageWidth": int(mask.shape[1]),
        }
        doc.update(_uncovered(mask, dataset.names, options.leave_out, unlabelled))
        if unlabelled and options.leave_out and np.isin(mask, options.leave_out).any():
            mixed.append(s.stem)
        folder.place_image(f"{split}/{s.image_file_name}", s.image_path, options.image_mode)
        folder.write_json(f"{split}/{s.stem}.json", doc)
    note = labels_note(dataset.names, unlabelled_images)
    notes = [note] if note else []
    if mixed:
        left = ", ".join(repr(dataset.names[k]) for k in options.leave_out)
        notes.append(
            f"{len(mixed)} image(s) hold unlabelled pixels beside pixels of {left}, which "
            f"has no shapes (first: {mixed[0]}): both are pixels no shape covers, imported "
            "again as unlabelled"
        )
    return folder.result(notes)


def _uncovered(
    mask: np.ndarray, names: Sequence[str], leave_out: Sequence[int], unlabelled: bool
) -> dict[str, str]:
    """The key saying what the pixels no shape covers are, for our import: unlabelled;
    or, when they are all of the one class left out present, that class."""
    present = [k for k in leave_out if np.any(mask == k)] if not unlabelled else []
    if len(present) == 1:
        return {UNCOVERED_CLASS_KEY: names[present[0]]}
    return {UNCOVERED_KEY: UNCOVERED_UNLABELLED}


def labels_note(names: Sequence[str], unlabelled_images: int) -> str | None:
    """The summary's line on what labelme2voc makes of the export: ``labels.txt`` puts
    ``__ignore__`` and ``_background_`` first, so its class ids are not the project's
    (unless the project's class 0 is ``_background_``: then they are), and the pixels no
    shape covers (the unlabelled ones) become ``_background_``. None: nothing to say."""
    unlabelled = (
        f"{unlabelled_images} image(s) have unlabelled pixels, which labelme2voc makes "
        "_background_, so they train as that class: label them, or export as masks or voc "
        "to keep them out of training"
    )
    if names and names[0] == BACKGROUND_LABEL:  # labelme2voc's ids are the project's
        return unlabelled if unlabelled_images else None
    if BACKGROUND_LABEL in names:
        text = (
            "labels.txt lists __ignore__ and _background_ before the other classes, as "
            "labelme2voc requires: converted with it, class ids follow labels.txt "
            "(_background_ is 0), not the project"
        )
    else:
        text = (
            "labels.txt lists __ignore__ and _background_ before the classes, as "
            "labelme2voc requires: converted with it, class ids are the project's plus 1 "
            "(_background_ is 0)"
        )
    return f"{text}; {unlabelled}" if unlabelled_images else text


# --- reading ---------------------------------------------------------------------------


def _points(shape: dict[str, Any], where: str) -> list[tuple[float, float]]:
    pts = shape.get("points")
    if not isinstance(pts, list) or not pts:
        raise FormatError(f"{where}: 'points' must be a non-empty list of [x, y]")
    out = []
    for p in pts:
        if not isinstance(p, list | tuple) or len(p) != 2:
            raise FormatError(f"{where}: a point must be [x, y], got {p!r}")
        out.append((check_number(p[0], where), check_number(p[1], where)))
    return out


def shape_to_mask(size: tuple[int, int], shape: dict[str, Any], where: str) -> np.ndarray:
    """One shape as a bool mask, drawn exactly as labelme's ``shape_to_mask``."""
    out = np.zeros(size, bool)
    box = shape_in_box(size, shape, where)
    if box is not None:
        pixels, y0, x0 = box
        out[y0 : y0 + pixels.shape[0], x0 : x0 + pixels.shape[1]] = pixels
    return out


#: labelme's line width and point radius, in pixels.
LINE_WIDTH, POINT_SIZE = 10, 5


def shape_in_box(
    size: tuple[int, int], shape: dict[str, Any], where: str
) -> tuple[np.ndarray, int, int] | None:
    """One shape drawn exactly as labelme's ``shape_to_mask``, as the bool mask of a box
    within the image that holds it, and the box's top and left (None: outside). Drawn
    on a canvas that ends at that box, and only the box read and painted: a big image
    of hundreds of shapes took a minute, each shape a mask of the whole image."""
    from PIL import Image, ImageDraw

    h, w = size
    kind = shape.get("shape_type") or "polygon"
    pts = _points(shape, where)
    # Pillow's drawing time grows with a shape's extent: a circle of radius 1e6 hangs it
    far = 16 * max(h, w) + 1024
    if any(abs(v) > far for p in pts for v in p):
        raise FormatError(f"{where}: coordinates far outside the {w}x{h} image")
    if kind == "mask":
        return _mask_shape(size, shape, pts, where)
    if kind == "oriented_rectangle":  # (labelme 6: its 4 corners, filled as a polygon)
        kind = "polygon"
    if kind not in ("polygon", "rectangle", "circle", "line", "linestrip", "point"):
        raise FormatError(f"{where}: unsupported shape_type {kind!r}")
    if kind == "rectangle" and len(pts) != 2:
        raise FormatError(f"{where}: a rectangle needs 2 points")
    if kind == "circle" and len(pts) != 2:
        raise FormatError(f"{where}: a circle needs 2 points")
    if kind in ("line", "linestrip") and len(pts) < 2:
        raise FormatError(f"{where}: a {kind} needs at least 2 points")
    reach = {"circle": math.dist(*pts[:2]) if len(pts) > 1 else 0.0, "point": POINT_SIZE}
    margin = reach.get(kind, LINE_WIDTH if kind in ("line", "linestrip") else 0.0) + 2
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0 = max(0, math.floor(min(xs) - margin))
    y0 = max(0, math.floor(min(ys) - margin))
    x1 = min(w, math.ceil(max(xs) + margin) + 1)
    y1 = min(h, math.ceil(max(ys) + margin) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    # Drawn in the rows of the box, from the image's left edge: Pillow fills a polygon
    # shifted left by whole pixels not always alike (1 pixel in 400 shapes), but one
    # shifted up alike (its scanlines are whole rows; y - y0 of y >= y0 is exact).
    canvas = Image.new("L", (x1, y1 - y0), 0)
    draw = ImageDraw.Draw(canvas)
    pts = [(x, y - y0) for x, y in pts]
    if kind == "polygon":
        draw_pil_polygon(canvas, pts)
    elif kind == "rectangle":
        (xa, ya), (xb, yb) = pts
        draw.rectangle([min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)], outline=1, fill=1)
    elif kind == "circle":
        (cx, cy), (px, py) = pts
        d = math.hypot(cx - px, cy - py)
        draw.ellipse([cx - d, cy - d, cx + d, cy + d], outline=1, fill=1)
    elif kind in ("line", "linestrip"):
        draw.line(pts, fill=1, width=LINE_WIDTH)
    else:  # point
        (cx, cy) = pts[0]
        r = POINT_SIZE
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=1, fill=1)
    return np.asarray(canvas.crop((x0, 0, x1, y1 - y0)), dtype=bool), y0, x0


def _mask_shape(
    size: tuple[int, int], shape: dict[str, Any], pts: list[tuple[float, float]], where: str
) -> tuple[np.ndarray, int, int]:
    """A ``mask`` shape where labelme puts it: its corner truncated."""
    h, w = size
    data = shape.get("mask")
    if not isinstance(data, str):
        raise FormatError(f"{where}: a mask shape needs a base64 'mask'")
    sub = _decode_image_bytes(_b64(data, where), where)
    arr = np.asarray(sub.convert("L")) > 0
    x1, y1 = (int(v) for v in pts[0])
    y2, x2 = min(h, y1 + arr.shape[0]), min(w, x1 + arr.shape[1])
    if x1 < 0 or y1 < 0 or y2 <= y1 or x2 <= x1:
        raise FormatError(f"{where}: mask shape lies outside the image")
    return arr[: y2 - y1, : x2 - x1], y1, x1


def _b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except (binascii.Error, ValueError):
        raise FormatError(f"{where}: invalid base64 data") from None


def _decode_image_bytes(data: bytes, where: str):  # type: ignore[no-untyped-def]
    from PIL import UnidentifiedImageError

    try:
        im = open_pil(io.BytesIO(data), where)
        im.load()
        return im
    except UnidentifiedImageError:  # its message names a BytesIO object, not the data
        raise FormatError(f"{where}: embedded data is not an image of a known format") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise FormatError(f"{where}: embedded image cannot be decoded ({exc})") from None


def _shape_pixels(
    size: tuple[int, int],
    shape: Any,
    where: str,
    aliases: dict[str, str] | None,
    names_class: bool = True,
) -> tuple[str, np.ndarray, int, int]:
    """A shape's label (read through ``aliases``), and its pixels as the bool mask of a
    box and the box's top and left (:func:`shape_in_box`; an empty box when outside).
    ``names_class``: the label may become a class (no labels.txt lists the classes), so
    one no class can have leaves the shape out; with a labels.txt it is an unknown
    label, as any other not listed."""
    if not isinstance(shape, dict) or not isinstance(shape.get("label"), str):
        raise FormatError(f"{where}: a shape needs a string 'label'")
    label = shape["label"].strip()
    label = (aliases or {}).get(label.lower(), label)
    if label != IGNORE_LABEL and names_class:
        try:  # (one such label left out, not the whole import refused when adding classes)
            check_name(label)
        except SchemaError as exc:
            raise FormatError(f"{where}: {exc}") from None
    box = shape_in_box(size, shape, where)  # validate even shapes we skip
    if box is None:
        return label, np.zeros((0, 0), bool), 0, 0
    return (label, *box)


def _draw(
    mask: np.ndarray,
    shapes: list[Any],
    file: tuple[Path, str],
    names: list[str],
    known: dict[str, int] | None,
    aliases: dict[str, str] | None,
    left: ObjectsLeftOut,
    spelled: set[str] | None = None,
) -> dict[str, int]:
    """Draw the ``shapes`` of the labelme file ``file`` (its path, and its name in the
    summary) on ``mask`` in order, a label not in ``names`` added to it (or, with a
    labels.txt, ``known``, drawn unlabelled and counted: the counts are returned); a
    shape that cannot be drawn is left out and named in ``left``. The labels drawn, as
    spelled, are added to ``spelled``."""
    path, name = file
    size = (int(mask.shape[0]), int(mask.shape[1]))
    unknown: dict[str, int] = {}
    for k, shape in enumerate(shapes):
        where = f"{path}: shapes[{k}]"
        try:
            label, pixels, y0, x0 = _shape_pixels(size, shape, where, aliases, known is None)
        except FormatError as exc:
            left.leave_out(name, f"shapes[{k}]", exc, where)
            continue
        left.drawn += 1
        if spelled is not None:
            spelled.add(shape["label"])
        area = mask[y0 : y0 + pixels.shape[0], x0 : x0 + pixels.shape[1]]  # (a view)
        if label == IGNORE_LABEL:
            area[pixels] = VOID
            continue
        lut = names_lut(names)
        if label.lower() not in lut:
            if known is not None:  # a labels.txt was given and does not list it
                unknown[label] = unknown.get(label, 0) + 1
                area[pixels] = UNLABELLED  # a class we cannot name, not the background
                continue
            names.append(label)
            lut = names_lut(names)
        area[pixels] = lut[label.lower()]
    return unknown


def read_labels_file(path: Path) -> list[str]:
    """labelme's ``labels.txt``: names in id order; ``__ignore__`` (void) may come first."""
    return read_names_file(path)


def _in_any_case(
    root: Path, candidate: Path, files: AnyCase, what: str, where: Path
) -> Path | None:
    """The file ``candidate`` (inside ``root``, not found as spelled) in other letters'
    case, when only one is so named and no other labelme file beside ``where`` is named
    as it (:class:`AnyCase`); else None."""
    try:
        rel = candidate.relative_to(root).as_posix()
    except ValueError:  # (not written below root)
        return files.file(candidate.parent, candidate.name, what=what, where=where)
    return files.file(root, rel, what=what, where=where)


def _image_file(
    root: Path, path: Path, image_path: str, image_name: str, embedded: bool, files: AnyCase
) -> Path | None:
    """The picture the labelme file ``path`` names by ``image_path`` (its base name:
    ``image_name``), None when that file is not there (the project's image of that name
    is looked for later). A name that cannot be followed within the imported folder
    ``root`` (an absolute path, another machine's ``C:\\Users\\me\\x.jpg``, or one
    climbing out of it) is never followed: the file's embedded image is used, else the
    picture of its base name beside the JSON file (a file written on another machine,
    its picture copied beside it); with neither it is refused, saying what was looked
    for. A file not found as spelled is found in other letters' case (``files``)."""
    try:
        candidate = join_within(root, path.parent, image_path, what=f"{path}: imagePath")
    except FormatError as exc:
        if embedded:  # the embedded image is used; the name is never followed
            return None
        beside = _beside(path, image_name, files)
        if beside is None:
            climbs = ".." in PurePosixPath(image_path.replace("\\", "/")).parts
            do = (
                "import the folder that holds both the JSON files and the images"
                if climbs
                else "put the picture beside the JSON file"
            )
            raise FormatError(
                f"{exc}, the file embeds no imageData, and no picture {image_name!r} lies "
                f"beside it: {do}"
            ) from None
        return beside
    if candidate.is_file():
        return candidate
    # pic0.JPG for pic0.jpg, when it is the one
    return _in_any_case(root, candidate, files, f"{path}: imagePath", path)


def _beside(path: Path, image_name: str, files: AnyCase) -> Path | None:
    """The picture ``image_name`` beside the labelme file ``path``, in any case; None
    when there is none (or the name is no file name)."""
    try:
        return (
            files.file(path.parent, image_name, what=f"{path}: imagePath", where=path)
            if image_name
            else None
        )
    except FormatError:  # (a name such as "C:" or "..")
        return None


def _picture_size(
    path: Path,
    shapes: list[Any],
    picture: Path,
    said: tuple[int, int],
    options: ImportOptions,
    resized: list[str],
) -> tuple[int, int]:
    """The ``(height, width)`` to draw the labelme file ``path`` on: the size it says
    (``imageHeight``, ``imageWidth``), or, when its picture ``picture`` is of that size
    with height and width swapped and has no EXIF orientation, the picture's, if every
    point of its ``shapes`` lies within it: labelme itself takes the picture's size then (its ``LabelFile``
    logs the mismatch and uses the image's), and a converter's slip (height and width
    swapped) does not lose the file. A picture with an orientation keeps the size said:
    the import refuses it, saying the labels were drawn on the picture unturned. The
    file is named in ``resized``."""
    try:
        real = image_size(picture, options, path)
    except FormatError:  # (unreadable: the import says why)
        return said
    # (only swapped: a picture scaled down since would take labels drawn on the larger)
    if real == said or real != (said[1], said[0]) or picture_orientation(picture) != 1:
        return said
    points = [
        p
        for shape in shapes
        if isinstance(shape, dict) and isinstance(shape.get("points"), list)
        for p in shape["points"]
        if isinstance(p, list | tuple) and len(p) == 2
    ]
    try:
        fits = all(float(x) <= real[1] and float(y) <= real[0] for x, y in points)
    except (TypeError, ValueError):
        fits = False
    if not fits:
        return said
    check_pixels(real[1], real[0], path)
    resized.append(
        f"{path.name} says {said[1]}x{said[0]}, its picture {picture.name} is {real[1]}x{real[0]}"
    )
    return real


def _read_one(
    root: Path,
    path: Path,
    known: dict[str, int] | None,
    shared_names: list[str],
    background: str | None,
    unknown: dict[str, int],
    aliases: dict[str, str] | None = None,
    automatic: bool = False,
    left: ObjectsLeftOut | None = None,
    format_how: str = FORMAT_HOW,
    files: AnyCase | None = None,
    options: ImportOptions = DEFAULT_IMPORT,
    resized: list[str] | None = None,
    spelled: set[str] | None = None,
) -> tuple[ImportItem, bool, str | None]:
    """The file's item, whether its uncovered pixels stayed unlabelled because the
    file says Annotator wrote it that way, and the class its uncovered pixels became
    because it says so (``annotatorUncoveredClass``; else ``None``). A shape that
    cannot be drawn is left out and named in ``left``; ``format_how``: how the hint of
    another format's file chooses that format. With ``resized``, a file whose size is
    not its picture's is drawn on the picture's (:func:`_picture_size`), and said there.
    The labels drawn, as spelled, are added to ``spelled``."""
    left = ObjectsLeftOut() if left is None else left
    names = list(shared_names)  # grown for this file; kept only if the file is valid
    doc = load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        raise FormatError(
            f"{path}: not a labelme file ('shapes' is missing or not a list)"
            + json_hint(path, doc, "labelme", format_how)
        )
    h, w = doc.get("imageHeight"), doc.get("imageWidth")
    image_path = doc.get("imagePath")
    image_data = doc.get("imageData")
    data_bytes: bytes | None = None
    if isinstance(image_data, str) and image_data:
        data_bytes = _b64(image_data, f"{path}: imageData")
        im = _decode_image_bytes(data_bytes, f"{path}: imageData")
        if h is None or w is None:
            w, h = im.size
        elif (w, h) != im.size:
            raise FormatError(
                f"{path}: imageData is {im.size[0]}x{im.size[1]} but imageWidth x imageHeight "
                f"says {w}x{h}"
            )
    for key, v in (("imageHeight", h), ("imageWidth", w)):
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise FormatError(f"{path}: '{key}' must be a positive integer, got {v!r}")
    h, w = int(h), int(w)  # type: ignore[arg-type]  # checked just above
    check_pixels(w, h, path)
    image_file = None
    if isinstance(image_path, str) and image_path:
        image_name = PurePosixPath(image_path.replace("\\", "/")).name
        embedded = data_bytes is not None
        image_file = _image_file(root, path, image_path, image_name, embedded, files or AnyCase())
        if image_file is not None and data_bytes is None and resized is not None:
            h, w = _picture_size(path, doc["shapes"], image_file, (h, w), options, resized)
    elif data_bytes is not None:
        image_name = path.stem + ".png"
    else:
        raise FormatError(f"{path}: has neither 'imagePath' nor 'imageData'")
    fill = UNLABELLED
    ours = doc.get(UNCOVERED_KEY) == UNCOVERED_UNLABELLED
    kept = background is not None and automatic and ours
    if background is not None and not kept:
        fill = names_lut(names)[background.lower()]
    uncovered = doc.get(UNCOVERED_CLASS_KEY)
    recorded: str | None = None
    if automatic and isinstance(uncovered, str) and uncovered.strip():
        # written by our export, its class left out: that class, whatever the default
        label = (aliases or {}).get(uncovered.strip().lower(), uncovered.strip())
        if label.lower() not in names_lut(names):
            names.append(label)
        fill = names_lut(names)[label.lower()]
        recorded = names[fill]
    mask = np.full((h, w), fill, np.int32)
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    lost = len(left.objects)
    local_unknown = _draw(mask, doc["shapes"], (path, name), names, known, aliases, left, spelled)
    if fill != UNLABELLED and len(left.objects) > lost:
        # Drawn again over unlabelled pixels: a shape left out may lie where no shape is,
        # and making it background would be a wrong label (files without one are drawn
        # once: a pass to tell the pixels no shape covers took as long as the drawing).
        mask.fill(UNLABELLED)
        _draw(mask, doc["shapes"], (path, name), names, known, aliases, ObjectsLeftOut())
        left.keep_unlabelled(name, names[fill])
    for label, n in local_unknown.items():
        unknown[label] = unknown.get(label, 0) + n
    shared_names[:] = names
    item = ImportItem(
        source=path,
        image_name=image_name,
        width=w,
        height=h,
        mask=mask,
        names=None,  # filled in by read_labelme once every file is read
        image_file=image_file,
        image_data=data_bytes,
    )
    return item, kept, recorded


def read_labelme(src: Path, options: ImportOptions = DEFAULT_IMPORT) -> ReadResult:
    src = Path(src)
    root = src if src.is_dir() else src.parent
    files = json_files(src, "labelme JSON files", "labelme", below=True, how=options.format_how)
    result = ReadResult()
    labels_file = options.labels_file or (root / "labels.txt")
    known: dict[str, int] | None = None
    names: list[str] = []
    if labels_file.is_file():
        listed = read_labels_file(labels_file)
        names = [n for n in listed if n != IGNORE_LABEL]
        known = names_lut(names)
    background = options.background
    automatic = background is None
    if background is not None and background.strip().lower() == NO_BACKGROUND:
        background = None
    if automatic:
        background = options.default_background
        if background is None and BACKGROUND_LABEL.lower() in names_lut(names):
            background = BACKGROUND_LABEL
    aliases: dict[str, str] = {}
    if background is not None and background.lower() in PROJECT_BACKGROUND_NAMES:
        # The project calls labelme's _background_ "background" (or the reverse): the
        # same class, so the source's name is read as the project's.
        # Not when the source's labels.txt lists both as classes of their own (ours
        # does: labelme2voc requires _background_, and "background" is a class).
        own = {n.lower() for n in options.project_classes}
        both = known is not None and all(n in known for n in PROJECT_BACKGROUND_NAMES)
        for other in PROJECT_BACKGROUND_NAMES:
            if other != background.lower() and other not in own and not both:
                aliases[other] = background
        names = [background if n.lower() in aliases else n for n in names]
        if known is not None:
            known = names_lut(names)
    if background is not None and background.lower() not in names_lut(names):
        names.append(background)
        result.background_added = not automatic
    result.declared = list(names)
    result.background = background
    items = []
    left = ObjectsLeftOut()
    resized: list[str] = []
    spelled: set[str] = set()  # the labels drawn, as the files spell them
    pictures = AnyCase()
    for n, f in enumerate(files):
        if options.progress:
            options.progress(n, len(files), f"reading annotations… {f.name}")
        try:
            one = ObjectsLeftOut()  # (kept only when the file is read)
            item, kept, recorded = _read_one(
                root,
                f,
                known,
                names,
                background,
                result.unknown,
                aliases,
                automatic,
                one,
                options.format_how,
                pictures,
                options,
                resized,
                spelled,
            )
            items.append(item)
            left.extend(one)
            result.kept_unlabelled += kept
            if recorded is not None:
                result.recorded_background[recorded] = (
                    result.recorded_background.get(recorded, 0) + 1
                )
        except FormatError as exc:
            result.errors.append((str(f), str(exc)))
    # A source none of whose shapes can be drawn is refused, not imported as images
    # with no labels (left_out.py says why); one with a few is imported without them.
    left.check_some_drawn(src)
    if note := left.note():
        result.notes.append(note)
    if resized:
        result.notes.append(
            f"drew the shapes of {len(resized)} file(s) on their picture's own size, not "
            f"the imageWidth x imageHeight the file says, as labelme does (first: {resized[0]})"
        )
    if BACKGROUND_LABEL in names:
        # labels.txt's _background_ line (labelme2voc requires it) names the pixels no
        # shape covers; when every such pixel stayed unlabelled it is not a class to add.
        index = names.index(BACKGROUND_LABEL)
        masks = [i.mask for i in items if i.mask is not None]
        if not any((m == index).any() for m in masks):
            for m in masks:
                m[m > index] -= 1
            del names[index]
            if BACKGROUND_LABEL in result.declared:  # (a shape's label is not declared)
                result.declared.remove(BACKGROUND_LABEL)
    # (one class: names compare so; named as the project's class the pixels go to)
    if note := joined_spellings(names, sorted(spelled), options.project_classes):
        result.notes.append(note)
    # Names grow as files are read (without labels.txt); indices never change, so every
    # item can share the final list.
    final = tuple(names)
    result.items = [
        ImportItem(
            source=i.source,
            image_name=i.image_name,
            width=i.width,
            height=i.height,
            mask=i.mask,
            names=final,
            image_file=i.image_file,
            image_data=i.image_data,
        )
        for i in items
    ]
    return result
