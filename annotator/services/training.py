"""Training rounds without a front end: request, round, card, publish.

* :func:`build_request`: the immutable :class:`~annotator.ml.train.TrainRequest` for the
  project's labelled images, continuing from the active model version (unless
  ``from_scratch``).
* :func:`train_project`: one round; publishes a new model version (checkpoint, card, ONNX
  export) only if the round finished with a finite loss.
* :func:`train_headless`: what ``annotator train`` does (joins a ``torchrun`` process
  group, shares the CPU threads, assembles the network from the options) so the CLI
  only parses and prints.

torch is imported only inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from annotator.core.card import CardMetrics, CardTraining, ImageRef, ModelCard
from annotator.core.channels import Choice, describe, lacking_note, lacks
from annotator.core.errors import (
    AnnotatorError,
    Cancelled,
    FailedOnMainRank,
    InterruptedAfterPublish,
    ModelError,
    first_line,
)
from annotator.core.records import ImageRecord, ModelRecord, now_iso
from annotator.core.schema import untrainable
from annotator.core.status import ImageStatus
from annotator.ml.data import check_zoom
from annotator.ml.progress import counting
from annotator.storage import models as model_store
from annotator.storage.project import Project
from annotator.storage.spill import Spill

if TYPE_CHECKING:  # torch-dependent types, for annotations only
    import numpy as np

    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import (
        CancelToken,
        Metrics,
        TrainConfig,
        TrainProgress,
        TrainRequest,
        TrainResult,
    )

log = logging.getLogger(__name__)

#: Default architecture: ~1.9 M parameters, a 512x512 proposal in ~100 ms on 2 CPU cores
#: through onnxruntime.
DEFAULT_DEPTH = 4
DEFAULT_WIDTH = 16
#: Images labelled since the parent version are sampled this many times more often.
RECENT_WEIGHT = 3.0
#: How the card describes input normalisation (what ``ml.data.fit_normalizer`` does);
#: the rule itself is the network's ``normalisation`` (what the card's absence of it
#: means: pooled, the first text).
NORMALISATION = (
    "(v - low) / (high - low) * 4 - 2, low and high 0 and 255 for 8-bit pictures, else "
    "the picture's 0.5 and 99.5 percentiles"
)
NORMALISATION_TEXTS = {
    "pooled": NORMALISATION,
    "per-channel": NORMALISATION + ", each channel its own (first three)",
}


def normalisation_text(network: NetworkConfig) -> str:
    """The card's ``normalisation``: :data:`NORMALISATION_TEXTS` (the exact input of
    ``model.onnx``, ``ml.data.Normalizer``), naming the channels of the picture the
    network takes when a Channel Choice picked them (ADR 0030): a user of ``model.onnx``
    outside the app must feed those, in that order, padded to the network's multiple."""
    text = NORMALISATION_TEXTS.get(network.normalisation, NORMALISATION)
    padded = f"; height and width padded to a multiple of {network.multiple}"
    if not network.channel_choice:
        return text + padded
    chosen = ", ".join(str(c + 1) for c in network.channel_choice)
    text = text.replace(" (first three)", "")
    return f"{text}; input: the picture's channels {chosen} (from 1), in that order{padded}"


@dataclass(frozen=True)
class TrainOutcome:
    """A round's result and the version it published (``None`` if nothing was published).

    ``main_process`` is False on the other ranks of a ``torchrun`` group (they never
    publish and should print nothing).
    """

    result: TrainResult
    model: ModelRecord | None
    main_process: bool = True
    #: The version that stayed active instead of ``model``: it was made active while
    #: the round ran (a rollback), and the round does not undo that.
    kept_active: int | None = None
    #: What the caller should tell the user about the round (one line each).
    notes: tuple[str, ...] = ()
    #: What the user should know is wrong with the round's labels (one line each):
    #: classes it had no labels of (:func:`unlabelled_classes_warning`).
    warnings: tuple[str, ...] = ()
    #: A cancel (Ctrl+C, the Cancel button) came only once ``model`` was published: the
    #: version stays, whole, and the caller says so.
    cancelled_after_publish: bool = False
    #: Which labelled pictures the round left out, in a line: they lack a channel of its
    #: Channel Choice (:func:`build_request`).
    left_out: tuple[str, ...] = ()


