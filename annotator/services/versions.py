"""Model versions: which one is active, going back to an older one (rollback), storing
a new one, and moving a version between projects as one file (import, export)."""

from __future__ import annotations

import logging
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from annotator.core.card import (
    LEGACY_NORMALISATION,
    CardMetrics,
    ModelCard,
    classes_fit,
    classes_refused,
)
from annotator.core.errors import AnnotatorError, Cancelled, InterruptedAfterPublish, ModelError
from annotator.core.records import ModelRecord, now_iso
from annotator.core.schema import name_key
from annotator.services.projects import refuse_image_files, refuse_inside_project
from annotator.storage import models as model_store
from annotator.storage.atomic import atomic_write_bytes
from annotator.storage.project import Project

if TYPE_CHECKING:
    import torch

    from annotator.ml.checkpoint import LoadedCheckpoint
    from annotator.ml.networks import NetworkConfig
    from annotator.ml.train import CancelToken

log = logging.getLogger(__name__)


#: The project setting that says how many versions keep their files (0: all).
KEEP_SETTING = "keep_model_versions"
#: Each version is about 15 MB (its weights and the ONNX export of the default model),
#: and the loop makes one per image marked done: 200 images left 2.8 GB.
DEFAULT_KEEP = 20
#: Of the versions the app trained on its own while the user labelled (Keeping On, one
#: every minute or so), only the newest this many keep their files, beside the newest
#: :func:`keep_versions` of the others: a morning of keeping on would otherwise push out
#: every version made when an image was marked done within 20 minutes.
KEPT_ON_KEPT = 5


@dataclass(frozen=True)
class PruneReport:
    """What :func:`prune` did: versions whose files were removed, and the bytes freed."""

    keep: int
    removed: tuple[int, ...] = ()
    freed: int = 0


def keep_versions(project: Project) -> int:
    """How many of the newest versions keep their files (0: every version)."""
    value = project.get_setting(KEEP_SETTING, DEFAULT_KEEP)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return DEFAULT_KEEP  # a hand-edited setting: the default, never "remove all"
    return value


def set_keep_versions(project: Project, keep: int) -> PruneReport:
    """Keep the files of the newest ``keep`` versions (0: all) from now on, and prune now."""
    if keep < 0:
        raise ModelError("the number of versions to keep is 0 (all) or more")
    project.set_setting(KEEP_SETTING, int(keep))
    return prune(project)


def prune(project: Project) -> PruneReport:
    """Remove the files of every version but the newest :func:`keep_versions` trained ones
    and the active one: versions adapted to a class change (never trained) do not count,
    and lose their files once no longer active; versions kept on while the user labelled
    (ADR 0033) count apart, the newest :data:`KEPT_ON_KEPT` of them kept (all of them
    under ``keep`` 0). Records stay, listed with their scores; only their weights go, so
    they can no longer be rolled back to or exported."""
    keep = keep_versions(project)
    model_store.clear_removed(project)
    if keep == 0:
        return PruneReport(keep)
    records = [r for r in project.models() if model_store.has_files(project, r)]
    active = project.active_model()
    # Versions adapted to a class change (never trained) do not count: moving a class up
    # and down made one per step, and pushed out the trained versions they came from.
    # An imported version counts with the trained ones, whatever its card says of the
    # project it was made in.
    trained = [
        r for r in records if (r.card.imported_from or not r.card.adapted) and not r.card.kept_on
    ]
    kept_on = [r for r in records if r.card.kept_on]
    spared = {r.version for r in trained[-keep:] + kept_on[-min(keep, KEPT_ON_KEPT) :]}
    spared |= {active.version} if active else set()
    removed, freed = [], 0
    for record in records:
        now = project.active_model()  # a rollback on another thread may have chosen it
        if record.version not in spared and (now is None or now.version != record.version):
            freed += model_store.remove_version_files(project, record)
            removed.append(record.version)
    return PruneReport(keep, tuple(removed), freed)


def files_of(project: Project, record: ModelRecord) -> Path:
    """The version's weights, or a ModelError when :func:`prune` removed them."""
    weights = model_store.model_files(project, record).weights
    if not weights.is_file():
        why = (
            "a version adapted to a class change loses its files once another replaces it"
            if record.card.adapted and not record.card.imported_from
            else f"old versions' files are removed to save space: the project keeps the "
            f"newest {keep_versions(project)}, `annotator models --keep N` changes that"
        )
        raise ModelError(
            f"{weights}: model v{record.version}'s weights are not on disk ({why}); choose "
            "a version that still has them"
        )
    return weights


