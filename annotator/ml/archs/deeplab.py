"""``deeplab``: DeepLabv3+ at laptop size.

A residual encoder that stops down-sampling after three poolings (output stride 8) and
dilates its deeper stages instead; atrous spatial pyramid pooling on the deepest
features (a 1x1 branch, three 3x3 branches of growing dilation, and image-level
pooling); a light decoder that joins the upsampled ASPP output with 1x1-reduced
low-level features (stride 4), refines them with two 3x3 convolutions and upsamples
the scores bilinearly to the input size.
"""

from __future__ import annotations

import torch
from torch import nn

from annotator.ml.archs.common import (
    Encoder,
    SegmentationNetwork,
    conv_bn_relu,
    upsample,
    upsample_like,
)
from annotator.ml.networks import NetworkConfig

#: Output stride 2**3 = 8, as in DeepLab's dense-prediction setting.
MAX_DOWN = 3
ASPP_RATES = (2, 4, 6)


class ASPP(nn.Module):
    """Parallel atrous convolutions plus image pooling, concatenated and projected."""

    def __init__(self, cin: int, cout: int, rates: tuple[int, ...] = ASPP_RATES) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            [conv_bn_relu(cin, cout, 1)] + [conv_bn_relu(cin, cout, 3, r) for r in rates]
        )
        # Image pooling works on a 1x1 map: no BatchNorm (a batch of one would break it).
        self.image_pool = nn.Sequential(nn.Conv2d(cin, cout, 1), nn.ReLU(inplace=True))
        self.project = conv_bn_relu(cout * (len(rates) + 2), cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b(x) for b in self.branches]
        pooled = self.image_pool(x.mean(dim=(2, 3), keepdim=True))
        outs.append(pooled.expand(-1, -1, x.shape[2], x.shape[3]))
        return self.project(torch.cat(outs, dim=1))


class DeepLabV3Plus(SegmentationNetwork):
    """DeepLabv3+ (ASPP on a dilated residual encoder, low-level skip decoder)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, residual=True, max_down=MAX_DOWN)
        ch = self.encoder.channels
        n_down = self.encoder.max_down
        #: The low-level skip: stride 4 when there is room, else the level above the deepest.
        self.low_level = min(2, n_down - 1) if n_down > 1 else 0
        self.out_stride = 2**self.low_level
        aspp_c = max(8, ch[-1] // 2)
        low_c = max(4, ch[self.low_level])
        self.aspp = ASPP(ch[-1], aspp_c)
        self.reduce = conv_bn_relu(ch[self.low_level], low_c, 1)
        self.decoder = nn.Sequential(
            conv_bn_relu(aspp_c + low_c, aspp_c), conv_bn_relu(aspp_c, aspp_c)
        )
        self.head = nn.Conv2d(aspp_c, config.n_classes, 1)
        self.init_weights()

    def features_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        deep = self.aspp(feats[-1])
        low = self.reduce(feats[self.low_level])
        y = self.decoder(torch.cat([upsample_like(deep, low), low], dim=1))
        return upsample(self.head(y), self.out_stride)