def labelled_records(project: Project, done_only: bool = False) -> list[ImageRecord]:
    """Images that can train: done, or in progress with at least one labelled pixel
    (``done_only``: the done ones alone, as a round that keeps training while the user
    labels reads them: :class:`~annotator.services.training_rounds.TrainingRounds`)."""
    return project.labelled_images(_training_statuses(done_only))


def has_labelled(project: Project, done_only: bool = False) -> bool:
    """Whether an image can train (:func:`labelled_records`), reading one record."""
    return bool(project.labelled_images(_training_statuses(done_only), limit=1))


def labelled_batches(
    project: Project, done_only: bool = False, size: int = 64
) -> Iterator[ImageRecord]:
    """:func:`labelled_records` one by one, read ``size`` at a time (a check that stops
    early reads no more)."""
    statuses, after = _training_statuses(done_only), 0
    while batch := project.labelled_images(statuses, after=after, limit=size):
        yield from batch
        after = batch[-1].id


def _training_statuses(done_only: bool) -> tuple[ImageStatus, ...]:
    return (ImageStatus.DONE,) if done_only else (ImageStatus.DONE, ImageStatus.IN_PROGRESS)


def new_network(
    project: Project,
    depth: int | None = None,
    width: int | None = None,
    arch: str | None = None,
) -> NetworkConfig:
    """The network of a model trained from scratch on this project.

    ``arch`` names an entry of :data:`annotator.ml.networks.ARCHITECTURES` (an unknown
    name is a one-line error listing the choices); depth and width default to that
    architecture's own defaults.
    """
    from annotator.core.channels import lacks, picked_channels
    from annotator.ml.data import choose_in_channels
    from annotator.ml.networks import DEFAULT_ARCH, NetworkConfig, architecture

    spec = architecture(arch or DEFAULT_ARCH)
    choice = project.channel_choice()  # (the project's: the version keeps it for good)
    counts = [r.channels for r in project.images() if not lacks(r.channels, choice)]
    return NetworkConfig(
        choose_in_channels([picked_channels(c, choice) for c in counts], choice),
        len(project.schema),
        spec.default_depth if depth is None else depth,  # 0 is refused, not a default
        spec.default_width if width is None else width,
        arch=spec.name,
        channel_choice=choice,
    )


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
    cancel: CancelToken | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
    done_only: bool = False,
    lacking: list[str] | None = None,
    channels_how: str = "",
    keep: Callable[[np.ndarray], np.ndarray] | None = None,
) -> TrainRequest:
    """The immutable :class:`~annotator.ml.train.TrainRequest` for the project's labels.

    Reading every labelled image can take a while on a big project: a ``cancel`` (the
    window closing) stops it between images with :class:`Cancelled`; ``progress`` hears
    how many it reads. ``done_only``: only the images marked done train (a round that
    keeps training while the user labels: the image being labelled is left out).

    A labelled image whose picture lacks a channel of the Channel Choice of the network
    trained (the parent version's, or the new network's: ``core.channels.lacks``) is
    left out, its name added to ``lacking``: it would train other channels than the
    model takes as those. ``channels_how``: how the user chooses channels, when every
    picture lacks one (the CLI's ``annotator channels`` by default; the app: its menu).
    ``keep``: where the round holds each picture, label map and what it makes of them
    (``TrainRequest.keep``; :func:`train_project` gives a ``storage.spill.Spill``'s)."""
    schema = project.schema
    if (why := untrainable(len(schema))) is not None:
        raise ModelError(why)
    records = labelled_records(project, done_only)
    if not records:
        raise ModelError(
            "no images marked done yet"
            if done_only
            else "no labelled images: label some pixels (or import masks) first"
        )
    parent = None if from_scratch else project.active_model()
    network = network or (None if parent is not None else new_network(project))
    records = _with_the_channels(project, records, parent, network, lacking, channels_how)
    if progress is not None:
        _say_loading(progress, len(records), steps, seconds)
    from annotator.ml.train import TrainConfig, TrainImage, TrainRequest

    config = config or TrainConfig()
    held = keep or (lambda a: a)
    images = []
    tell = counting(progress, "load", "loading", len(records), steps, seconds)
    for done, rec in enumerate(records):
        tell(done + 1)  # (the image being read, of all: a slow one shows as that one)
        if cancel is not None and cancel.is_set():
            raise Cancelled("training cancelled while reading the labels")
        mask = project.load_mask(rec)
        if mask is None:
            continue
        recent = parent is None or rec.updated_at > parent.created_at
        weight = recent_weight if recent and parent is not None else 1.0
        accepted = project.load_accepted(rec) if config.accepted_border > 0 else None
        images.append(
            TrainImage(
                rec.id,
                rec.name,
                held(project.load_image(rec)),
                held(mask),
                weight,
                accepted=None if accepted is None else held(accepted),
            )
        )
    if not images:
        raise ModelError("no label masks found for the labelled images")
    return TrainRequest(
        images=tuple(images),
        class_names=tuple(schema.names),
        network=network or new_network(project),  # (a parent's: its own, loaded)
        init_checkpoint=model_store.model_files(project, parent).weights if parent else None,
        parent_version=parent.version if parent else None,
        max_steps=steps,
        max_seconds=seconds,
        config=config,
        device=device,
        keep=keep,
    )


