"""One training round: fine-tune (or start) a network on partial labels for a budget.

``train_round(request, progress, cancel)`` is pure with respect to the project: it gets
copies of the images and label maps in an immutable :class:`TrainRequest`, reports
:class:`TrainProgress`, checks ``cancel`` at every batch, and returns a
:class:`TrainResult` holding the new weights. Publishing (checkpoint, card, version) is
the caller's job and must happen only when ``result.publishable``.

Under ``torchrun`` (a process group initialised by :mod:`annotator.ml.distributed`)
the model is wrapped in DistributedDataParallel; every rank samples its own crops, the
ranks agree every step on stopping (budget, cancel, non-finite loss), and at the end
the BatchNorm statistics of rank 0 are broadcast so every rank holds identical weights.
Only rank 0, which publishes, then validates: the other ranks hold the same weights and
the same held-out labels, so their scores were copies of its own (each rank predicted
every held-out tile again, with the memory that takes), and a single-process round's
validation is what rank 0 runs. The others return ``metrics=None``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch

from annotator.core.card import not_scored_reason
from annotator.core.channels import pick
from annotator.core.errors import Cancelled, ModelError
from annotator.ml import distributed
from annotator.ml.data import (
    IGNORE,
    PLAIN_AUGMENT,
    AugmentConfig,
    BatchPrefetcher,
    CropSampler,
    Targets,
    check_zoom,
    class_counts,
    coords_cap,
    crop_margin,
    fit_normalizer,
    labelled_targets,
    prepare,
    sampled_statistics,
)
from annotator.ml.device import choose_device, to_channels_last
from annotator.ml.loss import segmentation_loss
from annotator.ml.networks import NetworkConfig, build_network, count_parameters, network_of
from annotator.ml.progress import TrainProgress, counting, eta

log = logging.getLogger(__name__)


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class TrainImage:
    """One labelled image: raw pixels, its label map (schema values), a sampling weight."""

    image_id: int
    name: str
    pixels: np.ndarray
    mask: np.ndarray
    weight: float = 1.0
    #: The proposal the labels were accepted from (uint8 class ids), or ``None`` when
    #: every label is the user's; see ``TrainConfig.accepted_border``.
    accepted: np.ndarray | None = None


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (stored in the card).

    The defaults are the project's recipe (ADR 0009 says how it was chosen):
    per-channel input normalisation, colour augmentation (no zoom: ADR 0023), class-weighted
    cross-entropy plus soft Dice, half the crops centred on a uniformly drawn class, and
    a warm-up then cosine learning rate over each round's budget. :func:`plain_recipe`
    is the textbook baseline it is measured against.
    """

    crop: int = 128
    batch_size: int = 8
    lr: float = 2e-3
    #: ``adamw`` (decoupled weight decay) or ``adam``.
    optimizer: Literal["adamw", "adam"] = "adamw"
    #: ``cosine``: linear warm-up over ``warmup_fraction`` of the budget, then a cosine
    #: to ``final_lr_fraction`` of ``lr`` (every round is short and starts from a trained
    #: model, so each gets its own warm-up and decay). ``constant``: ``lr`` throughout.
    schedule: Literal["cosine", "constant"] = "cosine"
    warmup_fraction: float = 0.05
    final_lr_fraction: float = 0.05
    weight_decay: float = 1e-4
    dice_weight: float = 0.5
    #: Weight each class's cross-entropy by ``frequency ** -class_weight_power``
    #: (0 turns it off); frequencies are those of the training labels. A weight shifts
    #: the class's decision boundary by ``power * log(1 / frequency)``: 0.5 made a weak
    #: model paint a rare class over a fifth of held-out photographs, 0 let it never
    #: predict it; 0.25 put the best mean IoU at no shift at all (ADR 0009).
    class_weight_power: float = 0.25
    #: Share of crops centred on a uniformly drawn class (the rest: on a labelled pixel).
    balanced_fraction: float = 0.5
    #: Standardise each input channel with statistics of the training images (stored in
    #: the network, so proposals use the same ones). Only for models started from scratch.
    normalise_channels: bool = True
    #: Share of labelled images held out for validation (of each image's labelled pixel
    #: blocks while fewer than WHOLE_IMAGE_HOLDOUT_MIN are labelled; never a class's
    #: every label). 0 turns validation off.
    val_fraction: float = 0.2
    #: Accepted proposal pixels (label == the proposal it was accepted from) among the
    #: ``accepted_border`` pixels nearest a label border do not train (0, the default:
    #: every label trains). A person stops correcting when the labels look right, so an
    #: accepted border keeps the model's own slight offset. Measured, leaving it out
    #: did not help, in the loop or for a final model (docs/adr/0013).
    accepted_border: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0


