"""Issue 14: does test-time augmentation (averaging the proposal over flipped and
rotated copies of the image) raise the proposal's accuracy enough to matter?

Trains the default network (fcn, default recipe) from scratch for a budget of process
CPU time at one thread on 8 images, then proposes 8 others through the ONNX export and
onnxruntime (as the app does, class weights divided out), once per view set: the image
alone, with its left-right flip (2 views), with both flips (4), and the whole dihedral
group (8; also averaged in log-probability). Reports the mean pixel accuracy, the
paired gain over the plain proposal and the time per 512 x 512 image.

    .venv/bin/python docs/results/recipe-exploration/tta.py --data harder
    .venv/bin/python docs/results/recipe-exploration/tta.py --data ../shared/data/isbi2012-membrane
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from annotator.core.synthetic import SYNTHETIC_EM_CLASSES, synthetic_em  # noqa: E402

#: The synthetic EM levels of ``../synthetic-realism``: (noise, clutter, label jitter).
LEVELS = {
    "clean": (14, 0, 0),
    "hard": (20, 300, 1.5),
    "clutter": (28, 600, 0),
    "harder": (28, 600, 2.5),
}


def _views(k: int) -> list[tuple]:
    """``k`` views as (forward, inverse) on arrays ``(..., h, w)``."""
    ident = (lambda a: a, lambda a: a)
    hflip = (lambda a: a[..., ::-1], lambda a: a[..., ::-1])
    vflip = (lambda a: a[..., ::-1, :], lambda a: a[..., ::-1, :])
    both = (lambda a: a[..., ::-1, ::-1], lambda a: a[..., ::-1, ::-1])
    rot1 = (lambda a: np.rot90(a, 1, (-2, -1)), lambda a: np.rot90(a, -1, (-2, -1)))
    rot3 = (lambda a: np.rot90(a, 3, (-2, -1)), lambda a: np.rot90(a, -3, (-2, -1)))
    transpose = (lambda a: np.swapaxes(a, -1, -2), lambda a: np.swapaxes(a, -1, -2))
    anti = (
        lambda a: np.swapaxes(a, -1, -2)[..., ::-1, ::-1],
        lambda a: np.swapaxes(a[..., ::-1, ::-1], -1, -2),
    )
    return {
        1: [ident],
        2: [ident, hflip],
        4: [ident, hflip, vflip, both],
        8: [ident, hflip, vflip, both, rot1, rot3, transpose, anti],
    }[k]


class Averaged:
    """A tile runner that averages another over ``k`` views (probability or log)."""

    def __init__(self, inner, k: int, log: bool = False) -> None:
        self.inner, self.views, self.log = inner, _views(k), log

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        total = None
        for forward, inverse in self.views:
            p = inverse(self.inner(np.ascontiguousarray(forward(batch))))
            q = np.log(np.maximum(p, 1e-8)) if self.log else p
            total = q if total is None else total + q
        mean = total / len(self.views)
        if self.log:
            mean = np.exp(mean)
            mean /= mean.sum(1, keepdims=True)
        return np.ascontiguousarray(mean, dtype=np.float32)


def _train(images, names, minutes: float, seed: int):
    import torch

    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import TrainRequest, recipe_config, train_round

    torch.set_num_threads(1)
    channels = 1 if images[0].pixels.ndim == 2 else images[0].pixels.shape[2]
    request = TrainRequest(
        images=tuple(images),
        class_names=names,
        network=NetworkConfig(channels, len(names)),
        max_seconds=minutes * 60.0,
        config=recipe_config("default", seed=seed, val_fraction=0.0),
        clock="cpu",
    )
    return train_round(request)


def _data(name: str) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[str, ...]]:
    if name in LEVELS:
        noise, clutter, jitter = LEVELS[name]
        pairs = [
            synthetic_em(i, noise=noise, clutter=clutter, label_jitter=jitter) for i in range(16)
        ]
        return pairs, tuple(SYNTHETIC_EM_CLASSES)
    from annotator.bench.dataset import load_dataset
    from annotator.storage.images import read_image

    root = Path(name)
    classes = root / "classes.txt"
    dataset = load_dataset(root, classes if classes.is_file() else None)
    paths = list(dataset.images)
    picked = np.linspace(0, len(paths) - 1, 16).round().astype(int)
    pairs = [(read_image(paths[i]), dataset.truths[paths[i].stem]) for i in picked]
    return pairs, tuple(dataset.class_names)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="harder", help="a synthetic level or a dataset folder")
    ap.add_argument("--minutes", type=float, default=1.5, help="process CPU minutes of training")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from annotator.ml.checkpoint import onnx_bytes
    from annotator.ml.networks import build_network, load_weights
    from annotator.ml.onnx_runtime import OnnxRunner
    from annotator.ml.predict import Predictor
    from annotator.ml.train import TrainImage

    pairs, names = _data(args.data)
    train = [TrainImage(i, f"i{i}", im, m) for i, (im, m) in enumerate(pairs[:8])]
    result = _train(train, names, args.minutes, args.seed)
    model = load_weights(build_network(result.network), result.state_dict).eval()
    weights = None if result.class_weights is None else np.array(result.class_weights)
    print(f"{args.data} seed {args.seed} steps {result.steps}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        path.write_bytes(onnx_bytes(model))
        runner = OnnxRunner(path, 1)
        plain = None
        for k, log in [(1, False), (2, False), (4, False), (8, False), (8, True)]:
            predictor = Predictor(
                Averaged(runner, k, log), result.network, 1, "onnxruntime", weights
            )
            start = time.perf_counter()
            accs = []
            for image, truth in pairs[8:]:
                mask = predictor.predict(image, keep_probabilities=False).mask
                valid = truth != 255
                accs.append(float((mask == truth)[valid].mean()))
            seconds = (time.perf_counter() - start) / len(accs)
            plain = np.array(accs) if plain is None else plain
            gain = (np.array(accs) - plain) * 100
            print(
                f"  views {k} {'log ' if log else 'prob'} mean {np.mean(accs):.4f}  gain "
                f"{gain.mean():+.2f} pts (min {gain.min():+.2f} max {gain.max():+.2f})  "
                f"{seconds * 1000:.0f} ms/img",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
