"""The one place that chooses and builds a segmentation network.

``NetworkConfig`` is plain data (it goes into the model card as JSON): the architecture's
name plus the knobs every architecture understands. ``build_network(config)`` is the only
function anywhere that turns a config into a ``torch.nn.Module``.

This module does not import torch at import time: the registry holds each architecture's
module and class by name, so the CLI can list and validate ``--arch`` choices for
``annotator --help`` without loading torch.

The contract every registered network keeps (``tests/ml/test_architectures.py`` checks it
for each one):

- ``Network(config)`` builds it; ``model.config`` is that config.
- ``forward(x)`` takes ``(N, in_channels, H, W)`` float input of any ``H, W`` and returns
  logits ``(N, n_classes, H, W)``: the network pads inside to ``config.multiple`` and crops
  back, so callers never have to care. Inputs already aligned to ``multiple`` pass through
  with no padding (the tiled predictor and the ONNX export rely on that).
- ``model.head`` is the final ``nn.Conv2d`` producing the class logits: widening it is how a
  model grows when the project gains a class.
- It exports to ONNX with the TorchScript exporter at opset 17 with dynamic height and
  width (no operation whose output size depends on the input in a way ONNX cannot express).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from annotator.core.card import LEGACY_ARCH, LEGACY_NORMALISATION
from annotator.core.channels import check as check_channels
from annotator.core.errors import ModelError

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class Architecture:
    """A registered network family: where its class lives and what it is."""

    name: str
    module: str
    class_name: str
    summary: str
    #: Depth and width used when the user gives none (sized for a laptop CPU).
    default_depth: int = 4
    default_width: int = 16
    #: Poolings after which the encoder dilates instead of down-sampling (None: never).
    max_down: int | None = None
    #: Extra factor the deepest feature map must divide by (PSPNet's bins: 6).
    pool_multiple: int = 1
    #: Whether a pixel's output depends on the whole image (image pooling, pyramid
    #: pooling, very large kernels): padding then changes outputs everywhere a little.
    global_context: bool = False
    #: What it is good for and how fast, in plain words (the app's "Train from scratch"
    #: list; ``summary`` is the technical one). Speeds against fcn: seconds per training
    #: step of the default network on 4 crops of 192 px, one CPU thread (2026-12-01).
    plain: str = ""

    def multiple(self, depth: int) -> int:
        """Input sizes must be a multiple of this for a network of ``depth``."""
        downs = depth if self.max_down is None else min(depth, self.max_down)
        return int(2**downs * self.pool_multiple)


ARCHITECTURES: dict[str, Architecture] = {}
#: The architecture of a new model (ADR 0009: best mean IoU on ISBI and CamVid at 5 CPU
#: minutes, the fastest to train and to propose).
DEFAULT_ARCH = "fcn"


def register(arch: Architecture) -> Architecture:
    """Add an architecture to the registry (names are unique)."""
    if arch.name in ARCHITECTURES:
        raise ValueError(f"architecture {arch.name!r} is registered twice")
    ARCHITECTURES[arch.name] = arch
    return arch


register(
    Architecture(
        "fcn",
        "annotator.ml.archs.fcn",
        "FCN",
        "FCN-8s idea: convolutions and pooling only, scores from three depths summed",
        plain="the fastest to train and to propose; learnt best in minutes on a CPU",
    )
)
register(
    Architecture(
        "encdec",
        "annotator.ml.archs.encdec",
        "EncDec",
        "encoder-decoder with summed skips (SegNet / LinkNet style)",
        plain="light, close to fcn; trains about 1.3x slower",
    )
)
register(
    Architecture(
        "unet",
        "annotator.ml.archs.unet",
        "UNet",
        "U-Net: encoder-decoder with concatenated skips and a symmetric decoder",
        plain="the classic for microscopy; trains about 2x slower",
    )
)
register(
    Architecture(
        "deeplab",
        "annotator.ml.archs.deeplab",
        "DeepLabV3Plus",
        "DeepLabv3+: dilated residual encoder, ASPP, light decoder with a low-level skip",
        plain="sees wide context, for scenes of large regions; trains about 2x slower",
        max_down=3,
        global_context=True,
    )
)
register(
    Architecture(
        "pspnet",
        "annotator.ml.archs.pspnet",
        "PSPNet",
        "PSPNet: pyramid pooling (bins 1, 2, 3, 6) on a dilated residual encoder",
        plain="sees the whole picture at several scales; trains about 1.6x slower",
        max_down=3,
        pool_multiple=6,
        global_context=True,
    )
)
register(
    Architecture(
        "refinenet",
        "annotator.ml.archs.refinenet",
        "RefineNet",
        "light RefineNet: residual conv units, multi-resolution fusion, chained pooling",
        plain="fine borders from several scales; trains about 6x slower (for a GPU)",
    )
)
register(
    Architecture(
        "gcn",
        "annotator.ml.archs.gcn",
        "GCN",
        "global convolutional network: k x 1 + 1 x k large kernels, boundary refinement",
        plain="very large filters, for big objects; trains about 2.5x slower",
        global_context=True,
    )
)


def architecture_names() -> list[str]:
    """The registered names, in registration order (for ``--arch`` choices)."""
    return list(ARCHITECTURES)


def architecture(name: str) -> Architecture:
    """The registered architecture ``name``; a one-line error listing the choices if none."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        choices = ", ".join(ARCHITECTURES)
        raise ModelError(f"unknown architecture {name!r}; choose one of: {choices}") from None


