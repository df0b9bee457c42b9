"""Helpers for the storage tests."""

from __future__ import annotations

import numpy as np
from PIL import Image


def image_folder(folder, n=3, size=(20, 30)):
    """``n`` small grey PNGs ``img0.png``... in ``folder``, each of distinct content."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        arr = np.full(size, i * 40, np.uint8)
        arr[0, 0] = 255 - i  # make every file's content distinct
        Image.fromarray(arr).save(folder / f"img{i}.png")
    return folder
