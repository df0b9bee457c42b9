"""Memory of a training round over many big labelled pictures (ADR 0039).

Makes (``--make``) a project of N SIZE x SIZE 16-bit grey pictures, each fully labelled
with 4 classes in bands and blobs, then trains one round of ``--steps`` steps on it with
``services.training.train_project``, as ``annotator train`` does, and prints one JSON
line:

* ``peak_rss_mb``: the process's peak resident memory (``VmHWM``): it counts the pages
  of the round's scratch file that were in memory, which the system takes back first
  under pressure;
* ``peak_anon_mb``: the peak of its anonymous memory (``RssAnon``, sampled every 20 ms):
  what only swap or the out-of-memory killer can take back;
* ``labelled_mpx``, ``seconds``, ``spilled_mb`` / ``in_memory_mb`` (what the round's
  ``storage.spill.Spill`` kept where), ``version`` (the version published, or null).

``--no-spill`` raises the spill's memory budget past anything (every array in memory,
as before the spill). To see what a round needs, run it in a memory cgroup (Linux,
root; cgroup v1 shown)::

    mkdir /sys/fs/cgroup/memory/round
    echo 2500M > /sys/fs/cgroup/memory/round/memory.limit_in_bytes
    echo 0 > /sys/fs/cgroup/memory/round/memory.swappiness
    sh -c 'echo $$ > /sys/fs/cgroup/memory/round/cgroup.procs && exec python \\
        benchmarks/round_memory.py /tmp/big --steps 2'

Not a test: it measures and never fails on a figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np


def _status(field: str) -> int:
    """A ``/proc/self/status`` figure in bytes (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def make(root: Path, n: int, size: int) -> None:
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.storage.project import Project

    rng = np.random.default_rng(0)
    pictures = root.parent / f"{root.name}-pictures"
    masks = root.parent / f"{root.name}-masks"
    pictures.mkdir(parents=True, exist_ok=True)
    masks.mkdir(exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        mask = ((yy // 97 + xx // 131 + i) % 3).astype(np.uint8)
        for _ in range(40):
            cy, cx, r = rng.integers(0, size, 2).tolist() + [int(rng.integers(10, 80))]
            cv2.circle(mask, (cx, cy), r, 3, -1)
        picture = (mask.astype(np.uint16) * 9000 + rng.integers(0, 4000, (size, size))).astype(
            np.uint16
        )
        cv2.imwrite(str(pictures / f"p{i:04d}.png"), picture, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        np.save(masks / f"p{i:04d}.npy", mask)
        print(f"made {i + 1}/{n}", file=sys.stderr, flush=True)
    with Project.create(root, LabelSchema.from_names(["a", "b", "c", "d"])) as project:
        project.add_images([pictures])
        for rec in project.images():
            mask = np.load(masks / f"{rec.stem}.npy")
            project.save_mask(rec.id, mask, source="import", status=ImageStatus.DONE)


def train(root: Path, steps: int, spill: bool) -> dict[str, object]:
    from annotator.services.training import train_project
    from annotator.storage.project import Project

    made: list[object] = []
    try:  # (absent from a tree before the spill: every array in memory there)
        from annotator.storage import spill as spill_module

        if not spill:
            spill_module.IN_MEMORY_BYTES = 1 << 62
        real = spill_module.Spill.__init__

        def noted(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            real(self, *args, **kwargs)
            made.append(self)

        spill_module.Spill.__init__ = noted  # type: ignore[method-assign]
    except ImportError:
        pass
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], _status("RssAnon"))

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    start = time.perf_counter()
    with Project.open(root) as project:
        labelled = sum(r.width * r.height for r in project.images())
        outcome = train_project(project, steps=steps, device="cpu", export_onnx=False)
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    kept = made[0] if made else None
    return {
        "labelled_mpx": round(labelled / 1e6, 1),
        "spill": spill and kept is not None,
        "steps": steps,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(_status("VmHWM") / 2**20),
        "peak_anon_mb": round(peak[0] / 2**20),
        "spilled_mb": None if kept is None else round(kept.spilled / 2**20),  # type: ignore[attr-defined]
        "in_memory_mb": None if kept is None else round(kept.in_memory / 2**20),  # type: ignore[attr-defined]
        "version": outcome.model.version if outcome.model else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--make", type=int, metavar="N", help="make the project of N pictures")
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--no-spill", action="store_true")
    args = parser.parse_args()
    if args.make:
        make(args.project, args.make, args.size)
        return
    print(json.dumps(train(args.project, args.steps, not args.no_spill)), flush=True)


if __name__ == "__main__":
    main()
