"""The GUI image list at scale: fill, update, change of image, sort, filter (offscreen).

    python benchmarks/image_list.py [--images 20000] [--out image_list.json]

Records are made in memory (no project needed); each operation is timed including the
Qt events it triggers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from annotator.core.records import ImageRecord
    from annotator.core.status import ImageStatus
    from annotator.gui.image_list import ImageListPanel

    app = QApplication.instance() or QApplication([])
    records = [
        ImageRecord(
            i, f"img_{i:05d}.png", "", "", 512, 512, 1, 8, ImageStatus.NEW, "user", 0, None, "", ""
        )
        for i in range(1, args.images + 1)
    ]
    panel = ImageListPanel()
    panel.resize(300, 800)
    panel.show()
    app.processEvents()
    results: dict[str, float] = {}

    def timed(label: str, action) -> None:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        action()
        app.processEvents()
        results[label] = round((time.perf_counter() - start) * 1000, 1)
        print(f"{label:<36} {results[label]:>8.1f} ms")

    timed("fill", lambda: panel.set_records(records))
    timed(
        "1000 scores, order added", lambda: panel.update_scores({r.id: 0.5 for r in records[:1000]})
    )
    timed(
        "one status update",
        lambda: panel.update_record(replace(records[5], status=ImageStatus.IN_PROGRESS)),
    )
    timed("change of image", lambda: panel.set_current(records[6].id))
    timed("sort by uncertainty", lambda: panel.set_sort("uncertainty"))
    timed(
        "1000 scores, sorted", lambda: panel.update_scores({r.id: 0.7 for r in records[1000:2000]})
    )
    timed(
        "one status update, sorted",
        lambda: panel.update_record(replace(records[7], status=ImageStatus.DONE)),
    )
    timed("name filter", lambda: panel.name_filter.setText("img_19"))
    if args.out:
        args.out.write_text(json.dumps({"images": args.images, "ms": results}, indent=2))
    panel.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
