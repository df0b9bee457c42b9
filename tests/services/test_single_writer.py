"""Only ``annotator.storage`` writes inside a project folder.

A whole headless flow (new, add, paint and save through the session, a tiny training
round, predict, rollback, export, import with an embedded image, the demo project) runs
with every file-writing API patched to note which ``annotator`` module did each write
under the projects' folder. The module that writes is the innermost ``annotator`` frame
of the call (so a service calling a storage function counts as storage, and a service
calling ``open`` itself counts as that service).
"""

from __future__ import annotations

import base64
import builtins
import io
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from annotator.core.status import ImageStatus
from annotator.core.synthetic import synthetic_cells

WRITE_MODES = set("wxa+")
OS_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class WriteRecorder:
    """Notes ``(module, api, path)`` for every write under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.writes: list[tuple[str, str, str]] = []

    def note(self, api: str, path: Any) -> None:
        if isinstance(path, int) or path is None:
            return  # a file descriptor or a buffer: the open that made it was noted
        try:
            resolved = Path(os.fsdecode(path)).resolve()
        except TypeError:
            return  # a file object: whoever opened it was noted
        if resolved == self.root or self.root in resolved.parents:
            self.writes.append((_writer_module(), api, resolved.relative_to(self.root).as_posix()))

    def outside_storage(self) -> list[tuple[str, str, str]]:
        return [w for w in self.writes if not w[0].startswith("annotator.storage.")]

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_open = builtins.open

        def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            if WRITE_MODES & set(mode):
                self.note(f"open({mode!r})", file)
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", open_)
        monkeypatch.setattr(io, "open", open_)
        real_os_open = os.open

        def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
            if flags & OS_WRITE_FLAGS:
                self.note("os.open", path)
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "open", os_open)
        for mod, name, arg in [
            (os, "replace", 1),
            (os, "rename", 1),
            (os, "remove", 0),
            (os, "unlink", 0),
            (os, "mkdir", 0),
            (os, "link", 1),
            (os, "symlink", 1),
            (shutil, "copyfile", 1),
            (shutil, "copy", 1),
            (shutil, "copy2", 1),
            (shutil, "copytree", 1),
            (shutil, "move", 1),
            (shutil, "rmtree", 0),
            (cv2, "imwrite", 0),
            (torch, "save", 1),
            (torch.onnx, "export", 2),
            (np, "save", 0),
        ]:
            monkeypatch.setattr(mod, name, self._wrap(getattr(mod, name), f"{name}", arg))
        monkeypatch.setattr(Image.Image, "save", self._wrap(Image.Image.save, "PIL save", 1))

    def _wrap(self, fn: Callable[..., Any], api: str, arg: int) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > arg:
                self.note(api, args[arg])
            return fn(*args, **kwargs)

        return wrapper


def _writer_module() -> str:
    """The innermost ``annotator`` module on the calling thread's stack."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name.startswith("annotator."):
            return name
        frame = frame.f_back
    return "<not annotator>"


def _png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", array)
    assert ok
    path.write_bytes(buf.tobytes())
    return path


def _embedded_labelme(folder: Path) -> Path:
    """A labelme file whose image exists only as base64 ``imageData``."""
    image, _ = synthetic_cells(9, 64)
    ok, buf = cv2.imencode(".png", image)
    assert ok
    doc = {
        "version": "5.4.1",
        "flags": {},
        "shapes": [
            {
                "label": "cell",
                "points": [[5, 5], [30, 5], [30, 30], [5, 30]],
                "shape_type": "polygon",
                "flags": {},
                "group_id": None,
            }
        ],
        "imagePath": "not_on_disk.png",
        "imageData": base64.b64encode(buf.tobytes()).decode("ascii"),
        "imageHeight": 64,
        "imageWidth": 64,
    }
    folder.mkdir(parents=True)
    path = folder / "embedded.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _paint_and_save(project: Any) -> None:
    """Label two images through the session, as the GUI does, and mark them done."""
    from annotator.services.session import AnnotationSession

    session = AnnotationSession(project)
    try:
        for record in project.images()[:2]:
            doc = session.open_image(record.id)
            doc.begin_stroke()
            doc.paint_stroke([(16, 16)], 10, 0)
            doc.paint_stroke([(44, 44)], 10, 1)
            doc.commit_stroke()
            session.mark_done()
    finally:
        session.close()


