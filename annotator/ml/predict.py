"""Tiled proposals for images of any size, in bounded memory.

The image is cut into overlapping tiles (row by row); each tile's class probabilities
are weighted by a window that fades out towards the tile's edges (where the network
sees the least context) and accumulated into a band of rows only as tall as one tile.
When the next row of tiles starts, the rows above it are final: they are turned into
the argmax mask and the uncertainty, and the band moves down. Memory is therefore the
outputs plus one band, whatever the image size. An image that fits in one tile is a
single forward pass with no blending.

:func:`predict_where` gives the same classes at chosen pixels (a validation's held-out
labels) running only the tiles that cover one of them.

Backends: onnxruntime on CPU when an exported model is there (about 3x faster than
eager torch on a laptop CPU), torch otherwise (CUDA with mixed precision and
channels_last, MPS, or CPU).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from annotator.core.channels import pick
from annotator.core.errors import Cancelled, ModelError
from annotator.core.nodata import no_value_pixels
from annotator.core.proposal import NO_CLASS, Proposal, image_score, normalised_entropy
from annotator.ml.data import Normalizer, fit_normalizer
from annotator.ml.device import choose_device, to_channels_last
from annotator.ml.networks import NetworkConfig, network_of

log = logging.getLogger(__name__)

DEFAULT_TILE = 1024
DEFAULT_OVERLAP = 64
#: Probabilities are kept in the Proposal up to this many values (C * H * W) unless asked.
KEEP_PROBABILITIES_LIMIT = 64_000_000
#: Finished rows are handed on in strips of at most this many rows: what is made of them
#: (the probabilities divided out, unweighted, their argmax and entropy) takes several
#: float copies of a strip, not of a band (8 classes on a 4000 px wide picture: 66 MB
#: per copy of a 512 row band, 8 MB of a strip).
STRIP_ROWS = 64

ProgressFn = Callable[[int, int, str], None]


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


class TileRunner(Protocol):
    """Runs the network: ``(N, C, h, w)`` float32 -> ``(N, K, h, w)`` float32 probabilities."""

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


class TorchRunner:
    """Eager torch inference (``inference_mode``; on CUDA: fp16 autocast, channels_last)."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.device = device
        self.model = model.eval().to(device)
        self.cuda = device.type == "cuda"
        if self.cuda:
            self.model = to_channels_last(self.model)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)
            if self.cuda:
                x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.float16):
                    logits = self.model(x)
            else:
                logits = self.model(x)
            return logits.float().softmax(dim=1).cpu().numpy()


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles covering ``[0, length)``; the last tile ends at ``length``."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def _window(n: int, overlap: int, at_start: bool, at_end: bool) -> np.ndarray:
    """1-D blending weights: a raised-cosine ramp over ``overlap`` pixels at inner edges."""
    w = np.ones(n, np.float32)
    ramp = min(overlap, n // 2)
    if ramp > 0:
        r = 0.5 - 0.5 * np.cos(np.pi * (np.arange(ramp, dtype=np.float32) + 0.5) / ramp)
        if not at_start:
            w[:ramp] = r
        if not at_end:
            w[n - ramp :] = r[::-1]
    return np.maximum(w, 1e-3)


def _pad_to(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Pad ``(C, h0, w0)`` at the bottom/right to ``(C, h, w)``: reflect, or edge if too small."""
    ph, pw = h - x.shape[1], w - x.shape[2]
    if ph == 0 and pw == 0:
        return x
    if ph < x.shape[1] and pw < x.shape[2]:
        return np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="reflect")
    return np.pad(x, ((0, 0), (0, ph), (0, pw)), mode="edge")


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


@dataclass(frozen=True)
class TiledOutput:
    """Raw result of :func:`predict_tiled`."""

    mask: np.ndarray
    uncertainty: np.ndarray
    probabilities: np.ndarray | None


def predict_tiled(
    runner: TileRunner,
    image: np.ndarray,
    normalizer: Normalizer,
    n_classes: int,
    multiple: int,
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    keep_probabilities: bool | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    class_weights: np.ndarray | None = None,
) -> TiledOutput:
    """Blend overlapping tile predictions into a mask, an uncertainty and (optionally)
    float16 probabilities, holding at most one band of tiles in memory.

    ``image`` is raw pixels ``(H, W)`` or ``(H, W, C)``; each tile is normalised on the
    fly, so no float copy of a huge image is ever made. ``class_weights``: the training
    round's cross-entropy class weights, divided out of the probabilities (see
    :func:`unweight`). ``cancel`` is checked before every tile (:class:`Cancelled`),
    ``progress(done, total, "")`` after each.
    """
    h, w = int(image.shape[0]), int(image.shape[1])
    if keep_probabilities is None:
        keep_probabilities = n_classes * h * w <= KEEP_PROBABILITIES_LIMIT
    mask = np.empty((h, w), np.uint8)
    unc = np.empty((h, w), np.float32)
    probs_out = np.empty((n_classes, h, w), np.float16) if keep_probabilities else None
    for acc, wacc, y0, _ in _blended_rows(
        runner, image, normalizer, n_classes, multiple, tile, overlap, None, progress, cancel
    ):
        p = acc if wacc is None else acc / wacc
        _finalize(p, class_weights, mask, unc, probs_out, y0)
    return TiledOutput(mask, unc, probs_out)


def _blended_rows(
    runner: TileRunner,
    image: np.ndarray,
    normalizer: Normalizer,
    n_classes: int,
    multiple: int,
    tile: int,
    overlap: int,
    only: Collection[tuple[int, int]] | None,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> Iterator[tuple[np.ndarray, np.ndarray | None, int, int]]:
    """Run the tiles of the image's grid (of them only the ``(row, column)`` in ``only``,
    when given) row of tiles by row of tiles, blending them in one band, and yield each
    run of image rows that no later tile reaches, as ``(acc, wacc, y0, x0)``: the
    window-weighted sum of the class probabilities ``(C, rows, columns)`` and the sum of
    the weights ``(rows, columns)`` of the image's rows from ``y0`` and columns from
    ``x0``, in strips of at most :data:`STRIP_ROWS` rows. The probabilities are ``acc /
    wacc``; ``wacc`` is ``None`` when the image fits one tile (``acc`` is then that
    tile's probabilities, unblended). Both are views of the band: use them before asking
    for the next.

    The band spans only the columns of the tiles that run. ``cancel`` is checked before
    every tile (:class:`Cancelled`), ``progress(done, total, "")`` after each.
    """
    h, w = int(image.shape[0]), int(image.shape[1])
    th, tw, overlap, ys, xs = _grid(h, w, multiple, tile, overlap)
    if len(ys) * len(xs) == 1:
        if cancel is not None and cancel.is_set():
            raise Cancelled("prediction cancelled")
        x = _pad_to(normalizer.apply(image), th, tw)
        yield from _strips(runner(x[None])[0, :, :h, :w], None, 0, 0)
        if progress:
            progress(1, 1, "")
        return
    every = [(i, j) for i in range(len(ys)) for j in range(len(xs))]
    needed = set(every if only is None else only)
    total = len(needed)
    bx0 = xs[min(j for _, j in needed)]
    bx1 = min(xs[max(j for _, j in needed)] + tw, w)
    band_h = min(th, h)
    acc = np.zeros((n_classes, band_h, bx1 - bx0), np.float32)
    wacc = np.zeros((band_h, bx1 - bx0), np.float32)
    band_y = 0
    done = 0
    for i, y in enumerate(ys):
        if y != band_y:
            shift = y - band_y
            yield from _strips(acc[:, :shift], wacc[:shift], band_y, bx0)
            _shift_up(acc, shift)
            _shift_up(wacc, shift)
            band_y = y
        y1 = min(y + th, h)
        wy = _window(y1 - y, overlap, at_start=i == 0, at_end=i == len(ys) - 1)
        for j, x0 in enumerate(xs):
            if (i, j) not in needed:
                continue
            if cancel is not None and cancel.is_set():
                raise Cancelled("prediction cancelled")
            x1 = min(x0 + tw, w)
            x = _pad_to(normalizer.apply(image[y:y1, x0:x1]), th, tw)
            p = runner(x[None])[0, :, : y1 - y, : x1 - x0]
            wx = _window(x1 - x0, overlap, at_start=j == 0, at_end=j == len(xs) - 1)
            win = wy[:, None] * wx[None, :]
            # (weighted in place: no second copy of the tile's probabilities)
            pw = np.multiply(p, win, out=p if p.flags.writeable else None)
            acc[:, : y1 - y, x0 - bx0 : x1 - bx0] += pw
            wacc[: y1 - y, x0 - bx0 : x1 - bx0] += win
            del p, pw  # (not held while the next tile runs)
            done += 1
            if progress:
                progress(done, total, "")
    yield from _strips(acc[:, : h - band_y], wacc[: h - band_y], band_y, bx0)


def _shift_up(band: np.ndarray, shift: int) -> None:
    """Move the rows (the second last axis) of ``band`` up by ``shift`` and zero the rows
    left below. Moved a strip at a time: numpy copies the source of an overlapping
    assignment first, and one assignment of the whole band made a copy of it.
    """
    rows = band.shape[-2]
    step = min(shift, STRIP_ROWS)  # (a step no longer than the shift never overlaps)
    for a in range(0, rows - shift, step):
        b = min(a + step, rows - shift)
        band[..., a:b, :] = band[..., a + shift : b + shift, :]
    band[..., rows - shift :, :] = 0


def _strips(
    acc: np.ndarray, wacc: np.ndarray | None, y0: int, x0: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None, int, int]]:
    """Finished rows ``(acc, wacc, y0, x0)`` as strips of at most :data:`STRIP_ROWS` rows."""
    for a in range(0, acc.shape[1], STRIP_ROWS):
        strip = slice(a, a + STRIP_ROWS)
        yield acc[:, strip], None if wacc is None else wacc[strip], y0 + a, x0


def _grid(
    h: int, w: int, multiple: int, tile: int, overlap: int
) -> tuple[int, int, int, list[int], list[int]]:
    """The tile grid of an ``h`` x ``w`` image: tile height and width, overlap, and the
    tiles' row and column starts."""
    tile = max(multiple, tile - tile % multiple)
    overlap = max(0, min(overlap, tile // 2))
    # Tiles are never larger than the (aligned) image itself.
    th, tw = min(tile, _round_up(h, multiple)), min(tile, _round_up(w, multiple))
    return th, tw, overlap, tile_starts(h, th, overlap), tile_starts(w, tw, overlap)


def tiles_where(
    shape: tuple[int, ...],
    multiple: int,
    wanted: np.ndarray,
    origin: tuple[int, int] = (0, 0),
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
) -> list[tuple[int, int]]:
    """The ``(row, column)`` of each tile of an image of ``shape`` that covers a pixel
    of ``wanted`` (a boolean array whose top-left pixel is ``origin`` of the image): the
    tiles :func:`predict_where` runs."""
    h, w = int(shape[0]), int(shape[1])
    th, tw, _, ys, xs = _grid(h, w, multiple, tile, overlap)
    oy, ox = origin
    rh, rw = wanted.shape
    # Which rows and columns of each band of tiles hold a wanted pixel, then the tiles.
    rows: np.ndarray = np.asarray(wanted.any(axis=1))
    out = []
    for i, y in enumerate(ys):
        a, b = max(y - oy, 0), min(y + th - oy, rh)
        if a >= b or not rows[a:b].any():
            continue
        cols: np.ndarray = np.asarray(wanted[a:b].any(axis=0))
        for j, x0 in enumerate(xs):
            c, d = max(x0 - ox, 0), min(x0 + tw - ox, rw)
            if c < d and cols[c:d].any():
                out.append((i, j))
    return out


def predict_where(
    runner: TileRunner,
    image: np.ndarray,
    normalizer: Normalizer,
    n_classes: int,
    multiple: int,
    wanted: np.ndarray,
    origin: tuple[int, int] = (0, 0),
    *,
    tile: int = DEFAULT_TILE,
    overlap: int = DEFAULT_OVERLAP,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    class_weights: np.ndarray | None = None,
) -> np.ndarray:
    """The classes :func:`predict_tiled` proposes at the ``wanted`` pixels (a boolean
    array whose top-left pixel is ``origin`` of the image), as a uint8 array of
    ``wanted``'s shape (255 where not wanted).

    Only the tiles that cover a wanted pixel run (:func:`tiles_where`); those are all
    the tiles a wanted pixel's proposal blends, added in the same order, so its class
    is the whole picture's proposal's. A validation scoring a few labelled strokes of
    a big picture predicts their tiles, not the picture. ``cancel`` is checked before
    every tile (:class:`Cancelled`), ``progress(done, total, "")`` after each.
    """
    out = np.full(wanted.shape, 255, np.uint8)
    need = tiles_where(image.shape, multiple, wanted, origin, tile=tile, overlap=overlap)
    if not need:
        return out
    oy, ox = origin
    rh = wanted.shape[0]
    for acc, wacc, y0, x0 in _blended_rows(
        runner, image, normalizer, n_classes, multiple, tile, overlap, need, progress, cancel
    ):
        # The classes of the wanted pixels among these rows, as :func:`_finalize` makes them.
        r0, r1 = max(y0, oy), min(y0 + acc.shape[1], oy + rh)
        if r0 >= r1:
            continue
        ry, rx = np.nonzero(wanted[r0 - oy : r1 - oy])
        if ry.size == 0:
            continue
        by, bx = ry + (r0 - y0), rx + (ox - x0)
        p = acc[:, by, bx]
        if wacc is not None:
            p = p / wacc[by, bx]
        out[ry + (r0 - oy), rx] = unweight(p, class_weights).argmax(axis=0).astype(np.uint8)
    return out


def unweight(p: np.ndarray, class_weights: np.ndarray | None) -> np.ndarray:
    """Class probabilities ``(C, ...)`` with the training's class weights divided out.

    A cross-entropy that weighs class ``c`` by ``w_c`` is minimised by probabilities
    proportional to ``w_c * p_c``: the weights push every border ``log(w_c / w_k)`` logits
    towards the rarer class. A proposal the user accepts with that push, trained on
    again, pushes further each round (ADR 0012); dividing the weights out proposes each
    class where the labels say it is.
    """
    if class_weights is None:
        return p
    # (any shape after the classes: ``(C, H, W)``, or ``(C, N)`` for chosen pixels)
    q = p / class_weights.astype(p.dtype).reshape((-1,) + (1,) * (p.ndim - 1))
    return q / q.sum(axis=0, keepdims=True)


def _finalize(
    p: np.ndarray,
    class_weights: np.ndarray | None,
    mask: np.ndarray,
    unc: np.ndarray,
    probs_out: np.ndarray | None,
    y0: int,
) -> None:
    p = unweight(p, class_weights)
    rows = slice(y0, y0 + p.shape[1])
    mask[rows] = p.argmax(axis=0).astype(np.uint8)
    unc[rows] = normalised_entropy(p, axis=0)
    if probs_out is not None:
        probs_out[:, rows] = p


def fitted_weights(weights: Sequence[float] | None, n_classes: int) -> np.ndarray | None:
    """A card's class weights for a network of ``n_classes`` outputs, or ``None``.

    Weights of classes the round did not train (added to the project since) are 1. The
    card reader has refused anything but positive numbers.
    """
    if not weights:
        return None
    w = np.ones(n_classes, np.float32)
    k = min(n_classes, len(weights))
    w[:k] = np.asarray(weights[:k], np.float32)
    return w


class Predictor:
    """A model version ready to propose masks for whole images.

    Build it once (loading and warming up cost more than a prediction) and call
    :meth:`predict` per image. Not thread-safe: one inference worker owns it.
    """

    def __init__(
        self,
        runner: TileRunner,
        network: NetworkConfig,
        version: int = 0,
        backend: str = "torch",
        class_weights: np.ndarray | None = None,
    ) -> None:
        self.runner = runner
        self.network = network
        self.version = version
        self.backend = backend
        #: The class weights the model was trained with, divided out of every proposal
        #: (:func:`unweight`); ``None``: the probabilities as the network gives them.
        self.class_weights = class_weights

    @classmethod
    def from_model(
        cls,
        model: torch.nn.Module,
        version: int = 0,
        device: str = "auto",
        class_weights: np.ndarray | None = None,
    ) -> Predictor:
        """Wrap an in-memory model (torch backend); ``class_weights``: see :func:`unweight`."""
        dev = choose_device(device)
        return cls(
            TorchRunner(model, dev), network_of(model), version, f"torch-{dev.type}", class_weights
        )

    @classmethod
    def from_checkpoint(
        cls,
        weights: Path,
        class_names: list[str] | tuple[str, ...] | None = None,
        *,
        onnx: Path | None = None,
        device: str = "auto",
        backend: str = "auto",
        threads: int | None = None,
    ) -> Predictor:
        """Load a model version's checkpoint file (checked against ``class_names`` when
        given); ``onnx`` is its ONNX export, if it has one (storage knows where both are).

        ``backend``: ``auto`` (onnxruntime on CPU when there is an ONNX export, else
        torch), ``onnx`` or ``torch``. ``threads``: onnxruntime intra-op threads
        (default: ``OMP_NUM_THREADS`` or every core); the torch backend uses torch's own
        setting.
        """
        from annotator.ml.checkpoint import load_checkpoint

        # A model from before classes were added still proposes the classes it knows.
        loaded = load_checkpoint(weights, class_names, allow_new_classes=True)
        version = loaded.card.version
        class_weights = fitted_weights(loaded.card.training.class_weights, loaded.network.n_classes)
        onnx_path = onnx if onnx is not None and Path(onnx).is_file() else None
        dev = choose_device(device)
        if backend in ("auto", "onnx") and dev.type == "cpu" and onnx_path is not None:
            from annotator.ml.onnx_runtime import OnnxRunner, onnxruntime_available

            if onnxruntime_available():
                try:
                    runner = OnnxRunner(onnx_path, threads)
                except ModelError as exc:
                    if backend == "onnx":
                        raise
                    # The export is only a faster copy of the weights: go on without it.
                    log.warning("%s; proposing with torch instead", exc)
                else:
                    return cls(runner, loaded.network, version, "onnxruntime", class_weights)
            elif backend == "onnx":
                raise ModelError("onnxruntime is not installed")
        if backend == "onnx":
            raise ModelError(f"{weights}: no ONNX export of this model version")
        return cls(
            TorchRunner(loaded.build_model(), dev),
            loaded.network,
            version,
            f"torch-{dev.type}",
            class_weights,
        )

    def predict(
        self,
        image: np.ndarray,
        *,
        tile: int = DEFAULT_TILE,
        overlap: int = DEFAULT_OVERLAP,
        keep_probabilities: bool | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelToken | threading.Event | None = None,
    ) -> Proposal:
        """The proposal for one raw image ``(H, W)`` or ``(H, W, C)``, of the channels the
        version takes (``NetworkConfig.channel_choice``)."""
        image = pick(image, self.network.channel_choice)
        normalizer = fit_normalizer(image, self.network.in_channels, self.network.normalisation)
        out = predict_tiled(
            self.runner,
            image,
            normalizer,
            self.network.n_classes,
            self.network.multiple,
            tile=tile,
            overlap=overlap,
            keep_probabilities=keep_probabilities,
            progress=progress,
            cancel=cancel,
            class_weights=self.class_weights,
        )
        # Pixels with no value (nodata, NaN in every channel) get no class and no doubt,
        # and leave the score alone: the network only saw a constant there (ADR 0029).
        nodata = no_value_pixels(image)
        if nodata is not None:
            out.mask[nodata] = NO_CLASS
            out.uncertainty[nodata] = 0.0
        score = image_score(out.uncertainty, None if nodata is None else ~nodata)
        return Proposal(out.probabilities, out.mask, out.uncertainty, score, self.version)
