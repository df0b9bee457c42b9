"""``unet``: encoder-decoder with skips joined by concatenation and a symmetric decoder.

``depth`` poolings; level ``i`` has ``width * growth**i`` channels. Parameter names are
those of the first U-Net of the project, so its checkpoints still load.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from annotator.ml.archs.common import DoubleConv, SegmentationNetwork
from annotator.ml.networks import NetworkConfig


class UNet(SegmentationNetwork):
    """U-Net returning per-class logits ``(N, n_classes, H, W)`` for ``(N, C, H, W)`` input."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        ch = config.channels()
        self.encoders = nn.ModuleList()
        cin = config.in_channels
        for c in ch[:-1]:
            self.encoders.append(DoubleConv(cin, c))
            cin = c
        self.bottleneck = DoubleConv(ch[-2], ch[-1])
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(config.depth - 1, -1, -1):
            # Transposed convolution halves the channels while doubling the size; the
            # skip connection is concatenated, then a double conv mixes the two.
            self.ups.append(nn.ConvTranspose2d(ch[level + 1], ch[level], 2, stride=2))
            self.decoders.append(DoubleConv(2 * ch[level], ch[level]))
        self.head = nn.Conv2d(ch[0], config.n_classes, 1)
        self.init_weights()

    def features_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for enc in self.encoders:
            x = enc(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.ups, self.decoders, reversed(skips)):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)
