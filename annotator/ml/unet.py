"""The U-Net: an encoder-decoder with skip connections by concatenation.

``UNet(config)`` builds the network from a :class:`NetworkConfig` (``arch="unet"``).
Any input size works: the forward pass pads the input up to a multiple of ``2 ** depth``
(reflect where possible) and crops the output back, so the caller never has to care. Callers that already pad (the tiled predictor, the ONNX
export) pass aligned tensors and the padding is a no-op.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from annotator.ml.networks import NetworkConfig, count_parameters

__all__ = ["UNet", "count_parameters"]


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

    def __init__(self, config: NetworkConfig) -> None:
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
