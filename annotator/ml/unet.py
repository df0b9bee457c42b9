"""The U-Net, where it has always been imported from (it lives in ``ml.archs.unet``)."""

from __future__ import annotations

from annotator.ml.archs.unet import UNet
from annotator.ml.networks import count_parameters

__all__ = ["UNet", "count_parameters"]
