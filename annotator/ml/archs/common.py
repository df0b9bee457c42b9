"""What every architecture shares: the contract and the small building blocks.

:class:`SegmentationNetwork` does the parts of ``forward`` that are the same everywhere,
so an architecture only writes ``features_to_logits`` for an input already aligned to
``config.multiple``:

- per-channel input normalisation with statistics stored as buffers in the network, so
  the checkpoint, the ONNX export and every proposal backend use the statistics the
  network was trained with (identity until :meth:`set_input_statistics` is called);
- padding to the size multiple (reflect, or replicate on tiny inputs) and cropping back;
- :meth:`classifiers`: the convolutions that produce class scores, which is how a model
  grows when its project gains a class.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from annotator.ml.networks import NetworkConfig


class SegmentationNetwork(nn.Module):
    """Base class: normalise, pad, ``features_to_logits``, crop."""

    input_mean: torch.Tensor
    input_std: torch.Tensor

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        c = config.in_channels
        self.register_buffer("input_mean", torch.zeros(c))
        self.register_buffer("input_std", torch.ones(c))

    # --- the contract -------------------------------------------------------------------
    def classifiers(self) -> list[nn.Conv2d]:
        """The convolutions whose outputs are class scores (one per class)."""
        return [self.head]  # type: ignore[list-item]

    def set_input_statistics(self, mean: Sequence[float], std: Sequence[float]) -> None:
        """Store per-channel statistics of the (already scaled) training input."""
        with torch.no_grad():
            self.input_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            self.input_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp(min=1e-3))

    def features_to_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for an input whose height and width are multiples of ``config.multiple``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the same height and width as ``x`` (padded inside, cropped back)."""
        x = (x - self.input_mean.view(1, -1, 1, 1)) / self.input_std.view(1, -1, 1, 1)
        h, w = int(x.shape[-2]), int(x.shape[-1])
        m = self.config.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            # Reflect needs the padding to be smaller than the size; tiny inputs replicate.
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        out = self.features_to_logits(x)
        if ph or pw:
            out = out[..., :h, :w]
        return out

    def init_weights(self) -> None:
        """He initialisation for convolutions, zero biases (call at the end of ``__init__``).

        Classifiers start small instead: their fan-out is the class count, and He
        initialisation there would give logits in the tens on wide heads, i.e. confident
        random answers that the first steps must unlearn.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for conv in self.classifiers():
            nn.init.normal_(conv.weight, std=0.01)


def conv_bn_relu(cin: int, cout: int, k: int = 3, dilation: int = 1) -> nn.Sequential:
    """Convolution (same padding), BatchNorm, ReLU."""
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, padding=pad, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DoubleConv(nn.Sequential):
    """Two 3x3 conv-BN-ReLU (the U-Net / VGG stage)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class ResidualConv(nn.Module):
    """``x + conv(relu(conv(x)))`` at a constant width.

    RefineNet's residual conv unit activates first (``pre_activation``, ``x +
    conv(relu(conv(relu(x))))``); GCN's boundary refinement does not. Both networks call
    :meth:`zero_branch` after initialising their weights, so each block starts as the
    identity and a stack of them does not blow the activations up. (The layer indices
    inside ``body`` are part of saved checkpoints.)
    """

    def __init__(self, c: int, *, pre_activation: bool = False) -> None:
        super().__init__()
        first: list[nn.Module] = [nn.ReLU()] if pre_activation else []
        self.body = nn.Sequential(
            *first,
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
        )

    def zero_branch(self) -> None:
        """Zero the branch's last BatchNorm scale: the block becomes the identity."""
        zero_last_scale(self.body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResBlock(nn.Module):
    """A ResNet basic block (two 3x3 convs and an identity or 1x1 shortcut), dilatable."""

    def __init__(self, cin: int, cout: int, dilation: int = 1) -> None:
        super().__init__()
        d = dilation
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=d, dilation=d, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=d, dilation=d, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short: nn.Module = (
            nn.Identity()
            if cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)), inplace=True)
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.short(x), inplace=True)


class Encoder(nn.Module):
    """A backbone of ``depth + 1`` levels; returns the features of every level.

    Level 0 works at full resolution; each later level halves the size (max pooling)
    until ``max_down`` halvings, after which levels keep the size and dilate instead
    (2, 4, ...), as DeepLab and PSPNet do to keep resolution with a large field of view.
    ``residual`` picks ResNet basic blocks (else the VGG-style double conv).
    """

    def __init__(self, config: NetworkConfig, residual: bool, max_down: int | None = None) -> None:
        super().__init__()
        ch = config.channels()
        self.max_down = config.depth if max_down is None else min(max_down, config.depth)
        self.stages = nn.ModuleList()
        cin = config.in_channels
        self.dilations: list[int] = []
        for level, c in enumerate(ch):
            dil = 1 if level <= self.max_down else 2 ** (level - self.max_down)
            self.dilations.append(dil)
            if residual:
                stage: nn.Module = (
                    nn.Sequential(conv_bn_relu(cin, c), ResBlock(c, c))
                    if level == 0
                    else ResBlock(cin, c, dil)
                )
            else:
                stage = DoubleConv(cin, c)
            self.stages.append(stage)
            cin = c
        self.channels = ch

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = []
        for level, stage in enumerate(self.stages):
            if 0 < level <= self.max_down:
                x = F.max_pool2d(x, 2)
            x = stage(x)
            feats.append(x)
        return feats


def zero_last_scale(block: nn.Module) -> None:
    """Start a residual branch at zero: zero the scale of its last layer (a BatchNorm)."""
    last = list(block.children())[-1]
    weight = getattr(last, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{type(last).__name__} has no weight to zero")
    nn.init.zeros_(weight)


def upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear upsampling by an integer factor (exports to ONNX Resize)."""
    if factor == 1:
        return x
    return F.interpolate(x, scale_factor=float(factor), mode="bilinear", align_corners=False)


def upsample_like(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Bilinear upsampling of ``x`` to the height and width of ``ref``."""
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)