def plain_recipe(seed: int = 0, val_fraction: float = 0.0) -> TrainConfig:
    """The textbook baseline (benchmarks only): Adam 1e-3 at a constant rate, batches of
    4 crops of 256, flips and 90-degree rotations, plain cross-entropy, crops placed
    uniformly over the labelled pixels, inputs only scaled to a fixed range."""
    return TrainConfig(
        crop=256,
        batch_size=4,
        lr=1e-3,
        optimizer="adam",
        schedule="constant",
        warmup_fraction=0.0,
        final_lr_fraction=1.0,
        weight_decay=0.0,
        dice_weight=0.0,
        class_weight_power=0.0,
        balanced_fraction=0.0,
        normalise_channels=False,
        val_fraction=val_fraction,
        augment=PLAIN_AUGMENT,
        seed=seed,
    )


RECIPES = ("default", "plain")


def with_zoom(config: TrainConfig, zoom: float) -> TrainConfig:
    """``config`` whose crops are zoomed by up to +-``zoom`` (log scale; 0: not at all,
    the default since ADR 0023). For pictures whose objects appear at many sizes."""
    check_zoom(zoom)
    return replace(config, augment=replace(config.augment, scale=float(zoom)))


def recipe_config(name: str, seed: int = 0, val_fraction: float = 0.0) -> TrainConfig:
    """The :class:`TrainConfig` of a named recipe (``default`` or ``plain``)."""
    if name == "plain":
        return plain_recipe(seed, val_fraction)
    if name == "default":
        return TrainConfig(seed=seed, val_fraction=val_fraction)
    raise ModelError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")


@dataclass(frozen=True)
class TrainRequest:
    """Everything a round needs; immutable, so the GUI can keep editing meanwhile."""

    images: tuple[TrainImage, ...]
    class_names: tuple[str, ...]
    #: Architecture when starting from scratch (ignored when ``init_checkpoint`` is given).
    network: NetworkConfig
    #: The parent version's checkpoint to continue from; ``None`` starts from scratch.
    init_checkpoint: Path | None = None
    parent_version: int | None = None
    max_steps: int | None = None
    max_seconds: float | None = None
    config: TrainConfig = field(default_factory=TrainConfig)
    device: str = "auto"
    #: What ``max_seconds`` measures: ``wall`` time, or this process's ``cpu`` time
    #: (benchmarks on a shared machine, where contention must not shrink the budget).
    clock: Literal["wall", "cpu"] = "wall"
    #: Where the round keeps the big arrays it makes and holds to its end (targets, a
    #: picture's chosen channels): takes one, gives back an equal one to hold instead
    #: (``storage.spill.Spill.keep``: past a memory budget, a memory-mapped file).
    #: ``None``: in memory.
    keep: Callable[[np.ndarray], np.ndarray] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_steps is None and self.max_seconds is None:
            raise ModelError("a training round needs a budget: steps or seconds")
        if self.max_steps is not None and self.max_steps < 1:
            raise ModelError("the step budget must be at least 1")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise ModelError("the time budget must be positive")