def rollback(project: Project, version: int) -> ModelRecord:
    """Make ``version`` the active model again (its checkpoint must still load and fit the
    project's classes: the same, or the first of them, as proposals and training accept
    from a version made before classes were added)."""
    from annotator.ml.checkpoint import load_checkpoint

    record = project.model(version)
    names = project.schema.names
    if not classes_fit(record.card.class_names, names):
        raise ModelError(rollback_refused(project, record))
    weights = files_of(project, record)
    # build_model too: a version whose weights do not fit its card must not become active
    load_checkpoint(weights, project.schema.names, allow_new_classes=True).build_model()
    return project.set_active_model(version)


def from_scratch_command(project: Project) -> str:
    """The command that trains ``project`` from scratch, quoted for the messages."""
    return f"`annotator train {shlex.quote(str(project.root))} --from-scratch`"


def check_fits(project: Project, record: ModelRecord, where: str) -> None:
    """A one-line ModelError when ``record`` was trained for other classes than the
    project's (a class renamed since), naming the command that trains this project
    from scratch; said before anything is loaded."""
    names = project.schema.names
    if not classes_fit(record.card.class_names, names):
        word = shlex.quote(str(project.root))
        raise ModelError(classes_refused(record.card.class_names, names, where, word))


def rollback_refused(project: Project, record: ModelRecord, how_scratch: str = "") -> str:
    """Why ``record``, trained for other classes than the project's now, cannot become
    the active model: one line naming the stored versions that could."""
    names = project.schema.names
    fit = [
        f"v{m.version}"
        for m in project.models()
        if classes_fit(m.card.class_names, names) and model_store.has_files(project, m)
    ]
    scratch = how_scratch or from_scratch_command(project)
    choose = (
        f"roll back to a version made since the classes changed ({', '.join(fit[-3:])}), "
        f"or train from scratch ({scratch})"
        if fit
        else f"no stored version was made for them; train from scratch ({scratch})"
    )
    return (
        f"model v{record.version} was trained for other classes "
        f"({', '.join(record.card.class_names)}) than the project's now "
        f"({', '.join(names)}): {choose}"
    )


def stored(project: Project) -> set[int]:
    """The versions whose files are on disk (the others were pruned, :func:`prune`)."""
    return {r.version for r in project.models() if model_store.has_files(project, r)}


def listing(project: Project) -> tuple[list[ModelRecord], int | None]:
    """Every published version, oldest first, and the active version's number."""
    active = project.active_model()
    return project.models(), (active.version if active else None)


def store_version(
    project: Project,
    card: ModelCard,
    network: NetworkConfig,
    state_dict: dict[str, torch.Tensor],
    *,
    export_onnx: bool = True,
    replacing: int | None | Literal["any"] = "any",
    cancel: CancelToken | None = None,
) -> ModelRecord:
    """Write ``card``'s version (checkpoint, card, ONNX export) and make it active
    (with ``replacing``: only if that version is still the active one).

    The ONNX export is an optimisation: when it fails the version is stored without it
    and proposals use torch. A ``cancel`` set before the version is recorded (by the end
    of the export, the slow part, or during the write of its files) raises
    :class:`Cancelled` and leaves nothing behind; an interrupt (KeyboardInterrupt) once
    it is recorded raises :class:`InterruptedAfterPublish`.
    """
    from annotator.ml.checkpoint import checkpoint_bytes

    onnx = None
    if export_onnx:
        card, onnx = onnx_export(card, network, state_dict)
    if cancel is not None and cancel.is_set():
        raise Cancelled("training cancelled")
    weights = checkpoint_bytes(state_dict, card)
    record = model_store.publish_version(
        project, card, weights, onnx, replacing=replacing, cancel=cancel
    )
    try:
        report = prune(project)
    except (OSError, AnnotatorError) as exc:  # space is not worth a failed round
        log.warning("could not remove old model versions' files: %s", exc)
    except KeyboardInterrupt:  # (a version whose files were being removed is finished later)
        raise InterruptedAfterPublish(record.version) from None
    else:
        if report.removed:
            log.info("removed the files of model version(s) %s", report.removed)
    return record


def onnx_export(
    card: ModelCard, network: NetworkConfig, state_dict: dict[str, torch.Tensor]
) -> tuple[ModelCard, bytes | None]:
    """The ONNX export of a version's weights and its card saying so; ``None`` and the
    card as it is when the export fails (an optimisation: proposals then use torch)."""
    from annotator.ml.checkpoint import LoadedCheckpoint, onnx_bytes

    model = LoadedCheckpoint(card, network, state_dict).build_model()
    try:
        onnx = onnx_bytes(model)
    except Exception as exc:  # export is an optimisation; the torch path still works
        log.warning("ONNX export failed, proposals will use torch: %s", exc)
        return card, None
    return card.with_onnx(model_store.ONNX_NAME), onnx