def round_choice(project: Project, from_scratch: bool = False) -> Choice:
    """The Channel Choice of the round :func:`train_project` would train now: the
    active model's, or (``from_scratch``, or no model yet) the project's."""
    parent = None if from_scratch else project.active_model()
    if parent is not None:
        return parent.card.channel_choice
    return project.channel_choice()


def training_choice(parent: ModelRecord | None, network: NetworkConfig | None) -> Choice:
    """The Channel Choice of the network a round trains: the parent version's (it keeps
    its own), else the new network's."""
    if parent is not None:
        return parent.card.channel_choice
    return () if network is None else tuple(network.channel_choice)


def _with_the_channels(
    project: Project,
    records: list[ImageRecord],
    parent: ModelRecord | None,
    network: NetworkConfig | None,
    lacking: list[str] | None,
    channels_how: str = "",
) -> list[ImageRecord]:
    """``records`` but those whose pictures lack a channel of the round's Channel Choice
    (named in ``lacking``); a ModelError when that leaves none, saying to choose
    channels with ``channels_how`` (the CLI's command by default)."""
    choice = training_choice(parent, network)
    left = [r.name for r in records if lacks(r.channels, choice)]
    if not left:
        return records
    kept = [r for r in records if not lacks(r.channels, choice)]
    if not kept:
        whose = f"of model v{parent.version}" if parent is not None else "of the project"
        raise ModelError(
            f"every labelled picture lacks channel {max(choice) + 1} of the Channel Choice "
            f"{describe(choice)} {whose}: label pictures that have it, or choose channels "
            f"they have ({channels_how or '`annotator channels`'}) and train from scratch"
        )
    if lacking is not None:
        lacking.extend(left)
    return kept


def _say_loading(
    progress: Callable[[TrainProgress], None],
    images: int,
    steps: int | None,
    seconds: float | None,
) -> None:
    from annotator.ml.progress import TrainProgress

    what = f"loading {images} labelled image{'' if images == 1 else 's'}"
    progress(TrainProgress.starting("load", what, steps, seconds))


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
    done_only: bool = False,
    started: Callable[[int | None], None] | None = None,
    channels_how: str = "",
) -> TrainOutcome:
    """Train one round on the project's labels and publish a new version if it finished.

    Continues from the active version unless ``from_scratch``. Under torchrun only
    rank 0 publishes; the other ranks wait for it and return ``model=None``.
    ``done_only``: a round kept going while the user labels (Keeping On, ADR 0033): only
    the images marked done train, and its card says it was kept on. ``started`` hears
    the version the round continues from (None: from scratch) once its labels are read,
    so that a caller can say it however the round ends. ``channels_how``: as
    :func:`build_request`'s.
    """
    # (a round of thousands of big pictures holds them in a file past a memory budget)
    with Spill(project.models_dir) as spill:
        return _train_project(
            project,
            spill,
            steps=steps,
            seconds=seconds,
            device=device,
            progress=progress,
            cancel=cancel,
            from_scratch=from_scratch,
            config=config,
            network=network,
            export_onnx=export_onnx,
            done_only=done_only,
            started=started,
            channels_how=channels_how,
        )


