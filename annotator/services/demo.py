"""The bundled demo project: generated cell images anyone may redistribute."""

from __future__ import annotations

from pathlib import Path

from annotator.core.errors import ProjectError
from annotator.core.schema import LabelSchema
from annotator.core.synthetic import SYNTHETIC_CLASSES, synthetic_cells
from annotator.storage.images import encode_png
from annotator.storage.project import DB_NAME, Project


def create_demo_project(folder: Path, n_images: int = 8) -> Path:
    """Create (or reuse) a demo project with ``n_images`` generated images inside it."""
    folder = Path(folder).absolute()
    if (folder / DB_NAME).exists():
        Project.open(folder).close()
        return folder
    if n_images < 1:
        raise ProjectError("the demo needs at least one image")
    project = Project.create(folder, LabelSchema.from_names(list(SYNTHETIC_CLASSES)))
    try:
        for i in range(n_images):
            image, _ = synthetic_cells(seed=1000 + i)
            project.add_image_bytes(encode_png(image), f"cells_{i:02d}.png")
    finally:
        project.close()
    return folder
