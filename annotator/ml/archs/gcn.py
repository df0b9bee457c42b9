"""``gcn``: global convolutional network with boundary refinement (Peng et al. 2017).

A residual encoder; at every level below full resolution a global convolution block
(two branches, ``k x 1`` then ``1 x k`` and ``1 x k`` then ``k x 1``, summed and
normalised: a dense ``k x k`` field of view at a fraction of the cost; ``k`` is 15 on the deep levels and 7 on
the shallow, large ones) followed by boundary refinement (a small residual block). The
maps are merged coarse to fine (upsample by 2, add, refine), upsampled to full
resolution, refined once more, and a 1x1 head gives the scores. The paper's blocks
output class scores directly; here they output a narrow feature map and one head
classifies, so a model grows its classes like every other architecture.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from annotator.ml.archs.common import Encoder, ResidualConv, SegmentationNetwork, upsample
from annotator.ml.networks import NetworkConfig


class GlobalConv(nn.Module):
    """Sum of (k x 1 -> 1 x k) and (1 x k -> k x 1) convolutions."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        p = k // 2
        self.left = nn.Sequential(
            nn.Conv2d(cin, cout, (k, 1), padding=(p, 0)),
            nn.Conv2d(cout, cout, (1, k), padding=(0, p)),
        )
        self.right = nn.Sequential(
            nn.Conv2d(cin, cout, (1, k), padding=(0, p)),
            nn.Conv2d(cout, cout, (k, 1), padding=(p, 0)),
        )

        self.norm = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.left(x) + self.right(x))


class GCN(SegmentationNetwork):
    """Global convolutional network with boundary refinement."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, residual=True)
        ch = self.encoder.channels
        g = ch[min(1, config.depth)]
        self.levels = list(range(config.depth, 0, -1))
        self.gcns = nn.ModuleList(
            GlobalConv(ch[level], g, 15 if level >= 3 else 7) for level in self.levels
        )
        self.refine = nn.ModuleList(ResidualConv(g) for _ in self.levels)
        self.merge = nn.ModuleList(ResidualConv(g) for _ in self.levels[1:])
        self.final = ResidualConv(g)
        self.head = nn.Conv2d(g, config.n_classes, 1)
        self.init_weights()
        for m in self.modules():  # residual refinements start as the identity
            if isinstance(m, ResidualConv):
                m.zero_branch()

    def features_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        y = None
        for i, (level, gcn, br) in enumerate(zip(self.levels, self.gcns, self.refine)):
            s = br(gcn(feats[level]))
            y = s if y is None else self.merge[i - 1](upsample(y, 2) + s)
        assert y is not None
        y = self.final(upsample(y, 2))
        return self.head(F.relu(y))
