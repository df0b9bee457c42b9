"""The label schema: which classes exist, their names and colours.

Label maps store one integer per pixel. Class ids are ``0 .. n-1`` in the order the
user gave them. Two more values are reserved at the top of the label dtype:

* ``unlabelled``: nobody has said anything about this pixel yet. It never counts as a
  class: it does not train the model and it is not exported as a class.
* ``void``: the user said "ignore this pixel" (ambiguous border, artefact). It does not
  train the model either, and exports as the ignore value (255 in VOC).

With up to :data:`MAX_CLASSES_8BIT` classes a label map is ``uint8`` (so the GUI can show
it as an Indexed8 image with no copy); with more it is ``uint16``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from annotator.core.errors import SchemaError
from annotator.core.folders import printable
from annotator.resources import read_json

MAX_CLASSES_8BIT = 254
#: The embedded networks write class ids in 8 bits too (proposals, ONNX outputs).
MAX_TRAINABLE_CLASSES = MAX_CLASSES_8BIT


def untrainable(n_classes: int) -> str | None:
    """Why a project of ``n_classes`` cannot train the embedded model, or ``None``."""
    if n_classes <= MAX_TRAINABLE_CLASSES:
        return None
    return (
        f"the embedded model trains on at most {MAX_TRAINABLE_CLASSES} classes and this "
        f"project has {n_classes}: it can be labelled, imported and exported, not trained"
    )


MAX_CLASSES = 65534

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


# A palette of clearly distinct colours; class i < len gets PALETTE[i]. The list is
# resources/palette.json, so the desktop icon, docs and code share one source.
def _load_palette() -> tuple[str, ...]:
    colors = read_json("palette.json").get("colors")
    if not isinstance(colors, list) or not colors or not all(_HEX.match(str(c)) for c in colors):
        raise SchemaError("resources/palette.json: 'colors' must be a list of #rrggbb")
    return tuple(colors)


PALETTE: tuple[str, ...] = _load_palette()


def default_color(class_id: int) -> str:
    """The colour given to a new class with this id: the palette's, then (a project of
    more classes than it has) :func:`more_colours` in turn."""
    if class_id < len(PALETTE):
        return PALETTE[class_id]
    extra = more_colours()
    return extra[(class_id - len(PALETTE)) % len(extra)]


@functools.cache
def more_colours() -> tuple[str, ...]:
    """Colours past the palette, each as far as can be from every colour before it.

    The palette repeating made classes 0, 20 and 40 of a 60-class project the same blue.
    Candidates are a grid of hue (every 7.5 degrees), saturation and brightness; each
    next colour is the candidate farthest, in CIELAB (distance as the eye judges it),
    from the palette and the colours already chosen. Computed once (a few ms)."""
    import cv2

    hues = np.arange(0, 180, 3.75)  # OpenCV's hue is 0..180
    grid = np.array(
        [(h, s, v) for h in hues for s in (115, 180, 242) for v in (140, 200, 255)], np.float32
    )
    rgb = cv2.cvtColor(grid.reshape(1, -1, 3).astype(np.uint8), cv2.COLOR_HSV2RGB)[0]
    lab = cv2.cvtColor(rgb.reshape(1, -1, 3), cv2.COLOR_RGB2LAB)[0].astype(np.float32)
    taken = np.array([hex_to_rgb(c) for c in PALETTE], np.uint8).reshape(1, -1, 3)
    taken_lab = cv2.cvtColor(taken, cv2.COLOR_RGB2LAB)[0].astype(np.float32)
    nearest = np.min(np.linalg.norm(lab[:, None] - taken_lab[None], axis=2), axis=1)
    order: list[int] = []
    for _ in range(len(lab)):
        pick = int(np.argmax(nearest))
        order.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(lab - lab[pick], axis=1))
        nearest[order] = -1.0
    return tuple("#{:02x}{:02x}{:02x}".format(*map(int, rgb[i])) for i in order)


#: Colours whose channels all lie this close look the same on an image.
ALIKE_CHANNELS = 24


def hex_to_rgb(color: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> ``(r, g, b)``."""
    if not _HEX.match(color):
        raise SchemaError(f"invalid colour {color!r}: expected #rrggbb")
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@dataclass(frozen=True)
class LabelClass:
    """One class of the schema."""

    id: int
    name: str
    color: str

    @property
    def rgb(self) -> tuple[int, int, int]:
        return hex_to_rgb(self.color)


