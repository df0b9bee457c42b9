"""``pspnet``: a pyramid pooling module (bins 1, 2, 3, 6) on a dilated residual encoder.

The encoder stops down-sampling at stride 8 and dilates deeper stages. The pyramid
pooling module averages the deepest features over 1x1, 2x2, 3x3 and 6x6 grids of bins,
projects each with a 1x1 convolution, upsamples them back and concatenates them with the
features; a 3x3 convolution and the head give scores at stride 8, upsampled bilinearly.

ONNX: adaptive pooling with bins that do not divide the size cannot be exported with
dynamic height and width, so the network asks for inputs padded to a multiple of
``8 * 6`` (``NetworkConfig.multiple``): every bin grid then divides the feature map
exactly and pooling is a reshape and a mean, which exports for any aligned size.
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

MAX_DOWN = 3
BINS = (1, 2, 3, 6)


def pool_bins(x: torch.Tensor, bins: int) -> torch.Tensor:
    """Average ``x`` over a ``bins x bins`` grid; height and width must divide by ``bins``."""
    if bins == 1:
        return x.mean(dim=(2, 3), keepdim=True)
    n, c, h, w = x.shape
    return x.reshape(n, c, bins, h // bins, bins, w // bins).mean(dim=(3, 5))


class PyramidPooling(nn.Module):
    """The PSP module: pooled context at several grid sizes, concatenated to the input."""

    def __init__(self, cin: int, bins: tuple[int, ...] = BINS) -> None:
        super().__init__()
        self.bins = bins
        branch_c = max(4, cin // len(bins))
        # A 1x1 bin is one value per image: no BatchNorm there (nor, for symmetry, in the
        # others), a bias and a ReLU instead.
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(cin, branch_c, 1), nn.ReLU(inplace=True)) for _ in bins
        )
        self.out_channels = cin + branch_c * len(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [x]
        for b, branch in zip(self.bins, self.branches):
            outs.append(upsample_like(branch(pool_bins(x, b)), x))
        return torch.cat(outs, dim=1)


class PSPNet(SegmentationNetwork):
    """PSPNet (pyramid pooling on a dilated residual encoder)."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__(config)
        self.encoder = Encoder(config, residual=True, max_down=MAX_DOWN)
        ch = self.encoder.channels
        self.ppm = PyramidPooling(ch[-1])
        mid = max(8, ch[-1] // 2)
        self.fuse = conv_bn_relu(self.ppm.out_channels, mid)
        self.head = nn.Conv2d(mid, config.n_classes, 1)
        self.out_stride = 2**self.encoder.max_down
        self.init_weights()

    def features_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.encoder(x)
        y = self.fuse(self.ppm(feats[-1]))
        return upsample(self.head(y), self.out_stride)
