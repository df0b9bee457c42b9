"""Model versions on disk: ``PROJECT/models/vNNNN/{weights.pt, card.json, model.onnx}``.

The checkpoint file is self-contained (the card travels inside it as a JSON string), is
written atomically, and is read with ``torch.load(weights_only=True)``: a checkpoint is
data, never code, so loading a file from someone else cannot run anything.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from annotator.core.errors import ModelError
from annotator.ml.networks import NetworkConfig
from annotator.ml.unet import UNet
from annotator.storage.atomic import atomic_open, atomic_write_json

log = logging.getLogger(__name__)

FORMAT = "annotator-unet/1"
WEIGHTS_NAME = "weights.pt"
CARD_NAME = "card.json"
ONNX_NAME = "model.onnx"


def version_dir_name(version: int) -> str:
    """``v0007`` for version 7."""
    return f"v{version:04d}"


def save_checkpoint(
    folder: Path, state_dict: dict[str, torch.Tensor], card: dict[str, Any]
) -> Path:
    """Write ``weights.pt`` then ``card.json`` atomically into ``folder``; return the weights path."""
    folder.mkdir(parents=True, exist_ok=True)
    if card.get("format") != FORMAT:
        card = {**card, "format": FORMAT}
    weights = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    payload = {"format": FORMAT, "card": json.dumps(card), "state_dict": weights}
    path = folder / WEIGHTS_NAME
    with atomic_open(path, "wb") as fh:
        torch.save(payload, fh)
    atomic_write_json(folder / CARD_NAME, card)
    return path


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint read back: its card, the architecture and the weights."""

    card: dict[str, Any]
    network: NetworkConfig
    state_dict: dict[str, torch.Tensor]
    source: str = "the checkpoint"  # the file it came from, for error messages

    @property
    def class_names(self) -> list[str]:
        """The class names the model was trained for, in id order."""
        return list(self.card.get("classes", []))

    def build_model(self) -> UNet:
        """A UNet with these weights, in eval mode, on the CPU."""
        model = UNet(self.network)
        try:
            model.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            why = " ".join(str(exc).split())[:300]  # torch's message spans many lines
            raise ModelError(
                f"{self.source}: the weights do not fit the architecture of their card: {why}"
            ) from None
        return model.eval()


def resolve_weights(path: Path) -> Path:
    """Accept a version folder or the weights file itself."""
    path = Path(path)
    return path / WEIGHTS_NAME if path.is_dir() else path


def load_checkpoint(
    path: Path,
    class_names: list[str] | tuple[str, ...] | None = None,
    *,
    allow_new_classes: bool = False,
) -> LoadedCheckpoint:
    """Read a checkpoint safely and check it fits a project with ``class_names``.

    Raises :class:`ModelError` when the file is missing, is not a plain-data checkpoint
    (anything that would need unpickling code is refused), or its classes differ. With
    ``allow_new_classes`` a model whose classes are the first classes of the project
    (the project added classes since) is accepted: its ids still mean the same classes.
    """
    weights = resolve_weights(path)
    if not weights.is_file():
        raise ModelError(f"{weights}: no such model checkpoint")
    try:
        payload = torch.load(weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(
            f"{weights}: refused to load: the file needs arbitrary Python objects, "
            f"which a model checkpoint must not contain ({str(exc).splitlines()[0]})"
        ) from None
    except Exception as exc:  # damaged bytes make torch raise nearly anything
        why = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ModelError(f"{weights}: not a readable checkpoint ({why})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{weights}: not an Annotator model checkpoint (expected format {FORMAT})")
    try:
        card = json.loads(payload["card"])
        network = NetworkConfig.from_dict(card["architecture"])
        state_dict = dict(payload["state_dict"])
        if not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state_dict.items()
        ):
            raise TypeError("the weights are not all named tensors")
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise ModelError(f"{weights}: the checkpoint's card is damaged ({str(exc)[:80]})") from None
    loaded = LoadedCheckpoint(card, network, state_dict, str(weights))
    if class_names is not None:
        check_classes(loaded, class_names, weights, allow_new_classes=allow_new_classes)
    return loaded


def check_classes(
    loaded: LoadedCheckpoint,
    class_names: list[str] | tuple[str, ...],
    where: Path | str = "the checkpoint",
    *,
    allow_new_classes: bool = False,
) -> None:
    """Refuse a model whose classes are not exactly the project's, in the same order
    (or, with ``allow_new_classes``, the first of the project's)."""
    have = [n.lower() for n in loaded.class_names]
    want = [n.lower() for n in class_names]
    if allow_new_classes and len(have) < len(want):
        want = want[: len(have)]
    if have != want or loaded.network.n_classes != len(have):
        raise ModelError(
            f"{where}: the model was trained for classes {loaded.class_names} but the project "
            f"has {list(class_names)}; train a new model from scratch "
            "(`annotator train --from-scratch`, or Model > Train from scratch in the app)"
        )


def widen_head(model: UNet, n_classes: int) -> UNet:
    """The same model with ``n_classes`` outputs; the old classes keep their weights.

    New output channels start at zero weight and a bias well below the old ones, so the
    widened model proposes exactly what it did until training teaches it the new classes.
    """
    old = model.head
    if n_classes < old.out_channels:
        raise ModelError("a model's classes can only grow")
    if n_classes == old.out_channels:
        return model
    config = model.config.with_classes(n_classes)
    wider = UNet(config)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("head.")}
    wider.load_state_dict(state, strict=False)
    with torch.no_grad():
        wider.head.weight.zero_()
        wider.head.weight[: old.out_channels] = old.weight
        wider.head.bias.fill_(float(old.bias.min()) - 4.0)
        wider.head.bias[: old.out_channels] = old.bias
    return wider


def export_onnx(model: UNet, path: Path, example_size: int = 256) -> Path:
    """Export ``softmax(model(x))`` to ONNX with dynamic batch, height and width.

    Inputs must be aligned to ``model.config.multiple`` (the tiled predictor ensures it).
    Written atomically; returns the path.
    """
    import warnings

    model = model.eval().cpu()
    wrapper = torch.nn.Sequential(model, torch.nn.Softmax(dim=1)).eval()
    size = max(example_size, model.config.multiple)
    size -= size % model.config.multiple
    example = torch.zeros(1, model.config.in_channels, size, size)
    with atomic_open(path, "wb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the dynamo exporter needs onnxscript, which is not a
        # dependency; this graph (conv, pool, concat) is well within what both support.
        torch.onnx.export(
            wrapper,
            (example,),
            fh,
            dynamo=False,
            input_names=["image"],
            output_names=["probabilities"],
            dynamic_axes={
                "image": {0: "n", 2: "h", 3: "w"},
                "probabilities": {0: "n", 2: "h", 3: "w"},
            },
            opset_version=17,
        )
    return path
