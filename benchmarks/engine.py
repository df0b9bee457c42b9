"""Benchmark of the model engine on the ISBI 2012 membrane data set.

    python benchmarks/engine.py /work/shared/data/isbi2012-membrane --minutes 10 --out engine.json

Trains one round from scratch on 20 images (CPU by default, ``--device cuda`` on a GPU)
through the same service the CLI uses, then reports on the other 10 images: pixel
accuracy, per-class IoU; and the proposal latency on the same device, as the app would
propose there, at 512x512 and 1024x1024 (median of repeated runs, full path: normalise,
infer, blend, entropy, score), training steps per second and peak memory. Timings on a
shared machine are noisy; this is a benchmark, not a test.

The data folder holds ``images/N.png`` and ``labels/N.png`` (512x512, 8-bit); label 0 is
membrane (class 0) and 255 is cell (class 1).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _numeric_key(p: Path) -> tuple[int, str]:
    return (int(p.stem), p.name) if p.stem.isdigit() else (1 << 30, p.name)


def _read(path: Path) -> np.ndarray:
    import cv2

    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if a is None:
        raise SystemExit(f"cannot read {path}")
    return a


def _median_ms(fn, repeats: int, warmup: int = 2) -> float:  # type: ignore[no-untyped-def]
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", type=Path, help="folder with images/ and labels/")
    budget = ap.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, default=10.0, help="training budget (default 10)")
    budget.add_argument("--steps", type=int, help="training budget in steps instead of minutes")
    ap.add_argument("--train", type=int, default=20, help="images to train on (default 20)")
    ap.add_argument(
        "--device", default="cpu", help="where it trains and proposes, as in the app (default cpu)"
    )
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=15, help="latency repeats (default 15)")
    ap.add_argument(
        "--big",
        type=int,
        default=0,
        metavar="SIZE",
        help="also propose for a SIZExSIZE image (e.g. 10000) and report its memory",
    )
    ap.add_argument("--workdir", type=Path, help="keep the project here (default: a temp folder)")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args(argv)

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.ml.device import configure_cpu_threads
    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import TrainConfig, confusion, metrics_from_confusion
    from annotator.services import proposals, training
    from annotator.storage.project import Project

    threads = configure_cpu_threads()
    images = sorted((args.data / "images").glob("*.png"), key=_numeric_key)
    if len(images) <= args.train:
        raise SystemExit(f"{args.data}: need more than {args.train} images, found {len(images)}")
    train_files, test_files = images[: args.train], images[args.train :]

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="annotator-bench-")
        root = Path(tmp.name) / "project"
    else:
        root = args.workdir
    project = Project.create(root, LabelSchema.from_names(["membrane", "cell"]))
    try:
        project.add_images(train_files)
        for rec in project.images():
            label = _read(args.data / "labels" / rec.name)
            project.save_mask(
                rec.id, (label > 127).astype(np.uint8), source="import", status=ImageStatus.DONE
            )

        seconds = None if args.steps else args.minutes * 60.0
        network = NetworkConfig(1, 2, args.depth, args.width)
        config = TrainConfig(val_fraction=0.0, seed=args.seed)
        last = [0.0]

        def progress(p):  # type: ignore[no-untyped-def]
            if p.elapsed_s - last[0] >= 30:
                last[0] = p.elapsed_s
                print(
                    f"  {p.elapsed_s:6.0f} s  step {p.step:6d}  loss {p.loss:.4f}",
                    file=sys.stderr,
                    flush=True,
                )

        print(
            f"training {args.train} images, budget "
            f"{args.steps or ''}{' steps' if args.steps else f'{args.minutes:g} min'}, "
            f"{threads} threads",
            file=sys.stderr,
            flush=True,
        )
        outcome = training.train_project(
            project,
            steps=args.steps,
            seconds=seconds,
            device=args.device,
            progress=progress,
            config=config,
            network=network,
        )
        result = outcome.result
        if outcome.model is None:
            raise SystemExit(f"training did not publish: {result.message}")

        predictor = proposals.load_predictor(project, device=args.device)
        cm = np.zeros((2, 2), np.int64)
        test_images = []
        for f in test_files:
            image = _read(f)
            test_images.append(image)
            target = (_read(args.data / "labels" / f.name) > 127).astype(np.int16)
            cm += confusion(predictor.predict(image).mask, target, 2)
        quality = metrics_from_confusion(cm)

        img512 = test_images[0]
        img1024 = np.block([[test_images[0], test_images[1]], [test_images[2], test_images[3]]])
        ms512 = _median_ms(lambda: predictor.predict(img512), args.repeats)
        ms1024 = _median_ms(lambda: predictor.predict(img1024), max(3, args.repeats // 3))
        torch_pred = proposals.load_predictor(project, device="cpu", backend="torch")
        ms512_torch = _median_ms(lambda: torch_pred.predict(img512), max(3, args.repeats // 3))

        peak_rss = _peak_rss_mb()  # before the optional big image
        big = {}
        if args.big:
            rss_before = peak_rss
            rng = np.random.default_rng(0)
            reps = -(-args.big // 512)
            tiles = [test_images[int(i)] for i in rng.integers(len(test_images), size=reps * reps)]
            rows = [np.hstack(tiles[r * reps : (r + 1) * reps]) for r in range(reps)]
            huge = np.ascontiguousarray(np.vstack(rows)[: args.big, : args.big])
            del rows, tiles
            t = time.perf_counter()
            prop = predictor.predict(huge)
            big = {
                "size": args.big,
                "seconds": round(time.perf_counter() - t, 1),
                "peak_rss_mb_before": round(rss_before, 1),
                "peak_rss_mb_after": round(_peak_rss_mb(), 1),
                "output_mb": round((prop.mask.nbytes + prop.uncertainty.nbytes) / 2**20, 1),
            }

        report = {
            "pixel_accuracy": round(quality.pixel_accuracy, 5),
            "iou": [None if v is None else round(v, 5) for v in quality.iou],
            "mean_iou": None if quality.mean_iou is None else round(quality.mean_iou, 5),
            "proposal_ms_512": round(ms512, 1),
            "proposal_ms_1024": round(ms1024, 1),
            "proposal_ms_512_torch": round(ms512_torch, 1),
            "proposal_backend": predictor.backend,
            "device": args.device,
            "train_steps_per_s": round(result.steps / result.seconds, 3),
            "train_steps": result.steps,
            "train_seconds": round(result.seconds, 1),
            "train_images": args.train,
            "test_images": len(test_files),
            "final_loss": round(result.final_loss, 5),
            "peak_rss_mb": round(peak_rss, 1),
            "parameters": outcome.model.card.parameters,
            "network": network.to_dict(),
            "batch_size": config.batch_size,
            "crop": config.crop,
            "threads": threads,
            "seed": args.seed,
        }
        if big:
            report["big_image"] = big
    finally:
        project.close()
        if tmp is not None:
            tmp.cleanup()

    rows = [
        ("pixel accuracy (10 test images)", f"{report['pixel_accuracy']:.4f}"),
        ("IoU membrane / cell", " / ".join(f"{v:.4f}" for v in report["iou"])),
        (
            "proposal 512x512 (median)",
            f"{report['proposal_ms_512']:.1f} ms ({report['proposal_backend']})",
        ),
        ("proposal 512x512 torch eager, CPU", f"{report['proposal_ms_512_torch']:.1f} ms"),
        ("proposal 1024x1024 (median)", f"{report['proposal_ms_1024']:.1f} ms"),
        (
            "training",
            f"{report['train_steps']} steps in {report['train_seconds']} s = "
            f"{report['train_steps_per_s']:.2f} steps/s",
        ),
        ("peak RSS", f"{report['peak_rss_mb']:.0f} MB"),
    ]
    if big:
        rows.append(
            (
                f"proposal {big['size']}x{big['size']}",
                f"{big['seconds']} s, peak RSS {big['peak_rss_mb_before']:.0f} -> "
                f"{big['peak_rss_mb_after']:.0f} MB (outputs {big['output_mb']} MB)",
            )
        )
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
