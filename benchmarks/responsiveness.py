"""GUI responsiveness while a training round and proposals run in the background.

Builds a throw-away project of synthetic cell images (``--size`` px, two fully labelled
and done), trains a first model version outside the measurement (so proposals exist),
then opens the real :class:`MainWindow` and runs two phases of the same script:

* ``idle``: nothing runs in the background;
* ``loaded``: a training round of the default U-Net (``--seconds`` budget) runs, the
  stored proposals are deleted so every image is proposed and scored again, and when the
  round publishes, every proposal is recomputed from the new version.

The script, driven by a 16 ms timer like a user at 60 Hz: brush strokes (press, 24
moves, release), a zoom in or out with the wheel every few strokes, and "next image"
every ``--switch-every`` strokes (which asks for a new proposal each time).

Latency is measured by a probe: a ``QTimer`` set to fire every ``--probe-ms`` ms; the
event-loop latency of a tick is how late it fires (actual gap minus the interval). The
time spent handling each scripted input is recorded too. Target: p99 under 50 ms.

Usage: ``python benchmarks/responsiveness.py [--seconds 20] [--threads 0] [--out FILE]``.
Not a test: prints a table, writes JSON (``p50_ms``, ``p99_ms`` of the loaded phase, and
every phase's numbers), never fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

if "DISPLAY" not in os.environ:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else 0.0


def machine() -> dict[str, object]:
    """What a result ran on (for the JSON files of the GUI benchmarks)."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", "xcb"),
    }