def is_onnx_name(path: Path) -> bool:
    """Whether ``path`` names an ONNX file (an inference export, not a checkpoint)."""
    return path.suffix.lower() == ".onnx"


def check_model_file(
    path: Path | str, class_names: tuple[str, ...] | list[str], export_how: str = ""
) -> LoadedCheckpoint:
    """Read the checkpoint file ``path`` and check it fits a project with ``class_names``
    (the same classes in the same order, or the first of them); one-line errors.
    ``export_how``: how a version is exported as a model file, for the refusal of an
    ONNX file (the CLI's ``annotator models --export`` by default; the app: its menu)."""
    from annotator.ml.checkpoint import check_classes, load_checkpoint

    path = Path(path)
    if is_onnx_name(path) and not path.is_dir():
        raise ModelError(
            f"{path}: an ONNX file holds no training weights and cannot be imported; "
            "import the version's .pt export "
            f"({export_how or '`annotator models PROJECT --export FILE.pt`'})"
        )
    if path.is_dir():  # a version's folder, or the folder a file was exported to
        inside = path / model_store.WEIGHTS_NAME
        raise ModelError(
            f"{path}: is a folder, not a model checkpoint file"
            + (f"; its checkpoint is {inside}" if inside.is_file() else "")
        )
    loaded = load_checkpoint(path)
    try:
        check_classes(loaded, class_names, path, allow_new_classes=True)
    except ModelError:
        raise ModelError(
            f"{path} is a model file for other classes ({', '.join(loaded.class_names)}) "
            f"than this project's ({', '.join(class_names)}); a model fits a project whose "
            "classes are the same, in the same order, or begin with them"
        ) from None
    loaded.build_model()  # weights that do not fit their card are refused here
    return loaded


def model_file_sha1(path: Path | str) -> str:
    """The SHA-1 of a model file's content, which an imported version's card records."""
    import hashlib

    digest = hashlib.sha1()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file ({exc.strerror or exc})") from None
    return digest.hexdigest()


def imported_before(project: Project, path: Path | str) -> ModelRecord | None:
    """The newest version imported from a file of the same content as ``path`` whose
    files are still on disk (one pruned is no use: importing again restores it), or
    ``None``. Imports made before the file's SHA-1 was recorded are not found."""
    digest = model_file_sha1(path)
    return next(
        (
            r
            for r in reversed(project.models())
            if r.card.imported_sha1 == digest and model_store.has_files(project, r)
        ),
        None,
    )


def import_model(
    project: Project, path: Path | str, *, export_onnx: bool = True, export_how: str = ""
) -> ModelRecord:
    """Store the checkpoint file ``path`` (a version exported from another project, or
    its ``weights.pt``) as this project's next version and make it active.

    Its classes must be the project's, in the same order, or the first of them (the next
    round learns the others). The lineage, the images and the validation scores belong
    to the project it was trained in, so the new version keeps none of them: it has no
    parent, and ``imported_from`` says where it came from. ``export_how``: as
    :func:`check_model_file`'s.
    """
    path = Path(path)
    loaded = check_model_file(path, project.schema.names, export_how)
    digest = model_file_sha1(path)
    source = loaded.card
    card = replace(
        source,
        version=project.next_model_version(),
        parent=None,
        created_at=now_iso(),
        train_images=(),
        validation_images=(),
        metrics=CardMetrics(loss=source.metrics.loss),
        onnx=None,
        adapted=None,  # (a class change of the project it was made in; not this one's)
        imported_from=f"{path.name} (its v{source.version}, made {source.created_at[:19]} UTC)",
        imported_sha1=digest,
    )
    return store_version(project, card, loaded.network, loaded.state_dict, export_onnx=export_onnx)


def export_model(
    project: Project, out: Path | str, version: int | None = None, *, overwrite: bool = False
) -> ModelRecord:
    """Write ``version`` (default: the active one) as one self-contained checkpoint file
    ``out``, which :func:`import_model` reads in another project; when ``out`` ends in
    ``.onnx``, the version's ONNX file instead (for inference with other tools; it holds
    no training weights, so it cannot be imported). An existing file is replaced only
    with ``overwrite``; a file inside the project folder never is."""
    if version is None:
        record = project.active_model()
        if record is None:
            raise ModelError("the project has no model yet: train one first")
    else:
        record = project.model(version)
    out = Path(out)
    if out.is_dir():
        raise ModelError(f"{out}: is a folder; give the file to write (e.g. {out / 'model.pt'})")
    if not out.parent.is_dir():
        raise ModelError(f"{out.parent}: no such folder")
    refuse_inside_project(project, out, "model file")
    refuse_image_files(project, [out], "model file")
    if out.exists() and not overwrite:
        raise ModelError(f"{out}: exists; give another file name, or --overwrite to replace it")
    if is_onnx_name(out):  # the version's ONNX file, for inference elsewhere
        onnx = model_store.model_files(project, record).onnx
        if onnx is None:
            raise ModelError(
                f"model v{record.version} has no ONNX file ({model_store.ONNX_NAME}) to write "
                f"to {out.name}; export it as a .pt checkpoint instead"
            )
        weights = onnx
    else:
        weights = files_of(project, record)
    try:
        data = weights.read_bytes()
    except OSError as exc:  # the version's own file, not the destination
        raise ModelError(
            f"{weights}: cannot read model v{record.version} ({exc.strerror or exc})"
        ) from None
    try:
        atomic_write_bytes(out, data)
    except OSError as exc:
        raise ModelError(f"{out}: cannot write the model ({exc.strerror or exc})") from None
    return record


