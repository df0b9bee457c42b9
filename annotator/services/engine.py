"""Headless orchestration of the model engine, shared by the CLI and the GUI.

* :func:`train_project`: collect the labelled images, continue from the active model
  version (unless ``from_scratch``), train one round, publish a new version (checkpoint,
  card, ONNX export) only if the round finished with a finite loss.
* :func:`predict_images`: proposals for images, written into ``PROJECT/proposals/`` and
  optionally as class-id PNG files to another folder; updates the ranking scores.
* :func:`rank_next`: the unlabelled images in the order a strategy prefers.
* :func:`rollback`: make an older version active again.

torch is imported only inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from annotator.core.errors import ModelError, ProjectError
from annotator.core.proposal import Proposal
from annotator.core.status import ImageStatus
from annotator.storage.atomic import atomic_write_bytes, atomic_write_json
from annotator.storage.project import ImageRecord, ModelRecord, Project, now_iso

if TYPE_CHECKING:  # torch-dependent types, for annotations only
    from annotator.ml.networks import NetworkConfig
    from annotator.ml.predict import Predictor
    from annotator.ml.strategies import Strategy
    from annotator.ml.train import CancelToken, TrainConfig, TrainProgress, TrainResult

log = logging.getLogger(__name__)

#: Default architecture: ~1.9 M parameters, a 512x512 proposal in ~100 ms on 2 CPU cores
#: through onnxruntime.
DEFAULT_DEPTH = 4
DEFAULT_WIDTH = 16
#: Images labelled since the parent version are sampled this many times more often.
RECENT_WEIGHT = 3.0

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class TrainOutcome:
    """A round's result and the version it published (``None`` if nothing was published)."""

    result: TrainResult
    model: ModelRecord | None


@dataclass(frozen=True)
class PredictedImage:
    """What :func:`predict_images` did for one image."""

    image_id: int
    name: str
    score: float
    model_version: int
    mask_path: Path
    exported_path: Path | None


def labelled_records(project: Project) -> list[ImageRecord]:
    """Images that can train: done, or in progress with at least one labelled pixel."""
    return [
        r
        for r in project.images()
        if r.labelled_pixels > 0 and r.status in (ImageStatus.DONE, ImageStatus.IN_PROGRESS)
    ]


def _version_folder(project: Project, record: ModelRecord) -> Path:
    return (project.root / record.checkpoint).parent


def build_request(
    project: Project,
    *,
    steps: int | None = None,
    seconds: float | None = None,
    device: str = "auto",
    from_scratch: bool = False,
    config: TrainConfig | None = None,
    network: NetworkConfig | None = None,
    recent_weight: float = RECENT_WEIGHT,
):  # type: ignore[no-untyped-def]
    """The immutable :class:`~annotator.ml.train.TrainRequest` for the project's labels."""
    from annotator.ml.data import choose_in_channels
    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import TrainConfig, TrainImage, TrainRequest

    schema = project.schema
    if len(schema) > 254:
        raise ModelError("the embedded model supports at most 254 classes")
    records = labelled_records(project)
    if not records:
        raise ModelError("no labelled images: label some pixels (or import masks) first")
    parent = None if from_scratch else project.active_model()
    images = []
    for rec in records:
        mask = project.load_mask(rec)
        if mask is None:
            continue
        recent = parent is None or rec.updated_at > parent.created_at
        images.append(
            TrainImage(
                rec.id,
                rec.name,
                project.load_image(rec),
                mask,
                recent_weight if recent and parent is not None else 1.0,
            )
        )
    if not images:
        raise ModelError("no label masks found for the labelled images")
    if network is None:
        in_ch = choose_in_channels([r.channels for r in project.images()])
        network = NetworkConfig(in_ch, len(schema), DEFAULT_DEPTH, DEFAULT_WIDTH)
    return TrainRequest(
        images=tuple(images),
        class_names=tuple(schema.names),
        network=network,
        init_checkpoint=(project.root / parent.checkpoint) if parent else None,
        parent_version=parent.version if parent else None,
        max_steps=steps,
        max_seconds=seconds,
        config=config or TrainConfig(),
        device=device,
    )


def train_project(
    project: Project,
    *,
    steps: int | None = None,
    seconds: float | None = None,
    device: str = "auto",
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelToken | None = None,
    from_scratch: bool = False,
    config: TrainConfig | None = None,
    network: NetworkConfig | None = None,
    export_onnx: bool = True,
) -> TrainOutcome:
    """Train one round on the project's labels and publish a new version if it finished.

    Continues from the active version unless ``from_scratch``. Under torchrun only
    rank 0 publishes; the other ranks wait for it and return ``model=None``.
    """
    from annotator.ml import distributed
    from annotator.ml.train import train_round

    request = build_request(
        project,
        steps=steps,
        seconds=seconds,
        device=device,
        from_scratch=from_scratch,
        config=config,
        network=network,
    )
    result = _train_within_memory(train_round, request, progress, cancel)
    info = distributed.current()
    record = None
    if result.publishable and (info is None or info.is_main):
        record = publish(project, request, result, export_onnx=export_onnx)
    elif not result.publishable:
        log.warning("training round not published: %s", result.message)
    distributed.barrier()
    return TrainOutcome(result, record)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CPU ``MemoryError`` or torch's "out of memory" errors (CUDA, MPS)."""
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