@dataclass(frozen=True)
class Metrics:
    """Validation metrics on held-out labelled pixels."""

    pixel_accuracy: float
    iou: tuple[float | None, ...]  # per class; None when the class is absent
    mean_iou: float | None
    pixels: int
    images: tuple[int, ...]  # held-out image ids (the one image, for a pixel holdout)
    #: Validation pixels of each class (the labels, not the predictions).
    class_pixels: tuple[int, ...] = ()

    @property
    def not_scored(self) -> str | None:
        """Why these figures are no score of the model (too few labels held out:
        ``core.card.not_scored_reason``), or ``None``."""
        return not_scored_reason(self.pixels, sum(1 for n in self.class_pixels if n > 0))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)


@dataclass(frozen=True)
class TrainResult:
    """The outcome of a round. Publish only when :attr:`publishable`."""

    status: Literal["finished", "cancelled", "diverged"]
    network: NetworkConfig
    state_dict: dict[str, torch.Tensor] | None
    steps: int
    seconds: float
    final_loss: float
    #: ``None``: nothing held out, or a helper rank of ``torchrun`` (rank 0 validates).
    metrics: Metrics | None
    train_image_ids: tuple[int, ...]
    parent_version: int | None
    config: TrainConfig
    device: str
    world_size: int = 1
    message: str = ""
    #: Trainable parameters of the network (for the model card).
    parameters: int = 0
    #: The cross-entropy class weights of the round (``None``: unweighted); proposals
    #: divide them out (``ml.predict.unweight``).
    class_weights: tuple[float, ...] | None = None
    #: Labelled pixels of each class the round trained on (0: a class it never saw).
    class_pixels: tuple[int, ...] = ()
    #: Seconds the validation took (the held-out labels predicted and scored).
    validation_seconds: float = 0.0

    @property
    def publishable(self) -> bool:
        """Finished, with weights and a finite loss: only then may it become a version."""
        return (
            self.status == "finished"
            and self.state_dict is not None
            and math.isfinite(self.final_loss)
        )


ProgressFn = Callable[[TrainProgress], None]


def _lr_factor(fraction: float, cfg: TrainConfig) -> float:
    """Multiplier of ``cfg.lr`` at ``fraction`` of the budget (see ``TrainConfig.schedule``)."""
    if cfg.schedule == "constant":
        return 1.0
    warm = cfg.warmup_fraction
    if warm > 0 and fraction < warm:
        return 0.1 + 0.9 * fraction / warm
    rest = (fraction - warm) / (1 - warm) if warm < 1 else 1.0
    final = cfg.final_lr_fraction
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * min(1.0, max(0.0, rest))))


def class_weights(targets: list[np.ndarray], n_classes: int, power: float) -> np.ndarray | None:
    """``frequency ** -power`` per class, scaled so the average labelled pixel weighs 1.

    Classes absent from the labels get the largest weight of the present ones (they
    cannot appear in a batch anyway). Clipped to 20x the smallest, so a class of a few
    pixels cannot dominate.
    """
    if power <= 0:
        return None
    counts = label_counts(targets, n_classes).astype(np.float64)
    if counts.sum() == 0:
        return None
    freq = counts / counts.sum()
    present = freq > 0
    w = np.ones(n_classes)
    w[present] = freq[present] ** -power
    w = np.minimum(w, w[present].min() * 20)
    w[~present] = w[present].max()
    return w / float((w * freq).sum())


def label_counts(targets: list[np.ndarray], n_classes: int) -> np.ndarray:
    """Labelled pixels of each class in ``targets`` (training targets: IGNORE not counted)."""
    counts = np.zeros(n_classes, np.int64)
    for t in targets:
        counts += class_counts(t, n_classes)
    return counts


#: Below this many labelled images, validation holds out blocks of every image rather
#: than whole images: holding out one image of two would train on half the labels.
WHOLE_IMAGE_HOLDOUT_MIN = 5