# Characters a class name may not hold: control characters (NUL, ESC, CR, tab, newline,
# DEL, C1...) and the Unicode line and paragraph separators. Names are printed on one
# line, written to labels.txt one per line and shown in the GUI; these would break all three.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})
# Invisible characters that make a name look like another ('cell' and 'cell' with a
# zero-width space after it) or show it reversed (a bidi override). The joiners some
# scripts and emoji need (U+200C, U+200D) stay allowed inside a name.
_INVISIBLE = frozenset(
    {0x00AD, 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF}
    | set(range(0x202A, 0x202F))
    | set(range(0x2066, 0x206A))
)


#: Longer class names are refused: they are shown in one row of the class list and legends.
MAX_NAME_LENGTH = 200

#: Interchange files (labelme's labels.txt, VOC class lists) name void pixels so; a class
#: of that name would come back from them as void, every later class shifted by one.
RESERVED_NAME = "__ignore__"


#: A class list line read as a comment (``formats.colour_table``): '#' alone or then a space.
COMMENT_LIKE = re.compile(r"^#+(\s|$)")


def name_key(name: str) -> str:
    """What two class names are compared by: the same letters in any case, and in either
    Unicode form ("é" typed as one character or as "e" and an accent look the same)."""
    return unicodedata.normalize("NFC", name.strip()).lower()


