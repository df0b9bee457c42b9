"""The U-Net: an encoder-decoder with skip connections by concatenation.

``UNetConfig`` is plain data (it goes into the model card as JSON); ``UNet(config)``
builds the network. Any input size works: the forward pass pads the input up to a
multiple of ``2 ** depth`` (reflect where possible) and crops the output back, so the
caller never has to care. Callers that already pad (the tiled predictor, the ONNX
export) pass aligned tensors and the padding is a no-op.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from annotator.core.errors import ModelError


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of a U-Net; stored in every model card."""

    in_channels: int = 1
    n_classes: int = 2
    depth: int = 4
    width: int = 16
    #: Width multiplier per level: level ``i`` has ``width * growth**i`` channels.
    growth: float = 2.0

    def __post_init__(self) -> None:
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
        """Channels of each level, from the input resolution down to the bottleneck."""
        return [int(round(self.width * self.growth**i)) for i in range(self.depth + 1)]

    def with_classes(self, n_classes: int) -> UNetConfig:
        """The same architecture with another number of output classes."""
        return replace(self, n_classes=n_classes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the card's ``architecture``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UNetConfig:
        """Build from a card dict; unknown keys are an error (a newer card format)."""
        known = {f.name for f in fields(cls)}
        extra = set(data) - known
        if extra:
            raise ModelError(f"unknown network settings in the model card: {sorted(extra)}")
        return cls(**data)


class _DoubleConv(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net returning per-class logits ``(N, n_classes, H, W)`` for ``(N, C, H, W)`` input."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        ch = config.channels()
        self.encoders = nn.ModuleList()
        cin = config.in_channels
        for c in ch[:-1]:
            self.encoders.append(_DoubleConv(cin, c))
            cin = c
        self.bottleneck = _DoubleConv(ch[-2], ch[-1])
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(config.depth - 1, -1, -1):
            # Transposed convolution halves the channels while doubling the size; the
            # skip connection is concatenated, then a double conv mixes the two.
            self.ups.append(nn.ConvTranspose2d(ch[level + 1], ch[level], 2, stride=2))
            self.decoders.append(_DoubleConv(2 * ch[level], ch[level]))
        self.head = nn.Conv2d(ch[0], config.n_classes, 1)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the same height and width as ``x`` (padded inside, cropped back)."""
        h, w = int(x.shape[-2]), int(x.shape[-1])
        m = self.config.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            # Reflect needs the padding to be smaller than the size; tiny inputs replicate.
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        x = self.head(x)
        if ph or pw:
            x = x[..., :h, :w]
        return x


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
