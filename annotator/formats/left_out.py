"""Objects of an imported dataset that cannot be drawn, left out one by one.

Annotation tools write degenerate objects (CVAT a polygon of two points, a zero-area
object; a script RLE whose counts do not add up, a shape type this reader does not
know): such an object is left out, named with its reason in one line of the import's
summary, and the rest of its image and of the source is imported. The source's own
structure (not a file of the format, an id twice, an image or category named and
missing) is still refused whole by the readers.

A source none of whose objects can be drawn is refused: its writer and this reader
disagree about the format, and importing its images with no label (adding hundreds to
the project to label again) would look like a success.

Where the pixels no object covers would become a background class, an image with an
object left out keeps them unlabelled instead: the object left out may lie there, and
making it background would be a wrong label, not a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from annotator.core.errors import FormatError

#: How many of the objects left out the summary line and the refusal name.
NAMED = 3


@dataclass(frozen=True)
class LeftOutObject:
    """One object left out: the file or image it is in, how the source names it
    (``annotation id 7``, ``shapes[3]``, ``line 4``) and why it cannot be drawn."""

    image: str
    name: str
    why: str

    def __str__(self) -> str:
        return f"{self.name} of {self.image} ({self.why})"


@dataclass
class ObjectsLeftOut:
    """The objects of a source read so far: how many were drawn, and those left out."""

    drawn: int = 0
    objects: list[LeftOutObject] = field(default_factory=list)
    #: The images whose pixels no object covers stayed unlabelled instead of becoming
    #: the background class (``background``), because an object of theirs was left out.
    kept_unlabelled: set[str] = field(default_factory=set)
    background: str | None = None

    def leave_out(self, image: str, name: str, exc: FormatError, where: str) -> None:
        """Record the object ``name`` of ``image`` as left out for ``exc``, whose message
        begins with ``where`` (the file and object, said here by name instead)."""
        why = str(exc)
        if why.startswith(where):
            why = why[len(where) :].lstrip(".: ") or why
        self.objects.append(LeftOutObject(image, name, why))

    def keep_unlabelled(self, image: str, background: str) -> None:
        """Record that the pixels no object of ``image`` covers stayed unlabelled instead
        of becoming ``background``, an object of ``image`` having been left out."""
        self.kept_unlabelled.add(image)
        self.background = background

    def extend(self, other: ObjectsLeftOut) -> None:
        self.drawn += other.drawn
        self.objects += other.objects
        self.kept_unlabelled |= other.kept_unlabelled
        self.background = other.background or self.background

    def _named(self) -> str:
        more = len(self.objects) - NAMED
        named = "; ".join(str(o) for o in self.objects[:NAMED])
        return named + (f"; and {more} more" if more > 0 else "")

    def note(self) -> str | None:
        """The summary's line on the objects left out (None: none was)."""
        if not self.objects:
            return None
        images = len({o.image for o in self.objects})
        kept = ""
        if self.kept_unlabelled:
            bg, n = self.background, len(self.kept_unlabelled)
            kept = (
                f" and whose pixels no object covers stay unlabelled, not {bg!r} (an object "
                "left out may lie there)"
                if n == images
                else f" ({n} of them keep the pixels no object covers unlabelled, not {bg!r}: "
                "an object left out may lie there)"
            )
        return (
            f"left out {len(self.objects)} object(s) that cannot be drawn, on {images} "
            f"image(s), whose other objects were imported{kept}: {self._named()}"
        )

    def check_some_drawn(self, source: object) -> None:
        """Refuse ``source`` when it has objects and none of them could be drawn."""
        if self.objects and not self.drawn:
            raise FormatError(
                f"{source}: none of its {len(self.objects)} object(s) can be drawn, so "
                f"nothing was imported from it: {self._named()}; correct them in the tool "
                "that wrote it, or check that it is the format chosen"
            )
