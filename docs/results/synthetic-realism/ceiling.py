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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--levels", nargs="+", default=list(LEVELS))
    args = ap.parse_args()
    import torch

    from annotator.ml.checkpoint import onnx_bytes
    from annotator.ml.networks import NetworkConfig, build_network, load_weights
    from annotator.ml.onnx_runtime import OnnxRunner
    from annotator.ml.predict import Predictor
    from annotator.ml.train import TrainImage, TrainRequest, recipe_config, train_round

    torch.set_num_threads(1)
    print("level    noise clutter jitter  steps  vs truth  vs unjittered  ceiling")
    for name in args.levels:
        noise, clutter, jitter = LEVELS[name]
        data = [
            synthetic_em(i, noise=noise, clutter=clutter, label_jitter=jitter) for i in range(16)
        ]
        clean = [synthetic_em(i, noise=noise, clutter=clutter)[1] for i in range(16)]
        train = tuple(TrainImage(i, f"em_{i}", im, m) for i, (im, m) in enumerate(data[:8]))
        request = TrainRequest(
            images=train,
            class_names=SYNTHETIC_EM_CLASSES,
            network=NetworkConfig(1, len(SYNTHETIC_EM_CLASSES)),
            max_seconds=args.minutes * 60.0,
            config=recipe_config("default", seed=0, val_fraction=0.0),
            clock="cpu",
        )
        result = train_round(request)
        assert result.state_dict is not None, result.message
        model = load_weights(build_network(result.network), result.state_dict).eval()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.onnx"
            path.write_bytes(onnx_bytes(model))
            weights = None if result.class_weights is None else np.array(result.class_weights)
            predictor = Predictor(  # the weights divided out, as the app's proposals
                OnnxRunner(path, 1), result.network, 1, "onnxruntime", weights
            )
            vs_truth, vs_clean, ceiling = [], [], []
            for (image, truth), plain in zip(data[8:], clean[8:]):
                mask = predictor.predict(image, keep_probabilities=False).mask
                vs_truth.append((mask == truth).mean())
                vs_clean.append((mask == plain).mean())
                ceiling.append((plain == truth).mean())
        print(
            f"{name:<8} {noise:5.0f} {clutter:7d} {jitter:6.1f} {result.steps:6d}  "
            f"{np.mean(vs_truth):8.4f}  {np.mean(vs_clean):13.4f}  {np.mean(ceiling):7.4f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