def _train_project(
    project: Project,
    spill: Spill,
    *,
    steps: int | None,
    seconds: float | None,
    device: str,
    progress: Callable[[TrainProgress], None] | None,
    cancel: CancelToken | None,
    from_scratch: bool,
    config: TrainConfig | None,
    network: NetworkConfig | None,
    export_onnx: bool,
    done_only: bool,
    started: Callable[[int | None], None] | None,
    channels_how: str,
) -> TrainOutcome:
    from annotator.ml import distributed
    from annotator.ml.train import train_round

    lacking: list[str] = []
    with distributed.together():  # torchrun: a failure every rank meets is said once
        active = project.active_model()
        request = build_request(
            project,
            steps=steps,
            seconds=seconds,
            device=device,
            from_scratch=from_scratch,
            config=config,
            network=network,
            cancel=cancel,
            progress=progress,
            done_only=done_only,
            lacking=lacking,
            channels_how=channels_how,
            keep=spill.keep,
        )
    if started is not None:
        started(request.parent_version)
    active_at_start = active.version if active else None
    result = _train_within_memory(train_round, request, progress, cancel)
    # The pictures and maps go before the version is written: past its budget the
    # round held them in its scratch file, whose disk it would otherwise keep meanwhile.
    request = _without_pictures(request)
    spill.close()  # (its last segment too)
    info = distributed.current()
    main = info is None or info.is_main
    record, kept, failure = None, None, None
    if result.publishable and main and cancel is not None and cancel.is_set():
        result = _cancelled(result)  # Ctrl+C during the validation: nothing is published
    if result.publishable and main:
        if progress is not None:
            progress(_writing(request, result, project.next_model_version()))
        try:  # (publishing refuses classes renamed meanwhile, in its transaction)
            record = publish(
                project,
                request,
                result,
                export_onnx=export_onnx,
                replacing=active_at_start,
                cancel=cancel,
                kept_on=done_only,
            )
        except Cancelled:  # during the ONNX export or the files' write: nothing recorded
            result = _cancelled(result)
        except Exception as exc:  # told to the other ranks before it is raised here
            failure = exc
    elif main and not result.publishable and result.status != "cancelled":
        log.warning("training round not published: %s", result.message)
    try:
        if record is not None:
            now = project.active_model()
            if now is not None and now.version != record.version:
                kept = now.version
        # Under torchrun every rank waits here for rank 0's publishing, and learns whether
        # it failed: rank 0 says why, the others end quietly (not with a transport error).
        try:
            told = distributed.share_failure(None if failure is None else str(failure) or "failed")
        except Exception as exc:  # (a transport error: another rank was killed meanwhile)
            if record is None:
                raise
            # the version is recorded and active: the round's outcome, not a failure
            log.warning(
                "model v%d is published; another process of the group stopped meanwhile "
                "(%s: torchrun's report names it)",
                record.version,
                type(exc).__name__,
            )
            told = None
        notes = _notes(project, active, from_scratch)
    except KeyboardInterrupt:
        if record is not None:  # the interrupt came too late to stop it: say so
            raise InterruptedAfterPublish(record.version) from None
        raise
    if failure is not None:
        raise failure
    if told is not None:
        raise FailedOnMainRank(told)
    warning = unlabelled_classes_warning(request.class_names, result.class_pixels, done_only)
    sparse = sparse_validation_warning(project, result.metrics, len(request.images))
    late = record is not None and cancel is not None and cancel.is_set()
    return TrainOutcome(
        result,
        record,
        main,
        kept,
        notes,
        () if not main else tuple(w for w in (warning, sparse) if w is not None),
        cancelled_after_publish=late,
        left_out=_left_out(lacking, request, active, from_scratch),
    )


def _left_out(
    lacking: Sequence[str], request: TrainRequest, parent: ModelRecord | None, from_scratch: bool
) -> tuple[str, ...]:
    """The line naming the labelled pictures ``lacking`` a channel of the round's
    Channel Choice (left out of it); none when there are none."""
    if not lacking:
        return ()
    choice = training_choice(None if from_scratch else parent, request.network)
    return (lacking_note(lacking, choice, "are left out of training"),)


#: Below this share of the held-out images' pixels labelled, the validation figures are
#: said to be those of the labelled pixels only (scribbles score higher than images).
SPARSE_VALIDATION_SHARE = 0.5


