"""How far the proposal is from the best any model could do, on the synthetic EM set
made harder (``benchmarks/synthetic_em.py`` knobs).

With ``--label-jitter`` the truth's borders wander from the picture's edges by a smooth
random field that no picture shows, so no model can follow it: the best proposal is the
unjittered class map, and its accuracy against the jittered truth is the ceiling. This
trains the default network (fcn, default recipe) for a budget of process CPU time on 8
images, proposes 8 others (onnxruntime, as the app does), and reports the proposal's
accuracy against the truth and against the unjittered map, beside that ceiling.

    .venv/bin/python docs/results/synthetic-realism/ceiling.py --minutes 2 > ceiling.txt
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from annotator.core.synthetic import SYNTHETIC_EM_CLASSES, synthetic_em  # noqa: E402

LEVELS = {  # name: (noise, clutter, label_jitter), as in the bench runs
    "clean": (14.0, 0, 0.0),
    "hard": (20.0, 300, 1.5),
    "jitter": (14.0, 0, 2.5),
    "clutter": (28.0, 600, 0.0),
    "harder": (28.0, 600, 2.5),
}


def train_and_propose(
    images: list, minutes: float, seed: int, tests: list[np.ndarray]
) -> tuple[int, list[np.ndarray]]:
    """Train the default network from scratch on ``images`` (``TrainImage``) for
    ``minutes`` of process CPU time at one thread; propose each of ``tests`` through the
    ONNX export and onnxruntime, the class weights divided out as in the app's proposals.
    Returns the steps trained and the proposed masks."""
    import torch

    from annotator.ml.checkpoint import onnx_bytes
    from annotator.ml.networks import NetworkConfig, build_network, load_weights
    from annotator.ml.onnx_runtime import OnnxRunner
    from annotator.ml.predict import Predictor
    from annotator.ml.train import TrainRequest, recipe_config, train_round

    torch.set_num_threads(1)
    request = TrainRequest(
        images=tuple(images),
        class_names=SYNTHETIC_EM_CLASSES,
        network=NetworkConfig(1, len(SYNTHETIC_EM_CLASSES)),
        max_seconds=minutes * 60.0,
        config=recipe_config("default", seed=seed, val_fraction=0.0),
        clock="cpu",
    )
    result = train_round(request)
    if result.state_dict is None:
        raise SystemExit(f"training failed: {result.message}")
    model = load_weights(build_network(result.network), result.state_dict).eval()
    weights = None if result.class_weights is None else np.array(result.class_weights)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.onnx"
        path.write_bytes(onnx_bytes(model))
        predictor = Predictor(OnnxRunner(path, 1), result.network, 1, "onnxruntime", weights)
        masks = [predictor.predict(im, keep_probabilities=False).mask for im in tests]
    return result.steps, masks


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--levels", nargs="+", default=list(LEVELS))
    args = ap.parse_args()
    from annotator.ml.train import TrainImage

    print("level    noise clutter jitter  steps  vs truth  vs unjittered  ceiling")
    for name in args.levels:
        noise, clutter, jitter = LEVELS[name]
        data = [
            synthetic_em(i, noise=noise, clutter=clutter, label_jitter=jitter) for i in range(16)
        ]
        clean = [synthetic_em(i, noise=noise, clutter=clutter)[1] for i in range(16)]
        train = [TrainImage(i, f"em_{i}", im, m) for i, (im, m) in enumerate(data[:8])]
        steps, masks = train_and_propose(train, args.minutes, 0, [im for im, _ in data[8:]])
        truths = [m for _, m in data[8:]]
        vs_truth = [(m == t).mean() for m, t in zip(masks, truths)]
        vs_clean = [(m == c).mean() for m, c in zip(masks, clean[8:])]
        ceiling = [(c == t).mean() for c, t in zip(clean[8:], truths)]
        print(
            f"{name:<8} {noise:5.0f} {clutter:7d} {jitter:6.1f} {steps:6d}  "
            f"{np.mean(vs_truth):8.4f}  {np.mean(vs_clean):13.4f}  {np.mean(ceiling):7.4f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