#: How a version's input is normalised (``ml.data.fit_normalizer``): ``pooled``, one
#: 0.5-99.5 percentile window over the first three channels of a picture of more than
#: 8 bits (every version made before the rule was recorded: a card without it); or
#: ``per-channel``, a window per channel (ADR 0027), what a new model takes. A version
#: keeps its rule for ever: its network learnt what it saw.
NORMALISE_POOLED = LEGACY_NORMALISATION
NORMALISE_PER_CHANNEL = "per-channel"
NORMALISATIONS = (NORMALISE_POOLED, NORMALISE_PER_CHANNEL)


#: Depth (levels) and base width (channels of the first level) a network may have. The
#: widest networks of the literature start at 64; 256 is four times that (a U-Net of
#: depth 4 at width 256 holds about 500 M parameters), past it only memory runs out.
MAX_DEPTH, MAX_WIDTH = 7, 256


def check_size(depth: int | None, width: int | None) -> None:
    """Refuse a depth or width outside 1..:data:`MAX_DEPTH` / 1..:data:`MAX_WIDTH`."""
    if depth is not None and not 1 <= depth <= MAX_DEPTH:
        raise ModelError(f"depth must be between 1 and {MAX_DEPTH}, not {depth}")
    if width is not None and not 1 <= width <= MAX_WIDTH:
        raise ModelError(f"width must be between 1 and {MAX_WIDTH}, not {width}")


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture of a network; stored in every model card.

    ``depth`` is the number of downsampling stages and ``width`` the channels of the first
    stage; each architecture interprets them in its own way (its docstring says how).
    """

    in_channels: int = 1
    n_classes: int = 2
    depth: int = 4
    width: int = 16
    #: Width multiplier per level: level ``i`` has ``width * growth**i`` channels.
    growth: float = 2.0
    arch: str = DEFAULT_ARCH
    #: The input normalisation the network learnt (:data:`NORMALISATIONS`).
    normalisation: str = NORMALISE_PER_CHANNEL
    #: The picture channels the network takes, 0-based and in order (``core.channels``):
    #: the project's channel choice when it was made from scratch; ``()`` (every network
    #: before the choice): the first three. More than three (a wide choice): the network
    #: takes each, ``in_channels`` is their count.
    channel_choice: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        architecture(self.arch)  # raises on an unknown name
        try:
            object.__setattr__(self, "channel_choice", check_channels(self.channel_choice))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"invalid channel choice in the network settings: {exc}") from None
        if self.normalisation not in NORMALISATIONS:
            raise ModelError(
                f"unknown input normalisation {self.normalisation!r} (this Annotator knows "
                f"{', '.join(NORMALISATIONS)}): a model from a newer Annotator? update it"
            )
        chosen = len(self.channel_choice)
        if chosen > 3 and self.in_channels != chosen:  # (a wide choice: each channel)
            raise ModelError(
                f"a network of a channel choice of {chosen} channels takes {chosen} "
                f"input channels, not {self.in_channels}"
            )
        if chosen <= 3 and self.in_channels not in (1, 3):
            raise ModelError(f"in_channels must be 1 or 3, not {self.in_channels}")
        if self.n_classes < 1:
            raise ModelError("a model needs at least one class")
        check_size(self.depth, self.width)
        if self.growth < 1:
            raise ModelError(f"growth must be at least 1, not {self.growth}")

    @property
    def multiple(self) -> int:
        """Input sizes must be a multiple of this (the forward pass pads to it)."""
        return architecture(self.arch).multiple(self.depth)

    def channels(self) -> list[int]:
        """Channels of each level, from the input resolution down to the deepest one."""
        return [int(round(self.width * self.growth**i)) for i in range(self.depth + 1)]

    def with_classes(self, n_classes: int) -> NetworkConfig:
        """The same architecture with another number of output classes."""
        return replace(self, n_classes=n_classes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the card's ``architecture``); no ``channel_choice`` when
        none is made (the card of before, to the byte)."""
        data = asdict(self)
        if self.channel_choice:
            data["channel_choice"] = list(self.channel_choice)
        else:
            del data["channel_choice"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        """Build from a card dict; unknown keys are an error (a newer card format).

        Cards written before there was a choice of architecture have no ``arch``: they are
        U-Nets; those written before the input normalisation was recorded have no
        ``normalisation``: theirs was pooled.
        """
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ModelError(f"unknown network settings in the model card: {sorted(extra)}")
        try:
            return cls(**{"arch": LEGACY_ARCH, "normalisation": NORMALISE_POOLED, **data})
        except TypeError as exc:
            raise ModelError(f"invalid network settings in the model card: {exc}") from None


def build_network(config: NetworkConfig) -> nn.Module:
    """Build the (randomly initialised) network ``config`` describes."""
    arch = architecture(config.arch)
    cls = getattr(importlib.import_module(arch.module), arch.class_name)
    model: nn.Module = cls(config)
    return model


def network_of(model: object) -> NetworkConfig:
    """The configuration a network was built from (every registered network keeps it)."""
    config = getattr(model, "config", None)
    if not isinstance(config, NetworkConfig):
        raise ModelError(f"{type(model).__name__} does not carry its NetworkConfig")
    return config


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


#: Buffers added after the first checkpoints were written; older weights lack them and
#: get the network's initial (identity) values.
_OPTIONAL_BUFFERS = ("input_mean", "input_std")


def load_weights(model: nn.Module, state_dict: dict[str, Any]) -> nn.Module:
    """Load ``state_dict`` strictly into ``model``; a one-line :class:`ModelError` if it does
    not fit. Checkpoints from before the input-normalisation buffers load as identity."""
    state = dict(state_dict)
    own = model.state_dict()
    for key in _OPTIONAL_BUFFERS:
        if key not in state and key in own:
            state[key] = own[key]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        arch = getattr(getattr(model, "config", None), "arch", "?")
        raise ModelError(
            f"the weights do not fit the {arch} architecture of their card: {detail}"
        ) from None
    return model


def classifier_convs(model: nn.Module) -> list[Any]:
    """The convolutions of ``model`` whose outputs are class scores."""
    return list(model.classifiers())  # type: ignore[operator]


def widen_classes(model: nn.Module, n_classes: int) -> nn.Module:
    """The same network with ``n_classes`` outputs; the old classes keep their weights.

    New output channels start silent (see :func:`rearrange_classes`), so the widened
    model proposes exactly what it did until training teaches it the new classes.
    """
    n_old = classifier_convs(model)[0].out_channels
    if n_classes < n_old:
        raise ModelError("a model's classes can only grow")
    if n_classes == n_old:
        return model
    return rearrange_classes(model, [*range(n_old), *([None] * (n_classes - n_old))])


def rearrange_classes(model: nn.Module, outputs: Sequence[int | None]) -> nn.Module:
    """The same network whose output ``j`` is the old output ``outputs[j]`` (its weights
    copied), or a new, silent one where ``outputs[j]`` is ``None``: old outputs left out
    are dropped (a class taken out of the project), and the others keep what they learnt.

    Every classifier convolution changes alike (FCN sums several). New channels start at
    zero weight and a bias well below the old ones, so they win no pixel until trained.
    """
    import torch

    config: NetworkConfig = model.config  # type: ignore[assignment]
    old_convs = classifier_convs(model)
    n_old = old_convs[0].out_channels
    kept = [j for j in outputs if j is not None]
    if not outputs or not all(0 <= j < n_old for j in kept) or len(set(kept)) != len(kept):
        raise ModelError(f"cannot take outputs {list(outputs)} of a model of {n_old} classes")
    reshaped = build_network(config.with_classes(len(outputs)))
    new_convs = classifier_convs(reshaped)
    names = {id(m): name for name, m in model.named_modules()}
    skip = tuple(names[id(c)] + "." for c in old_convs)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith(skip)}
    missing, unexpected = reshaped.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(skip) for k in missing):
        raise ModelError("cannot change the classifier: the network's layers do not match")
    share = 4.0 / len(old_convs)
    with torch.no_grad():
        for old, new in zip(old_convs, new_convs):
            new.weight.zero_()
            if new.bias is not None and old.bias is not None:
                new.bias.fill_(float(old.bias.min()) - share)
            for j, source in enumerate(outputs):
                if source is None:
                    continue
                new.weight[j] = old.weight[source]
                if new.bias is not None and old.bias is not None:
                    new.bias[j] = old.bias[source]
    reshaped.train(model.training)
    return reshaped