def _release_memory() -> None:
    import gc

    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _train_within_memory(train_round: Any, request: Any, progress: Any, cancel: Any) -> Any:
    """Run a round; when it runs out of memory, retry with half the batch (down to 1),
    then give up with one line saying so. Nothing is published by a failed attempt."""
    from dataclasses import replace

    while True:
        try:
            return train_round(request, progress, cancel)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            batch = request.config.batch_size
            _release_memory()
            if batch <= 1:
                first = (
                    str(exc).strip().splitlines()[0][:160] if str(exc).strip() else "MemoryError"
                )
                raise ModelError(
                    f"training ran out of memory on {request.device} even with batch size 1 "
                    f"({first}); close other programs, train a smaller network, or use the CPU"
                ) from None
            log.warning(
                "training ran out of memory with batch %d; retrying with %d", batch, batch // 2
            )
            request = replace(request, config=replace(request.config, batch_size=batch // 2))


def make_card(project: Project, request: Any, result: TrainResult, version: int) -> dict[str, Any]:
    """The model card: architecture, classes, lineage, data used, metrics, time."""
    from annotator.ml.checkpoint import FORMAT
    from annotator.ml.unet import UNet, count_parameters

    names = list(request.class_names)
    used = {im.image_id: im.name for im in request.images}
    metrics: dict[str, Any] = {"loss": round(result.final_loss, 5)}
    if result.metrics is not None:
        m = result.metrics
        metrics.update(
            pixel_accuracy=round(m.pixel_accuracy, 5),
            mean_iou=None if m.mean_iou is None else round(m.mean_iou, 5),
            iou={n: (None if v is None else round(v, 5)) for n, v in zip(names, m.iou)},
            val_pixels=m.pixels,
        )
    return {
        "format": FORMAT,
        "version": version,
        "parent": result.parent_version,
        "created_at": now_iso(),
        "architecture": result.network.to_dict(),
        "parameters": count_parameters(UNet(result.network)),
        "classes": names,
        "input": {
            "channels": result.network.in_channels,
            "normalisation": "uint8 / 255; other dtypes: per-image 0.5-99.5 percentiles",
        },
        "training": {
            "steps": result.steps,
            "seconds": round(result.seconds, 2),
            "budget": {"steps": request.max_steps, "seconds": request.max_seconds},
            "from_scratch": request.init_checkpoint is None,
            "device": result.device,
            "world_size": result.world_size,
            "config": asdict(result.config),
        },
        "images": {
            "train": [{"id": i, "name": used[i]} for i in result.train_image_ids],
            "validation": [
                {"id": i, "name": used[i]}
                for i in (result.metrics.images if result.metrics else ())
            ],
        },
        "metrics": metrics,
    }


def publish(
    project: Project, request: Any, result: TrainResult, *, export_onnx: bool = True
) -> ModelRecord:
    """Write the checkpoint, card and ONNX export of a finished round; register the version."""
    from annotator.ml.checkpoint import (
        ONNX_NAME,
        LoadedCheckpoint,
        save_checkpoint,
        version_dir_name,
    )
    from annotator.ml.checkpoint import export_onnx as do_export

    if not result.publishable or result.state_dict is None:
        raise ModelError(f"this training round cannot be published: {result.message}")
    version = project.next_model_version()
    folder = project.models_dir / version_dir_name(version)
    card = make_card(project, request, result, version)
    if export_onnx:
        model = LoadedCheckpoint(card, result.network, result.state_dict).build_model()
        try:
            do_export(model, folder / ONNX_NAME)
            card["onnx"] = ONNX_NAME
        except Exception as exc:  # export is an optimisation; the torch path still works
            log.warning("ONNX export failed, proposals will use torch: %s", exc)
    weights = save_checkpoint(folder, result.state_dict, card)
    rel = weights.relative_to(project.root).as_posix()
    return project.register_model(version, result.parent_version, rel, card)


def rollback(project: Project, version: int) -> ModelRecord:
    """Make ``version`` the active model again (its checkpoint must still load)."""
    from annotator.ml.checkpoint import load_checkpoint

    record = project.model(version)
    # build_model too: a version whose weights do not fit its card must not become active
    load_checkpoint(project.root / record.checkpoint, project.schema.names).build_model()
    return project.set_active_model(version)


def load_predictor(
    project: Project,
    *,
    device: str = "auto",
    backend: str = "auto",
    version: int | None = None,
    threads: int | None = None,
) -> Predictor:
    """A :class:`~annotator.ml.predict.Predictor` for the active (or given) model version.

    ``threads`` limits onnxruntime's CPU threads (e.g. to leave a core to training).
    """
    from annotator.ml.predict import Predictor

    record = project.model(version) if version is not None else project.active_model()
    if record is None:
        raise ModelError("the project has no model yet: run `annotator train` first")
    return Predictor.from_checkpoint(
        _version_folder(project, record),
        project.schema.names,
        device=device,
        backend=backend,
        threads=threads,
    )


def _png(array: np.ndarray) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", array, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ProjectError("could not encode a PNG")
    return buf.tobytes()


def proposal_paths(project: Project, image_id: int) -> tuple[Path, Path, Path]:
    """``(mask.png, uncertainty.png, meta.json)`` of an image's stored proposal."""
    d = project.root / "proposals"
    return d / f"{image_id}.png", d / f"{image_id}_uncertainty.png", d / f"{image_id}.json"


def save_proposal(project: Project, image_id: int, proposal: Proposal) -> Path:
    """Store a proposal: mask and 8-bit uncertainty PNGs, then the JSON that commits them."""
    mask_p, unc_p, meta_p = proposal_paths(project, image_id)
    atomic_write_bytes(mask_p, _png(proposal.mask))
    unc8 = np.round(proposal.uncertainty * 255).astype(np.uint8)
    atomic_write_bytes(unc_p, _png(unc8))
    atomic_write_json(
        meta_p,
        {"model_version": proposal.model_version, "score": proposal.score, "created_at": now_iso()},
    )
    return mask_p


def load_proposal(project: Project, record: ImageRecord) -> Proposal | None:
    """The stored proposal of an image (without probabilities), or ``None``."""
    import cv2

    mask_p, unc_p, meta_p = proposal_paths(project, record.id)
    if not meta_p.exists():
        return None
    try:
        meta = json.loads(meta_p.read_text(encoding="utf-8"))
        mask = cv2.imdecode(np.fromfile(mask_p, np.uint8), cv2.IMREAD_UNCHANGED)
        unc = cv2.imdecode(np.fromfile(unc_p, np.uint8), cv2.IMREAD_UNCHANGED)
    except (OSError, ValueError) as exc:
        log.warning("unreadable proposal for %s: %s", record.name, exc)
        return None
    if mask is None or unc is None or mask.shape != (record.height, record.width):
        return None
    return Proposal(
        None,
        mask.astype(np.uint8),
        unc.astype(np.float32) / 255.0,
        float(meta["score"]),
        int(meta["model_version"]),
    )


def predict_images(
    project: Project,
    records: list[ImageRecord] | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: Any = None,
    out_dir: Path | None = None,
    device: str = "auto",
    backend: str = "auto",
    predictor: Predictor | None = None,
) -> list[PredictedImage]:
    """Propose masks for ``records`` (default: every image) with the active model.

    Each proposal goes to ``PROJECT/proposals/`` and its score to the database as soon
    as it is done, so a cancel keeps what was finished. With ``out_dir``, the masks are
    also written there as class-id PNG files named after the images.
    """
    from annotator.core.errors import Cancelled

    predictor = predictor or load_predictor(project, device=device, backend=backend)
    records = project.images() if records is None else records
    done: list[PredictedImage] = []
    for i, rec in enumerate(records):
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"prediction cancelled after {i} image(s)")
        if progress:
            progress(i, len(records), rec.name)
        try:
            proposal = predictor.predict(
                project.load_image(rec), cancel=cancel, keep_probabilities=False
            )
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            _release_memory()
            raise ModelError(
                f"{rec.name}: proposing ran out of memory after {i} image(s) (those are saved); "
                "close other programs or use the CPU"
            ) from None
        mask_p = save_proposal(project, rec.id, proposal)
        exported = None
        if out_dir is not None:
            exported = Path(out_dir) / Path(rec.name).with_suffix(".png")
            atomic_write_bytes(exported, _png(proposal.mask))
        project.set_scores({rec.id: proposal.score})
        done.append(
            PredictedImage(
                rec.id, rec.name, proposal.score, proposal.model_version, mask_p, exported
            )
        )
    if progress:
        progress(len(records), len(records), "")
    return done


def rank_next(
    project: Project, strategy: Strategy | str = "uncertainty", include_done: bool = False
) -> list[ImageRecord]:
    """Images still to label (not done, unless ``include_done``), best next first."""
    from annotator.ml.strategies import get_strategy

    strat = get_strategy(strategy) if isinstance(strategy, str) else strategy
    candidates = [r for r in project.images() if include_done or r.status != ImageStatus.DONE]
    return strat.rank(candidates, {r.id: r.score for r in candidates})
