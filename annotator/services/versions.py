"""Model versions: which one is active, and going back to an older one (rollback)."""

from __future__ import annotations

from annotator.core.records import ModelRecord
from annotator.storage import models as model_store
from annotator.storage.project import Project


def rollback(project: Project, version: int) -> ModelRecord:
    """Make ``version`` the active model again (its checkpoint must still load and fit the
    project's classes)."""
    from annotator.ml.checkpoint import load_checkpoint

    record = project.model(version)
    weights = model_store.model_files(project, record).weights
    # build_model too: a version whose weights do not fit its card must not become active
    load_checkpoint(weights, project.schema.names).build_model()
    return project.set_active_model(version)


def listing(project: Project) -> tuple[list[ModelRecord], int | None]:
    """Every published version, oldest first, and the active version's number."""
    active = project.active_model()
    return project.models(), (active.version if active else None)