def _headless_flow(tmp_path: Path, projects: Path, outside: Path) -> None:
    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import TrainConfig
    from annotator.services import proposals, training, versions
    from annotator.services.demo import create_demo_project
    from annotator.services.exchange import (
        ExportRequest,
        ImportRequest,
        export_project,
        import_into_project,
    )
    from annotator.services.projects import create_project

    for i in range(3):
        _png(outside / "images" / f"cell{i}.png", synthetic_cells(i, 64)[0])
    with create_project(projects / "p1", ["background", "cell"]) as project:
        project.add_images([outside / "images"])
        _paint_and_save(project)
        assert project.status_counts()[ImageStatus.DONE.value] == 2
        tiny = NetworkConfig(1, 2, depth=2, width=4)
        fast = TrainConfig(crop=32, batch_size=2, val_fraction=0.0)
        for _ in range(2):
            outcome = training.train_project(
                project, steps=2, network=tiny, config=fast, device="cpu"
            )
            assert outcome.model is not None
        proposals.predict_images(project, out_dir=outside / "predicted", device="cpu")
        versions.rollback(project, 1)
        export_project(
            project,
            ExportRequest(format="labelme", out=outside / "export", split=(1, 0, 0), include="all"),
        )
    with create_project(projects / "p2", ["background"]) as second:
        import_into_project(second, ImportRequest(format="labelme", src=outside / "export"))
        _embedded_labelme(outside / "embedded")
        report = import_into_project(
            second, ImportRequest(format="labelme", src=outside / "embedded")
        )
        assert report.added == ["not_on_disk.png"]
        embedded = second.image_path(second.image("not_on_disk.png"))
        assert embedded.parent == second.root / "images"
    create_demo_project(projects / "demo", n_images=2)


def test_only_storage_writes_inside_the_project_folder(tmp_path, monkeypatch):
    projects, outside = tmp_path / "projects", tmp_path / "outside"
    projects.mkdir()
    recorder = WriteRecorder(projects)
    recorder.install(monkeypatch)
    _headless_flow(tmp_path, projects, outside)
    monkeypatch.undo()

    assert recorder.outside_storage() == []
    written = {path for _, _, path in recorder.writes}
    # The flow did write every kind of file a project holds, all through storage.
    for kind in ("p1/masks/", "p1/proposals/", "p1/models/v0001", "p2/images/"):
        assert any(p.startswith(kind) for p in written), kind
    # the demo is made whole in a staging folder beside its own, then renamed into it
    assert any(p.startswith(".demo.staging-") and "/images/" in p for p in written)
    assert ("annotator.storage.project", "replace", "demo") in recorder.writes
    writers = {module for module, _, _ in recorder.writes}
    assert {"annotator.storage.atomic", "annotator.storage.models"} <= writers
    assert (outside / "predicted" / "cell0.png").is_file()


def test_the_recorder_catches_a_writer_outside_storage(tmp_path, monkeypatch):
    """Control: a format's writer pointed into the project (which export itself refuses)
    writes through ``formats``, and is noticed."""
    from annotator.formats.voc import write_voc
    from annotator.services.exchange import ExportRequest, build_export_dataset
    from annotator.services.projects import create_project

    _png(tmp_path / "images" / "a.png", synthetic_cells(1, 32)[0])
    with create_project(tmp_path / "p", ["background", "cell"]) as project:
        project.add_images([tmp_path / "images"])
        record = project.images()[0]
        project.save_mask(record.id, np.zeros((32, 32), np.uint8), status=ImageStatus.DONE)
        recorder = WriteRecorder(project.root)
        recorder.install(monkeypatch)
        dataset, _ = build_export_dataset(project, ExportRequest(format="voc", out=tmp_path))
        write_voc(project.root / "voc", dataset)
        monkeypatch.undo()
    offenders = {module for module, _, _ in recorder.outside_storage()}
    assert "annotator.formats.base" in offenders


def test_ml_hands_over_bytes_and_never_imports_storage():
    """``ml`` serialises; where files go is storage's business (ADR 0001)."""
    import ast

    import annotator.ml

    offenders = []
    for path in Path(annotator.ml.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            if any(n == "annotator.storage" or n.startswith("annotator.storage.") for n in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
