"""The bundled demo project: generated cell images anyone may redistribute."""

from __future__ import annotations

from pathlib import Path

from annotator.core.errors import ProjectError
from annotator.core.schema import LabelClass, LabelSchema
from annotator.core.synthetic import synthetic_cells
from annotator.resources import read_json
from annotator.storage.atomic import atomic_write_bytes
from annotator.storage.project import DB_NAME, Project


def demo_recipe() -> dict:
    """resources/demo-recipe.json: the classes, image names, seeds and generator settings."""
    return dict(read_json("demo-recipe.json"))


def create_demo_project(folder: Path, n_images: int | None = None) -> Path:
    """Create (or reuse) a demo project with ``n_images`` generated images inside it
    (default: the recipe's count)."""
    import cv2

    recipe = demo_recipe()
    images_spec, gen = recipe["images"], recipe["generator"]
    if n_images is None:
        n_images = int(images_spec["count"])

    folder = Path(folder).absolute()
    if (folder / DB_NAME).exists():
        Project.open(folder).close()
        return folder
    if n_images < 1:
        raise ProjectError("the demo needs at least one image")
    schema = LabelSchema(
        tuple(LabelClass(i, c["name"], c["color"]) for i, c in enumerate(recipe["classes"]))
    )
    project = Project.create(folder, schema)
    try:
        images = folder / "images"
        for i in range(n_images):
            image, _ = synthetic_cells(
                seed=int(images_spec["first_seed"]) + i,
                size=int(gen["size"]),
                n_cells=int(gen["cells_per_image"]),
                noise=float(gen["noise"]),
            )
            ok, buf = cv2.imencode(".png", image)
            assert ok
            name = images_spec["file_name"].format(index=i)
            atomic_write_bytes(images / name, buf.tobytes())
        project.add_images([images])
    finally:
        project.close()
    return folder