def sparse_validation_warning(
    project: Project, metrics: Metrics | None, labelled_images: int
) -> str | None:
    """What to say when whole held-out images were scored on few of their pixels
    (scribbles, partial labels): the labelled pixels are the easy ones, so the score on
    whole images is lower (ADR 0015). ``None`` otherwise, and for a holdout of blocks
    of every image (fewer than ``ml.train.WHOLE_IMAGE_HOLDOUT_MIN`` labelled images)."""
    from annotator.ml.train import WHOLE_IMAGE_HOLDOUT_MIN

    if metrics is None or labelled_images < WHOLE_IMAGE_HOLDOUT_MIN or not metrics.images:
        return None
    area = 0
    for image_id in metrics.images:
        try:
            rec = project.image(image_id)
        except AnnotatorError:
            return None
        area += rec.width * rec.height
    if area == 0 or metrics.pixels >= SPARSE_VALIDATION_SHARE * area:
        return None
    share = metrics.pixels / area
    return (
        f"validation scored only the labelled pixels of the held-out images "
        f"({f'{share:.0%}' if share >= 0.01 else 'under 1 %'} of their pixels): partial "
        "labels such as scribbles are the easy pixels, so the model scores lower on whole "
        "images"
    )


def unlabelled_classes_warning(
    names: Sequence[str], class_pixels: Sequence[int], done_only: bool = False
) -> str | None:
    """What to say when a round trained with classes it had no labelled pixel of (the
    model learns nothing of them, so it cannot propose them); ``None`` when it had all.
    ``done_only``: a round kept going on the done images, which leaves out the image
    being labelled (its pixels of the class may be there)."""
    missing = [n for n, count in zip(names, class_pixels) if count == 0]
    if not class_pixels or not missing:
        return None
    which = ", ".join(missing)
    one = len(missing) == 1
    if done_only:
        return (
            f"{'class' if one else 'classes'} {which} {'has' if one else 'have'} no labels "
            f"in the done images yet: the model learns {'it' if one else 'them'} once an "
            "image with some is marked done"
        )
    return (
        f"{'class' if one else 'classes'} {which} "
        f"{'has' if one else 'have'} no labels yet: the model cannot propose "
        f"{'it' if one else 'them'} until you paint some pixels of "
        f"{'it' if one else 'each'}"
    )


def _writing(request: TrainRequest, result: TrainResult, version: int) -> TrainProgress:
    """The report of a finished round while its version is written (ONNX export included)."""
    from annotator.ml.progress import TrainProgress

    return TrainProgress(
        result.steps,
        request.max_steps,
        result.seconds,
        request.max_seconds,
        result.final_loss,
        "write",
        detail=f"writing model v{version}",
    )


def _notes(project: Project, parent: ModelRecord | None, from_scratch: bool) -> tuple[str, ...]:
    """A grey model continued on a project that now has colour images trains (and
    proposes) them as grey, and one continued after a Channel Choice keeps its own
    channels: each is said, since only a round from scratch changes it."""
    from annotator.ml.data import choose_in_channels
    from annotator.services.channels import channels_note

    if from_scratch or parent is None:
        return ()
    notes = []
    # (a Channel Choice made after the model: the round trains on the model's channels)
    if other := channels_note(parent.card, project.channel_choice()):
        notes.append(f"model v{parent.version} {other}")
    if parent.card.input_channels == 1 and (
        choose_in_channels([r.channels for r in project.images()]) != 1
    ):
        notes.append(
            f"model v{parent.version} takes grey pictures (it was made when every image "
            "was grey): colour images are trained and proposed as grey; a round from "
            "scratch uses their colour"
        )
    return tuple(notes)


def _cancelled(result: TrainResult) -> TrainResult:
    """A finished round that a cancel reached before it was published."""
    return replace(
        result,
        status="cancelled",
        state_dict=None,
        message="cancelled: the model version is unchanged",
    )


