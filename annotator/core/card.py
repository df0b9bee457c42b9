"""The model card: what a model version is, typed, and its one JSON form.

Every published model version carries a card (``models/vNNNN/card.json``, the same JSON
inside the checkpoint and in the project database): the architecture, the classes, its
parent version, the images it saw, how it trained and how well it did. Every layer reads
a card through :class:`ModelCard`; the JSON dict exists only at the edges
(:meth:`ModelCard.to_json` / :meth:`ModelCard.from_json`).

The on-disk layout is the one cards have had since the first version (``"format":
"annotator-unet/1"``, nested ``training``/``images``/``metrics`` objects) plus a
``card_format`` number; a card without it is format 1. Reading is tolerant of older cards
(missing sections take empty defaults; an ``architecture`` without ``arch`` is a U-Net)
and strict about types: a damaged card raises one :class:`ModelError` line naming the
problem.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from annotator.core.errors import ModelError
from annotator.core.schema import name_key

#: Version of the card layout (bump it, and migrate in :meth:`ModelCard.from_json`, when
#: the layout changes).
CARD_FORMAT = 1
#: The checkpoint format a card is written with (kept as the card's ``format`` key).
CHECKPOINT_FORMAT = "annotator-unet/1"
#: Architecture of cards written before there was a choice (they were all U-Nets).
LEGACY_ARCH = "unet"
#: Input normalisation of cards written before it was recorded in their ``architecture``:
#: one 0.5-99.5 percentile window over the first three channels (ADR 0027).
LEGACY_NORMALISATION = "pooled"
#: A round's validation is a score of its model only over at least this many labelled
#: pixels of at least :data:`MIN_SCORED_CLASSES` classes. Fewer pixels than one dab of the
#: default brush (radius 8, about 200 px) are one click's worth of labels, neighbours of
#: each other, and one wrong pixel in fewer would move the accuracy by more than half
#: the 0.01 the panel shows. With one class, a model that paints that class everywhere
#: scores 1.0: nothing tells it apart from a good one.
MIN_SCORED_PIXELS = 200
MIN_SCORED_CLASSES = 2

T = TypeVar("T")


def not_scored_reason(pixels: int, classes: int) -> str | None:
    """Why validation over ``pixels`` labelled pixels of ``classes`` classes is no score of
    the model (``None``: it is one); see :data:`MIN_SCORED_PIXELS`."""
    if pixels >= MIN_SCORED_PIXELS and classes >= MIN_SCORED_CLASSES:
        return None
    return (
        f"too few validation labels ({pixels:,} pixel{'' if pixels == 1 else 's'} of "
        f"{classes} class{'' if classes == 1 else 'es'})"
    )


def iou_text(
    mean_iou: float, scored: int, classes: int, digits: int = 2, name: str = "mIoU"
) -> str:
    """``mIoU 0.85``, or ``mIoU 0.85 over 2 of 3 classes`` when some classes had no IoU
    (no validation labels, and not predicted there either)."""
    text = f"{name} {mean_iou:.{digits}f}"
    return text if scored >= classes else f"{text} over {scored} of {classes} classes"


class _Reader:
    """Typed access to one JSON object of a card, with one-line errors naming the key."""

    def __init__(self, data: object, where: str, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ModelError(f"{where}: {path or 'the card'} is not a JSON object")
        self.data: Mapping[str, Any] = data
        self.where = where
        self.path = path

    def _fail(self, key: str, wanted: str) -> ModelError:
        name = f"{self.path}.{key}" if self.path else key
        return ModelError(
            f"{self.where}: card field {name!r} must be {wanted}, not {self.data.get(key)!r}"
        )

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get_int(
        self, key: str, default: int | None = None, *, required: bool = False
    ) -> int | None:
        value = self.data.get(key)
        if value is None:
            if required:
                raise ModelError(f"{self.where}: the card has no {key!r}")
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer")
        return value

    def get_num(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, "a number")
        return float(value)

    def get_str(self, key: str, default: str = "") -> str:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def get_bool(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def get_obj(self, key: str) -> _Reader:
        value = self.data.get(key)
        return _Reader({} if value is None else value, self.where, self._sub(key))

    def get_list(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        return value

    def _sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key


@dataclass(frozen=True)
class ImageRef:
    """An image a model version used: its project id and name at the time."""

    id: int
    name: str


@dataclass(frozen=True)
class CardMetrics:
    """Final training loss and, when pixels were held out, validation scores."""

    loss: float | None = None
    pixel_accuracy: float | None = None
    mean_iou: float | None = None
    #: IoU per class name (``None``: the class was in neither truth nor prediction).
    iou: Mapping[str, float | None] = field(default_factory=dict)
    #: Validation pixels; ``None`` when nothing was held out (then only ``loss`` is set).
    val_pixels: int | None = None
    #: Validation pixels of each class name (empty on cards made before it was recorded).
    class_pixels: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "model card") -> CardMetrics:
        """The metrics of a card's ``metrics`` object (as :meth:`ModelCard.to_dict` writes)."""
        return _metrics(_Reader(data, where, "metrics"))

    @property
    def validated(self) -> bool:
        return self.val_pixels is not None

    @property
    def labelled_classes(self) -> int:
        """How many classes had validation labels. Cards made before ``class_pixels``
        was recorded count the classes with an IoU (also those the model painted where
        they had no labels: a count as high or higher)."""
        if self.class_pixels:
            return sum(1 for n in self.class_pixels.values() if n > 0)
        return sum(1 for v in self.iou.values() if v is not None)

    @property
    def not_scored(self) -> str | None:
        """Why the validation figures are no score of the model (too few labels held
        out, :func:`not_scored_reason`); ``None`` when they are, or nothing was held out."""
        if self.val_pixels is None:
            return None
        return not_scored_reason(self.val_pixels, self.labelled_classes)

    @property
    def iou_classes(self) -> int:
        """How many classes the mean IoU is over (those with an IoU)."""
        return sum(1 for v in self.iou.values() if v is not None)

    def score_text(self, digits: int = 2, name: str = "mIoU") -> str | None:
        """The version's score in words: ``mIoU 0.85`` (``over 2 of 3 classes`` when
        not every class was scored), ``not scored: too few validation labels (...)``,
        or ``None`` without validation figures."""
        if (why := self.not_scored) is not None:
            return f"not scored: {why}"
        if self.mean_iou is None:
            return None
        classes = len(self.iou)
        return iou_text(self.mean_iou, self.iou_classes, classes, digits, name)


