"""``encdec``: an encoder-decoder whose skips are summed (SegNet / LinkNet style).

The encoder is VGG-style (double conv per level, ``depth`` poolings). Each decoder step
upsamples with a transposed convolution to the skip's channels, *adds* the encoder
features of that level (LinkNet's cheap skip, instead of the U-Net's concatenation) and
mixes them with one 3x3 convolution; a 1x1 head gives the scores.
"""

from __future__ import annotations

import torch
from torch import nn

from annotator.ml.archs.common import Encoder, SegmentationNetwork, conv_bn_relu
from annotator.ml.networks import NetworkConfig


class EncDec(SegmentationNetwork):
    """Encoder-decoder with summed skips."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, residual=False)
        ch = self.encoder.channels
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for level in range(config.depth - 1, -1, -1):
            self.ups.append(nn.ConvTranspose2d(ch[level + 1], ch[level], 2, stride=2))
            self.decoders.append(conv_bn_relu(ch[level], ch[level]))
        self.head = nn.Conv2d(ch[0], config.n_classes, 1)
        self.init_weights()

    def features_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        y = feats[-1]
        for up, dec, skip in zip(self.ups, self.decoders, reversed(feats[:-1])):
            y = dec(up(y) + skip)
        return self.head(y)
