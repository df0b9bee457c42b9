"""Would proposals gain from dividing out the class mix of the crops too (ADR 0012)?

    python benchmarks/prior_shift.py isbi --train 10 --minutes 1.5 --seeds 0 1 2
    python benchmarks/prior_shift.py camvid --train 20 --minutes 1.5 --seeds 0 1 2

Proposals divide the round's class weights out (ADR 0012): exact for the weighted
cross-entropy, but the default recipe also adds Dice and centres half of the crops on a
uniformly drawn class, so the network trains on a class mix other than the labels'. This
trains the default recipe from scratch for ``--minutes`` of process CPU time (as
``benchmarks/architectures.py`` does), counts the labelled pixels of every class in the
crops it drew (the "trained mix") and in the labels (the "label mix"), then scores the
held-out images (pixel accuracy, mean IoU) with three adjustments of the log-probabilities:

* ``raw``: none (the network itself);
* ``weights``: minus ``log w`` (today's proposals);
* ``weights+prior``: minus ``log w`` and minus ``log(trained mix / label mix)``.

One round per seed gives all three (they only differ after the network).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from architectures import DEFAULT_ROOT, load_camvid, load_isbi  # noqa: E402

VARIANTS = ("raw", "weights", "weights+prior")


def run(data: Any, seed: int, minutes: float) -> dict[str, Any]:
    import torch

    from annotator.ml.data import IGNORE, CropSampler
    from annotator.ml.networks import NetworkConfig, build_network, load_weights
    from annotator.ml.predict import Predictor
    from annotator.ml.train import (
        TrainImage,
        TrainRequest,
        confusion,
        metrics_from_confusion,
        recipe_config,
        train_round,
    )

    torch.set_num_threads(1)
    n = len(data.classes)
    trained = np.zeros(n, np.int64)
    real = CropSampler.batch

    def counted(self: CropSampler, k: int) -> tuple[np.ndarray, np.ndarray]:
        x, t = real(self, k)
        trained[:] += np.bincount(t[t != IGNORE].ravel(), minlength=n)[:n]
        return x, t

    CropSampler.batch = counted  # type: ignore[method-assign]
    try:
        channels = 3 if data.train[0][1].ndim == 3 else 1
        request = TrainRequest(
            tuple(TrainImage(i, name, p, m) for i, (name, p, m) in enumerate(data.train)),
            tuple(data.classes),
            NetworkConfig(channels, n),
            max_seconds=minutes * 60,
            config=recipe_config("default", seed, 0.0),
            clock="cpu",
            device="cpu",
        )
        result = train_round(request)
    finally:
        CropSampler.batch = real  # type: ignore[method-assign]
    if result.state_dict is None:
        return {"seed": seed, "status": result.status, "message": result.message}
    labels = np.asarray(result.class_pixels, np.float64)
    weights = np.asarray(result.class_weights or [1.0] * n, np.float64)
    label_mix = labels / labels.sum()
    trained_mix = trained / trained.sum()
    seen = (labels > 0) & (trained > 0)
    prior = np.zeros(n)
    prior[seen] = np.log(trained_mix[seen] / label_mix[seen])
    shifts = {
        "raw": np.zeros(n),
        "weights": np.log(weights),
        "weights+prior": np.log(weights) + prior,
    }
    model = load_weights(build_network(result.network), result.state_dict).eval()
    predictor = Predictor.from_model(model, device="cpu")  # raw probabilities
    cms = {v: np.zeros((n, n), np.int64) for v in VARIANTS}
    for _, pixels, mask in data.test:
        p = predictor.predict(pixels, keep_probabilities=True).probabilities
        assert p is not None
        logp = np.log(np.maximum(p.astype(np.float32), 1e-8))
        target = np.where(mask < n, mask, -1)
        for v in VARIANTS:
            pred = np.argmax(logp - shifts[v].astype(np.float32)[:, None, None], axis=0)
            cms[v] += confusion(pred.astype(np.uint8), target, n)
    out: dict[str, Any] = {
        "seed": seed,
        "steps": result.steps,
        "label_mix": label_mix.round(5).tolist(),
        "trained_mix": trained_mix.round(5).tolist(),
        "log_weights": np.log(weights).round(3).tolist(),
        "log_prior_shift": prior.round(3).tolist(),
    }
    for v in VARIANTS:
        m = metrics_from_confusion(cms[v])
        out[v] = {"pixel_accuracy": round(m.pixel_accuracy, 5), "mean_iou": round(m.mean_iou, 5)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", choices=["isbi", "camvid"])
    ap.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--train", type=int, default=10, help="training images, evenly spaced")
    ap.add_argument("--minutes", type=float, default=1.5, help="CPU minutes of training")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--out", type=Path, help="JSON results (rewritten after every seed)")
    args = ap.parse_args(argv)
    data = (
        load_isbi(args.data_root, args.train)
        if args.data == "isbi"
        else load_camvid(args.data_root, args.train, None)
    )
    report: dict[str, Any] = {
        "benchmark": "prior_shift",
        "data": data.name,
        "train_images": len(data.train),
        "test_images": len(data.test),
        "minutes": args.minutes,
        "runs": [],
    }
    print(f"{'seed':>4} {'steps':>5}  " + "  ".join(f"{v + ' acc/mIoU':>24}" for v in VARIANTS))
    for seed in args.seeds:
        row = run(data, seed, args.minutes)
        report["runs"].append(row)
        if "raw" in row:
            cells = "  ".join(
                f"{row[v]['pixel_accuracy']:>15.4f} {row[v]['mean_iou']:.4f}" for v in VARIANTS
            )
            print(f"{seed:4d} {row['steps']:5d}  {cells}", flush=True)
        else:
            print(f"{seed:4d} {row['status']}: {row['message']}", flush=True)
        if args.out:
            args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
