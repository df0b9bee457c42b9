"""The window's thread in a big project: opening it, N, and the loop during a round.

    python benchmarks/big_project.py [--images 5000] [--folder DIR] [--seconds 8] [--out FILE]
                                     [--warm-up] [--n-every TICKS]

Builds (once, in ``--folder``; reused when it is there) a project of ``--images`` 64x64
PNG cell pictures, 100 labelled and done, 200 in progress, four in five scored, with a
tiny model v1. On a copy of it, in process, with Qt offscreen, it times on the thread
that owns the window:

* ``open``: ``MainWindow.open_project`` (wall and the thread's CPU time; the proposal
  worker starts scoring every image meanwhile, so the wall time depends on the cores);
* ``n_idle``: ``ModelService.suggest`` (what N runs) per strategy, proposals paused;
* ``round``: a training round of ``--seconds`` runs (and the worker scores the images)
  while a 20 ms timer runs the loop's checks (``update_enabled``, ``proposes``,
  ``stale_version``) and N: the time of each, how long the window's thread waited for
  a connection to read the project's database with (ADR 0031), and how often it read
  the active version from the database.

``--warm-up`` imports torch as the app does once its window is up (``annotator.ml.preload``,
ADR 0025; without it the round imports it); ``--n-every`` runs N at every n-th tick only
(the checks still every tick), nearer a person pressing N than every 20 ms.

Not a test: prints JSON (and writes it to ``--out``), never fails on a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if "DISPLAY" not in os.environ:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(folder: Path, n: int) -> Path:
    """The project in ``folder`` (made unless there already)."""
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.core.synthetic import synthetic_cells
    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import TrainConfig
    from annotator.services import training
    from annotator.storage.project import Project

    root = folder / "proj"
    if (root / "annotator.sqlite").exists():
        return root
    pictures = folder / "imgs"
    pictures.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image, _ = synthetic_cells(seed=i % 50, size=64, n_cells=3)
        image = image.copy()
        image[0, 0], image[0, 1] = i % 251, i // 251  # every picture its own content
        cv2.imwrite(str(pictures / f"im_{i:05d}.png"), image)
    rng = __import__("random").Random(0)
    with Project.create(root, LabelSchema.from_names(["background", "cell", "nucleus"])) as p:
        p.add_images([pictures])
        records = p.images()
        p.set_scores(
            {r.id: None if rng.random() < 0.2 else round(rng.random(), 2) for r in records}
        )
        for k, r in enumerate(records[:300]):
            _, truth = synthetic_cells(seed=r.id % 50, size=64, n_cells=3)
            status = ImageStatus.DONE if k < 100 else ImageStatus.IN_PROGRESS
            p.save_mask(r.id, truth, status=status)
        training.train_project(
            p,
            steps=2,
            device="cpu",
            network=NetworkConfig(in_channels=1, n_classes=3, depth=2, width=8),
            config=TrainConfig(crop=64, batch_size=4, seed=0),
            export_onnx=False,
        )
    return root


def _ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)
    return {
        "n": len(values),
        "median": round(statistics.median(values), 2),
        "p99": round(ordered[int(0.99 * (len(values) - 1))], 1),
        "max": round(ordered[-1], 1),
    }


def measure(
    source: Path, seconds: float, warm_up: bool = False, n_every: int = 1
) -> dict[str, Any]:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from annotator.gui.main_window import MainWindow
    from annotator.services.jobs import call_directly
    from annotator.services.model_service import ModelService, ModelSettings
    from annotator.storage import db as db_module
    from annotator.storage.project import Project

    gui = threading.get_ident()
    waits: list[float] = []  # the window's thread waiting for a connection to read with
    active_reads = [0]
    real_reading, real_active = db_module.Database._reading, Project.active_model

    @contextlib.contextmanager
    def reading(self: Any) -> Any:
        began = time.perf_counter()
        with real_reading(self) as conn:
            if threading.get_ident() == gui:
                waits.append((time.perf_counter() - began) * 1e3)
            yield conn

    def active_model(self: Any) -> Any:
        if threading.get_ident() == gui:
            active_reads[0] += 1
        return real_active(self)

    db_module.Database._reading = reading  # type: ignore[method-assign]
    Project.active_model = active_model  # type: ignore[method-assign]
    result: dict[str, Any] = {}
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "proj"
        shutil.copytree(source, work)
        # N alone, proposals paused
        with Project.open(work) as project:
            service = ModelService(project, call_directly, settings=ModelSettings(device="cpu"))
            service.pause_proposals()
            service.wait_proposals(30)
            service.show_image(project.images()[150].id)
            for strategy in ("uncertainty", "in-order", "random"):
                service.settings = ModelSettings(strategy=strategy)
                times = []
                for _ in range(15):
                    began = time.perf_counter()
                    service.suggest()
                    times.append((time.perf_counter() - began) * 1e3)
                result[f"n_idle_{strategy}_ms"] = _ms(times)
            service.shutdown(10)
        window = MainWindow()
        window.loop.settings_override = ModelSettings(
            device="cpu", threads=1, train_on_done=False, seconds=seconds, depth=2, width=8
        )
        window.resize(900, 700)
        window.show()
        app.processEvents()
        if warm_up:
            from annotator.ml.preload import warm_up_torch

            warm_up_torch().join()
        walls, cpus = [], []
        for _ in range(5):
            cpu, began = time.thread_time(), time.perf_counter()
            window.open_project(work)
            walls.append((time.perf_counter() - began) * 1e3)
            cpus.append((time.thread_time() - cpu) * 1e3)
            window.close_project()
            app.processEvents()
        result["open_wall_ms"], result["open_gui_cpu_ms"] = _ms(walls), _ms(cpus)
        window.open_project(work)
        loop = window.loop
        service = loop.service
        assert service is not None
        checks: list[float] = []
        nexts: list[float] = []
        ticks = [0]

        def tick() -> None:
            began = time.perf_counter()
            loop.update_enabled()
            loop.proposes()
            loop.stale_version()
            checks.append((time.perf_counter() - began) * 1e3)
            ticks[0] += 1
            if ticks[0] % n_every:
                return
            began = time.perf_counter()
            service.suggest()
            nexts.append((time.perf_counter() - began) * 1e3)

        waits.clear()
        active_reads[0] = 0
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(tick)
        finished = QEventLoop()
        loop.round_finished.connect(lambda _outcome: finished.quit())
        service.train_now()
        timer.start()
        QTimer.singleShot(int(seconds * 1000) + 60000, finished.quit)
        finished.exec()
        timer.stop()
        result["round_loop_checks_ms"] = _ms(checks)
        result["round_n_ms"] = _ms(nexts)
        result["round_db_lock_wait_ms"] = _ms(waits)
        result["round_active_version_db_reads"] = active_reads[0]
        window.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()) / "big5k")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--warm-up", action="store_true")
    parser.add_argument("--n-every", type=int, default=1)
    args = parser.parse_args()
    root = build(args.folder, args.images)
    result = {
        "images": args.images,
        "warm_up": args.warm_up,
        "n_every": args.n_every,
        **measure(root, args.seconds, args.warm_up, max(1, args.n_every)),
    }
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
