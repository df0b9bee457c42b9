"""``refinenet``: multi-path refinement, a light version.

A residual encoder; then, from the deepest level up to full resolution, one RefineNet
block per level: each input path (the encoder features of that level, adapted to the
path width, and the previous block's output) passes a residual conv unit; multi-
resolution fusion convolves each path, upsamples the coarser one and sums them; chained
residual pooling (two stages of 5x5 max pooling and a 3x3 convolution, each added back)
gathers context; an output residual conv unit ends the block. Light: one residual conv
unit per path (the paper has two), paths as wide as the encoder level (capped), and
BatchNorm with zero-initialised residual branches, since nothing is pretrained.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from annotator.ml.archs.common import (
    Encoder,
    ResidualConv,
    SegmentationNetwork,
    upsample_like,
    zero_last_scale,
)
from annotator.ml.networks import NetworkConfig


class ChainedResidualPooling(nn.Module):
    """relu, then ``stages`` times: pool 5x5 (stride 1), conv 3x3, add to the sum."""

    def __init__(self, c: int, stages: int = 2) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
            for _ in range(stages)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        path = x
        for conv in self.convs:
            path = conv(F.max_pool2d(path, 5, stride=1, padding=2))
            x = x + path
        return x


class RefineBlock(nn.Module):
    """One RefineNet block over the encoder features of a level and the coarser path."""

    def __init__(self, c_in: int, c: int, c_coarse: int | None) -> None:
        super().__init__()
        self.adapt = nn.Sequential(nn.Conv2d(c_in, c, 1, bias=False), nn.BatchNorm2d(c))
        self.rcu_fine = ResidualConv(c, pre_activation=True)
        self.rcu_coarse = ResidualConv(c_coarse, pre_activation=True) if c_coarse else None
        self.fuse_fine = (
            nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
            if c_coarse
            else None
        )
        self.fuse_coarse = (
            nn.Sequential(nn.Conv2d(c_coarse, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
            if c_coarse
            else None
        )
        self.crp = ChainedResidualPooling(c)
        self.out = ResidualConv(c, pre_activation=True)

    def forward(self, feat: torch.Tensor, coarser: torch.Tensor | None) -> torch.Tensor:
        x = self.rcu_fine(self.adapt(feat))
        if coarser is not None and self.rcu_coarse is not None:
            assert self.fuse_coarse is not None and self.fuse_fine is not None
            y = self.fuse_coarse(self.rcu_coarse(coarser))
            x = self.fuse_fine(x) + upsample_like(y, x)
        return self.out(self.crp(x))


class RefineNet(SegmentationNetwork):
    """Light RefineNet (one refine block per encoder level)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, residual=True)
        ch = self.encoder.channels
        # Path width: the encoder's width at that level, capped at level 2's, so the
        # full-resolution blocks stay cheap and the deep ones small.
        cap = ch[min(2, config.depth)]
        widths = [min(c, cap) for c in ch]
        self.blocks = nn.ModuleList(
            RefineBlock(
                ch[level], widths[level], widths[level + 1] if level < config.depth else None
            )
            for level in range(config.depth, -1, -1)
        )
        self.head = nn.Conv2d(widths[0], config.n_classes, 1)
        self.init_weights()
        # Residual branches start at zero (the last BatchNorm's scale), so the many sums
        # of a refine block do not blow the activations up at initialisation.
        for m in self.modules():
            if isinstance(m, ResidualConv):
                m.zero_branch()
            elif isinstance(m, ChainedResidualPooling):
                for conv in m.convs:
                    zero_last_scale(conv)

    def features_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        y = None
        for block, feat in zip(self.blocks, reversed(feats)):
            y = block(feat, y)
        assert y is not None
        return self.head(F.relu(y))
