"""``fcn``: convolutions and pooling only, class scores from several depths summed.

The FCN-8s idea (Long, Shelhamer and Darrell 2015) at laptop size: a VGG-style encoder
of ``depth`` poolings; the deepest features go through two "fully connected as
convolution" layers; 1x1 score layers at the deepest three levels are summed coarse to
fine (each coarser score map upsampled by 2), and the sum is upsampled bilinearly to
the input size. No dense layers, no decoder convolutions: every score layer is a
classifier, so growing the classes widens all of them.
"""

from __future__ import annotations

import torch
from torch import nn

from annotator.ml.archs.common import Encoder, SegmentationNetwork, conv_bn_relu, upsample
from annotator.ml.networks import NetworkConfig


class FCN(SegmentationNetwork):
    """FCN-8s style network (scores from up to three depths)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, residual=False)
        ch = self.encoder.channels
        deep = ch[-1]
        # fc6/fc7 of the original, as 3x3 and 1x1 convolutions.
        self.fc = nn.Sequential(conv_bn_relu(deep, deep, 3), conv_bn_relu(deep, deep, 1))
        #: Levels that get a score layer: the deepest and up to two above it.
        self.score_levels = list(range(config.depth, max(-1, config.depth - 3), -1))
        self.scores = nn.ModuleList(
            nn.Conv2d(ch[level], config.n_classes, 1) for level in self.score_levels
        )
        self.init_weights()

    def classifiers(self) -> list[nn.Conv2d]:
        """Every score layer (their outputs are summed)."""
        return list(self.scores)  # type: ignore[arg-type]

    def features_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        feats[-1] = self.fc(feats[-1])
        score = None
        for level, layer in zip(self.score_levels, self.scores):
            s = layer(feats[level])
            score = s if score is None else upsample(score, 2) + s
        assert score is not None
        return upsample(score, 2 ** self.score_levels[-1])
