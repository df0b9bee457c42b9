"""Every architecture (or recipe) at the same CPU budget, on ISBI 2012 and CamVid.

    python benchmarks/architectures.py camvid --minutes 5 --out docs/results/architectures-camvid.json
    python benchmarks/architectures.py isbi --minutes 5 --out docs/results/architectures-isbi.json
    python benchmarks/architectures.py camvid --binary road --train 20 --minutes 3 \\
        --archs unet --recipe plain --seeds 0 1 2      # the issue's baseline

For each architecture: one training round from scratch on the training images, then on
the held-out images mean IoU, IoU per class and pixel accuracy (proposals through the
ONNX export and onnxruntime, exactly as the app makes them); parameters; the median
latency of a 512x512 proposal (onnxruntime, one thread); training steps per second.

**Budget.** ``--minutes`` is *process CPU time* of the training loop
(``time.process_time()``, torch and onnxruntime at ``--threads`` threads, default 1), not
wall time: on a shared machine contention then slows the run down but does not shrink
the budget, so architectures are compared fairly. Latency is reported both as wall
time and as CPU time for the same reason.

Data sets (``--data-root``, default ``../shared/data``):
- ``isbi``: ``isbi2012-membrane``, 2 classes (membrane 0, cell 255 -> 1); train on the
  first 20 images (numeric order), test on the other 10.
- ``camvid``: ``camvid-small``, 11 classes, colour; train on ``train_*`` (100), test on
  ``val_*`` (40); 255 is void (ignored). ``--binary CLASS`` makes it CLASS vs rest.
``--train N`` keeps N training images, evenly spaced.

The JSON (``--out``) is rewritten after every architecture, so a run that is cut off
keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass
class Dataset:
    """Training and test images with their label maps (class ids; 255 = void)."""

    name: str
    classes: list[str]
    train: list[tuple[str, np.ndarray, np.ndarray]]
    test: list[tuple[str, np.ndarray, np.ndarray]]


def _read(path: Path, colour: bool = False) -> np.ndarray:
    import cv2

    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise SystemExit(f"{path}: cannot read this image")
    if colour and a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_BGR2RGB)
    return a


def _spaced(items: list[Any], n: int | None) -> list[Any]:
    """``n`` items evenly spaced through ``items`` (all when ``n`` is None or too big)."""
    if n is None or n >= len(items):
        return items
    idx = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in idx]


def load_isbi(root: Path, n_train: int | None) -> Dataset:
    folder = root / "isbi2012-membrane"
    if not (folder / "images").is_dir():
        raise SystemExit(f"{folder}: no images/ folder (is --data-root right?)")
    paths = sorted((folder / "images").glob("*.png"), key=lambda p: int(p.stem))
    items = []
    for p in paths:
        label = _read(folder / "labels" / p.name)
        items.append((p.name, _read(p), (label > 127).astype(np.uint8)))
    return Dataset("isbi", ["membrane", "cell"], _spaced(items[:20], n_train), items[20:30])


def load_camvid(root: Path, n_train: int | None, binary: str | None) -> Dataset:
    folder = root / "camvid-small"
    if not (folder / "images").is_dir():
        raise SystemExit(f"{folder}: no images/ folder (is --data-root right?)")
    classes = (folder / "classes.txt").read_text().split()
    if binary is not None and binary not in classes:
        raise SystemExit(f"--binary {binary!r}: not a CamVid class; choose one of {classes}")

    def load(prefix: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
        out = []
        for p in sorted((folder / "images").glob(f"{prefix}_*.png")):
            mask = _read(folder / "masks" / p.name)
            if binary is not None:
                cid = classes.index(binary)
                mask = np.where(mask == 255, 255, (mask == cid).astype(np.uint8)).astype(np.uint8)
            out.append((p.name, _read(p, colour=True), mask))
        return out

    names = classes if binary is None else ["rest", binary]
    name = "camvid" if binary is None else f"camvid-{binary}"
    return Dataset(name, names, _spaced(load("train"), n_train), load("val"))


def run_one(
    data: Dataset,
    arch: str,
    recipe: str,
    minutes: float,
    seed: int,
    threads: int,
    workdir: Path,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train one architecture on ``data`` for the budget and measure it.

    On the CPU the budget is process CPU time and proposals go through onnxruntime; on
    a GPU (``device`` other than ``cpu``) the budget is wall time and proposals run in
    torch on the GPU (mixed precision, channels_last), as the app does there.
    """
    import torch

    from annotator.ml.checkpoint import onnx_bytes
    from annotator.ml.data import choose_in_channels
    from annotator.ml.networks import (
        NetworkConfig,
        build_network,
        count_parameters,
        load_weights,
    )
    from annotator.ml.onnx_runtime import OnnxRunner
    from annotator.ml.predict import Predictor
    from annotator.ml.train import (
        TrainImage,
        TrainRequest,
        confusion,
        metrics_from_confusion,
        recipe_config,
        train_round,
    )

    torch.set_num_threads(threads)
    in_ch = choose_in_channels([1 if im.ndim == 2 else im.shape[2] for _, im, _ in data.train])
    network = NetworkConfig(in_ch, len(data.classes), arch=arch)
    images = tuple(
        TrainImage(i, name, pixels, mask) for i, (name, pixels, mask) in enumerate(data.train)
    )
    request = TrainRequest(
        images=images,
        class_names=tuple(data.classes),
        network=network,
        max_seconds=minutes * 60.0,
        config=recipe_config(recipe, seed=seed, val_fraction=0.0),
        device=device,
        clock="cpu" if device == "cpu" else "wall",
    )
    wall = time.perf_counter()
    result = train_round(request)
    train_wall = time.perf_counter() - wall
    if not result.publishable or result.state_dict is None:
        return {"arch": arch, "status": result.status, "message": result.message}
    model = load_weights(build_network(result.network), result.state_dict).eval()
    if device == "cpu":
        onnx_path = workdir / f"{data.name}-{arch}-{seed}.onnx"
        onnx_path.write_bytes(onnx_bytes(model))
        predictor = Predictor(OnnxRunner(onnx_path, threads), result.network, 1, "onnxruntime")
    else:
        predictor = Predictor.from_model(model, 1, device=device)
    n = len(data.classes)
    cm = np.zeros((n, n), np.int64)
    for _, pixels, mask in data.test:
        target = np.where(mask < n, mask, -1)
        cm += confusion(predictor.predict(pixels, keep_probabilities=False).mask, target, n)
    metrics = metrics_from_confusion(cm)
    # 512x512 proposal latency: the whole path (normalise, infer, entropy, score).
    rng = np.random.default_rng(0)
    shape = (512, 512) if in_ch == 1 else (512, 512, 3)
    probe = rng.integers(0, 256, size=shape, dtype=np.uint8)
    walls, cpus = [], []
    for i in range(7):
        w0, c0 = time.perf_counter(), time.process_time()
        predictor.predict(probe, keep_probabilities=False)
        if i >= 2:  # two warm-up runs
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    return {
        "arch": arch,
        "recipe": recipe,
        "seed": seed,
        "device": result.device,
        "backend": predictor.backend,
        "status": result.status,
        "parameters": count_parameters(model),
        "mean_iou": metrics.mean_iou,
        "iou": {c: v for c, v in zip(data.classes, metrics.iou)},
        "pixel_accuracy": metrics.pixel_accuracy,
        "train_cpu_s": round(result.seconds, 1),
        "train_wall_s": round(train_wall, 1),
        "steps": result.steps,
        "steps_per_cpu_s": round(result.steps / max(result.seconds, 1e-9), 3),
        "final_loss": round(result.final_loss, 4),
        "latency_512_ms_median_wall": round(1000 * float(np.median(walls)), 1),
        "latency_512_ms_median_cpu": round(1000 * float(np.median(cpus)), 1),
    }


