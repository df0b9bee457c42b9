"""Losses on partial labels: pixels with the ignore value contribute nothing."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from annotator.ml.data import IGNORE


def masked_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, class_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean cross-entropy over labelled pixels only (``target == IGNORE`` is skipped).

    ``class_weights`` (one per class) re-weight each pixel by its true class; the mean is
    then the weighted mean, as in ``F.cross_entropy``. Returns 0 (with a gradient of 0)
    when a batch has no labelled pixel, so a batch of only unlabelled crops cannot
    produce NaN.
    """
    labelled = target != IGNORE
    if not bool(labelled.any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), target.long(), weight=class_weights, ignore_index=IGNORE)


def masked_dice(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice over classes, computed on labelled pixels only."""
    n_classes = logits.shape[1]
    labelled = (target != IGNORE).unsqueeze(1).float()
    probs = logits.float().softmax(dim=1) * labelled
    onehot = F.one_hot(target.clamp(min=0).long(), n_classes).permute(0, 3, 1, 2).float()
    onehot = onehot * labelled
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    present = onehot.sum(dim=(0, 2, 3)) > 0
    if not bool(present.any()):
        return logits.sum() * 0.0
    dice = (2 * inter + eps) / (denom + eps)
    return 1.0 - dice[present].mean()


def segmentation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    dice_weight: float = 0.0,
    class_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Masked (optionally class-weighted) cross-entropy plus ``dice_weight`` times the
    masked soft Dice loss (Dice weighs every present class equally, whatever its size)."""
    loss = masked_cross_entropy(logits, target, class_weights)
    if dice_weight > 0:
        loss = loss + dice_weight * masked_dice(logits, target)
    return loss