def check_name(name: str) -> str:
    """A class name as the schema keeps it (trimmed, NFC), or a one-line refusal."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise SchemaError("a class name cannot be empty")
    if any(unicodedata.category(c) == "Cs" for c in name):  # (bytes read as surrogates)
        raise SchemaError(
            f"class name '{printable(name)}' holds bytes that are not UTF-8 text (read in "
            "another encoding than it was written in: a terminal's, a file's); give it as "
            "UTF-8"
        )
    bad = next((c for c in name if unicodedata.category(c) in _FORBIDDEN_CATEGORIES), None)
    if bad is not None:
        raise SchemaError(
            f"class name {name!r} contains a control character (U+{ord(bad):04X}); "
            "use printable characters only"
        )
    hidden = [c for c in name if ord(c) in _INVISIBLE]
    ends = [c for c in (name[0], name[-1]) if unicodedata.category(c) == "Cf"]
    if hidden or ends:
        raise SchemaError(
            f"class name {name!r} holds an invisible character (U+{ord((hidden or ends)[0]):04X}) "
            "that makes it look like another name, or shows it reversed; type it without that"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise SchemaError(
            f"class name {name[:40]!r}... has {len(name)} characters; at most "
            f"{MAX_NAME_LENGTH} fit the lists, file names and legends it appears in"
        )
    if COMMENT_LIKE.match(name):
        raise SchemaError(
            f"class name {name!r} would read as a comment in the class lists exports write "
            "('#' then a space); write it without the space, or without the '#'"
        )
    if name.lower() == RESERVED_NAME:
        raise SchemaError(
            f"{RESERVED_NAME!r} is labelme's and VOC's name for ignored pixels, so it cannot "
            "name a class (use the void label for pixels to ignore)"
        )
    return name


@dataclass(frozen=True)
class LabelSchema:
    """An ordered, immutable list of classes; ids are ``0 .. n-1``."""

    classes: tuple[LabelClass, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [c.name for c in self.classes]
        seen: dict[str, str] = {}
        for n in names:
            if name_key(n) in seen:
                same = (
                    ""
                    if seen[name_key(n)] == n
                    else f" ({seen[name_key(n)]!r}: names are compared in any case)"
                )
                raise SchemaError(f"a class named {n!r} is there already{same}")
            seen[name_key(n)] = n
        for i, c in enumerate(self.classes):
            if c.id != i:
                raise SchemaError(f"class ids must be 0..n-1 in order; {c.name!r} has id {c.id}")
            hex_to_rgb(c.color)
        if len(self.classes) > MAX_CLASSES:
            raise SchemaError(f"at most {MAX_CLASSES} classes are supported")

    @classmethod
    def from_names(cls, names: list[str] | tuple[str, ...]) -> LabelSchema:
        """A schema with these class names, ids in the given order, palette colours."""
        if not names:
            raise SchemaError("a project needs at least one class")
        return cls(
            tuple(LabelClass(i, check_name(n), default_color(i)) for i, n in enumerate(names))
        )

    # --- the reserved values -------------------------------------------------------
    @property
    def dtype(self) -> np.dtype:
        """The integer type of label maps for this schema."""
        return np.dtype(np.uint8 if len(self.classes) <= MAX_CLASSES_8BIT else np.uint16)

    @property
    def unlabelled(self) -> int:
        """The value of pixels nobody has labelled yet."""
        return int(np.iinfo(self.dtype).max)

    @property
    def void(self) -> int:
        """The value of pixels the user marked as "ignore"."""
        return int(np.iinfo(self.dtype).max) - 1

    # --- lookups --------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.classes)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def by_name(self, name: str) -> LabelClass:
        """The class with this name (case-insensitive)."""
        low = name_key(name)
        for c in self.classes:
            if name_key(c.name) == low:
                return c
        raise SchemaError(f"no class named {name!r}; classes are {self.names}")

    def has_name(self, name: str) -> bool:
        low = name_key(name)
        return any(name_key(c.name) == low for c in self.classes)

    # --- edits return new schemas ---------------------------------------------------
    def with_class(self, name: str, color: str | None = None) -> LabelSchema:
        """This schema plus a new class at the end."""
        new_id = len(self.classes)
        if new_id >= MAX_CLASSES_8BIT and self.dtype == np.uint8:
            # Growing past the 8-bit range would change the meaning of stored values.
            raise SchemaError(
                f"a project of at most {MAX_CLASSES_8BIT} classes keeps its labels in 8 "
                f"bits and cannot grow past {MAX_CLASSES_8BIT}: create a project with every "
                "class it needs, and import this one's labels into it (export --format masks)"
            )
        cls = LabelClass(new_id, check_name(name), color or self._free_color(new_id))
        return LabelSchema(self.classes + (cls,))

    def _free_color(self, new_id: int) -> str:
        """The colour of a new class: its id's, unless a class wears it already (after a
        removal, ids moved down with their colours), else the first of the palette's
        and then the further colours that none wears."""
        worn = {c.color.lower() for c in self.classes}
        for k in (new_id, *range(len(PALETTE) + len(more_colours()))):
            if default_color(k).lower() not in worn:
                return default_color(k)
        return default_color(new_id)

    def renamed(self, class_id: int, name: str) -> LabelSchema:
        return LabelSchema(
            tuple(
                replace(c, name=check_name(name)) if c.id == class_id else c for c in self.classes
            )
        )

    def looking_alike(self, class_id: int) -> list[str]:
        """The names of the other classes whose colour cannot be told from ``class_id``'s
        on an image (every channel within :data:`ALIKE_CHANNELS`)."""
        own = hex_to_rgb(self.classes[class_id].color)
        return [
            c.name
            for c in self.classes
            if c.id != class_id
            and max(abs(x - y) for x, y in zip(hex_to_rgb(c.color), own)) <= ALIKE_CHANNELS
        ]

    def recoloured(self, class_id: int, color: str) -> LabelSchema:
        hex_to_rgb(color)
        return LabelSchema(
            tuple(replace(c, color=color) if c.id == class_id else c for c in self.classes)
        )

    def rgb_table(self) -> np.ndarray:
        """``(n, 3) uint8`` colours of the classes, in id order."""
        return np.array([c.rgb for c in self.classes], dtype=np.uint8).reshape(-1, 3)


@dataclass(frozen=True)
class ClassRename:
    """A class renamed (its id kept): model versions up to ``version`` (0: none) were
    trained when it was ``old``; their cards keep that name, scores included."""

    old: str
    new: str
    version: int


def name_now(name: str, version: int, renames: Sequence[ClassRename]) -> str:
    """The name the class model ``version`` knew as ``name`` has now: ``renames``, in the
    order they were made, followed from the first made after the version."""
    for r in renames:
        if r.version >= version and name_key(r.old) == name_key(name):
            name = r.new
    return name


@dataclass(frozen=True, eq=False)
class ClassChange:
    """A change of the class list that moves ids: one class taken out (its pixels
    unlabelled, or merged into another; every later class moves down one id), or one
    class moved to another place in the list. Names and colours stay with their class.

    ``lut`` maps each label value of ``old`` (every class id, void and unlabelled) to the
    value of ``new``: ``new_mask = lut[old_mask]``. ``sources[j]`` is the old id of the
    new class ``j``. The label type follows the class count, so a 16-bit project that
    drops to 254 classes becomes 8-bit (void and unlabelled move with it)."""

    old: LabelSchema
    new: LabelSchema
    lut: np.ndarray
    sources: tuple[int, ...]
    #: The class taken out (None: a move).
    removed: LabelClass | None = None
    #: In ``new``'s ids: the class the removed one's pixels join (None: unlabelled).
    into: LabelClass | None = None
    #: The class moved, in ``new``'s ids (None: a removal).
    moved: LabelClass | None = None

    @classmethod
    def removal(cls, old: LabelSchema, class_id: int, into: int | None = None) -> ClassChange:
        """Take class ``class_id`` out of ``old``; ``into``: the class (an id of ``old``)
        its pixels join, or ``None`` to leave them unlabelled."""
        _check_id(old, class_id)
        if len(old) == 1:
            raise SchemaError("a project needs at least one class: this is its only one")
        if into is not None:
            _check_id(old, into)
        if into == class_id:
            raise SchemaError(f"cannot merge {old.classes[class_id].name!r} into itself")
        sources = tuple(c.id for c in old.classes if c.id != class_id)
        new, lut = _remapped(old, sources)
        target = None
        if into is not None:
            target = new.classes[int(lut[into])]
            lut[class_id] = target.id
        return cls(old, new, lut, sources, removed=old.classes[class_id], into=target)

    @classmethod
    def move(cls, old: LabelSchema, class_id: int, to: int) -> ClassChange:
        """Move class ``class_id`` of ``old`` to place ``to`` (0-based) of the list; the
        classes between move one place towards where it was."""
        _check_id(old, class_id)
        if not 0 <= to < len(old):
            raise SchemaError(f"place {to + 1} is not in the list of {len(old)} classes")
        order = [c.id for c in old.classes if c.id != class_id]
        order.insert(to, class_id)
        new, lut = _remapped(old, tuple(order))
        return cls(old, new, lut, tuple(order), moved=new.classes[to])

    @property
    def subject(self) -> LabelClass:
        """The class removed or moved."""
        found = self.removed or self.moved
        assert found is not None  # made by removal() or move()
        return found

    @property
    def identity(self) -> bool:
        """Whether no id changes (a class moved to where it is)."""
        return self.removed is None and self.sources == tuple(range(len(self.old)))

    def describe(self) -> str:
        """What the change does, in a few words."""
        if self.moved is not None:
            return f"moved {self.moved.name!r} to id {self.moved.id}"
        assert self.removed is not None
        if self.into is None:
            return f"removed {self.removed.name!r}"
        return f"merged {self.removed.name!r} into {self.into.name!r}"


def _check_id(schema: LabelSchema, class_id: int) -> None:
    if not 0 <= class_id < len(schema):
        raise SchemaError(f"no class with id {class_id}; classes are {schema.names}")


def _remapped(old: LabelSchema, sources: tuple[int, ...]) -> tuple[LabelSchema, np.ndarray]:
    """The schema of ``old``'s classes ``sources`` in that order, and the table from
    ``old``'s values to it (a class left out becomes unlabelled)."""
    new = LabelSchema(tuple(replace(old.classes[o], id=j) for j, o in enumerate(sources)))
    lut = np.full(old.unlabelled + 1, new.unlabelled, dtype=new.dtype)  # no class: never valid
    lut[list(sources)] = np.arange(len(sources))
    lut[old.void] = new.void
    lut[old.unlabelled] = new.unlabelled
    return new, lut
