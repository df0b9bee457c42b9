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
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

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


ARCHITECTURES: dict[str, Architecture] = {}
DEFAULT_ARCH = "unet"


def register(arch: Architecture) -> Architecture:
    """Add an architecture to the registry (names are unique)."""
    if arch.name in ARCHITECTURES:
        raise ValueError(f"architecture {arch.name!r} is registered twice")
    ARCHITECTURES[arch.name] = arch
    return arch


register(
    Architecture(
        "unet",
        "annotator.ml.unet",
        "UNet",
        "U-Net: encoder-decoder with concatenated skips and a symmetric decoder",
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

    def __post_init__(self) -> None:
        architecture(self.arch)  # raises on an unknown name
        if self.in_channels not in (1, 3):
            raise ModelError(f"in_channels must be 1 or 3, not {self.in_channels}")
        if self.n_classes < 1:
            raise ModelError("a model needs at least one class")
        if not 1 <= self.depth <= 7:
            raise ModelError(f"depth must be between 1 and 7, not {self.depth}")
        if self.width < 1 or self.growth < 1:
            raise ModelError("width and growth must be positive")

    @property
    def multiple(self) -> int:
        """Input sizes must be a multiple of this (the forward pass pads to it)."""
        return 2**self.depth

    def channels(self) -> list[int]:
        """Channels of each level, from the input resolution down to the deepest one."""
        return [int(round(self.width * self.growth**i)) for i in range(self.depth + 1)]

    def with_classes(self, n_classes: int) -> NetworkConfig:
        """The same architecture with another number of output classes."""
        return replace(self, n_classes=n_classes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the card's ``architecture``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        """Build from a card dict; unknown keys are an error (a newer card format).

        Cards written before there was a choice of architecture have no ``arch``: they are
        U-Nets.
        """
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ModelError(f"unknown network settings in the model card: {sorted(extra)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ModelError(f"invalid network settings in the model card: {exc}") from None


def build_network(config: NetworkConfig) -> nn.Module:
    """Build the (randomly initialised) network ``config`` describes."""
    arch = architecture(config.arch)
    cls = getattr(importlib.import_module(arch.module), arch.class_name)
    model: nn.Module = cls(config)
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