@dataclass(frozen=True)
class CardTraining:
    """How the round that made the version ran."""

    steps: int | None = None
    seconds: float | None = None
    budget_steps: int | None = None
    budget_seconds: float | None = None
    from_scratch: bool = True
    device: str = ""
    world_size: int = 1
    #: The training configuration as JSON (``ml.train.TrainConfig`` fields).
    config: Mapping[str, Any] = field(default_factory=dict)
    #: The round's cross-entropy class weights, in class order (``None``: unweighted);
    #: proposals divide them out (ADR 0012).
    class_weights: tuple[float, ...] | None = None
    #: A round the app kept going on the images marked done while the user labelled
    #: (Keeping On, ADR 0033), not one asked for: such versions make way first when old
    #: versions' files are removed (ADR 0019).
    kept_on: bool = False


@dataclass(frozen=True)
class ModelCard:
    """A model version's card; build it with the constructor or :meth:`from_json`."""

    version: int
    #: The network configuration as JSON (``ml.networks.NetworkConfig.to_dict()``; read it
    #: back with ``NetworkConfig.from_dict(card.architecture)``).
    architecture: Mapping[str, Any]
    classes: tuple[str, ...]
    parent: int | None = None
    created_at: str = ""
    parameters: int | None = None
    input_channels: int | None = None
    normalisation: str = ""
    training: CardTraining = field(default_factory=CardTraining)
    train_images: tuple[ImageRef, ...] = ()
    validation_images: tuple[ImageRef, ...] = ()
    metrics: CardMetrics = field(default_factory=CardMetrics)
    #: File name of the ONNX export in the version folder, if there is one.
    onnx: str | None = None
    #: Where an imported version came from (a file, and its version where it was trained);
    #: ``None`` for a version trained in this project.
    imported_from: str | None = None
    #: The SHA-1 of the model file an imported version was read from (``None`` for a
    #: version trained or adapted in this project, and for imports made before it was
    #: recorded): importing the same file again finds it.
    imported_sha1: str | None = None
    #: How a version made from its parent without training changed it (a class taken
    #: out of the project); ``None`` for a trained or imported version.
    adapted: str | None = None
    format: str = CHECKPOINT_FORMAT
    card_format: int = CARD_FORMAT
    #: Keys this version of the app does not know (kept so a round trip loses nothing).
    extra: Mapping[str, Any] = field(default_factory=dict)

    # --- what readers ask -----------------------------------------------------------------
    @property
    def arch(self) -> str:
        """The architecture's registry name (``unet`` for cards older than the choice)."""
        value = self.architecture.get("arch")
        return value if isinstance(value, str) and value else LEGACY_ARCH

    @property
    def input_normalisation(self) -> str:
        """The rule the network's input is normalised by (``ml.networks.NORMALISATIONS``;
        ``pooled`` for cards older than the per-channel rule)."""
        value = self.architecture.get("normalisation")
        return value if isinstance(value, str) and value else LEGACY_NORMALISATION

    @property
    def channel_choice(self) -> tuple[int, ...]:
        """The picture's channels the network takes (``core.channels``, 0-based; ``()``:
        the first three, as every card made before the choice, or one not readable)."""
        from annotator.core.channels import check

        try:
            return check(self.architecture.get("channel_choice") or ())
        except (TypeError, ValueError):
            return ()

    @property
    def class_names(self) -> list[str]:
        """The classes the model was trained for, in id order."""
        return list(self.classes)

    @property
    def kept_on(self) -> bool:
        """Whether a round kept going while the user labelled (ADR 0033) made this version
        here: not one adapted to a class change, nor one imported (its card keeps the
        training of the project it was made in)."""
        return self.training.kept_on and not self.adapted and not self.imported_from

    @property
    def mean_iou(self) -> float | None:
        """The validation mean IoU; ``None`` when there is none or it is no score of the
        model (``metrics.not_scored`` says why)."""
        return None if self.metrics.not_scored else self.metrics.mean_iou

    @property
    def pixel_accuracy(self) -> float | None:
        """The validation pixel accuracy; ``None`` as for :attr:`mean_iou`."""
        return None if self.metrics.not_scored else self.metrics.pixel_accuracy

    def iou(self, class_name: str) -> float | None:
        """Validation IoU of one class, ``None`` when unknown."""
        return self.metrics.iou.get(class_name)

    def with_onnx(self, name: str | None) -> ModelCard:
        """The same card saying whether (and under which name) an ONNX export exists."""
        return replace(self, onnx=name)

    # --- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The card as a JSON-able dict, in the on-disk layout."""
        m = self.metrics
        metrics: dict[str, Any] = {} if m.loss is None else {"loss": m.loss}
        if m.validated:
            metrics.update(
                pixel_accuracy=m.pixel_accuracy,
                mean_iou=m.mean_iou,
                iou=dict(m.iou),
                val_pixels=m.val_pixels,
            )
            if m.class_pixels:
                metrics["class_pixels"] = dict(m.class_pixels)
            if (why := m.not_scored) is not None:  # (written for readers; read, it is derived)
                metrics["not_scored"] = why
        t = self.training
        data: dict[str, Any] = {
            **self.extra,
            "format": self.format,
            "card_format": self.card_format,
            "version": self.version,
            "parent": self.parent,
            "created_at": self.created_at,
            "architecture": dict(self.architecture),
            "parameters": self.parameters,
            "classes": list(self.classes),
            "input": {"channels": self.input_channels, "normalisation": self.normalisation},
            "training": {
                "steps": t.steps,
                "seconds": t.seconds,
                "budget": {"steps": t.budget_steps, "seconds": t.budget_seconds},
                "from_scratch": t.from_scratch,
                "device": t.device,
                "world_size": t.world_size,
                "config": dict(t.config),
                **(
                    {}
                    if t.class_weights is None
                    else {"class_weights": [float(w) for w in t.class_weights]}
                ),
                **({"kept_on": True} if t.kept_on else {}),
            },
            "images": {
                "train": [{"id": r.id, "name": r.name} for r in self.train_images],
                "validation": [{"id": r.id, "name": r.name} for r in self.validation_images],
            },
            "metrics": metrics,
        }
        if self.onnx is not None:
            data["onnx"] = self.onnx
        if self.imported_from is not None:
            data["imported_from"] = self.imported_from
        if self.imported_sha1 is not None:
            data["imported_sha1"] = self.imported_sha1
        if self.adapted is not None:
            data["adapted"] = self.adapted
        return data

    def to_json(self) -> str:
        """The card as indented JSON text (``card.json``, the checkpoint, the database)."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(
        cls, data: str | bytes | Mapping[str, Any], where: str = "model card"
    ) -> ModelCard:
        """Read a card from JSON text or an already parsed dict.

        ``where`` names the source (a file, a version) in the one-line :class:`ModelError`
        raised for a damaged card.
        """
        if isinstance(data, str | bytes):
            try:
                data = json.loads(data)
            except (ValueError, RecursionError) as exc:  # also too deep, or huge integers
                why = str(exc)[:80] or type(exc).__name__
                raise ModelError(f"{where}: the model card is not valid JSON ({why})") from None
        r = _Reader(data, where, "")
        card_format = r.get_int("card_format", 1) or 1
        if card_format > CARD_FORMAT:
            raise ModelError(
                f"{where}: card format {card_format} is newer than this Annotator "
                f"reads ({CARD_FORMAT}); update Annotator"
            )
        return cls(
            version=r.get_int("version", required=True) or 0,
            architecture=_architecture(r),
            classes=_classes(r),
            parent=r.get_int("parent"),
            created_at=r.get_str("created_at"),
            parameters=r.get_int("parameters"),
            input_channels=r.get_obj("input").get_int("channels"),
            normalisation=r.get_obj("input").get_str("normalisation"),
            training=_training(r.get_obj("training")),
            train_images=_image_refs(r.get_obj("images"), "train"),
            validation_images=_image_refs(r.get_obj("images"), "validation"),
            metrics=_metrics(r.get_obj("metrics")),
            onnx=r.get_str("onnx") or None,
            imported_from=r.get_str("imported_from") or None,
            imported_sha1=r.get_str("imported_sha1") or None,
            adapted=r.get_str("adapted") or None,
            format=r.get_str("format", CHECKPOINT_FORMAT),
            card_format=CARD_FORMAT,
            extra={k: v for k, v in r.data.items() if k not in _KNOWN},
        )


_KNOWN = frozenset(
    [
        "format",
        "card_format",
        "version",
        "parent",
        "created_at",
        "architecture",
        "parameters",
        "classes",
        "input",
        "training",
        "images",
        "metrics",
        "onnx",
        "imported_from",
        "imported_sha1",
        "adapted",
    ]
)


def classes_fit(
    model: Sequence[str], project: Sequence[str], *, allow_new_classes: bool = True
) -> bool:
    """Whether a model trained for the classes ``model`` fits a project with ``project``:
    the same names in the same order (any case), or, with ``allow_new_classes``, the first
    of them (the next round learns the others)."""
    have = [name_key(n) for n in model]
    want = [name_key(n) for n in project]
    if allow_new_classes and len(have) < len(want):
        want = want[: len(have)]
    return have == want


def classes_refused(
    model: Sequence[str], project: Sequence[str], where: str, project_word: str | None = None
) -> str:
    """Why a model trained for the classes ``model`` cannot serve a project with
    ``project`` (see :func:`classes_fit`): one line, saying what to do; ``project_word``:
    the project as the command to copy names it (quoted for a shell)."""
    command = "annotator train" + (f" {project_word}" if project_word else "")
    return (
        f"{where}: the model was trained for classes ({', '.join(model)}) other than the "
        f"project's ({', '.join(project)}); train a new model from scratch "
        f"(`{command} --from-scratch`, or Model > Train from scratch in the app)"
    )


def _architecture(r: _Reader) -> dict[str, Any]:
    if not r.has("architecture"):
        raise ModelError(f"{r.where}: the card has no 'architecture'")
    return dict(r.get_obj("architecture").data)


def _classes(r: _Reader) -> tuple[str, ...]:
    if not r.has("classes"):
        raise ModelError(f"{r.where}: the card has no 'classes'")
    names = r.get_list("classes")
    if not all(isinstance(n, str) for n in names):
        raise ModelError(f"{r.where}: card field 'classes' must be a list of names")
    return tuple(names)


def _training(r: _Reader) -> CardTraining:
    budget = r.get_obj("budget")
    return CardTraining(
        steps=r.get_int("steps"),
        seconds=r.get_num("seconds"),
        budget_steps=budget.get_int("steps"),
        budget_seconds=budget.get_num("seconds"),
        from_scratch=r.get_bool("from_scratch", True),
        device=r.get_str("device"),
        world_size=r.get_int("world_size", 1) or 1,
        config=dict(r.get_obj("config").data),
        class_weights=_class_weights(r),
        kept_on=r.get_bool("kept_on", False),
    )


def _class_weights(r: _Reader) -> tuple[float, ...] | None:
    if r.data.get("class_weights") is None:
        return None
    values = r.get_list("class_weights")
    ok = all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
        for v in values
    )
    if not values or not ok:
        raise r._fail("class_weights", "a list of positive numbers")
    return tuple(float(v) for v in values)


def _image_refs(r: _Reader, key: str) -> tuple[ImageRef, ...]:
    refs = []
    for i, item in enumerate(r.get_list(key)):
        one = _Reader(item, r.where, f"{r.path}.{key}[{i}]")
        refs.append(ImageRef(one.get_int("id", required=True) or 0, one.get_str("name")))
    return tuple(refs)


def _metrics(r: _Reader) -> CardMetrics:
    iou_r = r.get_obj("iou")
    iou: dict[str, float | None] = {}
    for name in iou_r.data:
        iou[str(name)] = iou_r.get_num(name)
    pixels_r = r.get_obj("class_pixels")
    class_pixels = {str(name): pixels_r.get_int(name) or 0 for name in pixels_r.data}
    return CardMetrics(
        loss=r.get_num("loss"),
        pixel_accuracy=r.get_num("pixel_accuracy"),
        mean_iou=r.get_num("mean_iou"),
        iou=iou,
        val_pixels=r.get_int("val_pixels"),
        class_pixels=class_pixels,
    )
