"""Class tables: the files datasets name their classes (and colours) in, read by content.

A mask file holds class ids (grey or palette indices) or colours (an RGB mask, or the
same colours stored as a palette PNG by an optimiser). The table says what either means:

- CVAT ``labelmap.txt``: ``name:r,g,b:parts:actions``, ``#`` comment lines.
- CamVid ``label_colors.txt``: ``r g b name`` (tabs or spaces).
- CSV with a header naming the name column (``name``, ``class``, ``class_name``,
  ``label``), optionally ``r,g,b`` columns and an id column (``pixel value``, ``idx``,
  ``id``): CamVid ``class_dict.csv``, Roboflow ``_classes.csv``, ADE20K
  ``objectInfo150.csv`` (its ``;``-separated synonyms: the first is the name).
- An id list: every line ``<id> <name>`` (a space, tab, ``:``, ``,``, ``=`` or `` - `` between,
  ``0 cytoplasm``, ``0\tcytoplasm``, ``0: cytoplasm``, ``0,cytoplasm``), in any order,
  under an optional header line of column words (``id name``, ``index class``). A
  ``255 void`` (or ``ignore``) line names the void value, not a class.
- nnU-Net's and the Medical Segmentation Decathlon's ``dataset.json``: its ``labels``,
  nnU-Net v2's ``{"background": 0, "liver": 1}`` (an ``ignore`` label is the void
  value) or the Decathlon's (and nnU-Net v1's) ``{"0": "background", "1": "liver"}``;
  nnU-Net's regions (``{"whole": [1, 2]}``) name no class id and are refused. An
  Annotator masks export's ``dataset.json`` (reserved values, no ``labels``) is no
  class table (:func:`other_tools_meta`).
- Anything else: one class name per line, line i = id i (comments and blank lines not
  counted); a first line that is a lone column word (``name``, ``class``...) is a
  header, not a class.

Comments (a comment never becomes a class: every later id would shift by one). In a
table, a line beginning with ``#`` is a class when it has the table's full structure,
colour or id fields that parse (CVAT's ``# x:1,2,3::`` is the class ``# x``), and a
comment when it has none (CVAT's own ``# label:color_rgb:parts:actions``); one with part
of it (``#x:1,2::``) could be either and is refused with its line number. In a CSV, a
quoted name (``"#x",...``) is always a row. In a plain list, where no structure tells,
``#`` alone or followed by a space or tab starts a comment (``# classes of my
dataset``), and ``#`` followed by anything else is a name (``#1``, ``#ff0000``).

Ids are the line order unless an id column gives them. A table whose ids start at 1
and do not list 0 (ADE20K) reads 0 as void: ADE20K's "other objects", which its
benchmark ignores.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from annotator.core.errors import FormatError, json_problem
from annotator.core.masks_layout import is_masks_meta
from annotator.core.schema import COMMENT_LIKE, name_key

RGB = tuple[int, int, int]

#: Files a masks or VOC import takes as the source's class table when no ``--labels``
#: is given, in this order: the ones that give colours first (a colour-coded mask needs
#: them), then the plain name lists (Annotator's own ``class_names.txt``, labelme's, and
#: the ``classes.txt`` many datasets and YOLO tools keep: line i names the value i).
TABLE_FILES = (
    "labelmap.txt",
    "label_colors.txt",
    "class_dict.csv",
    "_classes.csv",
    "class_names.txt",
    "labels.txt",
    "classes.txt",
)

#: Another tool's file of its classes, looked for in a folder after :data:`TABLE_FILES`
#: (by the masks import): nnU-Net's and the Decathlon's ``dataset.json``, its ``labels``.
DATASET_JSON = "dataset.json"
#: The name nnU-Net (v2) gives the label value whose pixels are not trained on (void).
NNUNET_IGNORE = "ignore"

#: Marks a colour two table entries share (Cityscapes' black), while decoding.
AMBIGUOUS = -3
#: Marks a colour or id the table does not list, while decoding.
UNKNOWN = -4

_NAME_COLUMNS = ("name", "class", "class_name", "classname", "label", "label_name")
_ID_COLUMNS = ("pixel value", "pixel_value", "idx", "id", "class_id", "index", "value")
_RGB_COLUMNS = (("r", "g", "b"), ("red", "green", "blue"))
#: An id list's line: ``<id>``, a space, tab, ``:``, ``,``, ``=`` or `` - ``, the name.
_ID_NAME = re.compile(r"^(\d+)\s*[:,=]\s*(\S.*)$|^(\d+)(?:\s+-)?\s+(\S.*)$")
#: Words of a header line above an id list or a plain list (``id name``, ``name``).
_HEADER_WORDS = frozenset(_NAME_COLUMNS + _ID_COLUMNS + ("names", "classes", "labels", "ids"))
#: The names an id list gives its void value (``255 void``): read as void, not a class.
VOID_ID_NAMES = ("void", "ignore", "ignored", "__ignore__", "ignore_index", "dontcare")
#: The value an id list's void line may name (the masks' void, 255).
VOID_ID = 255
_LABELMAP = re.compile(r"^([^:]*):\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(:.*)?$")
#: A labelmap line without a colour (``cat:::``, as datumaro, CVAT's dataset engine,
#: writes a label it has no colour for): VOC's colour of the line's index.
_LABELMAP_BLANK = re.compile(r"^([^:]*):\s*(:.*)?$")
_CAMVID = re.compile(r"^(\d+)[ \t]+(\d+)[ \t]+(\d+)[ \t]+(\S.*)$")
_NAME_RGB = re.compile(r"^([^,]+),\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*$")
#: A ``#`` line of those tables with a colour field of numbers that is no ``r,g,b``: a
#: class with a broken colour or a comment, which no rule can tell.
_NUMBERS = r"(?=[^:]*\d)(?=[^:]*[,;])[\d\s,;.]+"
_LABELMAP_PART = re.compile(rf"^[^:]*:{_NUMBERS}(:.*)?$")
_NAME_RGB_PART = re.compile(rf"^[^,]+,{_NUMBERS}$")
#: Names a colour table gives the ignore colour (CamVid's "Void"): read as void.
VOID_NAMES = ("void", "__ignore__")
#: What a CamVid colour list (``label_colors.txt``) is read as.
CAMVID_KIND = "CamVid colour list"
_BLACK: RGB = (0, 0, 0)


@dataclass(frozen=True)
class ClassTable:
    """A class list as its file gives it. ``ids``: each name's pixel value (the line
    order unless the file has an id column); ``colours``: each name's colour, for
    colour tables; ``kind``: what the file was read as, for messages."""

    path: Path
    kind: str
    names: tuple[str, ...]
    ids: tuple[int, ...]
    colours: tuple[RGB, ...] | None = None
    #: Values the file names void (an id list's ``255 void`` line): no class.
    void_ids: tuple[int, ...] = ()

    @property
    def zero_is_void(self) -> bool:
        """Ids from 1 with 0 unlisted (ADE20K): 0 is "other objects", ignored."""
        return bool(self.ids) and min(self.ids) == 1

    @property
    def declares_every_class(self) -> bool:
        """Whether every class the table names is one of the dataset's: ours, a CSV's, an
        id list's. nnU-Net's and the Decathlon's ``dataset.json`` must name a
        ``background`` at 0 even where no voxel is one (an nnU-Net export of a project
        without that class), so only its classes some mask holds are the dataset's."""
        return self.kind not in LABELS_JSON_KINDS

    def without_leading_ignore(self) -> ClassTable:
        """labelme's ``labels.txt`` lists ``__ignore__`` first (id -1, written 255)."""
        if self.colours is None and self.names[:1] == ("__ignore__",):
            return ClassTable(
                self.path, self.kind, self.names[1:], self.ids[:-1], void_ids=self.void_ids
            )
        return self


