"""Model checkpoints as data: serialise weights + card to bytes, load them back safely.

The checkpoint is self-contained (the card travels inside it as a JSON string) and is read
with ``torch.load(weights_only=True)``: a checkpoint is data, never code, so loading a file
from someone else cannot run anything. Where the bytes go (``models/vNNNN/``) is
``annotator.storage.models``' business: this module never writes a file.
"""

from __future__ import annotations

import io
import logging
import pickle
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from annotator.core.card import CHECKPOINT_FORMAT, ModelCard, classes_fit, classes_refused
from annotator.core.errors import ModelError, first_line
from annotator.ml.networks import (
    NetworkConfig,
    build_network,
    load_weights,
    network_of,
    rearrange_classes,
    widen_classes,
)

log = logging.getLogger(__name__)

FORMAT = CHECKPOINT_FORMAT


def checkpoint_bytes(state_dict: dict[str, torch.Tensor], card: ModelCard) -> bytes:
    """The checkpoint file's content: format tag, card JSON and CPU weights."""
    weights = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    payload = {"format": FORMAT, "card": card.to_json(), "state_dict": weights}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint read back: its card, the architecture and the weights."""

    card: ModelCard
    network: NetworkConfig
    state_dict: dict[str, torch.Tensor]
    source: str = "the checkpoint"  # the file it came from, for error messages

    @property
    def class_names(self) -> list[str]:
        """The class names the model was trained for, in id order."""
        return self.card.class_names

    def build_model(self) -> nn.Module:
        """The card's network with these weights, in eval mode, on the CPU."""
        try:
            return load_weights(build_network(self.network), self.state_dict).eval()
        except ModelError as exc:
            raise ModelError(f"{self.source}: {exc}") from None


_NOT_A_MODEL_FILE = (
    "{} is not a model file Annotator can read (a damaged or incomplete file, or another "
    "kind of file)"
)


def _is_pickle(path: Path) -> bool:
    """Whether the file starts as a pickle of protocol 2 or later does (PROTO, 0x80)."""
    try:
        with path.open("rb") as f:
            head = f.read(2)
    except OSError:
        return False
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def load_checkpoint(
    path: Path,
    class_names: list[str] | tuple[str, ...] | None = None,
    *,
    allow_new_classes: bool = False,
) -> LoadedCheckpoint:
    """Read the checkpoint file ``path`` safely and check it fits a project with ``class_names``.

    Raises :class:`ModelError` when the file is missing, is not a plain-data checkpoint
    (anything that would need unpickling code is refused), or its classes differ. With
    ``allow_new_classes`` a model whose classes are the first classes of the project
    (the project added classes since) is accepted: its ids still mean the same classes.
    """
    weights = Path(path)
    if not weights.is_file():
        raise ModelError(f"{weights}: no such model checkpoint")
    try:
        with warnings.catch_warnings():  # a plain pickle: a warning before the refusal
            warnings.filterwarnings("ignore", "Detected pickle protocol", UserWarning)
            payload = torch.load(weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own text is several paragraphs; keep the line naming a global, if any
        named = [ln.strip() for ln in str(exc).splitlines() if "GLOBAL" in ln]
        if named:  # a pickle that runs code on loading: never a model of ours
            raise ModelError(
                f"{weights}: refused to load: it needs Python code to be read ({named[0]}), "
                "which a model file must never contain"
            ) from None
        log.info("%s: torch.load: %s", weights, first_line(exc, 200))
        if _is_pickle(weights):  # a pickle stream (torch's old format, or Python's own)
            raise ModelError(
                f"{weights}: refused to load: it is a Python pickle, not a model file "
                "Annotator writes (reading a pickle can run code, so none is read)"
            ) from None
        raise ModelError(_NOT_A_MODEL_FILE.format(weights)) from None
    except Exception as exc:  # damaged bytes make torch raise nearly anything
        # What torch says ("KeyError: 101" of a text file, "PytorchStreamReader failed
        # reading zip archive" of a cut one) tells a user nothing: it goes to the log.
        log.info("%s: torch.load: %s: %s", weights, type(exc).__name__, first_line(exc, 200))
        raise ModelError(_NOT_A_MODEL_FILE.format(weights)) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelError(f"{weights}: not an Annotator model checkpoint (expected format {FORMAT})")
    try:
        card = ModelCard.from_json(payload["card"], f"{weights}")
        network = NetworkConfig.from_dict(dict(card.architecture))
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
    fits = classes_fit(loaded.class_names, class_names, allow_new_classes=allow_new_classes)
    if not fits or loaded.network.n_classes != len(loaded.class_names):
        raise ModelError(classes_refused(loaded.class_names, class_names, str(where)))


def rearranged(
    loaded: LoadedCheckpoint, outputs: Sequence[int | None]
) -> tuple[NetworkConfig, dict[str, torch.Tensor], tuple[float, ...] | None]:
    """The network, weights and class weights of ``loaded`` whose output ``j`` is its
    output ``outputs[j]`` (``None``: a new, silent one; see
    :func:`networks.rearrange_classes`)."""
    model = rearrange_classes(loaded.build_model(), outputs)
    weights = loaded.card.training.class_weights
    if weights is not None and len(weights) == loaded.network.n_classes:
        weights = tuple(1.0 if j is None else float(weights[j]) for j in outputs)
    else:
        weights = None
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return network_of(model), state, weights


def widen_head(model: nn.Module, n_classes: int) -> nn.Module:
    """The same model with ``n_classes`` outputs (see :func:`networks.widen_classes`)."""
    return widen_classes(model, n_classes)


def onnx_bytes(model: nn.Module, example_size: int = 256) -> bytes:
    """Export ``softmax(model(x))`` to ONNX with dynamic batch, height and width.

    Inputs must be aligned to ``model.config.multiple`` (the tiled predictor ensures it).
    Returns the ONNX file's content; storage decides where it goes.
    """
    import warnings

    model = model.eval().cpu()
    config = network_of(model)
    wrapper = torch.nn.Sequential(model, torch.nn.Softmax(dim=1)).eval()
    size = max(example_size, config.multiple)
    size -= size % config.multiple
    example = torch.zeros(1, config.in_channels, size, size)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter: the dynamo exporter needs onnxscript, which is not a
        # dependency; this graph (conv, pool, concat) is well within what both support.
        torch.onnx.export(
            wrapper,
            (example,),
            buffer,  # type: ignore[arg-type]  # the TorchScript exporter takes a file object
            dynamo=False,
            input_names=["image"],
            output_names=["probabilities"],
            dynamic_axes={
                "image": {0: "n", 2: "h", 3: "w"},
                "probabilities": {0: "n", 2: "h", 3: "w"},
            },
            opset_version=17,
        )
    return buffer.getvalue()