def _split(  # type: ignore[no-untyped-def]
    request: TrainRequest,
    rng: np.random.Generator,
    cancel: CancelToken | None = None,
    choice: Sequence[int] = (),
):
    """(train list, val list) of (TrainImage, :class:`Targets`) pairs; see
    TrainConfig.val_fraction.

    Whole images are held out once there are :data:`WHOLE_IMAGE_HOLDOUT_MIN`; before,
    blocks of each image. Either way a class is never held out whole: a class whose
    every label fell to validation would not train at all (and with a seed fixed per
    round, not in the next round either). Each image's targets cover only its labels
    and the margin its crops reach (``ml.data.labelled_targets``); a ``cancel`` stops
    between images with :class:`Cancelled`. ``choice``: the network's channel choice,
    whose channels say which pixels have no value (as the proposals find them)."""
    n_classes = len(request.class_names)
    cfg = request.config
    margin = crop_margin(cfg.crop, cfg.augment.scale)
    keep = request.keep or (lambda a: a)
    pairs = []
    for im in request.images:
        _check(cancel)
        t = labelled_targets(
            im.mask,
            n_classes,
            margin,
            im.accepted,
            cfg.accepted_border,
            pick(im.pixels, choice) if choice else im.pixels,
        )
        if t is not None and (t.values != IGNORE).any():
            pairs.append((im, t.with_values(keep(t.values))))
    if not pairs:
        raise ModelError("no labelled pixels to train on: label some pixels first")
    frac = cfg.val_fraction
    if frac <= 0:
        return pairs, []
    if len(pairs) < WHOLE_IMAGE_HOLDOUT_MIN:
        train, val = [], []
        for im, t in pairs:
            _check(cancel)
            train_t, val_t = _keep_every_class(*_block_split(t.values, frac, rng))
            train.append((im, t.with_values(keep(train_t))))
            if (val_t != IGNORE).any():
                val.append((im, t.with_values(keep(val_t))))
        return train, val
    n_val = min(len(pairs) - 1, max(1, int(round(len(pairs) * frac))))
    classes = [_classes(t.values) for _, t in pairs]
    having = Counter(c for cs in classes for c in cs)  # training images with each class
    val_idx: set[int] = set()
    for i in rng.permutation(len(pairs)).tolist():
        if len(val_idx) == n_val:
            break
        if all(having[c] > 1 for c in classes[i]):  # its classes still train elsewhere
            val_idx.add(i)
            having.subtract(classes[i])
    train = [p for i, p in enumerate(pairs) if i not in val_idx]
    val = [p for i, p in enumerate(pairs) if i in val_idx]
    return train, val


def _check(cancel: CancelToken | None) -> None:
    """Raise :class:`Cancelled` once ``cancel`` is set (between the parts of a round's
    preparation that take seconds on big pictures)."""
    if cancel is not None and cancel.is_set():
        raise Cancelled("training cancelled while preparing the labels")