def _train_within_memory(
    train_round: Callable[..., TrainResult],
    request: TrainRequest,
    progress: Callable[[TrainProgress], None] | None,
    cancel: CancelToken | None,
) -> TrainResult:
    """Run a round; when it runs out of memory, retry with half the batch (down to 1),
    then give up with one line saying so. Nothing is published by a failed attempt."""
    from annotator.ml import distributed
    from annotator.ml.device import choose_device, is_out_of_memory, release_memory

    while True:
        try:
            return train_round(request, progress, cancel)
        except (RuntimeError, MemoryError) as exc:
            if not is_out_of_memory(exc):
                raise
            batch = request.config.batch_size
            release_memory()
            first = first_line(exc, limit=160)
            info = distributed.current()
            device = choose_device(request.device).type  # (what "auto" chose: cpu, cuda)
            on_cpu = device == "cpu"
            if info is not None:  # one rank cannot retry alone: the others wait for it
                raise ModelError(
                    f"training ran out of memory on the {device.upper()} in process "
                    f"{info.rank} of {info.world_size} with batch size {batch} ({first}); run "
                    f"fewer processes{'' if on_cpu else ' per GPU'}, train a smaller network, "
                    "or close other programs"
                ) from None
            if batch <= 1:
                elsewhere = "" if on_cpu else ", or use the CPU"
                raise ModelError(
                    f"training ran out of memory on the {device.upper()} even with batch size "
                    f"1 ({first}); close other programs or train a smaller network{elsewhere}"
                ) from None
            log.warning(
                "training ran out of memory with batch %d; retrying with %d", batch, batch // 2
            )
            request = replace(request, config=replace(request.config, batch_size=batch // 2))


def _without_pictures(request: TrainRequest) -> TrainRequest:
    """``request`` with no picture or map held (its images' ids, names and weights, as
    the card needs them)."""
    import numpy as np

    none = np.zeros((0, 0), np.uint8)
    images = tuple(replace(im, pixels=none, mask=none, accepted=None) for im in request.images)
    return replace(request, images=images, keep=None)


def make_card(
    request: TrainRequest, result: TrainResult, version: int, kept_on: bool = False
) -> ModelCard:
    """The model card: architecture, classes, lineage, data used, metrics, time
    (``kept_on``: a round kept going while the user labels, ADR 0033)."""
    names = list(request.class_names)
    used = {im.image_id: im.name for im in request.images}
    metrics = CardMetrics(loss=round(result.final_loss, 5))
    if result.metrics is not None:
        m = result.metrics
        scored = m.not_scored is None  # (else the card says why, not a score of 1.0)
        metrics = CardMetrics(
            loss=metrics.loss,
            pixel_accuracy=round(m.pixel_accuracy, 5) if scored else None,
            mean_iou=None if m.mean_iou is None or not scored else round(m.mean_iou, 5),
            iou={n: (None if v is None else round(v, 5)) for n, v in zip(names, m.iou)},
            val_pixels=m.pixels,
            class_pixels=dict(zip(names, m.class_pixels)),
        )
    validation = result.metrics.images if result.metrics else ()
    return ModelCard(
        version=version,
        parent=result.parent_version,
        created_at=now_iso(),
        architecture=result.network.to_dict(),
        parameters=result.parameters,
        classes=tuple(names),
        input_channels=result.network.in_channels,
        normalisation=normalisation_text(result.network),
        training=CardTraining(
            steps=result.steps,
            seconds=round(result.seconds, 2),
            budget_steps=request.max_steps,
            budget_seconds=request.max_seconds,
            from_scratch=request.init_checkpoint is None,
            device=result.device,
            world_size=result.world_size,
            config=asdict(result.config),
            class_weights=result.class_weights,
            kept_on=kept_on,
        ),
        train_images=tuple(ImageRef(i, used[i]) for i in result.train_image_ids),
        validation_images=tuple(ImageRef(i, used[i]) for i in validation),
        metrics=metrics,
    )


def publish(
    project: Project,
    request: TrainRequest,
    result: TrainResult,
    *,
    export_onnx: bool = True,
    replacing: int | None | Literal["any"] = "any",
    cancel: CancelToken | None = None,
    kept_on: bool = False,
) -> ModelRecord:
    """Serialise a finished round (checkpoint, card, ONNX) and store it as the next version
    (made active unless ``replacing`` is no longer the active version). A ``cancel`` set
    before the version is recorded raises :class:`Cancelled` and records nothing.
    ``kept_on``: the round was kept going while the user labels (said on its card)."""
    from annotator.services.versions import store_version

    if not result.publishable or result.state_dict is None:
        raise ModelError(f"this training round cannot be published: {result.message}")
    card = make_card(request, result, project.next_model_version(), kept_on)
    return store_version(
        project,
        card,
        result.network,
        result.state_dict,
        export_onnx=export_onnx,
        replacing=replacing,
        cancel=cancel,
    )


# --- the CLI's round ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RoundOptions:
    """What ``annotator train`` asks for; ``depth``/``width`` apply to a new model only."""

    steps: int | None = None
    seconds: float | None = None
    device: str = "auto"
    from_scratch: bool = False
    seed: int = 0
    depth: int | None = None
    width: int | None = None
    arch: str | None = None
    accepted_border: int = 0
    #: Zoom of the training crops (``ml.train.with_zoom``; 0, the default: none).
    zoom: float = 0.0

    def __post_init__(self) -> None:
        if self.accepted_border < 0:
            raise ModelError("--accepted-border must be 0 or more")
        check_zoom(self.zoom)


def check_arch_change(active: ModelRecord | None, arch: str | None, from_scratch: bool) -> None:
    """Refuse to silently change architecture: continuing a model keeps its network."""
    from annotator.ml.networks import architecture

    if arch is None:
        return
    architecture(arch)  # one line listing the choices when the name is unknown
    if active is not None and not from_scratch and active.card.arch != arch:
        raise ModelError(
            f"the active model v{active.version} is a {active.card.arch}; training continues "
            f"from it, so --arch {arch} needs --from-scratch"
        )


def check_size_change(active: ModelRecord, depth: int | None, width: int | None) -> None:
    """Refuse a ``--depth``/``--width`` out of range, or one that continuing the active
    model would ignore (the range first: it is what --from-scratch would meet next)."""
    from annotator.ml.networks import check_size

    check_size(depth, width)
    network = active.card.architecture
    for option, asked in (("depth", depth), ("width", width)):
        has = network.get(option)
        if asked is not None and has is not None and asked != has:
            raise ModelError(
                f"the active model v{active.version} has {option} {has}; training continues "
                f"from it, so --{option} {asked} needs --from-scratch"
            )


def train_headless(
    root: Path,
    options: RoundOptions,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: CancelToken | None = None,
    started: Callable[[int | None], None] | None = None,
) -> TrainOutcome:
    """One round on the project at ``root``, alone or as one rank of ``torchrun``.

    Joins the process group the environment describes (and leaves it again), shares the
    CPU's threads among the local processes, and reports ``progress`` on the main
    process only (``started``: :func:`train_project`'s).
    """
    from annotator.ml import distributed
    from annotator.ml.device import configure_cpu_threads
    from annotator.ml.train import TrainConfig, with_zoom
    from annotator.services import train_checks

    info = distributed.init_from_env(options.device, cancel)
    main = info is None or info.is_main
    outcome: TrainOutcome | None = None
    try:
        try:
            configure_cpu_threads(distributed.local_world_size())
            with contextlib.ExitStack() as stack:
                # torchrun: a failure every rank meets here is said once (ml.distributed)
                with distributed.together():
                    project = stack.enter_context(Project.open(root, lock=main))  # rank 0 writes
                    network = _checked_network(project, options)
                    train_checks.check_classes(
                        project, from_scratch=options.from_scratch
                    )  # (as the app)
                outcome = train_project(
                    project,
                    steps=options.steps,
                    seconds=options.seconds,
                    device=options.device,
                    progress=progress if main else None,
                    cancel=cancel,
                    from_scratch=options.from_scratch,
                    config=with_zoom(
                        replace(
                            TrainConfig(),
                            seed=options.seed,
                            accepted_border=options.accepted_border,
                        ),
                        options.zoom,
                    ),
                    network=network,
                    started=started,
                )
        finally:
            distributed.shutdown()
    except KeyboardInterrupt:  # closing the project, leaving the group: after the publish
        if outcome is not None and outcome.model is not None:
            raise InterruptedAfterPublish(outcome.model.version) from None
        raise
    return outcome


def _checked_network(project: Project, options: RoundOptions) -> NetworkConfig | None:
    """The network of a new model the options ask for (None: the default one, or the
    active model's); refuses options that continuing the active model would ignore."""
    active = project.active_model()
    check_arch_change(active, options.arch, options.from_scratch)
    if active is not None and not options.from_scratch:
        from annotator.services.versions import check_fits

        # (said before anything is read: a round would refuse it after loading the images)
        check_fits(project, active, f"the active model v{active.version}")
    new_model = options.from_scratch or active is None
    if not new_model:
        assert active is not None
        check_size_change(active, options.depth, options.width)
    if new_model and (options.depth, options.width, options.arch) != (None, None, None):
        return new_network(project, options.depth, options.width, options.arch)
    return None
