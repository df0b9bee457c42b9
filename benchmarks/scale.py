"""Scale: a project with 20,000 images, and an export of 2,000 label maps of 2048x2048.

    python benchmarks/scale.py [--images 20000] [--masks 2000] [--mask-size 2048]
                               [--formats masks,voc] [--stages add,list,export] [--out FILE]

Stage ``add`` (the CLI in subprocesses, as a user runs it):
  ``annotator add`` of N small PNG files (with its progress line), ``annotator status``,
  ``annotator models``, the database's size.
Stage ``list`` (in process): scoring every image (``set_scores``), ranking what to
  label next (``proposals.rank_next``), and filling the GUI's image list with N records
  (offscreen Qt), each timed.
Stage ``export`` : a project of M images with M label maps of SxS (built first, not
  timed), exported in each format by ``annotator export`` in a subprocess; reports the
  time and the peak resident memory of that process (``getrusage``), to show memory
  stays bounded (it must not grow with M).

Results are written to ``--out`` after every measurement, so a run cut short still
reports what finished.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS: dict[str, Any] = {}


def _save(out: Path | None, key: str, value: Any) -> None:
    RESULTS[key] = value
    print(f"{key}: {value}", file=sys.stderr, flush=True)
    if out is not None:
        out.write_text(json.dumps(RESULTS, indent=1) + "\n")


def _cli(*argv: object) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``annotator ARGV`` in a subprocess: (seconds, peak RSS MiB, result)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    code = (
        "import resource, sys\n"
        "from annotator.cli import main\n"
        "rc = main(sys.argv[1:])\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "try:\n"
        "    # VmHWM: this process's own high-water mark; ru_maxrss can carry the parent's\n"
        "    # across a vfork+exec (Linux keeps the old mm's peak), which made it read high\n"
        "    peak = int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
        "except (OSError, IndexError, ValueError):\n"
        "    pass\n"
        "sys.stderr.write('\\nPEAK_RSS_KIB %d\\n' % peak)\n"
        "sys.exit(rc)\n"
    )
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    peak = 0.0
    for line in result.stderr.splitlines():
        if line.startswith("PEAK_RSS_KIB"):
            peak = int(line.split()[1]) / 1024
    if result.returncode not in (0, 2):
        raise RuntimeError(f"annotator {argv[0]} failed: {result.stderr[-500:]}")
    return seconds, peak, result


def stage_add(work: Path, n: int, out: Path | None) -> Path:
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.storage.project import Project

    folder = work / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for i in range(n):
        sub = folder / f"d{i // 1000:03d}"
        sub.mkdir(exist_ok=True)
        cv2.imwrite(str(sub / f"img{i:06d}.png"), rng.integers(0, 255, (32, 32), np.uint8))
    _save(out, "write_images_s", round(time.perf_counter() - t, 1))
    proj = work / "proj"
    Project.create(proj, LabelSchema.from_names(["background", "cell", "nucleus"])).close()
    seconds, peak, result = _cli("add", proj, folder)
    progress_updates = result.stderr.count("adding")
    _save(
        out,
        "add",
        {
            "images": n,
            "seconds": round(seconds, 1),
            "per_image_ms": round(1000 * seconds / n, 2),
            "peak_rss_mib": round(peak),
            "progress_updates": progress_updates,
            "summary": result.stdout.strip()[-120:],
        },
    )
    for cmd in ("status", "models"):
        seconds, peak, _ = _cli(cmd, proj)
        _save(out, cmd, {"seconds": round(seconds, 2), "peak_rss_mib": round(peak)})
    _save(out, "database_mib", round((proj / "annotator.sqlite").stat().st_size / 2**20, 1))
    return proj


def stage_list(proj: Path, out: Path | None) -> None:
    from annotator.services import proposals
    from annotator.storage.project import Project

    with Project.open(proj) as project:
        t = time.perf_counter()
        records = project.images()
        _save(out, "load_records_s", round(time.perf_counter() - t, 3))
        rng = np.random.default_rng(1)
        t = time.perf_counter()
        project.set_scores({r.id: float(s) for r, s in zip(records, rng.random(len(records)))})
        _save(out, "set_scores_s", round(time.perf_counter() - t, 3))
        t = time.perf_counter()
        ranked = proposals.rank_next(project, "uncertainty")
        _save(
            out,
            "rank_next_s",
            {"seconds": round(time.perf_counter() - t, 3), "ranked": len(ranked)},
        )
        records = project.images()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from annotator.gui.image_list import ImageListPanel

    app = QApplication.instance() or QApplication([])
    panel = ImageListPanel()
    t = time.perf_counter()
    panel.set_records(records)
    app.processEvents()
    _save(out, "gui_image_list_fill_s", round(time.perf_counter() - t, 3))
    t = time.perf_counter()
    panel.update_scores({r.id: 0.5 for r in records[:1000]})
    app.processEvents()
    _save(out, "gui_image_list_1000_scores_s", round(time.perf_counter() - t, 3))
    t = time.perf_counter()
    panel.update_record(records[5])  # what every autosave of the shown image does
    app.processEvents()
    _save(out, "gui_image_list_update_one_record_s", round(time.perf_counter() - t, 3))
    t = time.perf_counter()
    panel.set_current(records[6].id)  # what every change of image does
    app.processEvents()
    _save(out, "gui_image_list_set_current_s", round(time.perf_counter() - t, 3))
    t = time.perf_counter()
    panel.set_sort("uncertainty")
    app.processEvents()
    _save(out, "gui_image_list_sort_by_uncertainty_s", round(time.perf_counter() - t, 3))


def build_mask_project(work: Path, m: int, size: int, out: Path | None) -> Path:
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.storage.project import Project

    folder = work / "big"
    folder.mkdir()
    t = time.perf_counter()
    yy, xx = np.mgrid[0:size, 0:size]
    base = ((xx // 64 + yy // 64) % 3).astype(np.uint8)
    for i in range(m):
        image = np.full((size, size), i % 250, np.uint8)
        image[i % size, :] = 255  # distinct content, so no image is a duplicate
        cv2.imwrite(str(folder / f"big{i:05d}.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    proj = work / "bigproj"
    with Project.create(proj, LabelSchema.from_names(["background", "cell", "nucleus"])) as project:
        project.add_images([folder])
        for k, rec in enumerate(project.images()):
            mask = np.roll(base, k % 64, axis=1)
            project.save_mask(rec.id, mask, status=ImageStatus.DONE)
    _save(out, "build_export_project_s", round(time.perf_counter() - t, 1))
    return proj


def stage_export(work: Path, m: int, size: int, formats: list[str], out: Path | None) -> None:
    proj = build_mask_project(work, m, size, out)
    for fmt in formats:
        target = work / f"export-{fmt}"
        seconds, peak, _ = _cli(
            "export", proj, target, "--format", fmt, "--split", "1", "--images", "hardlink"
        )
        _save(
            out,
            f"export_{fmt}",
            {
                "masks": m,
                "size": size,
                "seconds": round(seconds, 1),
                "per_mask_ms": round(1000 * seconds / m, 1),
                "peak_rss_mib": round(peak),
            },
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--masks", type=int, default=2000)
    parser.add_argument("--mask-size", type=int, default=2048)
    parser.add_argument("--formats", default="masks,voc")
    parser.add_argument("--stages", default="add,list,export")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    stages = args.stages.split(",")
    _save(args.out, "machine", {"cpus": os.cpu_count(), "python": sys.version.split()[0]})
    with tempfile.TemporaryDirectory(prefix="annotator-scale-") as tmp:
        work = Path(tmp)
        if "add" in stages or "list" in stages:
            proj = stage_add(work, args.images, args.out)
            if "list" in stages:
                stage_list(proj, args.out)
        if "export" in stages:
            stage_export(work, args.masks, args.mask_size, args.formats.split(","), args.out)
    _save(
        args.out,
        "parent_peak_rss_mib",
        round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
