"""The bundled demo project: generated cell images anyone may redistribute."""

from __future__ import annotations

from pathlib import Path

from annotator.core.errors import ProjectError
from annotator.core.schema import LabelClass, LabelSchema
from annotator.core.status import ImageStatus
from annotator.core.synthetic import synthetic_cells
from annotator.resources import read_json
from annotator.storage.images import encode_png
from annotator.storage.project import DB_NAME, Project

#: The most images ``annotator demo --images`` makes: a demo is a few minutes of
#: labelling, and each image is generated and written one by one.
MAX_DEMO_IMAGES = 1000


def demo_recipe() -> dict:
    """resources/demo-recipe.json: the classes, image names, seeds and generator settings."""
    return dict(read_json("demo-recipe.json"))


def create_demo_project(
    folder: Path, n_images: int | None = None, labelled: int | None = None
) -> Path:
    """Create (or reuse) a demo project with ``n_images`` generated images inside it
    (default: the recipe's count); the first ``labelled`` come with their exact label
    maps, done (so export and training work at once; default: the recipe's, 0)."""
    recipe = demo_recipe()
    images_spec, gen = recipe["images"], recipe["generator"]
    if n_images is None:
        n_images = int(images_spec["count"])
    if labelled is None:
        labelled = int(images_spec.get("labelled", 0))
    if not 1 <= n_images <= MAX_DEMO_IMAGES:
        raise ProjectError(f"--images {n_images}: must be between 1 and {MAX_DEMO_IMAGES}")

    folder = Path(folder).absolute()
    if (folder / DB_NAME).exists():
        Project.open(folder).close()
        return folder
    if not 0 <= labelled <= n_images:
        raise ProjectError(f"--labelled {labelled}: must be between 0 and {n_images}")
    schema = LabelSchema(
        tuple(LabelClass(i, c["name"], c["color"]) for i, c in enumerate(recipe["classes"]))
    )

    def fill(project: Project) -> None:
        for i in range(n_images):
            image, truth = synthetic_cells(
                seed=int(images_spec["first_seed"]) + i,
                size=int(gen["size"]),
                n_cells=int(gen["cells_per_image"]),
                noise=float(gen["noise"]),
            )
            name = images_spec["file_name"].format(index=i)
            record = project.add_image_bytes(encode_png(image), name)
            if i < labelled:
                project.save_mask(record.id, truth, status=ImageStatus.DONE)

    # Made whole beside its folder, then renamed into it: a demo cut short leaves no
    # project of fewer images that the next `annotator demo` would reuse as finished.
    Project.create_whole(folder, schema, fill)
    return folder