def _fmt(v: float | None) -> str:
    return "  -  " if v is None else f"{v:.3f}"


def print_table(data: Dataset, rows: list[dict[str, Any]]) -> None:
    cols = "arch          recipe   seed  params     mIoU   pixAcc  steps/s  lat512 ms  " + " ".join(
        c[:6].rjust(6) for c in data.classes
    )
    print(cols)
    for r in rows:
        if "mean_iou" not in r:
            print(f"{r['arch']:<13} {r.get('status')}: {r.get('message')}")
            continue
        per = " ".join(_fmt(v).rjust(6) for v in r["iou"].values())
        print(
            f"{r['arch']:<13} {r['recipe']:<8} {r['seed']:>4}  {r['parameters']:>9,}  "
            f"{_fmt(r['mean_iou'])}  {_fmt(r['pixel_accuracy'])}  {r['steps_per_cpu_s']:>7.2f}  "
            f"{r['latency_512_ms_median_wall']:>9.1f}  {per}"
        )
    sys.stdout.flush()


def markdown_rows(report: dict[str, Any]) -> list[str]:
    """README table rows (one per run) of a JSON report written by ``--out``."""
    rows = []
    for r in report["runs"]:
        if "mean_iou" not in r:
            rows.append(f"| {report['data']} | {r['arch']} | {r.get('status')} | | | | | |")
            continue
        ious = [v for v in r["iou"].values()]
        worst = min((v for v in ious if v is not None), default=None)
        rows.append(
            f"| {report['data']} | {r['arch']} | {r['parameters'] / 1e6:.2f} M | "
            f"{_fmt(r['mean_iou'])} | {_fmt(worst)} | {_fmt(r['pixel_accuracy'])} | "
            f"{r['latency_512_ms_median_cpu']:.0f} | {r['steps_per_cpu_s']:.2f} |"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    from annotator.ml.networks import architecture_names

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", choices=["isbi", "camvid"], help="data set")
    ap.add_argument("--data-root", type=Path, default=DEFAULT_ROOT)
    ap.add_argument("--archs", nargs="+", default=architecture_names(), metavar="ARCH")
    ap.add_argument("--recipe", default="default", choices=["default", "plain"])
    ap.add_argument("--minutes", type=float, default=5.0, help="CPU minutes per architecture")
    ap.add_argument("--train", type=int, help="training images to keep (evenly spaced)")
    ap.add_argument("--binary", metavar="CLASS", help="CamVid only: CLASS vs rest")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1, help="torch/onnxruntime threads (1)")
    ap.add_argument(
        "--device", default="cpu", help="cpu (default; CPU-time budget) or cuda (wall time)"
    )
    ap.add_argument("--out", type=Path, help="JSON results (rewritten after every run)")
    args = ap.parse_args(argv)
    for a in args.archs:
        if a not in architecture_names():
            print(
                f"unknown architecture {a!r}; choose one of: {', '.join(architecture_names())}",
                file=sys.stderr,
            )
            return 1
    if args.binary and args.data != "camvid":
        print("--binary applies to camvid only", file=sys.stderr)
        return 1
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    data = (
        load_isbi(args.data_root, args.train)
        if args.data == "isbi"
        else load_camvid(args.data_root, args.train, args.binary)
    )
    report: dict[str, Any] = {
        "benchmark": "architectures",
        "data": data.name,
        "classes": data.classes,
        "train_images": len(data.train),
        "test_images": len(data.test),
        "recipe": args.recipe,
        "budget": (
            f"{args.minutes} min of process CPU time per run (time.process_time), "
            f"{args.threads} thread(s)"
            if args.device == "cpu"
            else f"{args.minutes} min of wall time per run on {args.device}"
        ),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, shared",
        "device": args.device,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": [],
    }
    print(
        f"# {data.name}: {len(data.train)} train / {len(data.test)} test images; {report['budget']}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.archs:
            for seed in args.seeds:
                row = run_one(
                    data,
                    arch,
                    args.recipe,
                    args.minutes,
                    seed,
                    args.threads,
                    Path(tmp),
                    args.device,
                )
                report["runs"].append(row)
                print_table(data, [row])
                if args.out:
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    args.out.write_text(json.dumps(report, indent=1))
    print()
    print_table(data, report["runs"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
