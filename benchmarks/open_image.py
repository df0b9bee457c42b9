"""Opening big pictures in the window: how long it blocks, and how long until shown.

    python benchmarks/open_image.py [--out open-image.json] [--repeat 2]

Two synthetic PNGs (seeded noise, blurred so they compress like photographs): 8000 x 6000
RGB and 4096 x 4096 16-bit grey, in a temporary project, opened in a real MainWindow
(offscreen Qt) twice each, alternately. Each is opened both ways: read on the GUI thread
(``background_open_pixels`` above every picture) and read by a worker thread (the default
for pictures of 4 MP and more; ADR 0016). For each open: how long ``open_image`` itself
blocked, the time until the picture was shown, the longest gap between event-loop turns
while the picture was being read (what a user feels as a frozen window), and how long the
switch to the new document took on the GUI thread.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path


def _pictures(folder: Path) -> list[Path]:
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    rgb = cv2.GaussianBlur((rng.random((6000, 8000, 3)) * 255).astype(np.uint8), (9, 9), 3)
    grey = cv2.GaussianBlur((rng.random((4096, 4096)) * 65535).astype(np.uint16), (9, 9), 3)
    paths = [folder / "rgb_8000x6000.png", folder / "grey16_4096.png"]
    cv2.imwrite(str(paths[0]), rgb)
    cv2.imwrite(str(paths[1]), grey)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from annotator.gui.main_window import MainWindow
    from annotator.services.projects import create_project

    app = QApplication.instance() or QApplication([])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "pictures"
        folder.mkdir()
        paths = _pictures(folder)
        project = create_project(Path(tmp) / "proj", ["background", "object"])
        project.add_images(paths)
        records = project.images()
        for way, threshold in (("GUI thread", 10**15), ("worker thread", None)):
            window = MainWindow()
            window.resize(1200, 800)
            window.show()
            if threshold is not None:
                window.background_open_pixels = threshold
            window.set_project(project)
            while window.document is None:  # the first image, opened by set_project
                app.processEvents()
            for rec in [records[1], records[0]] * args.repeat:
                start = time.perf_counter()
                window.open_image(rec.id)
                blocked = time.perf_counter() - start
                longest, switch, last = 0.0, 0.0, time.perf_counter()
                while window.document is None or window.document.image_id != rec.id:
                    app.processEvents()
                    now = time.perf_counter()
                    if window.document is not None and window.document.image_id == rec.id:
                        switch = now - last
                    else:
                        longest = max(longest, now - last)
                    last = now
                    time.sleep(0.005)
                shown = time.perf_counter() - start
                row = {
                    "read_on": way,
                    "image": rec.name,
                    "blocked_s": round(blocked, 3),
                    "shown_after_s": round(shown, 3),
                    "longest_gap_while_reading_s": round(longest, 3),
                    "switch_s": round(switch, 3),
                }
                rows.append(row)
                print(
                    f"{way:<14} {rec.name:<20} blocked {blocked:6.3f} s  shown after "
                    f"{shown:6.3f} s  longest gap while reading {longest:6.3f} s  "
                    f"switch {switch:6.3f} s"
                )
            window.close()
            window.deleteLater()
            app.processEvents()
        project.close()
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "cpu_count": os.cpu_count(),
                    "platform": platform.platform(),
                    "qt_platform": os.environ["QT_QPA_PLATFORM"],
                    "opens": rows,
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
