"""The proposal and uncertainty layers of the canvas.

Both are :class:`~annotator.gui.layers.LabelOverlayItem` instances (an ``Indexed8``
QImage over a ``uint8`` array, repainted through a colour table), so showing a proposal
costs one pass of numpy over the image to build the array, and nothing per repaint.

A proposal must never be mistaken for the user's labels, which are solid fills. It is
drawn as class-coloured *outlines* (the borders between proposed regions) over diagonal
*hatching* in the class colour: code ``c`` is the outline of class ``c``, ``k + c`` the
hatching of class ``c`` (``k`` classes), 255 transparent. With more than 127 classes the
hatching is left out and only outlines are drawn.

The proposal is drawn only where accepting it would write: over the unlabelled pixels, or
with protected painting "only over class k" over the pixels labelled k (everywhere while
the labels are hidden). The layer follows every edit of the open document through its
repaint listener, so a stroke hides the proposal under it box by box, and undo brings it
back.

The uncertainty heat map quantises uncertainty to 0..255 and maps it through a table
from transparent (sure) to opaque orange-red (unsure).

The codes of a big proposal (:attr:`ProposalLayers.background_pixels` and more) are made
on a worker thread: at 100 MP they took the GUI thread 1.5-2 s. The GUI thread then only
masks them by the labels (OpenCV, tens of ms) and wraps them in images; until then the
proposal is not shown, nor offered to accept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from annotator.core.labelmap import Box
from annotator.core.proposal import Proposal
from annotator.core.schema import LabelSchema
from annotator.gui.layers import LabelOverlayItem
from annotator.services.document import Document
from annotator.services.jobs import Dispatcher, LatestWinsWorker

HATCH_PERIOD = 6  # pixels between hatch lines
HATCH_WIDTH = 2
OUTLINE_ALPHA = 235
HATCH_ALPHA = 140
TRANSPARENT = 255  # all ones in 8 bits (see ProposalLayers._mask_box)


def _argb(rgb: tuple[int, int, int], alpha: int) -> int:
    return (alpha << 24) | (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]


def proposal_codes(mask: np.ndarray, n_classes: int) -> np.ndarray:
    """The ``uint8`` display codes of a proposal mask (see the module docstring).

    ``np.copyto(where=)`` and ufuncs into one buffer instead of boolean indexing: 3x
    faster (about 0.1 s at 8000 x 6000); rows of one hatch phase share a stripe."""
    h, w = mask.shape
    codes = np.full((h, w), TRANSPARENT, np.uint8)
    if n_classes * 2 <= 254:
        hatch = np.add(mask, n_classes, dtype=np.uint8)
        # No class (a pixel with no value, ADR 0029) stays transparent, never wraps round
        # to another class's code.
        np.copyto(hatch, TRANSPARENT, where=mask == TRANSPARENT)
        xs = np.arange(w) % HATCH_PERIOD
        for phase in range(HATCH_PERIOD):  # stripe where (y + x) % P < width
            stripe = (xs + phase) % HATCH_PERIOD < HATCH_WIDTH
            rows = slice(phase, None, HATCH_PERIOD)
            np.copyto(codes[rows], hatch[rows], where=stripe[None, :])
    edge = np.zeros((h, w), bool)
    horizontal = np.not_equal(mask[:, 1:], mask[:, :-1])
    np.logical_or(edge[:, 1:], horizontal, out=edge[:, 1:])
    np.logical_or(edge[:, :-1], horizontal, out=edge[:, :-1])
    vertical = np.not_equal(mask[1:, :], mask[:-1, :])
    np.logical_or(edge[1:, :], vertical, out=edge[1:, :])
    np.logical_or(edge[:-1, :], vertical, out=edge[:-1, :])
    np.copyto(codes, mask, where=edge)
    return codes


def proposal_table(schema: LabelSchema, hidden: frozenset[int] = frozenset()) -> np.ndarray:
    """Colours of the proposal codes: class outlines, then class hatching."""
    table = np.zeros(256, np.uint32)
    k = len(schema)
    for c in schema.classes:
        if c.id in hidden or c.id >= TRANSPARENT:
            # Past 254 no model proposes (they train on at most 254 classes); a project
            # that grew past it still shows the proposals of a model made before.
            continue
        table[c.id] = _argb(c.rgb, OUTLINE_ALPHA)
        if 2 * k <= 254:
            table[k + c.id] = _argb(c.rgb, HATCH_ALPHA)
    return table


def heat_table(max_alpha: int = 210) -> np.ndarray:
    """Uncertainty 0..255 -> transparent .. opaque yellow-orange-red.

    Alpha grows with the square of the uncertainty: a pixel the model gives 90% to one
    of two classes (normalised entropy ~0.47) stays faint, a coin toss is nearly opaque.
    """
    u = np.arange(256, dtype=np.float64) / 255.0
    alpha = np.round(max_alpha * u**2).astype(np.uint32)
    red = np.full(256, 255, np.uint32)
    green = np.round(230 * (1 - u)).astype(np.uint32)
    blue = np.round(60 * (1 - u) ** 2).astype(np.uint32)
    return (alpha << 24) | (red << 16) | (green << 8) | blue


def uncertainty_codes(uncertainty: np.ndarray) -> np.ndarray:
    """Uncertainty ``[0, 1]`` as ``uint8`` 0..255 (C-contiguous, for an Indexed8 image)."""
    return np.ascontiguousarray(np.round(np.clip(uncertainty, 0, 1) * 255).astype(np.uint8))


@dataclass(frozen=True, eq=False)
class _CodesRequest:
    """A proposal to show, whose codes the worker makes."""

    document: Document
    proposal: Proposal
    n_classes: int
    then: Callable[[], None] | None
    failed: Callable[[BaseException], None] | None


class ProposalLayers:
    """The two canvas items and what they show; owned by the loop controller.

    With a ``dispatch`` (the GUI's), the codes of a proposal of at least
    :attr:`background_pixels` pixels are made on a worker thread (see the module
    docstring); without, always here."""

    #: Proposals of at least this many pixels get their codes made on the worker.
    background_pixels = 4_000_000

    def __init__(self, dispatch: Dispatcher | None = None) -> None:
        self.proposal_item = LabelOverlayItem()
        self.uncertainty_item = LabelOverlayItem()
        self.uncertainty_item.setVisible(False)
        self.proposal: Proposal | None = None
        self.image_id: int | None = None
        self._document: Document | None = None
        self._codes: np.ndarray | None = None  # every pixel's display code
        self._shown: np.ndarray | None = None  # the codes where the proposal is drawn
        self._target: int | None = None  # the label under drawn pixels (None: any)
        self._n_classes = 0  # the class count the codes were made for
        self._colours: tuple[LabelSchema, frozenset[int]] | None = None  # the newest
        # The proposal whose codes the worker makes; one shown or cleared since drops them.
        self._pending: _CodesRequest | None = None
        self._worker: LatestWinsWorker[_CodesRequest, tuple[np.ndarray, np.ndarray]] | None = (
            None
            if dispatch is None
            else LatestWinsWorker(
                _make_codes, self._codes_made, self._codes_failed, dispatch, "proposal-codes"
            )
        )

    @property
    def pending(self) -> bool:
        """Whether a proposal's codes are being made on the worker (not shown yet)."""
        return self._pending is not None

    def show(
        self,
        document: Document,
        proposal: Proposal,
        schema: LabelSchema,
        hidden: frozenset[int] = frozenset(),
        target: int | None = None,
        *,
        then: Callable[[], None] | None = None,
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Show ``proposal`` of ``document``'s image over the pixels labelled ``target``.

        ``target`` is the label value accept would overwrite (``None``: draw everywhere).
        The arrays are built once (a big proposal's on the worker, then ``then()`` once it
        is shown, or ``failed(error)``; neither after a later show or clear); edits of
        ``document`` then update them per box.
        """
        self._pending = None
        self._target = target
        self._colours = (schema, hidden)
        request = _CodesRequest(document, proposal, len(schema), then, failed)
        if self._worker is None or proposal.mask.size < self.background_pixels:
            self._present(request, _make_codes(request))
            return
        self._pending = request
        self._worker.submit(request)

    def _codes_made(self, request: _CodesRequest, made: tuple[np.ndarray, np.ndarray]) -> None:
        """(GUI thread) The worker made the codes: show them unless shown or cleared since."""
        if request is not self._pending:
            return
        self._pending = None
        if self._colours is not None and len(self._colours[0]) != request.n_classes:
            request = replace(request, n_classes=len(self._colours[0]))  # a class added
            made = _make_codes(request)
        self._present(request, made)

    def _codes_failed(self, request: _CodesRequest, exc: BaseException) -> None:
        if request is not self._pending:
            return
        self._pending = None
        if request.failed is not None:
            request.failed(exc)

    def _present(self, request: _CodesRequest, made: tuple[np.ndarray, np.ndarray]) -> None:
        """Wrap the codes made into the items and mask them by the labels (GUI thread)."""
        assert self._colours is not None
        schema, hidden = self._colours
        self._follow(request.document)
        self.image_id = request.document.image_id
        self.proposal = request.proposal
        self._n_classes = request.n_classes
        self._codes, uncertainty = made
        self._shown = np.empty_like(self._codes)  # filled whole by _mask_box(None)
        self._mask_box(None)
        self.proposal_item.set_labels(self._shown, proposal_table(schema, hidden))
        self.uncertainty_item.set_labels(uncertainty, heat_table())
        if request.then is not None:
            request.then()

    def set_target(self, target: int | None) -> None:
        """Draw the proposal over the pixels labelled ``target`` from now on (None: all)."""
        if target == self._target:
            return
        self._target = target
        if self._shown is not None:
            self._mask_box(None)
            self.proposal_item.update_box(None)

    def recolour(self, schema: LabelSchema, hidden: frozenset[int] = frozenset()) -> None:
        """Draw the proposal in ``schema``'s colours; a class added since changes the
        codes themselves (hatching codes follow the outline codes of every class)."""
        self._colours = (schema, hidden)  # (a proposal on its way is shown in them)
        if self.proposal is None:
            return
        if len(schema) != self._n_classes:
            self._n_classes = len(schema)
            self._codes = proposal_codes(self.proposal.mask, len(schema))
            self._shown = np.empty_like(self._codes)
            self._mask_box(None)
            self.proposal_item.set_labels(self._shown, proposal_table(schema, hidden))
        else:
            self.proposal_item.set_table(proposal_table(schema, hidden))

    def set_opacity(self, opacity: float) -> None:
        """Draw both layers with their alphas times ``opacity`` (0..1; 1: as designed,
        hatching at 55 %, outlines at 92 %, the heat map up to 82 %): the items' own
        opacity, which Qt applies as it draws them (0 skips them)."""
        opacity = max(0.0, min(1.0, float(opacity)))
        self.proposal_item.setOpacity(opacity)
        self.uncertainty_item.setOpacity(opacity)

    def clear(self) -> None:
        self._pending = None  # codes on their way are dropped
        self._follow(None)
        self.image_id = None
        self.proposal = None
        self._codes = self._shown = None
        empty = np.zeros(256, np.uint32)
        self.proposal_item.set_labels(None, empty)
        self.uncertainty_item.set_labels(None, empty)

    def _follow(self, document: Document | None) -> None:
        if self._document is not None:
            self._document.remove_repaint_listener(self._labels_changed)
        self._document = document
        if document is not None:
            document.add_repaint_listener(self._labels_changed)

    def _labels_changed(self, box: Box | None) -> None:
        if self._shown is None:
            return
        self._mask_box(box)
        self.proposal_item.update_box(box)

    def _mask_box(self, box: Box | None) -> None:
        """Recompute the drawn codes inside ``box`` (everything when None)."""
        codes, shown, document = self._codes, self._shown, self._document
        if codes is None or shown is None or document is None:
            return
        if box is None:
            box = Box(0, 0, codes.shape[0], codes.shape[1])
        elif box.empty:
            return
        import cv2  # (imported where used, as core.labelmap does)

        region = box.slices
        if self._target is None:
            shown[region] = codes[region]
        else:
            # TRANSPARENT is all ones: OR-ed in where another label lies, the code stays
            # where the target does. OpenCV, into the view: a fill of a whole 8000 x
            # 6000 map hid the proposal in 6 ms (np.where: about 30 ms).
            labels = document.label_map.array[region]
            if labels.size == 1:  # (OpenCV takes a 1 x 1 picture's scalar for an array)
                other = np.where(labels != self._target, np.uint8(255), np.uint8(0))
            else:
                target = np.full((1, 1), self._target, np.float64)  # (OpenCV's scalar)
                other = cv2.compare(labels, target, cv2.CMP_NE)
            cv2.bitwise_or(codes[region], other, dst=shown[region])


def _make_codes(request: _CodesRequest) -> tuple[np.ndarray, np.ndarray]:
    """The proposal's display codes and its uncertainty's (any thread)."""
    proposal = request.proposal
    return (
        proposal_codes(proposal.mask, request.n_classes),
        uncertainty_codes(proposal.uncertainty),
    )