def read_class_table(path: Path) -> ClassTable:
    """The class table in ``path``, recognised by its content (see the module)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(f"{path}: cannot read the class list ({exc})") from None
    return class_table_of(path, text)


def class_list_text(names: Sequence[str]) -> str:
    """The text of a ``class_names.txt`` that :func:`read_class_table` reads back as
    exactly ``names``, ids 0, 1, ...: a plain list, one name per line, as labelme's
    labelme2voc writes it, unless the names make it read otherwise (``1 cell``, ``2
    nucleus`` read as an id list from 1; a first class ``Label`` read as a header);
    then an id list (``0 1 cell``), which no other form is read as."""
    plain = "".join(n + "\n" for n in names)
    expected = (tuple(names), tuple(range(len(names))))
    for text in (plain, "".join(f"{i} {n}\n" for i, n in enumerate(names))):
        try:
            table = class_table_of(Path("class_names.txt"), text)
        except FormatError:
            continue
        if (table.names, table.ids) == expected and not table.void_ids:
            return text
    raise FormatError(
        "no class list reads back as these class names (some read as ids, colours, a "
        "header or separators): rename those classes"
    )


def readable_class_list(names: Sequence[str]) -> str:
    """:func:`class_list_text`, or the plain list where no form reads back as ``names``
    (a reader then needs the names recorded beside it: a masks folder's
    ``dataset.json``)."""
    try:
        return class_list_text(names)
    except FormatError:
        return "".join(n + "\n" for n in names)


def own_class_list(table_file: Path, meta: Any) -> ClassTable | None:
    """The classes of an Annotator masks export (or of kept labels) whose
    ``dataset.json`` (``meta``, read) records them beside its ``class_names.txt``
    (``table_file``), line i = id i, as written: read as they were, never guessed from
    their content; ``None`` for any other table."""
    if not is_masks_meta(meta):
        return None
    names = meta.get("classes")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        return None
    try:
        lines = Path(table_file).read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    written = (names, readable_class_list(names).splitlines())  # (of old, and today)
    if Path(table_file).name != "class_names.txt" or lines not in written:
        return None  # (edited by hand: read as any table)
    return ClassTable(Path(table_file), "class list", tuple(names), tuple(range(len(names))))


def class_table_of(path: Path, text: str) -> ClassTable:
    """The class table that ``text``, the content of ``path``, gives (see the module)."""
    if text.lstrip().startswith("{") or Path(path).suffix.lower() == ".json":
        return _json_table(Path(path), text)
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    # The form is that of the first line no comment: one not beginning with '#', or a
    # labelmap class whose name does ('#x,1,2,3' before a CSV header is no name,r,g,b
    # line; a CamVid line begins with its colour, never with '#').
    first = next(
        (line for _, line in lines if not line.startswith("#") or _LABELMAP.match(line)), None
    )
    data = [line for _, line in lines if not line.startswith("#")]
    if _blank_labelmap(path, lines):
        table = _labelmap_with_blanks(path, lines)
    elif first is not None and _LABELMAP.match(first):
        table = _colour_lines(
            path, lines, _LABELMAP, _LABELMAP_PART, "CVAT labelmap", "name:r,g,b:parts:actions"
        )
    elif first is not None and _CAMVID.match(first):
        table = _colour_lines(path, lines, _CAMVID, None, CAMVID_KIND, "r g b name")
    elif first is not None and _csv_header(first) is not None:
        table = _csv_table(path, lines)
    elif data and all(_NAME_RGB.match(line) for line in data):
        table = _colour_lines(
            path, lines, _NAME_RGB, _NAME_RGB_PART, "name,r,g,b list", "name,r,g,b"
        )
    elif (ids := _id_list(path, lines)) is not None:
        table = ids
    else:  # a plain list: every line a name but comments ('#' then a space)
        names = tuple(line for _, line in lines if not COMMENT_LIKE.match(line))
        if len(names) > 1 and _is_header(names[0]):  # 'name' above the names: no class
            names = names[1:]
        table = ClassTable(Path(path), "class list", names, tuple(range(len(names))))
    _check_unique(table)
    return table


def other_tools_meta(meta: Mapping[str, Any]) -> bool:
    """Whether a ``dataset.json`` is another tool's (nnU-Net's, the Medical Segmentation
    Decathlon's), not an Annotator masks export's (which records the void and unlabelled
    values, never ``labels``)."""
    ours = is_masks_meta(meta) or "void" in meta or "unlabelled" in meta
    theirs = {"channel_names", "modality", "labels", "file_ending", "numTraining"} & set(meta)
    return not ours and bool(theirs)


def _json_table(path: Path, text: str) -> ClassTable:
    """The class table of a JSON file: the ``labels`` of nnU-Net's or the Decathlon's
    ``dataset.json`` (:func:`labels_table`); any other JSON is refused in one line."""
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: not valid JSON ({json_problem(exc)})") from None
    if isinstance(meta, dict) and "labels" in meta and other_tools_meta(meta):
        return labels_table(path, meta["labels"], meta.get("renamed_labels"))
    if isinstance(meta, dict) and not other_tools_meta(meta) and "format" in meta:
        raise FormatError(
            f"{path}: an Annotator masks export's dataset.json records its void and "
            "unlabelled values, not its classes: give the class_names.txt beside it"
        )
    raise FormatError(
        f"{path}: a JSON file without the 'labels' of nnU-Net's or the Decathlon's "
        'dataset.json ({"background": 0, "liver": 1} or {"0": "background", "1": "liver"}) '
        "names no classes: give those, or a class list ('<id> <name>' lines)"
    )


#: What :func:`labels_table` reads a ``dataset.json``'s labels as (``ClassTable.kind``).
LABELS_JSON_KINDS = frozenset({"the Decathlon's labels", "nnU-Net's labels", "dataset.json labels"})


def labels_table(path: Path, labels: Any, renamed: Any = None) -> ClassTable:
    """The class table the ``labels`` of nnU-Net's or the Medical Segmentation
    Decathlon's ``dataset.json`` at ``path`` give: nnU-Net v2's ``{"background": 0,
    "liver": 1}`` (its ``ignore`` label the void value: ``void_ids``), the Decathlon's
    and nnU-Net v1's ``{"0": "background", "1": "liver"}``; read by id. A label our
    nnU-Net export renamed (``renamed``, its ``renamed_labels``: ``{"ignore_2":
    "ignore"}``, a project class named as nnU-Net's reserved ``ignore``) is read by the
    project's name again. A one-line
    :class:`FormatError` for labels that name no class id each (nnU-Net's regions,
    ``{"whole": [1, 2]}``, which overlap), an id named twice or not at all."""
    if not isinstance(labels, dict) or not labels:
        raise FormatError(f"{path}: its labels are not a mapping of class names and ids")
    pairs: dict[int, str] = {}
    void: list[int] = []
    shapes: set[str] = set()
    for key, value in labels.items():
        if isinstance(value, str) and str(key).strip().isdecimal():  # {"1": "liver"}
            value_id, name = int(key), value.strip()
            shapes.add("the Decathlon's labels")
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            value_id, name = value, str(key).strip()  # {"liver": 1}
            shapes.add("nnU-Net's labels")
        else:
            regions = ": nnU-Net's regions, which overlap" if isinstance(value, list) else ""
            raise FormatError(
                f"{path}: its labels are not one class id each ({key!r}: {value!r}{regions})"
            )
        if name == NNUNET_IGNORE:
            void.append(value_id)
            continue
        if isinstance(renamed, dict) and isinstance(renamed.get(name), str):
            name = renamed[name].strip() or name  # (the project's name, as exported)
        if value_id in pairs or not name:
            raise FormatError(
                f"{path}: its labels name id {value_id} " + ("twice" if name else "with no name")
            )
        pairs[value_id] = name
    if not pairs:
        raise FormatError(f"{path}: its labels name no class")
    ids = sorted(pairs)
    kind = shapes.pop() if len(shapes) == 1 else "dataset.json labels"
    table = ClassTable(path, kind, tuple(pairs[i] for i in ids), tuple(ids), void_ids=tuple(void))
    _check_unique(table)
    return table


def is_labels_json(path: Path) -> bool:
    """Whether ``path`` is nnU-Net's or the Decathlon's ``dataset.json`` with ``labels``
    (a file that cannot be read or parsed is not)."""
    if not path.is_file():
        return False
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(meta, dict) and "labels" in meta and other_tools_meta(meta)


def _is_header(line: str) -> bool:
    """Whether ``line`` is a header of column words (``name``, ``id name``, ``id,name``)."""
    words = [w for w in re.split(r"[\s,:;=]+", line.strip().lower()) if w]
    return bool(words) and all(w in _HEADER_WORDS for w in words)


def _id_list(path: Path, lines: list[tuple[int, str]]) -> ClassTable | None:
    """The id list in ``lines`` (see the module), or ``None`` when a line is not
    ``<id> <name>`` (a plain list). Comments ('#' then a space) and a first header line
    are skipped; a ``255 void`` line gives the void value; an id listed twice is
    refused."""
    data = [(n, line) for n, line in lines if not COMMENT_LIKE.match(line)]
    if data and _is_header(data[0][1]):
        data = data[1:]
    pairs: list[tuple[int, str, int]] = []
    for n, line in data:
        m = _ID_NAME.match(line)
        if m is None:
            return None
        value, name = (m.group(1), m.group(2)) if m.group(1) is not None else m.group(3, 4)
        pairs.append((int(value), name.strip(), n))
    if not pairs:
        return None
    seen: dict[int, int] = {}
    for value, _, n in pairs:
        if value in seen:
            raise FormatError(f"{path}: id {value} is listed twice (lines {seen[value]} and {n})")
        seen[value] = n
    void = tuple(v for v, name, _ in pairs if v == VOID_ID and name_key(name) in VOID_ID_NAMES)
    kept = sorted((v, name) for v, name, _ in pairs if v not in void)
    return ClassTable(
        Path(path),
        "id list",
        tuple(name for _, name in kept),
        tuple(v for v, _ in kept),
        void_ids=void,
    )


def _hash_line_refused(path: Path, n: int, what: str, fix: str) -> FormatError:
    """The error for a ``#`` line that could be a class or a comment: ids would shift
    by one whichever way it was guessed wrong."""
    return FormatError(
        f"{path}: line {n} begins with '#' and {what}: a class whose name begins with '#', "
        f"or a comment? {fix}"
    )


def _colour_lines(
    path: Path,
    lines: list[tuple[int, str]],
    pattern: re.Pattern[str],
    part: re.Pattern[str] | None,
    kind: str,
    form: str,
) -> ClassTable:
    """A table of one line per class; ``part``: a ``#`` line with part of a colour."""
    names: list[str] = []
    colours: list[RGB] = []
    hash_first = ""  # the first class's line, when its name begins with '#'
    for n, line in lines:
        m = pattern.match(line)
        if m and not names and line.startswith("#"):
            hash_first = f" (line {n}, a class whose name begins with '#', has that form)"
        if not m:
            if line.startswith("#"):
                if part is not None and part.match(line):
                    raise _hash_line_refused(
                        path,
                        n,
                        "has a colour that is not r,g,b",
                        f"Give a class its whole '{form}' line; remove the numbers from a comment",
                    )
                continue  # a comment: no colour in it
            raise FormatError(
                f"{path}: line {n} is not '{form}' like the lines before it{hash_first}"
            )
        parts = m.groups()
        if pattern is _CAMVID:
            name, rgb = parts[3], parts[:3]
        else:
            name, rgb = parts[0], parts[1:4]
        colours.append(_rgb(rgb, path, n))
        names.append(name.strip())
    return ClassTable(Path(path), kind, tuple(names), tuple(range(len(names))), tuple(colours))


def _blank_labelmap(path: Path, lines: list[tuple[int, str]]) -> bool:
    """Whether ``lines`` are a CVAT labelmap some of whose labels have no colour
    (``cat:::``): the file is named ``labelmap.txt`` or has CVAT's header comment, and
    every other line is a labelmap line."""
    header = any(line.lower().startswith("# label:color_rgb") for _, line in lines)
    if Path(path).name.lower() != "labelmap.txt" and not header:
        return False
    data = [line for _, line in lines if not line.startswith("#")]
    blank = [line for line in data if not _LABELMAP.match(line)]
    return bool(blank) and all(_LABELMAP_BLANK.match(line) for line in blank)


def _labelmap_with_blanks(path: Path, lines: list[tuple[int, str]]) -> ClassTable:
    """A labelmap whose labels without a colour take VOC's colour of their line's
    index, as datumaro reads them (its VOC masks are drawn in those colours)."""
    names: list[str] = []
    colours: list[RGB] = []
    for n, line in lines:
        if line.startswith("#"):
            continue
        m = _LABELMAP.match(line)
        if m is not None:
            colours.append(_rgb(m.groups()[1:4], path, n))
        else:
            colours.append(_voc_colour(len(names)))
        names.append(line.split(":", 1)[0].strip())
    return ClassTable(
        Path(path), "CVAT labelmap", tuple(names), tuple(range(len(names))), tuple(colours)
    )


def _voc_colour(index: int) -> RGB:
    table = _VOC if index < len(_VOC) else voc_colormap(index + 1)
    r, g, b = (int(c) for c in table[index])
    return r, g, b


def _rgb(values: Sequence[str], path: Path, line: int | str) -> RGB:
    try:
        r, g, b = (int(str(v).strip()) for v in values)
    except ValueError:
        raise FormatError(f"{path}: line {line}: a colour needs three whole numbers") from None
    if not all(0 <= c <= 255 for c in (r, g, b)):
        raise FormatError(f"{path}: line {line}: colour ({r},{g},{b}) is not 0..255")
    return r, g, b


def _csv_header(line: str) -> list[str] | None:
    """The header's column names when ``line`` is a CSV header naming a name column."""
    if "," not in line:
        return None
    cols = [c.strip().lower() for c in next(csv.reader([line]))]
    return cols if any(c in _NAME_COLUMNS for c in cols) else None


def _csv_table(path: Path, lines: list[tuple[int, str]]) -> ClassTable:
    """The CSV table whose header is the first line not beginning with '#' (the lines
    above it are comments); a '#' row below is a class or a comment by
    :func:`_is_hash_row`."""
    at = next(i for i, (_, line) in enumerate(lines) if not line.startswith("#"))
    header = [c.strip().lower() for c in next(csv.reader([lines[at][1]]))]
    name_col = next(header.index(c) for c in _NAME_COLUMNS if c in header)
    id_col = next((header.index(c) for c in _ID_COLUMNS if c in header), None)
    rgb_cols = next(
        (
            [header.index(c) for c in cols]
            for cols in _RGB_COLUMNS
            if all(c in header for c in cols)
        ),
        None,
    )
    numeric = ([] if id_col is None else [id_col]) + (rgb_cols or [])
    names: list[str] = []
    ids: list[int] = []
    colours: list[RGB] = []
    for n, line in lines[at + 1 :]:
        row = next(csv.reader([line]))
        if line.startswith("#") and not _is_hash_row(path, n, row, len(header), numeric):
            continue
        if len(row) != len(header):
            raise FormatError(f"{path}: line {n} has {len(row)} fields, the header {len(header)}")
        # ADE20K lists synonyms: "windowpane;window" is the class windowpane
        names.append(row[name_col].split(";")[0].strip())
        if id_col is not None:
            try:
                ids.append(int(row[id_col].strip()))
            except ValueError:
                raise FormatError(
                    f"{path}: line {n}: id {row[id_col].strip()!r} is not a whole number"
                ) from None
            if ids[-1] < 0:
                raise FormatError(f"{path}: line {n}: id {ids[-1]} is negative")
        if rgb_cols is not None:
            colours.append(_rgb([row[c] for c in rgb_cols], path, n))
    if id_col is None:
        ids = list(range(len(names)))
    elif len(set(ids)) != len(ids):
        raise FormatError(f"{path}: an id is listed twice")
    # an id table's "255,void" row names the void value, as an id list's "255 void" line
    void = tuple(
        ids[i]
        for i in range(len(names))
        if id_col is not None
        and rgb_cols is None
        and ids[i] == VOID_ID
        and name_key(names[i]) in VOID_ID_NAMES
    )
    order = sorted(
        (i for i in range(len(names)) if ids[i] not in void), key=ids.__getitem__
    )  # names in id order
    return ClassTable(
        Path(path),
        "CSV class table",
        tuple(names[i] for i in order),
        tuple(ids[i] for i in order),
        tuple(colours[i] for i in order) if rgb_cols is not None else None,
        void_ids=void,
    )


def _whole(value: str) -> bool:
    try:
        int(value.strip())
    except ValueError:
        return False
    return True


def _is_hash_row(path: Path, n: int, row: list[str], width: int, numeric: list[int]) -> bool:
    """Whether a CSV line beginning with '#' is a row (True) or a comment (False): a row
    has the header's fields, its ids and colours whole numbers; a comment has no number
    where a row has them. Anything between, or a row's shape in a table with no numbers,
    is refused."""
    fix = 'Quote the name ("#x",...) of a class; remove the line if it is a comment'
    if len(row) == width and numeric:
        parsed = [_whole(row[c]) for c in numeric]
        if all(parsed):
            return True
        if not any(parsed):
            return False
        raise _hash_line_refused(path, n, "part of a row's numbers", fix)
    if len(row) == width:
        raise _hash_line_refused(path, n, f"the {width} fields of a row", fix)
    if numeric and any(_whole(v) for v in row[1:]):
        raise _hash_line_refused(path, n, "numbers, not the header's fields", fix)
    return False


def _check_unique(table: ClassTable) -> None:
    if any(not n for n in table.names):
        raise FormatError(f"{table.path}: a class has no name")
    seen: set[str] = set()
    for n in table.names:
        if name_key(n) in seen:
            raise FormatError(f"{table.path}: the class name {n!r} is listed twice")
        seen.add(name_key(n))


def find_class_table(folders: Sequence[Path], other_tools: bool = False) -> Path | None:
    """The first of :data:`TABLE_FILES` in the first of ``folders`` holding one;
    ``other_tools``: else, in that folder, nnU-Net's or the Decathlon's ``dataset.json``
    with its ``labels`` (:func:`is_labels_json`), before the next folder."""
    for folder in folders:
        for name in TABLE_FILES:
            if (folder / name).is_file():
                return folder / name
        if other_tools and is_labels_json(folder / DATASET_JSON):
            return folder / DATASET_JSON
    return None


#: How the command line is given another class table (:func:`table_note`).
LABELS_HOW = "give --labels FILE"


def table_note(
    table_file: Path | None,
    given: bool,
    folders: Sequence[Path],
    source: Path | None = None,
    kind: str = "",
    other_tools: bool = False,
    how: str = LABELS_HOW,
) -> str:
    """The import summary's line on how the masks' values were read: by the class table
    found in ``folders`` (named, so that a table above the source folder, or one of
    another dataset, shows: a table outside ``source`` is named by its whole path, and
    said to lie above it; ``kind``: what it was read as, said after it), or as the
    project's own ids when none was found (``other_tools``: a ``dataset.json``'s labels
    were looked for too). ``how``: how the user gives another table (the CLI's
    ``--labels FILE``, the GUI's Class names file). ``""`` when the user gave the table."""
    if given:
        return ""
    if table_file is not None:
        what = f" ({kind})" if kind else ""
        where = f"{table_file}{what}"
        if source is not None:
            top, found = source.resolve(), table_file.resolve()
            if top != found.parent and top not in found.parents:
                where = f"{found}{what} (above {source}; {how} to use another)"
        return f"classes read from {where}: the masks' values are mapped by name"
    looked = ", ".join(str(f) for f in dict.fromkeys(folders))
    also = ", nor the labels of nnU-Net's or the Decathlon's dataset.json," if other_tools else ""
    return (
        f"no class list found (none of {', '.join(TABLE_FILES)}{also} in {looked}): the "
        f"masks' values were taken as the project's class ids ({how} if they mean other "
        "classes)"
    )


# --- reading mask pixels by the table ------------------------------------------------


def voc_colormap(n: int = 256) -> np.ndarray:
    """VOC's standard ``(n, 3) uint8`` colour map (bit-interleaved class ids)."""
    cmap = np.zeros((n, 3), np.uint8)
    for i in range(n):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        cmap[i] = (r, g, b)
    return cmap


_VOC = voc_colormap()


def _keys(rgb: np.ndarray) -> np.ndarray:
    """``(..., 3) uint8`` colours as one ``int64`` each."""
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _colour_of(key: int) -> str:
    return f"({key >> 16 & 255},{key >> 8 & 255},{key & 255})"


class Labelling:
    """How one import reads mask pixels as labels: by the source's class table (ids;
    colours for a colour-coded mask), or, without one, as the project's class ids.

    ``names``: the classes the labels index. A colour table's ``Void`` entry (CamVid's)
    is read as void, not a class, unless the project has a class of that name.
    ``void_colours``: colours read as void when the table lists none
    of them (VOC's ignore colour).

    A CamVid ``label_colors.txt`` that lists no black has its black pixels read as
    unlabelled: datumaro's (CVAT's "CamVid 1.0") export paints black the pixels no
    label covers and leaves that colour out of the table when the source had no class
    for it (CamVid's own table lists black, as ``Void``). :attr:`black_unlabelled`
    counts them, by mask file, for the import's summary.
    """

    def __init__(
        self,
        table: ClassTable | None,
        project_classes: Sequence[str] = (),
        void_colours: Sequence[RGB] = (),
        labels_how: str = "",
    ) -> None:
        from annotator.formats.base import UNLABELLED, VOID

        self.table = table
        #: How the user gives a class table, in the front end's words (:data:`LABELS_HOW`).
        self.labels_how = labels_how or LABELS_HOW
        self.names: tuple[str, ...] | None = None
        self._by_id: dict[int, int] = {}
        self._by_colour: dict[int, int] = {}
        #: Black pixels read as unlabelled, by mask file (see the class's docstring).
        self.black_unlabelled: dict[Path, int] = {}
        self._black: int | None = None
        if table is None:
            return
        own = {name_key(n) for n in project_classes}
        names: list[str] = []
        for i, (name, value) in enumerate(zip(table.names, table.ids, strict=True)):
            void = table.colours is not None and name_key(name) in VOID_NAMES
            index = VOID if void and name_key(name) not in own else len(names)
            if index != VOID:
                names.append(name)
            self._by_id[value] = index
            if table.colours is not None:
                key = int(_keys(np.array(table.colours[i], np.uint8)))
                self._by_colour[key] = AMBIGUOUS if key in self._by_colour else index
        if table.zero_is_void and 0 not in self._by_id:
            self._by_id[0] = VOID
        for value in table.void_ids:  # an id list's '255 void' line
            self._by_id.setdefault(value, VOID)
        for colour in void_colours if table.colours is not None else ():
            self._by_colour.setdefault(int(_keys(np.array(colour, np.uint8))), VOID)
        if table.kind == CAMVID_KIND and _BLACK not in (table.colours or ()):
            self._black = int(_keys(np.array(_BLACK, np.uint8)))
            self._by_colour[self._black] = UNLABELLED
        self.names = tuple(names)

    @property
    def has_colours(self) -> bool:
        """Whether the table gives colours (colour-coded masks are read by them)."""
        return bool(self._by_colour)

    @property
    def source(self) -> str:
        return self.table.path.name if self.table is not None else "the class list"

    def from_ids(self, raw: np.ndarray, where: Path, reserved: dict[int, int]) -> np.ndarray:
        """Class-id pixels (grey or palette indices) as labels (``int32``); ``reserved``:
        values read as void or unlabelled where the table lists no class for them."""
        mask = raw.astype(np.int32)
        if self.names is None:
            for value, marker in reserved.items():
                mask[raw == value] = marker
            return mask
        top = int(raw.max()) if raw.size else 0
        lut = np.full(top + 1, UNKNOWN, np.int32)
        for value, marker in reserved.items():
            if value <= top:
                lut[value] = marker
        for value, index in self._by_id.items():
            if value <= top:
                lut[value] = index
        mask = lut[raw]
        bad = np.unique(raw[mask == UNKNOWN])
        if bad.size:
            raise FormatError(
                f"{where}: values {bad[:5].tolist()} are not ids of the "
                f"{len(self.names)} classes in {self.source}"
            )
        return mask

    def from_colours(self, rgb: np.ndarray, where: Path) -> np.ndarray:
        """An ``(h, w, 3)`` colour-coded mask as labels, by exact colour."""
        self._need_colours(where, "an RGB colour-coded mask")
        keys, inverse = np.unique(_keys(rgb.reshape(-1, 3)), return_inverse=True)
        values = self._lookup(keys)
        self._check(values, keys, np.bincount(inverse.reshape(-1), minlength=len(keys)), where)
        return values[inverse.reshape(-1)].reshape(rgb.shape[:2])

    def from_palette(
        self, indices: np.ndarray, palette: np.ndarray, where: Path, reserved: dict[int, int]
    ) -> np.ndarray:
        """A palette PNG as labels: by its colours when the table gives colours; else its
        indices as ids, only when the palette says they are (VOC's colour map, as VOC,
        labelme2voc and Annotator write, or grey), since an optimiser or quantiser
        storing a colour-coded mask makes the index the order of the colours."""
        counts = np.bincount(indices.reshape(-1), minlength=256)
        used = np.flatnonzero(counts)
        if self._by_colour:
            missing = used[used >= len(palette)]
            if missing.size:
                raise FormatError(f"{where}: palette index {int(missing[0])} has no colour")
            keys = _keys(palette)
            values = self._lookup(keys)
            self._check(values, keys, counts[: len(palette)], where)
            return values[indices]
        coloured = used[used < len(palette)]
        is_voc = np.array_equal(palette[coloured], _VOC[coloured])
        is_grey = np.array_equal(palette[coloured], np.repeat(coloured[:, None], 3, 1))
        if not (is_voc or is_grey):
            self._need_colours(where, "a palette PNG whose colours are not VOC's colour map")
        return self.from_ids(indices, where, reserved)

    def _need_colours(self, where: Path, what: str) -> None:
        if self._by_colour:
            return
        given = (
            f"{self.table.path.name} gives no colours"
            if self.table is not None
            else "no table of its colours was found"
        )
        fix = (  # (the CLI's words as decode_mask_png's; the GUI's Class names file)
            "give the table of its colours with --labels FILE"
            if self.labels_how == LABELS_HOW
            else f"{self.labels_how} holding its colours"
        )
        fix += " (CVAT labelmap.txt, CamVid label_colors.txt or class_dict.csv)"
        if "palette" in what:
            fix += ", or save the mask as a grey class-id PNG"
        raise FormatError(f"{where}: {what}, and {given}: {fix}")

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        known = np.array(sorted(self._by_colour), np.int64)
        value = np.array([self._by_colour[k] for k in sorted(self._by_colour)], np.int32)
        at = np.searchsorted(known, keys).clip(0, len(known) - 1)
        return np.where(known[at] == keys, value[at], UNKNOWN).astype(np.int32)

    def _check(self, values: np.ndarray, keys: np.ndarray, counts: np.ndarray, where: Path) -> None:
        """Refuse colours (present on ``counts`` pixels) that read as no one class; count
        the black ones read as unlabelled (:attr:`black_unlabelled`)."""
        if self._black is not None:
            black = np.flatnonzero((keys[: len(counts)] == self._black) & (counts > 0))
            if black.size:
                self.black_unlabelled[where] = int(counts[black].sum())
        for marker, what in ((UNKNOWN, "not in"), (AMBIGUOUS, "listed for several classes in")):
            bad = np.flatnonzero((values[: len(counts)] == marker) & (counts > 0))
            if bad.size:
                worst = bad[np.argsort(-counts[bad], kind="stable")]
                more = f" (and {bad.size - 1} more colour(s))" if bad.size > 1 else ""
                raise FormatError(
                    f"{where}: colour {_colour_of(int(keys[worst[0]]))} on "
                    f"{int(counts[worst[0]])} pixel(s) is {what} {self.source}{more}; "
                    "add it to the table or correct the mask"
                )
