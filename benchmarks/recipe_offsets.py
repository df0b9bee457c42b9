"""How far a recipe's decision boundary is from the mean-IoU optimum, on CamVid X vs rest.

    python benchmarks/recipe_offsets.py car --seeds 0 1 2 --out offsets-car.json
    python benchmarks/recipe_offsets.py car --set class_weight_power=0.5   # the old default

Trains the default recipe (or the recipe with ``--set KEY=VALUE`` overrides of
``TrainConfig``) from scratch on ``--train`` CamVid ``train_*`` images for ``--minutes``
of process CPU time, as ``benchmarks/architectures.py --binary CLASS`` does, then adds an
offset to the class's log-probability on the 40 held-out ``val_*`` images and reports the
mean IoU at each offset. A recipe whose best offset is far from 0 paints the class too
often (best offset < 0) or too rarely (> 0): class weights, Dice and balanced crops all
move the boundary, and a weak model's mean IoU is very sensitive to where it lies. The
sweep reads the test labels, so it judges a recipe; it is not a way to tune a model.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from architectures import DEFAULT_ROOT, load_camvid  # noqa: E402

OFFSETS = [round(float(x), 2) for x in np.linspace(-2.0, 1.0, 13)]


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def run(
    cls: str,
    seed: int,
    arch: str,
    minutes: float,
    n_train: int,
    root: Path,
    overrides: dict[str, Any],
) -> dict[str, Any]:
    import torch

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
    data = load_camvid(root, n_train, cls)
    cfg = dataclasses.replace(recipe_config("default", seed, 0.0), **overrides)
    images = tuple(TrainImage(i, n, p, m) for i, (n, p, m) in enumerate(data.train))
    request = TrainRequest(
        images,
        ("rest", cls),
        NetworkConfig(3, 2, arch=arch),
        max_seconds=minutes * 60,
        config=cfg,
        clock="cpu",
    )
    result = train_round(request)
    if result.state_dict is None:
        return {"seed": seed, "status": result.status, "message": result.message}
    model = load_weights(build_network(result.network), result.state_dict).eval()
    predictor = Predictor.from_model(model, 1, device="cpu")
    scored = []
    for _, pixels, mask in data.test:
        p = predictor.predict(pixels, keep_probabilities=True).probabilities
        assert p is not None
        logp = np.log(np.maximum(p.astype(np.float32), 1e-6))
        scored.append((logp[1] - logp[0], np.where(mask < 2, mask, -1)))
    sweep = {}
    for off in OFFSETS:
        cm = np.zeros((2, 2), np.int64)
        for margin, target in scored:
            cm += confusion((margin + off > 0).astype(np.uint8), target, 2)
        sweep[off] = metrics_from_confusion(cm)
    best = max(OFFSETS, key=lambda o: sweep[o].mean_iou)
    at0 = sweep[0.0]
    return {
        "seed": seed,
        "steps": result.steps,
        "mean_iou": at0.mean_iou,
        "iou": dict(zip(("rest", cls), at0.iou)),
        "pixel_accuracy": at0.pixel_accuracy,
        "best_offset": best,
        "best_mean_iou": sweep[best].mean_iou,
        "sweep": {str(o): round(m.mean_iou, 4) for o, m in sweep.items()},
    }


def main(argv: list[str] | None = None) -> int:
    from annotator.ml.networks import DEFAULT_ARCH
    from annotator.ml.train import TrainConfig

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cls", metavar="CLASS", help="the CamVid class against the rest")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--arch", default=DEFAULT_ARCH)
    ap.add_argument("--minutes", type=float, default=3.0, help="CPU minutes of training (3)")
    ap.add_argument("--train", type=int, default=20, help="training images, evenly spaced (20)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a TrainConfig field, e.g. class_weight_power=0.5",
    )
    ap.add_argument("--out", type=Path, help="JSON results (rewritten after every seed)")
    args = ap.parse_args(argv)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in fields or not value:
            print(
                f"--set {item!r}: expected KEY=VALUE with KEY one of {sorted(fields)}",
                file=sys.stderr,
            )
            return 2
        overrides[key] = _value(value)
    report: dict[str, Any] = {
        "benchmark": "recipe_offsets",
        "class": args.cls,
        "arch": args.arch,
        "minutes": args.minutes,
        "train_images": args.train,
        "overrides": overrides,
        "runs": [],
    }
    print(f"{'seed':>4} {'mIoU':>6} {'IoU ' + args.cls:>9} {'best offset':>11} {'best mIoU':>9}")
    for seed in args.seeds:
        row = run(args.cls, seed, args.arch, args.minutes, args.train, args.data_root, overrides)
        report["runs"].append(row)
        if "mean_iou" in row:
            print(
                f"{seed:4d} {row['mean_iou']:6.3f} {row['iou'][args.cls]:9.3f} "
                f"{row['best_offset']:11.2f} {row['best_mean_iou']:9.3f}"
            )
        else:
            print(f"{seed:4d} {row['status']}: {row['message']}")
        if args.out:
            args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
