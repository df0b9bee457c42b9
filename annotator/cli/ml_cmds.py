"""Model commands: train, predict, models.

``annotator train`` also runs under ``torchrun --nproc_per_node=N`` (DistributedDataParallel;
gloo on CPU, NCCL on GPUs); only rank 0 prints and publishes.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from annotator.cli.progress import ProgressLine
from annotator.core.errors import AnnotatorError

DEFAULT_MINUTES = 2.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model round on the project's labels")
    p.add_argument("project", type=Path)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, metavar="N", help="budget in optimiser steps")
    budget.add_argument(
        "--minutes",
        type=float,
        metavar="M",
        help=f"budget in minutes of training (default {DEFAULT_MINUTES:g})",
    )
    p.add_argument(
        "--device",
        default="auto",
        choices=("auto", "cpu", "cuda", "mps"),
        help="where to train (default: cuda, then mps, then cpu)",
    )
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="start from random weights instead of the active model version",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--depth", type=int, help="U-Net depth for a new model (default 4)")
    p.add_argument("--width", type=int, help="U-Net base width for a new model (default 16)")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("predict", help="write the active model's proposals")
    p.add_argument("project", type=Path)
    p.add_argument("--images", nargs="+", metavar="NAME", help="only these images (default: all)")
    p.add_argument("--out", type=Path, metavar="DIR", help="also write class-id PNG masks here")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.set_defaults(handler=cmd_predict)

    p = sub.add_parser("models", help="list model versions, or roll back to one")
    p.add_argument("project", type=Path)
    p.add_argument("--rollback", type=int, metavar="VERSION", help="make VERSION the active model")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(handler=cmd_models)


def _fmt(v: object) -> str:
    return "n/a" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from annotator.ml import distributed
    from annotator.ml.device import configure_cpu_threads
    from annotator.ml.train import TrainConfig, TrainProgress
    from annotator.services import engine
    from annotator.storage.project import Project

    if args.steps is not None and args.steps < 1:
        raise AnnotatorError("--steps must be at least 1")
    if args.minutes is not None and args.minutes <= 0:
        raise AnnotatorError("--minutes must be positive")
    seconds = None if args.steps is not None else 60.0 * (args.minutes or DEFAULT_MINUTES)
    info = distributed.init_from_env(args.device)
    main = info is None or info.is_main
    configure_cpu_threads(distributed.local_world_size())
    cancel = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():

        def on_sigint(signum, frame):  # type: ignore[no-untyped-def]
            if cancel.is_set():
                raise KeyboardInterrupt
            cancel.set()

        previous = signal.signal(signal.SIGINT, on_sigint)
    line = ProgressLine("training")

    def report(p: TrainProgress) -> None:
        if not main:
            return
        if p.max_steps:
            line(p.step, p.max_steps, f"loss {p.loss:.4f} {p.phase}")
        else:
            total = int(p.max_seconds or 0)
            line(
                min(int(p.elapsed_s), total),
                total,
                f"step {p.step} loss {p.loss:.4f} {p.phase}",
            )

    try:
        with Project.open(args.project, lock=main) as project:  # torchrun: rank 0 writes
            network = None
            new_model = args.from_scratch or project.active_model() is None
            if new_model and (args.depth is not None or args.width is not None):
                from annotator.ml.data import choose_in_channels
                from annotator.ml.networks import NetworkConfig

                network = NetworkConfig(
                    choose_in_channels([r.channels for r in project.images()]),
                    len(project.schema),
                    args.depth or engine.DEFAULT_DEPTH,
                    args.width or engine.DEFAULT_WIDTH,
                )
            outcome = engine.train_project(
                project,
                steps=args.steps,
                seconds=seconds,
                device=args.device,
                progress=report,
                cancel=cancel,
                from_scratch=args.from_scratch,
                config=replace(TrainConfig(), seed=args.seed),
                network=network,
            )
            line.finish()
            result = outcome.result
            if not main:
                return 0
            if result.status != "finished" or outcome.model is None:
                raise AnnotatorError(f"training round not published: {result.message}")
            m = outcome.model
            parent = f" (from v{m.parent})" if m.parent else " (from scratch)"
            print(
                f"published model v{m.version}{parent}: {result.steps} steps in "
                f"{result.seconds:.0f} s on {result.device}"
                + (f" x{result.world_size} processes" if result.world_size > 1 else "")
                + f", loss {result.final_loss:.4f}"
            )
            if result.metrics is None:
                print("no validation: too few labelled pixels to hold some out")
            else:
                met = result.metrics
                print(
                    f"validation on {met.pixels:,} labelled pixels: pixel accuracy "
                    f"{met.pixel_accuracy:.4f}, mean IoU {_fmt(met.mean_iou)}"
                )
                for name, iou in zip(project.schema.names, met.iou):
                    print(f"  IoU {name:<20} {_fmt(iou)}")
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        distributed.shutdown()
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from annotator.ml.device import configure_cpu_threads
    from annotator.services import engine
    from annotator.storage.project import Project

    configure_cpu_threads()
    with Project.open(args.project) as project:
        records = [project.image(n) for n in args.images] if args.images else None
        line = ProgressLine("predicting")
        done = engine.predict_images(
            project, records, progress=line, out_dir=args.out, device=args.device
        )
        line.finish()
        version = done[0].model_version if done else None
        print(
            f"wrote {len(done)} proposal(s) from model v{version} into "
            f"{project.root / 'proposals'}" + (f" and {args.out}" if args.out else "")
        )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from annotator.services import engine
    from annotator.storage.project import Project

    # listing is read-only and runs beside a writer; a rollback takes the write lock
    with Project.open(args.project, lock=args.rollback is not None) as project:
        if args.rollback is not None:
            record = engine.rollback(project, args.rollback)
            print(f"active model is now v{record.version}")
            return 0
        models = project.models()
        active = project.active_model()
        active_v = active.version if active else None
        if args.json:
            print(
                json.dumps(
                    [
                        {
                            "version": m.version,
                            "parent": m.parent,
                            "created_at": m.created_at,
                            "active": m.version == active_v,
                            "card": m.card,
                        }
                        for m in models
                    ],
                    indent=2,
                )
            )
            return 0
        if not models:
            print("no model versions yet: run `annotator train`")
            return 0
        print(
            f"  {'version':<8} {'parent':<7} {'created':<26} {'steps':>7} {'images':>6} "
            f"{'accuracy':>8} {'mIoU':>7}"
        )
        for m in models:
            card = m.card
            metrics = card.get("metrics", {})
            n_images = len(card.get("images", {}).get("train", []))
            mark = "*" if m.version == active_v else " "
            print(
                f"{mark} v{m.version:<7} {('v' + str(m.parent)) if m.parent else '-':<7} "
                f"{m.created_at:<26} {card.get('training', {}).get('steps', '?'):>7} "
                f"{n_images:>6} {_fmt(metrics.get('pixel_accuracy')):>8} "
                f"{_fmt(metrics.get('mean_iou')):>7}"
            )
    return 0
