"""How long the window freezes when a session's first training round loads torch.

Each mode runs in a fresh Python process (torch is imported once per process): a
throw-away project of synthetic cell images (two labelled and done) is opened in the
real :class:`MainWindow`, a probe timer fires every ``--probe-ms`` ms, and
``--train-after`` seconds later the first round starts (Train now, a short round). The
probe's lateness is the event loop's latency: any tick more than 50 ms late is a freeze
the user can see. Modes:

* ``none``: nothing is done ahead; the round's thread imports torch;
* ``import``: a thread imports torch one second after the window appears;
* ``app``: what ``annotator gui`` does (``annotator.gui.app.warm_up_torch_later``):
  the same thread loads torch's libraries through a call that releases Python's lock
  first (``annotator.ml.preload``).

Usage: ``python benchmarks/first_round.py [--repeat 3] [--out FILE]``. Prints a table,
writes JSON; never fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if "DISPLAY" not in os.environ:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

MODES = ("none", "import", "app")


def child(mode: str, probe_ms: int, train_after: float, size: int) -> dict[str, object]:
    """One session, in this process: the probe's late ticks before and during the round."""
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    sys.path.insert(0, str(Path(__file__).parent))
    from responsiveness import Probe, build_project, percentile  # type: ignore[import-not-found]

    from annotator.gui.app import warm_up_torch_later
    from annotator.gui.main_window import MainWindow
    from annotator.services.model_service import ModelSettings

    assert "torch" not in sys.modules, "torch is imported already: nothing to measure"
    _app = QApplication.instance() or QApplication(sys.argv[:1])  # kept alive
    tmp = Path(tempfile.mkdtemp(prefix="annotator-first-round-"))
    project = build_project(tmp, 4, size)
    root = project.root
    project.close()
    window = MainWindow()
    window.resize(1200, 800)
    window.loop.settings_override = ModelSettings(seconds=2.0, device="cpu")
    window.show()
    window.open_project(root)
    if mode == "import":
        QTimer.singleShot(
            1000, lambda: threading.Thread(target=lambda: __import__("torch")).start()
        )
    elif mode == "app":
        warm_up_torch_later()
    probe = Probe(probe_ms)
    marks: dict[str, float] = {}
    rounds: list = []
    window.loop.round_finished.connect(rounds.append)

    def train() -> None:
        marks["train"] = time.perf_counter()
        marks["torch_loaded"] = float("torch" in sys.modules)
        window.loop.train_now()
        marks["started"] = time.perf_counter()

    stamps: list[float] = []
    probe.timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    loop = QEventLoop()
    check = QTimer()
    check.setInterval(50)
    service = window.loop.service
    assert service is not None
    check.timeout.connect(lambda: loop.quit() if rounds and not service.training else None)
    QTimer.singleShot(int(train_after * 1000), train)
    start = time.perf_counter()
    probe.start()
    check.start()
    loop.exec()
    probe.stop()
    window.close()
    shutil.rmtree(tmp, ignore_errors=True)
    late = probe.late_ms
    before = [ms for ms, t in zip(late, stamps, strict=False) if t < marks["train"]]
    during = [ms for ms, t in zip(late, stamps, strict=False) if t >= marks["train"]]

    def stats(values: list[float]) -> dict[str, float | int]:
        return {
            "max_ms": round(max(values, default=0.0), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "ticks_over_50_ms": sum(v > 50 for v in values),
        }

    return {
        "mode": mode,
        "seconds": round(time.perf_counter() - start, 1),
        "torch_loaded_before_round": bool(marks["torch_loaded"]),
        "train_now_call_ms": round((marks["started"] - marks["train"]) * 1000, 1),
        "before_round": stats(before),
        "round": stats(during),
        "round_message": rounds[0].message if rounds else "?",
        # (seconds after Train now, ms late) of every tick more than 50 ms late
        "late_ticks": [
            (round(t - marks["train"], 2), round(ms))
            for ms, t in zip(late, stamps, strict=False)
            if ms > 50
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="sessions per mode")
    parser.add_argument("--probe-ms", type=int, default=5)
    parser.add_argument("--train-after", type=float, default=4.0, help="seconds")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--out", type=Path, help="write the results as JSON to this file")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.probe_ms, args.train_after, args.size)))
        return 0

    rows = []
    for i in range(args.repeat):
        for mode in MODES:
            cmd = [sys.executable, __file__, "--child", mode, "--probe-ms", str(args.probe_ms)]
            cmd += ["--train-after", str(args.train_after), "--size", str(args.size)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
            if done.returncode != 0 or not lines:
                print(done.stdout + done.stderr, file=sys.stderr)
                return 1
            row = json.loads(lines[-1])
            row["run"] = i
            rows.append(row)
            b, r = row["before_round"], row["round"]
            print(
                f"{mode:7s} run {i}: before the round max {b['max_ms']} ms "
                f"({b['ticks_over_50_ms']} ticks > 50 ms); Train now call "
                f"{row['train_now_call_ms']} ms; during the round max {r['max_ms']} ms "
                f"({r['ticks_over_50_ms']} > 50 ms)",
                flush=True,
            )
    sys.path.insert(0, str(Path(__file__).parent))
    from responsiveness import machine, write_result  # type: ignore[import-not-found]

    result = {
        **machine(),
        "probe_ms": args.probe_ms,
        "train_after_s": args.train_after,
        "runs": rows,
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