def write_result(out: Path | None, result: dict[str, object]) -> None:
    """Write ``result`` as JSON to ``out`` (if given) and say so."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"wrote {out}")


def build_project(root: Path, n_images: int, size: int):  # type: ignore[no-untyped-def]
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.core.synthetic import SYNTHETIC_CLASSES, synthetic_cells
    from annotator.storage.project import Project

    project = Project.create(root / "project", LabelSchema.from_names(list(SYNTHETIC_CLASSES)))
    folder = root / "images"
    folder.mkdir()
    for i in range(n_images):
        image, _ = synthetic_cells(seed=i, size=size)
        cv2.imwrite(str(folder / f"cells_{i:02d}.png"), image)
    project.add_images([folder])
    for rec in project.images()[:2]:
        _, mask = synthetic_cells(seed=int(rec.stem.split("_")[1]), size=size)
        project.save_mask(rec.id, mask, status=ImageStatus.DONE)
    return project


class Probe:
    """A repeating timer; records how late each tick fires."""

    def __init__(self, interval_ms: int) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000.0
        self.late_ms: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.late_ms = []
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.late_ms.append(max(0.0, (now - self._last - self.interval) * 1000.0))
        self._last = now


class Script:
    """Strokes, zooms and image switches, one input every 16 ms."""

    def __init__(self, window, switch_every: int, seed: int = 0) -> None:  # type: ignore[no-untyped-def]
        from PySide6.QtCore import Qt, QTimer

        self.w = window
        self.rng = np.random.default_rng(seed)
        self.switch_every = switch_every
        self.handle_ms: list[float] = []
        self.strokes = self.zooms = self.switches = 0
        self._steps: list = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(16)
        self.timer.timeout.connect(self._step)

    def _plan_stroke(self) -> None:
        from PySide6.QtCore import QPointF, Qt
        from PySide6.QtTest import QTest

        canvas = self.w.canvas
        vp = canvas.viewport()
        rect = vp.rect()
        x, y = self.rng.uniform(0.2, 0.8) * rect.width(), self.rng.uniform(0.2, 0.8) * rect.height()
        angle = self.rng.uniform(0, 2 * np.pi)
        points = []
        for _ in range(25):
            angle += self.rng.normal(0, 0.3)
            x = float(np.clip(x + 9 * np.cos(angle), 5, rect.width() - 5))
            y = float(np.clip(y + 9 * np.sin(angle), 5, rect.height() - 5))
            points.append(QPointF(x, y).toPoint())
        left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        self._steps.append(lambda p=points[0]: QTest.mousePress(vp, left, none, p))
        for p in points[1:]:
            self._steps.append(lambda p=p: QTest.mouseMove(vp, p))
        self._steps.append(lambda p=points[-1]: QTest.mouseRelease(vp, left, none, p))
        self.strokes += 1
        if self.strokes % 3 == 0:
            factor = 1.25 if self.rng.random() < 0.5 else 0.8
            anchor = QPointF(points[-1])
            self._steps.append(lambda: canvas.zoom_by(factor, anchor))
            self.zooms += 1
        if self.switch_every and self.strokes % self.switch_every == 0:
            self._steps.append(lambda: self.w.go(1))
            self._steps.append(self.w.canvas.fit_to_window)
            self.switches += 1

    def _step(self) -> None:
        if not self._steps:
            self._plan_stroke()
        t = time.perf_counter()
        self._steps.pop(0)()
        self.handle_ms.append((time.perf_counter() - t) * 1000.0)

    def start(self) -> None:
        self.handle_ms = []
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def summary(
    name: str, probe: Probe, script: Script, seconds: float
) -> dict[str, float | int | str]:
    late, handle = probe.late_ms, script.handle_ms
    return {
        "phase": name,
        "seconds": round(seconds, 1),
        "probe_ticks": len(late),
        "p50_ms": round(percentile(late, 50), 2),
        "p99_ms": round(percentile(late, 99), 2),
        "max_ms": round(max(late, default=0.0), 2),
        "input_handling_p50_ms": round(percentile(handle, 50), 2),
        "input_handling_p99_ms": round(percentile(handle, 99), 2),
        "inputs": len(handle),
        "strokes": script.strokes,
        "zooms": script.zooms,
        "image_switches": script.switches,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="training round budget")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="CPU threads for training/inference (0 = all cores but one)",
    )
    parser.add_argument("--probe-ms", type=int, default=5)
    parser.add_argument("--switch-every", type=int, default=8, help="strokes per image switch")
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    args = parser.parse_args(argv)

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from annotator.gui.main_window import MainWindow
    from annotator.services import training
    from annotator.services.model_service import ModelSettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="annotator-resp-"))
    try:
        project = build_project(tmp, args.images, args.size)
        settings = ModelSettings(seconds=args.seconds, threads=args.threads, device="cpu")
        t = time.perf_counter()
        import torch

        torch.set_num_threads(settings.cpu_threads())
        training.train_project(project, steps=30, device="cpu")  # v1, not measured
        print(f"first model trained in {time.perf_counter() - t:.1f} s (not measured)")
        root = project.root
        project.close()

        window = MainWindow()
        window.resize(1400, 900)
        window.loop.settings_override = settings
        window.show()
        window.open_project(root)
        assert window.loop.service is not None
        window.loop.service.wait_proposals(120)  # the stored proposals of v1 are ready
        for _ in range(10):
            app.processEvents()

        probe = Probe(args.probe_ms)
        script = Script(window, args.switch_every)

        def run_phase(until) -> float:  # type: ignore[no-untyped-def]
            loop = QEventLoop()
            check = QTimer()
            check.setInterval(100)
            failed: list[BaseException] = []

            def tick() -> None:  # a check that raises ends the phase, and the run
                try:
                    if until():
                        loop.quit()
                except Exception as exc:
                    failed.append(exc)
                    loop.quit()

            check.timeout.connect(tick)
            start = time.perf_counter()
            probe.start()
            script.start()
            check.start()
            loop.exec()
            check.stop()
            script.stop()
            probe.stop()
            if failed:
                raise failed[0]
            return time.perf_counter() - start

        t0 = time.perf_counter()
        idle_s = run_phase(lambda: time.perf_counter() - t0 >= args.idle_seconds)
        idle = summary("idle", probe, script, idle_s)

        # Loaded: forget the proposals so all are computed again, and start a round.
        service = window.loop.service
        assert service is not None
        shutil.rmtree(root / "proposals")
        (root / "proposals").mkdir()
        rounds: list = []
        window.loop.round_finished.connect(rounds.append)
        window.loop.train_now()
        assert service.training, "the training round did not start"

        def loaded_done() -> bool:
            return bool(rounds) and not service.training and service.wait_proposals(0.0)

        loaded_s = run_phase(loaded_done)
        loaded = summary("loaded", probe, script, loaded_s)
        loaded["round"] = rounds[0].message if rounds else "?"
        window.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rows = [idle, loaded]
    cols = [
        "phase",
        "seconds",
        "probe_ticks",
        "p50_ms",
        "p99_ms",
        "max_ms",
        "input_handling_p50_ms",
        "input_handling_p99_ms",
        "strokes",
        "zooms",
        "image_switches",
    ]
    print(" | ".join(cols))
    for r in rows:
        print(" | ".join(str(r[c]) for c in cols))
    print(f"loaded phase: {loaded['round']}")
    result = {
        "p50_ms": loaded["p50_ms"],
        "p99_ms": loaded["p99_ms"],
        "target_p99_ms": 50,
        "threads": settings.cpu_threads(),
        **machine(),
        "image_size": args.size,
        "images": args.images,
        "round_budget_s": args.seconds,
        "phases": rows,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