def stale_active(project: Project) -> ModelRecord | None:
    """The active version when it no longer fits the project's classes (a class was
    renamed since it was trained): it cannot propose, and a round cannot continue it.
    None otherwise."""
    return stale_of(project.active_model(), project.schema.names)


def stale_of(active: ModelRecord | None, names: Sequence[str]) -> ModelRecord | None:
    """``active`` when it no longer fits the classes ``names`` (:func:`stale_active`, of a
    record the caller holds already: the window's, read without the database)."""
    if active is None or classes_fit(active.card.class_names, names):
        return None
    return active


#: What the listing and the model panel say of a version whose input normalisation is
#: ``pooled`` (ADR 0027), where that matters.
POOLED_NOTE = "pooled input normalisation (made before the per-channel rule)"


def pooled_matters(project: Project) -> bool:
    """Whether the input normalisation rule changes what a network sees of the project's
    images: only pictures of several channels of more than 8 bits are normalised by a
    window per channel (``per-channel``) rather than one over the first three
    (``pooled``). One narrow query (the window asks on every model change)."""
    return project.has_deep_colour_images()


def normalisation_note(card: ModelCard, matters: bool) -> str:
    """:data:`POOLED_NOTE` for a version made before the per-channel rule when it
    ``matters`` (:func:`pooled_matters` of the project's images); ``""`` otherwise."""
    return POOLED_NOTE if matters and card.input_normalisation == LEGACY_NORMALISATION else ""


def rename_effect(model: Sequence[str] | None, class_id: int, was: str, new: Sequence[str]) -> str:
    """What renaming class ``class_id`` (``was``) to give the class list ``new`` means for
    the active version, trained for the classes ``model`` (None: no version):
    ``"none"`` (no version), ``"unknown"`` (a class it has not learnt yet: added since),
    ``"same"`` (the same name in other letters), ``"back"`` (the version's own name for it
    again) or ``"scratch"`` (it cannot be continued: the next round trains from scratch)."""
    if model is None:
        return "none"
    if class_id >= len(model):
        return "unknown"
    if not classes_fit(model, new):
        return "scratch"
    return "same" if name_key(was) == name_key(new[class_id]) else "back"


def stale_note(project: Project) -> str:
    """One line on :func:`stale_active` for the command line (``""`` when it fits)."""
    active = stale_active(project)
    if active is None:
        return ""
    return (
        f"the classes changed since model v{active.version} was trained (it knows "
        f"{', '.join(active.card.class_names)}): it cannot propose; train from scratch "
        f"({from_scratch_command(project)}) to use them"
    )


#: Project setting: the versions kept though they score lower than the one before
#: (the model panel's Keep, or a rollback to them): their note is said no more.
KEPT_LOWER_SETTING = "gui.kept_lower_versions"


def kept_lower(project: Project) -> set[int]:
    """The versions ``project`` keeps though they score lower (empty when the setting is
    missing or damaged: logged, only a note's memory, never worth refusing the project)."""
    try:
        raw = project.get_setting(KEPT_LOWER_SETTING, [])
    except AnnotatorError as exc:
        log.warning("ignoring the damaged list of versions kept: %s", exc)
        return set()
    if not isinstance(raw, list):
        return set()
    return {v for v in raw if isinstance(v, int) and not isinstance(v, bool)}


def keep_lower(project: Project, version: int) -> None:
    """Keep in ``project`` that ``version`` was kept though it scores lower (a refused
    write is logged: the note comes back at the next opening, nothing worse)."""
    kept = kept_lower(project)
    if version in kept:
        return
    try:
        project.set_setting(KEPT_LOWER_SETTING, sorted(kept | {version}), timeout=1.0)
    except AnnotatorError as exc:
        log.warning("could not keep that model v%d was kept: %s", version, exc)
