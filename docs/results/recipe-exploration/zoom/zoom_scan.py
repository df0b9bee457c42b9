"""Does the recipe's geometric augmentation pay at the loop's budgets? (ADR 0023)

Trains the default network (fcn) from scratch on a few labelled images with the default
recipe and one change to its augmentation, then measures pixel accuracy and mean IoU on
held-out images of the same kind (proposals with the class weights divided out, as the
app makes them; onnxruntime on the CPU, torch elsewhere).

Data (``DATA_ROOT``, default ``../shared/data`` beside the repository):
- ``harder``: the synthetic six-class EM set made harder (noise 28, clutter 600, label
  jitter 2.5 px, as in docs/results/synthetic-realism/): train on images 0-7, test 8-15;
- ``isbi``: ISBI 2012, train on the first 10 images, test on 6 of the last 10;
- ``camvid``: CamVid, 11 classes, train on 12 ``train_*`` evenly spaced, test on 8
  ``val_*`` evenly spaced (255 is void).

One run prints one JSON line::

    python zoom_scan.py run harder "no zoom" --seed 0 --seconds 90      # CPU time, 1 thread
    python zoom_scan.py run isbi "zoom 0.3" --seed 1 --steps 600 --device cuda

Many runs at once (the GPU machine), appending to ``OUT/sweep.jsonl``::

    python zoom_scan.py sweep harder,isbi,camvid --seeds 0 1 2 3 --steps 600 --workers 15
    python zoom_scan.py table sweep.jsonl

``--correct`` (``run`` and ``sweep``) also lets the simulated annotator label each
held-out image from its proposal, with every tool, to the bench's 95 % target, and
records the actions per image (``actions``): the cost of correcting those proposals,
without a loop and its path around them.

The files beside it: ``cpu-90s.jsonl`` (90 s of process CPU time at one thread on the
2-core development machine; its first rows also try other knobs of the recipe, with the
zoom of the time), ``gpu-600-steps.jsonl`` and ``gpu-3000-steps.jsonl`` (the H200, 14-15
runs at once; 600 steps is what 90 CPU seconds train here), ``gpu-600-steps-correction.jsonl``
(the same with ``--correct``, 16 runs at once), ``tables.txt`` (``table`` of the two GPU
sweeps). All but the last were made by drafts of this script with the same training and
measurement.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

#: Augmentation overrides of the default recipe, by name.
VARIANTS: dict[str, dict[str, float]] = {
    "zoom 0.3": {"scale": 0.3},  # the default until ADR 0023
    "no zoom": {"scale": 0.0},  # the default since
    "no elastic": {"scale": 0.3, "elastic_p": 0.0},
    "neither": {"scale": 0.0, "elastic_p": 0.0},
    "half elastic": {"scale": 0.3, "elastic_alpha": 0.02},
}


def load(name: str) -> tuple[tuple[str, ...], list, list]:
    """Class names, training and test ``(image, mask)`` pairs of a data set."""
    root = Path(os.environ.get("DATA_ROOT", REPO.parent / "shared" / "data"))
    if name == "harder":
        from annotator.core.synthetic import SYNTHETIC_EM_CLASSES, synthetic_em

        pairs = [synthetic_em(i, noise=28.0, clutter=600, label_jitter=2.5) for i in range(16)]
        return SYNTHETIC_EM_CLASSES, pairs[:8], pairs[8:]
    from architectures import _spaced, load_camvid, load_isbi

    if name == "camvid":
        ds = load_camvid(root, 12, None)
        test = _spaced(ds.test, 8)
    elif name == "isbi":
        ds = load_isbi(root, None)
        ds.train, test = ds.train[:10], ds.test[:6]
    else:
        raise SystemExit(f"unknown data set {name!r}")
    return tuple(ds.classes), [(i, m) for _, i, m in ds.train], [(i, m) for _, i, m in test]


def run(args: argparse.Namespace) -> None:
    import torch

    from annotator.ml.checkpoint import onnx_bytes
    from annotator.ml.networks import NetworkConfig, build_network, load_weights
    from annotator.ml.onnx_runtime import OnnxRunner
    from annotator.ml.predict import Predictor
    from annotator.ml.train import TrainImage, TrainRequest, recipe_config, train_round

    torch.set_num_threads(1)
    classes, train, test = load(args.data)
    cfg = recipe_config("default", seed=args.seed, val_fraction=0.0)
    cfg = replace(cfg, augment=replace(cfg.augment, **VARIANTS[args.variant]))
    images = tuple(TrainImage(i, f"t{i}", im, m) for i, (im, m) in enumerate(train))
    channels = 1 if train[0][0].ndim == 2 else train[0][0].shape[2]
    request = TrainRequest(
        images=images,
        class_names=classes,
        network=NetworkConfig(channels, len(classes)),
        max_seconds=None if args.steps else args.seconds,
        max_steps=args.steps,
        config=cfg,
        clock="cpu",
        device=args.device,
    )
    result = train_round(request)
    assert result.state_dict is not None, result.message
    model = load_weights(build_network(result.network), result.state_dict).eval()
    weights = None if result.class_weights is None else np.array(result.class_weights)
    accuracy, actions = [], []
    inter, union = np.zeros(len(classes)), np.zeros(len(classes))
    with tempfile.TemporaryDirectory() as tmp:
        if args.device == "cpu":
            path = Path(tmp) / "m.onnx"
            path.write_bytes(onnx_bytes(model))
            predictor = Predictor(OnnxRunner(path, 1), result.network, 1, "onnxruntime", weights)
        else:
            predictor = Predictor.from_model(model, 1, args.device, weights)
        for image, truth in test:
            mask = predictor.predict(image, keep_probabilities=False).mask
            valid = truth != 255
            accuracy.append(float((mask[valid] == truth[valid]).mean()))
            for c in range(len(classes)):
                inter[c] += ((mask == c) & (truth == c) & valid).sum()
                union[c] += (((mask == c) | (truth == c)) & valid).sum()
            if args.correct:  # the simulated annotator, every tool, from this proposal
                actions.append(correct(classes, image, truth, mask))
    miou = float(np.mean([i / u for i, u in zip(inter, union) if u > 0]))
    line = {
        "data": args.data,
        "variant": args.variant,
        "seed": args.seed,
        "steps": result.steps,
        "acc": round(float(np.mean(accuracy)), 4),
        "miou": round(miou, 4),
        "per": [round(a, 4) for a in accuracy],
    }
    if args.correct:
        line["actions"] = actions
    print(json.dumps(line), flush=True)


def correct(classes: tuple[str, ...], image: np.ndarray, truth: np.ndarray, proposal) -> float:
    """Actions the simulated annotator takes, every tool, to bring one image from an
    empty label map with ``proposal`` on offer to the bench's 95 % target: the cost of
    correcting that proposal, with no loop (and none of its path) around it."""
    from annotator.bench.actions import TOOLS
    from annotator.bench.robot import annotate
    from annotator.core.labelmap import LabelMap
    from annotator.core.schema import LabelSchema

    label_map = LabelMap.blank(LabelSchema.from_names(classes), *truth.shape)
    result = annotate(
        label_map, truth, image=image, proposal=proposal, tools=TOOLS, max_strokes=3000
    )
    return result.actions


def sweep(args: argparse.Namespace) -> None:
    out = Path(os.environ["OUT"]) / "sweep.jsonl"
    jobs = [(d, v, s) for d in args.data.split(",") for v in args.variants for s in args.seeds]

    def one(job: tuple[str, str, int]) -> None:
        d, v, s = job
        cmd = [sys.executable, __file__, "run", d, v, f"--seed={s}", f"--steps={args.steps}"]
        cmd += ["--correct"] if args.correct else []
        done = subprocess.run(
            [*cmd, f"--device={args.device}"], capture_output=True, text=True, timeout=args.timeout
        )
        lines = done.stdout.strip().splitlines()
        error = {"data": d, "variant": v, "seed": s, "error": done.stderr[-500:]}
        with out.open("a") as f:  # one line per write: threads do not interleave
            f.write((lines[-1] if lines else json.dumps(error)) + "\n")

    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(one, jobs))


def table(args: argparse.Namespace) -> None:
    """Mean over seeds, and the paired difference from ``zoom 0.3`` (the seeds both ran)."""
    lines = Path(args.file).read_text().splitlines()
    rows = [json.loads(line) for line in lines if '"acc"' in line]
    got: dict[tuple[str, str], dict[int, dict]] = collections.defaultdict(dict)
    for r in rows:
        got[r["data"], r["variant"]][r["seed"]] = r
    for data in dict.fromkeys(r["data"] for r in rows):
        variants = sorted((v for d, v in got if d == data), key=lambda v: v != "zoom 0.3")
        base = got[data, variants[0]]
        for v in variants:
            runs = got[data, v]
            seeds = sorted(set(runs) & set(base))
            diff = [runs[s]["acc"] - base[s]["acc"] for s in seeds]
            acc = np.mean([runs[s]["acc"] for s in seeds])
            mious = [runs[s]["miou"] for s in seeds if "miou" in runs[s]]
            miou = f"  mIoU {np.mean(mious):.4f}" if mious else ""
            print(
                f"{data:7} {v:14} seeds {len(seeds)}  accuracy {acc:.4f} "
                f"({np.mean(diff):+.4f}, {min(diff):+.4f} to {max(diff):+.4f}){miou}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run")
    one.add_argument("data")
    one.add_argument("variant", choices=list(VARIANTS))
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--seconds", type=float, default=90.0, help="process CPU time")
    one.add_argument("--steps", type=int)
    one.add_argument("--device", default="cpu")
    one.add_argument("--correct", action="store_true", help="also count correction actions")
    many = sub.add_parser("sweep")
    many.add_argument("data")
    many.add_argument("--variants", nargs="+", default=list(VARIANTS))
    many.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    many.add_argument("--steps", type=int, default=600)
    many.add_argument("--workers", type=int, default=15)
    many.add_argument("--device", default="cuda")
    many.add_argument("--timeout", type=int, default=400)
    many.add_argument("--correct", action="store_true")
    show = sub.add_parser("table")
    show.add_argument("file")
    args = ap.parse_args()
    {"run": run, "sweep": sweep, "table": table}[args.command](args)


if __name__ == "__main__":
    main()