def _block_split(
    target: np.ndarray, frac: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    from annotator.ml.data import block_holdout

    return block_holdout(target, frac, rng)


def _classes(target: np.ndarray) -> set[int]:
    """The classes a target holds (class by class: no copy of its labels to sort)."""
    top = int(target.max()) if target.size else IGNORE
    return {c for c in range(top + 1) if (target == c).any()}


def _keep_every_class(train: np.ndarray, val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Give back to training the validation labels of classes training has none of."""
    missing = _classes(val) - _classes(train)
    if not missing:
        return train, val
    back = np.isin(val, list(missing))
    return np.where(back, val, train).astype(train.dtype), np.where(back, IGNORE, val).astype(
        val.dtype
    )


def build_model(request: TrainRequest) -> tuple[torch.nn.Module, NetworkConfig]:
    """The parent version's model, or a fresh one from ``request.network``."""
    if request.init_checkpoint is not None:
        from annotator.ml.checkpoint import load_checkpoint, widen_head

        loaded = load_checkpoint(
            request.init_checkpoint, request.class_names, allow_new_classes=True
        )
        # Classes added to the project since the parent version get new outputs.
        model = widen_head(loaded.build_model(), len(request.class_names))
        return model, network_of(model)
    if request.network.n_classes != len(request.class_names):
        raise ModelError("the network's class count does not match the class names")
    return build_network(request.network), request.network


@dataclass(frozen=True)
class _Loop:
    """How the optimisation loop of a round ended."""

    status: Literal["finished", "cancelled", "diverged"]
    steps: int
    seconds: float
    final_loss: float  # mean of the last 20 steps
    last_loss: float


def _training_data(
    request: TrainRequest,
    network: NetworkConfig,
    model: torch.nn.Module,
    split_rng: np.random.Generator,
    sample_rng: np.random.Generator,
    cancel: CancelToken | None = None,
    tell: Callable[..., None] | None = None,
) -> tuple[list[Any], list[Any], CropSampler, np.ndarray | None]:
    """The prepared training images, the held-out pairs, the crop sampler and the class
    weights; a fresh model also learns the training images' channel statistics.

    The pictures stay as read (the sampler normalises each crop), so preparing costs
    no float copy of a picture. ``tell`` hears how many images are prepared."""
    cfg = request.config
    n_classes = network.n_classes
    train_pairs, val_pairs = _split(request, split_rng, cancel, network.channel_choice)
    cap = coords_cap(len(train_pairs), n_classes)
    prepared = []
    for im, t in train_pairs:
        _check(cancel)
        pixels = pick(im.pixels, network.channel_choice)  # (the picture itself: no choice)
        if pixels is not im.pixels and request.keep is not None:
            pixels = request.keep(pixels)
        normalizer = fit_normalizer(pixels, network.in_channels, network.normalisation)
        prepared.append(
            prepare(im.image_id, pixels, t, im.weight, n_classes, sample_rng, normalizer, cap)
        )
        if tell is not None:
            tell(len(prepared), len(train_pairs))  # (the held-out images are not prepared)
    if request.init_checkpoint is None and cfg.normalise_channels:
        mean, std = sampled_statistics(p.statistics_sample() for p in prepared)
        model.set_input_statistics(mean, std)  # type: ignore[operator]
    weights = class_weights([p.target for p in prepared], n_classes, cfg.class_weight_power)
    sampler = CropSampler(
        prepared, n_classes, cfg.crop, sample_rng, cfg.augment, cfg.balanced_fraction
    )
    return prepared, val_pairs, sampler, weights


def _agree(
    value: float, cancelled: bool, stop_time: bool, elapsed: float, device: torch.device, world: int
) -> tuple[float, bool, bool, float]:
    """Under DDP: one small all-reduce per step, so every rank takes the same decision
    (mean loss, cancel and time stop from any rank, mean elapsed time)."""
    flags = torch.tensor([value, float(cancelled), float(stop_time), elapsed], dtype=torch.float64)
    flags = flags.to(device) if device.type == "cuda" else flags  # NCCL reduces GPU tensors only
    torch.distributed.all_reduce(flags)
    flags = flags.cpu()
    return float(flags[0]) / world, bool(flags[1] > 0), bool(flags[2] > 0), float(flags[3]) / world


def _optimise(
    request: TrainRequest,
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sampler: CropSampler,
    device: torch.device,
    cw: torch.Tensor | None,
    world: int | None,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
    prefetch: bool = False,
) -> _Loop:
    """Step until the budget is spent, the user cancels or the loss is not finite.

    ``world`` is the DDP world size, None outside ``torchrun``. ``prefetch``: the next
    batches are drawn on a thread while this one trains (:class:`BatchPrefetcher`; on a
    GPU, where the CPU's crops are the bottleneck), the same batches in the same order.
    """
    cfg = request.config
    cuda = device.type == "cuda"
    clock = time.process_time if request.clock == "cpu" else time.monotonic
    scaler = torch.amp.GradScaler("cuda") if cuda else None
    status: Literal["finished", "cancelled", "diverged"] = "finished"
    step = 0
    value = float("nan")
    recent: list[float] = []
    first_step = 0.0  # seconds the first step took (its one-off costs: not a pace)
    start = clock()
    # The learning-rate schedule follows the budget; under DDP every rank must use the
    # same rate, so the elapsed time it is computed from is agreed on every step.
    shared_elapsed = 0.0
    with contextlib.ExitStack() as stack:
        if prefetch:
            next_batch = stack.enter_context(BatchPrefetcher(sampler, cfg.batch_size)).batch
        else:
            next_batch = functools.partial(sampler.batch, cfg.batch_size)
        while True:
            fraction = max(
                step / request.max_steps if request.max_steps else 0.0,
                shared_elapsed / request.max_seconds if request.max_seconds else 0.0,
            )
            for group in opt.param_groups:
                group["lr"] = cfg.lr * _lr_factor(fraction, cfg)
            xb, tb = next_batch()
            x = torch.from_numpy(xb).to(device, non_blocking=True)
            t = torch.from_numpy(tb).to(device, non_blocking=True)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.float16, enabled=cuda):
                logits = net(x)
            loss = segmentation_loss(logits, t, cfg.dice_weight, cw)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            step += 1
            value = float(loss.detach())
            elapsed = clock() - start
            if step == 1:
                first_step = elapsed
            if progress is not None:
                left = eta(step, elapsed, first_step, request.max_steps, request.max_seconds)
                progress(
                    TrainProgress(
                        step, request.max_steps, elapsed, request.max_seconds, value, eta_s=left
                    )
                )
            stop_steps = request.max_steps is not None and step >= request.max_steps
            stop_time = request.max_seconds is not None and elapsed >= request.max_seconds
            cancelled = cancel is not None and cancel.is_set()
            if world is not None:
                value, cancelled, stop_time, shared_elapsed = _agree(
                    value, cancelled, stop_time, elapsed, device, world
                )
            else:
                shared_elapsed = elapsed
            recent.append(value)
            del recent[:-20]
            if not math.isfinite(value):
                status = "diverged"
                break
            if cancelled:
                status = "cancelled"
                break
            if stop_steps or stop_time:
                break
    final_loss = float(np.mean(recent)) if recent else float("nan")
    return _Loop(status, step, clock() - start, final_loss, value)


def _crop_seed(seed: int, rank: int, parent_version: int | None) -> list[int]:
    """The seed of a round's crops and augmentations: other crops on every rank, and
    other ones each round (the app trains every round with seed 0, so rounds on the
    same labels drew the very same batches); a round started from scratch keeps the
    crops it always drew for its seed. The same seed and parent give the same crops."""
    return [seed, rank] if parent_version is None else [seed, rank, parent_version]


def train_round(
    request: TrainRequest, progress: ProgressFn | None = None, cancel: CancelToken | None = None
) -> TrainResult:
    """Train for the request's budget; see the module docstring."""
    cfg = request.config
    info = distributed.current()
    rank, world = (info.rank, info.world_size) if info else (0, 1)
    with distributed.together():  # torchrun: a failure every rank meets is said once
        device = choose_device(request.device)
        if info is not None and device.type == "cuda":
            device = torch.device("cuda", info.local_rank)
        torch.manual_seed(cfg.seed)  # same initial weights on every rank
        # The same split on every rank, and another one each round (the parent version
        # differs), so no image or block is left out of training round after round.
        split_rng = np.random.default_rng([cfg.seed, request.parent_version or 0])
        sample_rng = np.random.default_rng(_crop_seed(cfg.seed, rank, request.parent_version))

        if progress is not None:
            n = len(request.images)
            progress(
                TrainProgress.starting(
                    "prepare",
                    f"preparing {n} labelled image{'' if n == 1 else 's'} and the network",
                    request.max_steps,
                    request.max_seconds,
                )
            )
        model, network = build_model(request)
        n_classes = network.n_classes
        tell = counting(
            progress,
            "prepare",
            "preparing",
            len(request.images),
            request.max_steps,
            request.max_seconds,
        )
        prepared, val_pairs, sampler, weights = _training_data(
            request, network, model, split_rng, sample_rng, cancel, tell
        )
        log.info(
            "training %s params on %d images (%d held out) on %s, world %d",
            f"{count_parameters(model):,}",
            len(prepared),
            len(val_pairs),
            device,
            world,
        )
        model.to(device)
        if device.type == "cuda":
            model = to_channels_last(model)
    net: torch.nn.Module = model
    if info is not None:
        from torch.nn.parallel import DistributedDataParallel as DDP

        net = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    opt_cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    opt = opt_cls(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    cw = None if weights is None else torch.tensor(weights, dtype=torch.float32, device=device)

    model.train()
    # On a GPU the step waits for the CPU's crops: drawn ahead on a thread (not under a
    # CPU-time budget, which would count that thread's time too).
    prefetch = device.type == "cuda" and request.clock != "cpu"
    loop = _optimise(
        request, net, opt, sampler, device, cw, world if info else None, progress, cancel, prefetch
    )
    model.eval()
    result = functools.partial(
        TrainResult,
        network=network,
        steps=loop.steps,
        seconds=loop.seconds,
        final_loss=loop.final_loss,
        train_image_ids=tuple(p.image_id for p in prepared),
        parent_version=request.parent_version,
        config=cfg,
        device=str(device),
        world_size=world,
        parameters=count_parameters(model),
        class_weights=None if weights is None else tuple(float(w) for w in weights),
        class_pixels=tuple(int(n) for n in label_counts([p.target for p in prepared], n_classes)),
    )
    if loop.status != "finished":
        msg = (
            "cancelled: the model version is unchanged"
            if loop.status == "cancelled"
            else f"the loss became {loop.last_loss} at step {loop.steps}; the round is discarded"
        )
        return result(status=loop.status, state_dict=None, metrics=None, message=msg)
    if info is not None:
        for buf in model.buffers():  # BatchNorm statistics: rank 0's win everywhere
            torch.distributed.broadcast(buf, src=0)
    metrics = None
    validated = 0.0
    validates = bool(val_pairs) and (info is None or info.is_main)
    if validates:
        started = time.monotonic()
        last = [float("-inf")]
        held_out = sum(int((t.values != IGNORE).sum()) for _, t in val_pairs)

        def validating(done: int, total: int) -> None:
            """The validate phase's progress: its seconds count on in ``elapsed_s``."""
            now = time.monotonic()
            if progress is None or (now - last[0] < 0.25 and 0 < done < total):
                return
            last[0] = now
            progress(
                TrainProgress(
                    loop.steps,
                    request.max_steps,
                    loop.seconds + now - started,
                    request.max_seconds,
                    loop.final_loss,
                    "validate",
                    detail=scoring_detail(held_out, done, total, now - started),
                )
            )

        try:
            metrics = evaluate(
                model,
                device,
                [(im.image_id, im.pixels, t) for im, t in val_pairs],
                n_classes,
                weights,
                cancel=cancel,
                progress=validating,
            )
        except Cancelled:
            return result(
                status="cancelled",
                state_dict=None,
                metrics=None,
                message="cancelled: the model version is unchanged",
            )
        validated = time.monotonic() - started
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return result(
        status="finished",
        state_dict=state,
        metrics=metrics,
        message=f"{loop.steps} step{'' if loop.steps == 1 else 's'} in {loop.seconds:.0f} s"
        + (f", validated in {validated:.0f} s" if validates else ""),
        validation_seconds=validated,
    )


def scoring_detail(pixels: int, done: int, total: int, elapsed_s: float) -> str:
    """What the validate phase says: the pixels, the tiles predicted so far and, after a
    few, the time left (on a big picture it takes minutes after a short round)."""
    text = f"scoring on {pixels:,} validation pixels"
    if total <= 1:
        return text
    text += f", tile {done} of {total}"
    if done and done < total and elapsed_s >= 1.0:
        text += f", about {elapsed_s * (total - done) / done:.0f} s left"
    return text


#: :func:`confusion` counts this many pixels at a time: its int64 indices of a whole
#: 16 MP picture took 0.5 GB.
CONFUSION_CHUNK = 1 << 20


def confusion(pred: np.ndarray, target: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n, n)`` counts [true, predicted] over pixels whose target is a class (counted
    :data:`CONFUSION_CHUNK` pixels at a time, in bounded memory)."""
    cm = np.zeros(n_classes * n_classes, np.int64)
    row = max(1, target.size // max(1, len(target)))  # pixels per row
    step = max(1, CONFUSION_CHUNK // row)
    for a in range(0, len(target), step):
        t, p = target[a : a + step], pred[a : a + step]
        keep = (t >= 0) & (t < n_classes)
        idx = t[keep].astype(np.int64) * n_classes + p[keep].astype(np.int64)
        cm += np.bincount(idx, minlength=n_classes * n_classes)
    return cm.reshape(n_classes, n_classes)


def metrics_from_confusion(cm: np.ndarray, images: tuple[int, ...] = ()) -> Metrics:
    """Pixel accuracy and per-class IoU (``None`` for a class in neither truth nor prediction)."""
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    denom = tp + fp + fn
    iou = tuple(float(tp[c] / denom[c]) if denom[c] > 0 else None for c in range(len(tp)))
    present = [v for v in iou if v is not None]
    total = int(cm.sum())
    return Metrics(
        pixel_accuracy=float(tp.sum() / total) if total else 0.0,
        iou=iou,
        mean_iou=float(np.mean(present)) if present else None,
        pixels=total,
        images=images,
        class_pixels=tuple(int(n) for n in cm.sum(axis=1)),
    )


def evaluate(
    model: torch.nn.Module,
    device: torch.device,
    items: list[tuple[int, np.ndarray, np.ndarray | Targets]],
    n_classes: int,
    class_weights: np.ndarray | None = None,
    *,
    cancel: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Metrics:
    """Predict each ``(id, raw pixels, target)`` and score it on the target's labelled pixels,
    as the proposals will be made (``class_weights`` divided out: ``ml.predict.unweight``).

    Only the proposal's tiles that hold a labelled pixel of the target are predicted
    (``ml.predict.predict_where``: the same classes there as the whole picture's
    proposal). ``cancel`` is checked before every tile (:class:`Cancelled`);
    ``progress(done, total)`` follows the tiles."""
    from annotator.ml.predict import TorchRunner, predict_where, tiles_where

    runner = TorchRunner(model, device)
    config = network_of(model)
    cm = np.zeros((n_classes, n_classes), np.int64)
    # the raw pictures: each one's chosen channels are taken when it is scored (a copy of
    # one picture at a time, not of every held-out picture at once)
    plans = [
        (pixels, target if isinstance(target, Targets) else Targets.whole(target))
        for _, pixels, target in items
    ]

    def wanted(t: Targets) -> np.ndarray:
        """The target's labelled pixels (made again per picture: one mask at a time)."""
        return (t.values >= 0) & (t.values < n_classes)

    total = sum(
        len(tiles_where(p.shape[:2], config.multiple, wanted(t), (t.y, t.x))) for p, t in plans
    )
    done = 0
    if progress is not None:
        progress(0, total)

    def tile_done(_i: int, _n: int, _what: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    for raw, t in plans:
        pixels = pick(raw, config.channel_choice)
        pred = predict_where(
            runner,
            pixels,
            fit_normalizer(pixels, config.in_channels, config.normalisation),
            n_classes,
            config.multiple,
            wanted(t),
            (t.y, t.x),
            cancel=cancel,
            progress=tile_done,
            class_weights=class_weights,
        )
        cm += confusion(pred, t.values, n_classes)
    return metrics_from_confusion(cm, tuple(i for i, _, _ in items))
