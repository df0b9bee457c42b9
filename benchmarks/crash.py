"""Crash harness: a scripted editing session killed with SIGKILL at random moments.

    python benchmarks/crash.py [--kills 200] [--seed 0] [--max-wait 6] [--out FILE]

A child process runs a headless session on one project through the real session,
autosaver and store: it opens images and paints (``Document``), saves, marks images done,
trains tiny rounds (checkpoint, card and ONNX written, version registered), exports,
imports and adds images, in a random order. Before each operation it appends an
*intent* line to a side log, after the operation is durable a *done* line (both
fsync'd). The parent kills it after a random delay, then checks the project:

- it opens (the dead child's write lock is taken over), ``PRAGMA integrity_check`` is ok;
- every mask decodes, at its image's size, with class ids of the schema only;
- model versions are numbered 1..N without gaps, every listed version's checkpoint loads
  (but those older than the newest kept ones, whose files are pruned, ADR 0019), and the
  active one builds a predictor (no half version listed);
- every painted edit logged *done* is on disk (the value at its centre is the last done
  one there, or one of an operation in flight when the kill came);
- every export folder that exists is complete (its file count is what the finished
  export reported); a killed export leaves at most a hidden ``.NAME.partial-*`` folder,
  and exporting again to that name works.

A state lost is any check failing. The same project goes on from kill to kill, so
damage would accumulate. Reports kills by the operation in flight, and states lost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZE = 64
GRID = 8  # paint centres lie on this grid with radius 2, so different centres never overlap
RADIUS = 2
CLASSES = ("background", "cell", "nucleus")
TRAIN_STEPS = 2
# How often the child picks each operation (ANNOTATOR_CRASH_WEIGHTS=train=1,... changes
# them, e.g. to aim the kills at mask writes rather than training rounds).
WEIGHTS = {"paint": 60, "done": 5, "train": 10, "export": 10, "import": 8, "add": 7}


# --- the child -------------------------------------------------------------------------------


def _log(fh: Any, **entry: Any) -> None:
    fh.write(json.dumps(entry) + "\n")
    fh.flush()
    os.fsync(fh.fileno())


def _paint(doc: Any, x: int, y: int, value: int) -> None:
    """One brush dab through the document: one call, one undo step, one commit event."""
    doc.paint_stroke([(x, y)], RADIUS, value)


def child(proj: Path, work: Path, log_path: Path, seed: int) -> None:
    """The scripted session; runs until killed (or 400 operations)."""
    import torch.onnx  # noqa: F401 - slow first imports now, so kills hit real work

    import annotator.ml.checkpoint
    import annotator.ml.train  # noqa: F401
    from annotator.core.status import ImageStatus
    from annotator.services import training
    from annotator.services.session import AnnotationSession
    from annotator.storage.project import Project

    rng = random.Random(seed)
    weights = dict(WEIGHTS)
    for part in filter(None, os.environ.get("ANNOTATOR_CRASH_WEIGHTS", "").split(",")):
        name, value = part.split("=")
        weights[name] = float(value)
    project = Project.open(proj)
    session = AnnotationSession(project)
    devnull = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    with open(log_path, "a", encoding="utf-8") as log:
        for n in range(400):
            op = rng.choices(list(weights), list(weights.values()))[0]
            ids = [r.id for r in project.images()]
            if op == "paint":
                image_id = rng.choice(ids)
                doc = session.open_image(image_id)
                h, w = doc.label_map.shape
                y = GRID * rng.randrange(1, h // GRID)
                x = GRID * rng.randrange(1, w // GRID)
                value = rng.randrange(len(project.schema))
                _log(log, op=op, phase="intent", image=image_id, x=x, y=y, value=value)
                _paint(doc, x, y, value)
                session.save(wait=True)
                _log(log, op=op, phase="done", image=image_id, x=x, y=y, value=value)
            elif op == "done":
                if session.document is None:
                    continue
                _log(log, op=op, phase="intent", image=session.document.image_id)
                session.set_status(ImageStatus.DONE)
                _log(log, op=op, phase="done", image=session.document.image_id)
            elif op == "train":
                session.save(wait=True)
                _log(log, op=op, phase="intent")
                try:
                    outcome = training.train_project(
                        project, steps=TRAIN_STEPS, device="cpu", network=_tiny(project)
                    )
                except Exception as exc:  # e.g. nothing labelled yet: not a crash
                    _log(log, op=op, phase="refused", why=str(exc)[:200])
                    continue
                version = outcome.model.version if outcome.model else None
                _log(log, op=op, phase="done", version=version)
            elif op == "export":
                session.save(wait=True)
                out = work / f"export-{seed}-{n}"
                fmt = rng.choice(["masks", "voc", "coco", "labelme", "yolo"])
                _log(log, op=op, phase="intent", out=str(out), format=fmt)
                from annotator.services.exchange import ExportRequest, export_project

                try:
                    report = export_project(
                        project, ExportRequest(format=fmt, out=out, include="all")
                    )
                except Exception as exc:
                    _log(log, op=op, phase="refused", why=str(exc)[:200])
                    continue
                _log(log, op=op, phase="done", out=str(out), format=fmt, files=len(report.files))
            elif op == "import":
                sources = sorted(work.glob("export-*"))
                masks = [
                    s
                    for s in sources
                    if (s / "class_names.txt").exists() and (s / "train").exists()
                ]
                if not masks:
                    continue
                session.close_document()
                src = rng.choice(masks)
                _log(log, op=op, phase="intent", src=str(src))
                from annotator.services.exchange import ImportRequest, import_into_project

                try:
                    import_into_project(project, ImportRequest(format="masks", src=src))
                except Exception as exc:
                    _log(log, op=op, phase="refused", why=str(exc)[:200])
                    continue
                _log(log, op=op, phase="done", src=str(src))
            elif op == "add":
                from annotator.core.synthetic import synthetic_cells

                folder = work / f"new-{seed}-{n}"
                folder.mkdir()
                import cv2

                image, _ = synthetic_cells(seed * 1000 + n, size=SIZE, n_cells=3)
                cv2.imwrite(str(folder / f"img{seed}_{n}.png"), image)
                _log(log, op=op, phase="intent", folder=str(folder))
                project.add_images([folder])
                _log(log, op=op, phase="done", folder=str(folder))
    session.close()
    project.close()
    devnull.close()


def _tiny(project: Any) -> Any:
    from annotator.ml.networks import NetworkConfig

    if project.active_model() is not None:
        return None  # continue from the active version
    return NetworkConfig(1, len(project.schema), 2, 4)


# --- the parent ------------------------------------------------------------------------------


def build_project(root: Path) -> Path:
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.core.synthetic import synthetic_cells
    from annotator.storage.project import Project

    imgs = root / "imgs"
    imgs.mkdir(parents=True)
    for i in range(4):
        image, _ = synthetic_cells(i, size=SIZE, n_cells=3)
        cv2.imwrite(str(imgs / f"cell{i:03d}.png"), image)
    proj = root / "proj"
    with Project.create(proj, LabelSchema.from_names(list(CLASSES))) as p:
        p.add_images([imgs])
    return proj


def warm_up(folder: Path) -> None:
    """Import and run everything once (a training round with its ONNX export) in this
    process, on a scratch project, so each forked child starts warm and the kills land
    in real work rather than in first-time imports."""
    import torch

    from annotator.core.status import ImageStatus
    from annotator.services import proposals, training
    from annotator.storage.project import Project

    torch.set_num_threads(1)  # no thread pools to be lost across fork
    scratch = build_project(folder)
    with Project.open(scratch) as project:
        rec = project.images()[0]
        mask = np.zeros((rec.height, rec.width), np.uint8)
        mask[: rec.height // 2] = 1
        project.save_mask(rec.id, mask, status=ImageStatus.DONE)
        training.train_project(project, steps=TRAIN_STEPS, device="cpu", network=_tiny(project))
        proposals.load_predictor(project, device="cpu")


def read_log(path: Path) -> list[dict[str, Any]]:
    entries = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:  # a torn last line: the kill came mid-write
                pass
    return entries


def in_flight(entries: list[dict[str, Any]]) -> str:
    """The operation the child was in when it died (its last intent without a done)."""
    if entries and entries[-1]["phase"] == "intent":
        return entries[-1]["op"]
    return "between operations"


def verify(proj: Path, entries: list[dict[str, Any]], work: Path) -> list[str]:
    """Every check of the module docstring; returns the problems found."""
    import cv2

    from annotator.ml.checkpoint import load_checkpoint
    from annotator.services import proposals
    from annotator.services.versions import keep_versions
    from annotator.storage.project import Project

    problems: list[str] = []
    try:
        project = Project.open(proj)
    except Exception as exc:
        return [f"does not open: {exc}"]
    try:
        conn = sqlite3.connect(f"file:{proj / 'annotator.sqlite'}?mode=ro", uri=True)
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.close()
        if check != "ok":
            problems.append(f"integrity_check: {check}")
        n = len(project.schema)
        for rec in project.images():
            path = project.mask_path(rec.id)
            if not path.exists():
                continue
            mask = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
            if mask is None or mask.shape != (rec.height, rec.width):
                problems.append(f"{path.name}: does not decode at {rec.height}x{rec.width}")
                continue
            bad = np.unique(mask[(mask >= n) & (mask < 254)])
            if bad.size:
                problems.append(f"{path.name}: values {bad.tolist()} are no class ids")
        versions = [m.version for m in project.models()]
        if versions != list(range(1, len(versions) + 1)):
            problems.append(f"model versions {versions} have gaps")
        # Old versions' files are pruned (ADR 0019): a version outside the newest kept
        # ones and not active may have none; any other must load.
        models = project.models()
        keep = keep_versions(project)
        active = project.active_model()
        kept = {m.version for m in (models[-keep:] if keep else models)}
        kept |= {active.version} if active else set()
        for m in models:
            if m.version not in kept and not (proj / m.checkpoint).exists():
                continue
            try:
                load_checkpoint(proj / m.checkpoint, project.schema.names, allow_new_classes=True)
            except Exception as exc:
                problems.append(f"v{m.version} is listed but does not load: {exc}")
        if project.active_model() is not None:
            try:
                proposals.load_predictor(project, device="cpu")
            except Exception as exc:
                problems.append(f"the active version does not load: {exc}")
        problems += _check_edits(project, entries)
        problems += _check_exports(entries, work)
    finally:
        project.close()
    return problems


def _check_edits(project: Any, entries: list[dict[str, Any]]) -> list[str]:
    done: dict[tuple[int, int, int], int] = {}
    pending: dict[tuple[int, int, int], set[int]] = {}
    for i, e in enumerate(entries):
        if e["op"] == "import":  # an import rewrites whole masks: later values rule
            done.clear()
            pending.clear()
        if e["op"] != "paint":
            continue
        key = (e["image"], e["y"], e["x"])
        if e["phase"] == "done":
            done[key] = e["value"]
            pending.pop(key, None)
        elif e["phase"] == "intent":
            later = entries[i + 1] if i + 1 < len(entries) else None
            if later is None or later.get("phase") != "done":
                pending.setdefault(key, set()).add(e["value"])
    problems = []
    for (image_id, y, x), value in done.items():
        mask = project.load_mask(project.image(image_id))
        got = None if mask is None else int(mask[y, x])
        if got != value and got not in pending.get((image_id, y, x), set()):
            problems.append(f"lost edit: image {image_id} ({x},{y}) is {got}, saved {value}")
    return problems


def _check_exports(entries: list[dict[str, Any]], work: Path) -> list[str]:
    finished = {e["out"]: e for e in entries if e["op"] == "export" and e["phase"] == "done"}
    problems = []
    for e in entries:
        if e["op"] != "export" or e["phase"] != "intent":
            continue
        out = Path(e["out"])
        if not out.exists():
            continue
        files = [p for p in out.rglob("*") if p.is_file()]
        if e["out"] not in finished:
            # killed after the rename but before the log line: it must still be complete
            if not files:
                problems.append(f"{out.name}: an empty export folder")
            continue
        if len(files) < finished[e["out"]]["files"]:
            problems.append(
                f"{out.name}: {len(files)} files, the export wrote {finished[e['out']]['files']}"
            )
    return problems


def rerun_killed_exports(proj: Path, entries: list[dict[str, Any]]) -> list[str]:
    """An export killed before it finished leaves nothing at OUT; exporting again works."""
    from annotator.services.exchange import ExportRequest, export_project
    from annotator.storage.project import Project

    problems = []
    finished = {e["out"] for e in entries if e["op"] == "export" and e["phase"] == "done"}
    killed = [
        e
        for e in entries
        if e["op"] == "export" and e["phase"] == "intent" and e["out"] not in finished
    ]
    for e in killed[-1:]:
        out = Path(e["out"])
        if out.exists():
            continue  # renamed into place before the kill: complete (checked above)
        try:
            with Project.open(proj, lock=False) as project:
                export_project(project, ExportRequest(format=e["format"], out=out, include="all"))
        except Exception as exc:
            if "nothing to export" not in str(exc):
                problems.append(f"rerun of killed export {out.name} failed: {exc}")
    return problems


def run(
    kills: int, seed: int = 0, max_wait: float = 6.0, out: Path | None = None, verbose: bool = True
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="annotator-crash-") as tmp:
        work = Path(os.environ.get("ANNOTATOR_CRASH_DIR") or tmp)
        work.mkdir(parents=True, exist_ok=True)
        proj = build_project(work)
        warm_up(work / "warm-up")
        log_path = work / "edits.jsonl"
        rng = random.Random(seed)
        phases: Counter[str] = Counter()
        lost: list[dict[str, Any]] = []
        start = time.perf_counter()
        partial_left = 0
        for k in range(kills):
            child_seed = seed * 100_000 + k
            n_before = len(read_log(log_path))
            pid = os.fork()
            if pid == 0:  # the child: a warm copy of this process runs the session
                code = 0
                try:
                    child(proj, work, log_path, child_seed)
                except BaseException as exc:  # noqa: BLE001 - reported to the parent
                    (work / f"child-error-{child_seed}.txt").write_text(repr(exc))
                    code = 1
                os._exit(code)
            # wait for the child to start working (a new log line), then a random time
            t0 = time.monotonic()
            while len(read_log(log_path)) == n_before and time.monotonic() - t0 < 60:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0, max_wait))
            done_pid, status = os.waitpid(pid, os.WNOHANG)
            finished_early = done_pid != 0
            if not finished_early:
                os.kill(pid, signal.SIGKILL)
                _, status = os.waitpid(pid, 0)
            entries = read_log(log_path)
            phase = "finished before the kill" if finished_early else in_flight(entries)
            phases[phase] += 1
            problems = verify(proj, entries, work)
            problems += rerun_killed_exports(proj, entries)
            error_file = work / f"child-error-{child_seed}.txt"
            if error_file.exists():
                problems.append(f"child failed on its own: {error_file.read_text()[:300]}")
            partial_left = len(list(work.glob(".export-*.partial-*")))  # after the rerun
            if problems:
                lost.append({"kill": k, "phase": phase, "problems": problems[:5]})
            if verbose:
                print(
                    f"kill {k + 1}/{kills} during {phase}: {'OK' if not problems else problems[:2]}",
                    file=sys.stderr,
                    flush=True,
                )
            if out is not None:
                out.write_text(
                    json.dumps(
                        _report(
                            k + 1, phases, lost, entries, time.perf_counter() - start, partial_left
                        ),
                        indent=1,
                    )
                    + "\n"
                )
        return _report(
            kills, phases, lost, read_log(log_path), time.perf_counter() - start, partial_left
        )


def _report(
    kills: int,
    phases: Counter[str],
    lost: list[dict[str, Any]],
    entries: list[dict[str, Any]],
    seconds: float,
    partial: int,
) -> dict[str, Any]:
    done = Counter(e["op"] for e in entries if e["phase"] == "done")
    return {
        "kills": kills,
        "states_lost": len(lost),
        "kills_by_operation_in_flight": dict(phases),
        "operations_completed": dict(done),
        "hidden_partial_export_folders_left": partial,
        "seconds": round(seconds, 1),
        "lost": lost[:50],
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        proj, work, log_path, seed = sys.argv[2:6]
        child(Path(proj), Path(work), Path(log_path), int(seed))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-wait", type=float, default=6.0, help="longest delay before a kill (s)"
    )
    parser.add_argument("--out", type=Path, help="JSON report (updated after every kill)")
    args = parser.parse_args()
    report = run(args.kills, args.seed, args.max_wait, args.out)
    print(
        f"{report['kills']} kills, {report['states_lost']} states lost; in flight: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report["kills_by_operation_in_flight"].items()))
    )
    print(
        "operations completed: "
        + ", ".join(f"{k} {v}" for k, v in sorted(report["operations_completed"].items()))
    )
    return 1 if report["states_lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
