"""Run by ``torchrun`` from test_architectures.py: a short round of every architecture per
rank (``train_round`` directly), weights saved per architecture and rank; after leaving
the group no gloo thread may be left."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from annotator.ml import distributed
from annotator.ml.networks import NetworkConfig
from annotator.ml.train import TrainConfig, TrainImage, TrainRequest, train_round


def main() -> None:
    out_dir, archs = Path(sys.argv[1]), sys.argv[2].split(",")
    info = distributed.init_from_env("cpu")
    assert info is not None, "expected to run under torchrun"
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)  # the same images on every rank
    images = []
    for i in range(3):
        pixels = rng.integers(0, 255, size=(48, 64), dtype=np.uint8)
        mask = (pixels > 128).astype(np.uint8)
        mask[:6] = 255  # partial labels
        images.append(TrainImage(i, f"im{i}", pixels, mask))
    for arch in archs:
        result = train_round(
            TrainRequest(
                images=tuple(images),
                class_names=("dark", "bright"),
                network=NetworkConfig(1, 2, depth=2, width=4, arch=arch),
                max_steps=2,
                config=TrainConfig(crop=32, batch_size=2, val_fraction=0.0, seed=0),
                device="cpu",
            )
        )
        assert result.publishable and result.world_size == 2, result.message
        torch.save(result.state_dict, out_dir / f"{arch}-rank{info.rank}.pt")
    distributed.shutdown()
    # Leaving the group must end gloo's threads now: left to interpreter exit, they
    # aborted the process now and then after a successful round.
    tasks = Path("/proc/self/task")
    if tasks.is_dir():
        names = [(t / "comm").read_text().strip() for t in tasks.iterdir()]
        gloo = [n for n in names if "gloo" in n]
        assert not gloo, f"process group still alive after shutdown: {gloo}"


if __name__ == "__main__":
    main()
