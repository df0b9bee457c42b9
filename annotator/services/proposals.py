"""Proposals without a front end: predictors, batch proposals, ranking, the proposal worker.

* :func:`load_predictor`: a :class:`~annotator.ml.predict.Predictor` for a model version.
* :func:`predict_images`: proposals for images (stored in the project, optionally also
  written as class-id PNG files to another folder); updates the ranking scores.
* :func:`rank_next`: the images still to label in the order a strategy prefers;
  :func:`rank_records` ranks given records, those a version scored first when given its
  scores (the others hold an older version's scores until it has scored them).
* :class:`ProposalWorker`: the GUI's background proposals. One request asks for the
  proposal of the image on screen first, then scores the images still to label; a
  newer request cancels the running one at its next check (latest wins), and so does
  :meth:`ProposalWorker.cancel` without a newer one (images about to go). Every event
  names its request, so the owner knows which model version made a score. Beside it,
  the scores a version stored before (an earlier session's) are read once per version.

torch is imported only inside functions and on the worker thread.
"""

from __future__ import annotations

import errno
import glob
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from annotator.core.card import classes_fit
from annotator.core.channels import Choice, describe, lacking_note, lacks
from annotator.core.errors import (
    AnnotatorError,
    Cancelled,
    ImageReadError,
    ModelError,
    ProjectError,
)
from annotator.core.folders import holds_cwd
from annotator.core.naming import NAME_MAX, unique_stems
from annotator.core.proposal import NO_CLASS, Proposal, image_score
from annotator.core.records import ImageRecord, ModelRecord
from annotator.core.status import KEPT_IMAGES_FILE, PREDICTED_IMAGES_FORMAT, ImageStatus
from annotator.core.volumes import label_volume_bytes
from annotator.formats.colour_table import readable_class_list
from annotator.formats.georef import WORLD_FILE_SUFFIX, GeoMasks, read_geotags
from annotator.formats.masks import label_pages
from annotator.services.jobs import CancelToken, Dispatcher, LatestWinsWorker
from annotator.services.projects import refuse_image_files, refuse_inside_project
from annotator.storage import models as model_store
from annotator.storage import proposals as proposal_store
from annotator.storage.atomic import (
    atomic_write_bytes,
    clear_replaced_folders,
    merge_folder,
    put_in_place,
    restore_replaced_folder,
)
from annotator.storage.project import Project
from annotator.storage.stacks import SliceIndex, SliceOf

if TYPE_CHECKING:
    from annotator.ml.predict import Predictor
    from annotator.ml.strategies import Strategy

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class PredictedImage:
    """What :func:`predict_images` did for one image."""

    image_id: int
    name: str
    score: float
    model_version: int
    mask_path: Path
    exported_path: Path | None


def _scored_where_unlabelled(project: Project, record: ImageRecord, proposal: Proposal) -> Proposal:
    """``proposal`` with its score over the image's pixels not labelled yet (its label
    map as saved; an image with none, or a damaged one, keeps the score of every
    pixel): the uncertainty where the user labelled, or painted void, is no reason to
    label the image next, and an image labelled all over scores 0."""
    try:
        labels = project.load_mask(record)
    except ProjectError as exc:  # said where the labels are opened, trained or exported
        log.warning("scored %s over every pixel: %s", record.name, exc)
        return proposal
    if labels is None or labels.shape != proposal.shape:
        return proposal
    unlabelled = labels == project.schema.unlabelled
    if unlabelled.all():
        return proposal
    # pixels without a value (nodata) have no class and count as little as labelled ones
    counted = unlabelled & (proposal.mask != NO_CLASS)
    return replace(proposal, score=image_score(proposal.uncertainty, counted))


def proposals_folder(project: Project) -> Path:
    """Where the project keeps its proposals (for messages to the user)."""
    return proposal_store.proposals_dir(project)


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
    from annotator.ml.preload import import_torch_quietly

    import_torch_quietly()  # (on a worker thread, before the GUI's warm-up may have)
    from annotator.ml.predict import Predictor

    record = project.model(version) if version is not None else project.active_model()
    if record is None:
        raise ModelError("the project has no model yet: run `annotator train` first")
    from annotator.services.versions import check_fits

    check_fits(project, record, f"model v{record.version}")  # (said before any loading)
    files = model_store.model_files(project, record)
    return Predictor.from_checkpoint(
        files.weights,
        project.schema.names,
        onnx=files.onnx,
        device=device,
        backend=backend,
        threads=threads,
    )


def check_version(project: Project, version: int) -> ModelRecord:
    """The record of ``version`` for proposing with it (``annotator predict --version``),
    or a one-line ModelError: no such version, its files removed (Kept Versions), or
    trained for other classes than the project's."""
    from annotator.services.versions import files_of, rollback_refused

    known = [m.version for m in project.models()]
    if version not in known:
        have = f"v{known[0]} to v{known[-1]}" if known else "none yet"
        raise ModelError(
            f"the project has no model version v{version} (its versions: {have}; "
            "`annotator models` lists them)"
        )
    record = project.model(version)
    files_of(project, record)  # (removed by Kept Versions: said in one line)
    if not classes_fit(record.card.class_names, project.schema.names):
        raise ModelError(rollback_refused(project, record).replace("roll back to", "use", 1))
    return record


def _tiles_of(progress: ProgressFn, i: int, images: int, name: str) -> ProgressFn:
    """The progress of the tiles of image ``i`` of ``images``, said with the images' (a
    picture of 4096 px took a minute of CPU without a word)."""

    def tiles(done: int, total: int, _what: str) -> None:
        if total > 1:
            progress(i, images, f"{name}: tile {done} of {total}")

    return tiles


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
    overwrite: bool = False,
    skipped: list[tuple[str, str]] | None = None,
    made: list[PredictedImage] | None = None,
    geotiff: bool = False,
    geo_notes: list[str] | None = None,
    volumes: list[Path] | None = None,
    version: int | None = None,
    lacking: list[str] | None = None,
) -> list[PredictedImage]:
    """Propose masks for ``records`` (default: every image) with the active model (or
    the kept version ``version``: its proposals are stored as its own).

    An image whose picture lacks a channel of the version's Channel Choice
    (:func:`~annotator.core.channels.lacks`: it would be fed other channels than the
    version learnt from) gets no proposal; its name is added to ``lacking``
    (:func:`lacking_pictures` says them in a line).

    Each proposal is stored in the project and its score in the database as soon as it is
    done, so a cancel keeps what was finished. With ``out_dir``, the masks are also
    written there as class-id PNG files named after the images, all at once when every
    one is done (a cancel writes none there); files already there are replaced only with
    ``overwrite``, and never inside the project folder; an ``images.json`` beside them
    (:data:`~annotator.core.status.PREDICTED_IMAGES_FORMAT`) names each mask file's image,
    its picture file and the SHA-1 of its picture, since the flat file names cannot tell
    ``a/x.png`` from ``b/x.png`` (entries of masks written there before and not
    replaced are kept). With a
    ``skipped`` list, an image that cannot be read (gone, damaged, replaced by another
    picture) is added to it as ``(name, reason)`` and the others go on; without, its
    error stops the run. With a ``made`` list, each image's result is added to it as
    soon as its proposal is stored (what a caller that was interrupted can still say).

    The mask of a GeoTIFF picture gets a world file (``STEM.pgw``) beside its PNG, or
    with ``geotiff`` is written as a GeoTIFF (``STEM.tif``) carrying the picture's geo
    tags (:mod:`annotator.formats.georef`); ``geo_notes`` receives the summary's lines
    on them.

    With ``out_dir``, each NIfTI scan (a split with a ``volume`` record) of which a
    slice was predicted also gets its label volume, ``VOLUMES_DIR/<stack>.nii.gz``
    (:func:`~annotator.core.volumes.label_volume_bytes`: the scan's voxel order, header
    and affine): page ``k`` the proposal of slice ``k``, the slices not predicted now
    and the pixels of no class the project's unlabelled value, as a masks export's
    ``--stacks`` writes them; written with the masks (all or nothing) and replaced only
    with ``overwrite``. ``volumes`` receives the paths of those written.
    """
    out_names: dict[int, str] = {}
    stale: dict[str, list[str]] = {}
    records = project.images() if records is None else records
    choice = _choice_of(project, predictor, version)
    left = [r.name for r in records if lacks(r.channels, choice)]
    if left:
        records = [r for r in records if not lacks(r.channels, choice)]
        if lacking is not None:
            lacking.extend(left)
    placed = GeoMasks(nodata=NO_CLASS)  # (GeoTIFF masks: no class see-through)
    scans: dict[int, SliceOf] = {}  # the records that are slices of NIfTI scans
    if out_dir is not None:
        if restore_replaced_folder(Path(out_dir).absolute()):
            log.warning("%s: put back as it was before a run killed while replacing it", out_dir)
        scans = _scan_slices(project, records)
        if Path(out_dir).exists() and not Path(out_dir).is_dir():
            raise AnnotatorError(f"{out_dir}: is a file, not a folder for the masks")
        refuse_inside_project(project, out_dir, "masks")
        out_names = _out_file_names(project.images())
        if geotiff:  # the masks of GeoTIFF pictures: STEM.tif
            for rec in records:
                if read_geotags(project.image_path(rec)) is not None:
                    out_names[rec.id] = out_names[rec.id][: -len(".png")] + ".tif"
        index = Path(out_dir) / KEPT_IMAGES_FILE
        # an earlier run's mask of an image under another name (x.png, now x.tif with
        # --geotiff) is replaced too: one image, one mask, as images.json says
        stale = _other_masks(_earlier_index(index) or {}, records, out_names)
        there = [
            name
            for r in records
            for name in (out_names[r.id], out_names[r.id][: -len(".png")] + WORLD_FILE_SUFFIX)
            if (Path(out_dir) / name).exists()
        ] + [n for names in stale.values() for n in names if (Path(out_dir) / n).exists()]
        there += [
            name
            for name in sorted({_volume_name(s.stack) for s in scans.values()})
            if (Path(out_dir) / name).exists()
        ]
        if index.exists() and _earlier_index(index) is None:  # a file of the user's
            there.append(KEPT_IMAGES_FILE)
        names_file = Path(out_dir) / CLASS_NAMES_FILE
        if names_file.exists() and _read_text(names_file) != _class_names_text(project):
            there.append(CLASS_NAMES_FILE)  # another class list (the user's, or of before)
        refuse_image_files(project, [Path(out_dir) / n for n in there], "masks")
        if there and not overwrite:
            if there == [CLASS_NAMES_FILE]:  # (no mask in the way: only the class list)
                raise AnnotatorError(
                    f"{out_dir}: its {CLASS_NAMES_FILE} lists other classes than the "
                    "project's (masks of another project, or of before a class change); "
                    "choose another folder, or --overwrite to replace it"
                )
            raise AnnotatorError(
                f"{out_dir}: already holds {len(there)} file(s) named as the masks would be "
                f"(first: {there[0]}); choose an empty folder, or --overwrite to replace them"
            )
    predictor = predictor or load_predictor(
        project, device=device, backend=backend, version=version
    )
    out = Path(out_dir).absolute() if out_dir is not None else None
    stage = _out_stage(out) if out is not None else None
    done: list[PredictedImage] = [] if made is None else made
    pages: dict[str, dict[int, np.ndarray]] = {}  # a scan's proposals, by slice
    try:
        for i, rec in enumerate(records):
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"prediction cancelled after {i} image(s)")
            if progress:
                progress(i, len(records), rec.name)
            try:
                pixels = project.load_image(rec)
            except ImageReadError as exc:
                if skipped is None:
                    raise
                skipped.append((rec.name, exc.problem))
                continue
            try:
                proposal = predictor.predict(
                    pixels,
                    cancel=cancel,
                    keep_probabilities=False,
                    progress=None
                    if progress is None
                    else _tiles_of(progress, i, len(records), rec.name),
                )
                proposal = _scored_where_unlabelled(project, rec, proposal)
            except (RuntimeError, MemoryError) as exc:
                from annotator.ml.device import is_out_of_memory, release_memory

                if not is_out_of_memory(exc):
                    raise
                release_memory()
                kept = "their proposals are kept in the project"
                if out is not None:  # (the staged --out folder is removed: all or nothing)
                    kept += f", {out} was not written"
                raise ModelError(
                    f"{rec.name}: proposing ran out of memory after {i} image(s) ({kept}); "
                    "close other programs or use the CPU"
                ) from None
            mask_p = proposal_store.save_proposal(project, rec.id, proposal)
            exported = None
            if stage is not None and out is not None:
                out_names[rec.id] = placed.write(
                    lambda name, data: atomic_write_bytes(stage / name, data),
                    out_names[rec.id][: -len(".png")],  # (.tif as long)
                    proposal.mask,
                    project.image_path(rec),
                    geotiff,
                )
                exported = out / out_names[rec.id]
                if rec.id in scans:
                    where = scans[rec.id]
                    pages.setdefault(where.stack, {})[where.index] = _label_page(
                        project, proposal.mask
                    )
            project.set_scores({rec.id: proposal.score})
            done.append(
                PredictedImage(
                    rec.id, rec.name, proposal.score, proposal.model_version, mask_p, exported
                )
            )
        if stage is not None and out is not None:
            if any(stage.iterdir()):
                written = _write_volumes(project, stage, scans, pages)
                _write_index(project, stage, out, done, out_names)
                _put_masks_in_place(stage, out)
                for one in done:  # (once the new masks and their index are in place)
                    for name in stale.get(one.name, ()):
                        (out / name).unlink(missing_ok=True)
                if volumes is not None:
                    volumes.extend(out / name for name in written)
            else:
                stage.rmdir()
    except OSError as exc:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            if full and stage in Path(str(exc.filename)).parents:  # a name in the hidden folder
                raise AnnotatorError(
                    f"{out}: the disk is full ({exc.strerror}); no mask was written there (the "
                    "proposals made are stored in the project): free some space, or write "
                    "them elsewhere"
                ) from None
        raise
    except BaseException:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        raise
    if progress:
        progress(len(records), len(records), "")
    if geo_notes is not None:
        geo_notes.extend(placed.notes("--geotiff"))
    return done


def _choice_of(project: Project, predictor: Predictor | None, version: int | None) -> Choice:
    """The Channel Choice of the version that proposes: ``predictor``'s, else that of
    ``version`` (the active one by default) read from its card; ``()`` without a model
    (loading it then says there is none)."""
    if predictor is not None:  # (anything with ``predict`` proposes; without a network
        network = getattr(predictor, "network", None)  # it takes each picture as it is)
        return () if network is None else tuple(network.channel_choice)
    try:
        record = project.model(version) if version is not None else project.active_model()
    except ProjectError:
        return ()  # (no such version: loading it says so)
    return () if record is None else record.card.channel_choice


def lacking_pictures(
    project: Project, names: Sequence[str], version: int | None = None, what: str = ""
) -> str:
    """The line saying that the pictures ``names`` lack a channel of the Channel Choice of
    ``version`` (the active one by default) and ``what`` (default: get no proposal)."""
    choice = _choice_of(project, None, version)
    return lacking_note(names, choice, what or "get no proposal")


#: The folder of ``predict --out`` that holds the label volumes of NIfTI scans.
VOLUMES_DIR = "volumes"


def _volume_name(stack: str) -> str:
    return f"{VOLUMES_DIR}/{stack}.nii.gz"


def _scan_slices(project: Project, records: Sequence[ImageRecord]) -> dict[int, SliceOf]:
    """The records among ``records`` that are slices of a NIfTI scan (a split with a
    ``volume`` record), and which slice each is."""
    slice_of = SliceIndex(project.root)
    found: dict[int, SliceOf] = {}
    for rec in records:
        where = slice_of(project.image_path(rec))
        if where is not None and where.volume is not None:
            found[rec.id] = where
    return found


def _label_page(project: Project, mask: np.ndarray) -> np.ndarray:
    """A proposal's mask as labels of the project's type: no class as unlabelled."""
    schema = project.schema
    page = mask.astype(schema.dtype)
    page[mask == NO_CLASS] = schema.unlabelled
    return page


def _write_volumes(
    project: Project,
    stage: Path,
    scans: Mapping[int, SliceOf],
    pages: Mapping[str, dict[int, np.ndarray]],
) -> list[str]:
    """The label volume of each scan some of whose slices have ``pages``, in ``stage``
    (:data:`VOLUMES_DIR`); their names there."""
    records = {s.stack: s for s in scans.values()}
    written: list[str] = []
    for stack, given in sorted(pages.items()):
        where = records[stack]
        assert where.volume is not None  # (_scan_slices keeps only NIfTI scans)
        labels = label_pages(given, where.planes, project.schema.unlabelled)
        name = _volume_name(stack)
        (stage / VOLUMES_DIR).mkdir(exist_ok=True)
        atomic_write_bytes(stage / name, label_volume_bytes(labels, where.volume))
        written.append(name)
    return written


def _out_stage(out: Path) -> Path:
    """A new hidden folder to write the masks for ``out`` in, put in place when all are
    written (:func:`_put_masks_in_place`): beside ``out``, or in it where its parent
    takes no folder (the root of a drive, a folder of another's). Those a killed run
    left are removed."""
    partial = f".{out.name}.partial-"
    if out.is_symlink() and not out.exists():  # (its error named the hidden stage)
        raise AnnotatorError(
            f"{out}: a symbolic link to {os.readlink(out)}, which is not there; make that "
            "folder, or give another"
        )
    if out.is_dir():
        # The folder itself is kept (its files moved in) where nothing old can mix with
        # the new, or where replacing it would pull it away from under this process (a
        # shell's `--out .` was left in a deleted folder), or where it is a link.
        kept = out.is_symlink() or not any(out.iterdir()) or holds_cwd(out)
        places = [out] if kept else [out.parent, out]
    else:
        places = [out.parent]
    for i, beside in enumerate(places):
        try:
            beside.mkdir(parents=True, exist_ok=True)
            for stale in beside.glob(f"{glob.escape(partial)}*"):
                shutil.rmtree(stale, ignore_errors=True)
            stage = Path(tempfile.mkdtemp(prefix=partial, dir=beside))
        except OSError as exc:  # read-only, no permission, a file where a folder should be
            if i + 1 < len(places):
                continue
            raise AnnotatorError(
                f"{out}: cannot create the folder for the masks ({exc.strerror or exc})"
            ) from None
        if beside == out or not out.is_dir() or stage.stat().st_dev == out.stat().st_dev:
            return stage
        stage.rmdir()  # (another file system: the folders cannot be swapped)
    return Path(tempfile.mkdtemp(prefix=partial, dir=out))


def _put_masks_in_place(stage: Path, out: Path) -> None:
    """Put the complete ``stage`` in place as ``out``: renamed (a new or empty ``out``);
    beside a folder of an earlier run, swapped for it in one step, the files of it that
    this run does not replace kept (:func:`~annotator.storage.atomic.merge_folder`:
    moved in one by one, a kill part way left masks of two models under the index of
    one); in it, moved up one by one (the only way left)."""
    if stage.parent == out:
        put_in_place(stage, out, inside=True)
    elif out.is_dir() and any(out.iterdir()):
        own = f".{out.name}.partial-"
        merge_folder(stage, out, lambda name: not name.startswith(own))
        clear_replaced_folders(out)
    else:
        put_in_place(stage, out, inside=False)


def _earlier_index(file: Path) -> dict[str, Any] | None:
    """The mask entries of the ``images.json`` an earlier ``predict --out`` wrote at
    ``file`` (``{}`` when there is none), or ``None`` for a file of another kind."""
    if not file.exists():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("format") != PREDICTED_IMAGES_FORMAT:
        return None
    masks = data.get("masks")
    return dict(masks) if isinstance(masks, dict) else None


def _other_masks(
    earlier: Mapping[str, Any], records: Sequence[ImageRecord], out_names: Mapping[int, str]
) -> dict[str, list[str]]:
    """The files an earlier ``predict --out`` wrote (``earlier``: its index's entries) for
    ``records`` under other names than ``out_names`` now gives them, with their world
    files, by image name: what this run replaces."""
    names = {r.name: out_names[r.id] for r in records}
    other: dict[str, list[str]] = {}
    for name, entry in earlier.items():
        image = entry.get("image") if isinstance(entry, dict) else None
        if isinstance(image, str) and names.get(image, name) != name:
            world = Path(name).with_suffix(WORLD_FILE_SUFFIX).as_posix()
            other.setdefault(image, []).extend([name, world])
    return other


def _write_index(
    project: Project,
    stage: Path,
    out: Path,
    done: Sequence[PredictedImage],
    out_names: Mapping[int, str],
) -> None:
    """``images.json`` in ``stage``: each mask file written (and each an earlier run
    wrote to ``out`` that stays) -> its image's name, picture file and picture's SHA-1."""
    masks = _earlier_index(out / KEPT_IMAGES_FILE) or {}
    records = {r.id: r for r in project.images()}
    written = {records[d.image_id].name for d in done if d.image_id in records}
    masks = {  # an image written now keeps no entry of an earlier name (one image, one mask)
        name: entry
        for name, entry in masks.items()
        if not (isinstance(entry, dict) and entry.get("image") in written)
    }
    for made in done:
        rec = records.get(made.image_id)
        if rec is None:
            continue
        masks[out_names[rec.id]] = {
            "image": rec.name,
            "file": str(project.image_path(rec)),
            "sha1": rec.sha1,
            "model_version": made.model_version,
        }
    data = {"format": PREDICTED_IMAGES_FORMAT, "masks": dict(sorted(masks.items()))}
    (stage / KEPT_IMAGES_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    # the masks' values are class ids: their list, as a masks export writes it, so that
    # the masks import of the folder maps them by name wherever the folder lies
    (stage / CLASS_NAMES_FILE).write_text(_class_names_text(project), encoding="utf-8")


#: The class list ``predict --out`` writes beside its masks (line i: class id i).
CLASS_NAMES_FILE = "class_names.txt"


def _class_names_text(project: Project) -> str:
    """The class list as any reader reads it back (a plain list whose first class is
    ``Label``, or whose names are ``1 cell``, ``2 nucleus``, read as a header or as ids
    from 1, and every pixel imported one class off)."""
    return readable_class_list(project.schema.names)


def _read_text(file: Path) -> str | None:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _out_file_names(records: list[ImageRecord]) -> dict[int, str]:
    """``STEM.png`` for each image's mask file; when two images would share one (``a.png``
    and ``a.tif``), the later added gets ``STEM~2.png`` (or ``~3``... so as never to take
    another image's real stem: ``a~2.png`` in the project keeps ``a~2.png``), and a stem
    too long for a file name is shortened (:func:`~annotator.core.naming.unique_stems`).
    Decided over all the project's images, so a name never depends on which images one
    call predicts."""
    ordered = sorted(records, key=lambda r: r.id)
    stems = unique_stems([(r.id, Path(r.name).stem) for r in ordered], NAME_MAX - len(".png"))
    return {key: stem + ".png" for key, stem in stems.items()}


def rank_next(
    project: Project, strategy: Strategy | str = "uncertainty", include_done: bool = False
) -> list[ImageRecord]:
    """Images still to label (not done, unless ``include_done``), best next first, by the
    scores the project holds (see :func:`rank_records` for a version's own)."""
    records = [r for r in project.images() if include_done or r.status != ImageStatus.DONE]
    return rank_records(records, strategy)


class _Scored(Protocol):
    """What ranking looks at: an :class:`ImageRecord`, or an :class:`ImageScore`."""

    @property
    def id(self) -> int: ...

    @property
    def score(self) -> float | None: ...


_R = TypeVar("_R", bound=_Scored)


def rank_records(
    records: Sequence[_R],
    strategy: Strategy | str = "uncertainty",
    fresh: Mapping[int, float] | None = None,
) -> list[_R]:
    """``records`` (whole records, or only their ids and scores) in the strategy's order.

    ``fresh``: the scores the active model version made so far. The project's scores
    (``ImageRecord.score``) are replaced one by one as it makes them, so until it has
    scored every image some are an older version's, which rank by what that version was
    unsure of. With ``fresh`` the images it scored come first, in the strategy's order
    of its scores, then the others in the order of their stored (older) scores.
    """
    from annotator.ml.strategies import get_strategy

    strat = get_strategy(strategy) if isinstance(strategy, str) else strategy
    if fresh is None:
        return strat.rank(records, {r.id: r.score for r in records})
    scored = [r for r in records if r.id in fresh]
    older = [r for r in records if r.id not in fresh]
    return strat.rank(scored, fresh) + strat.rank(older, {r.id: r.score for r in older})


# --- the GUI's background proposals ------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ProposalRequest:
    """Immutable work for the proposal worker.

    ``show`` is the image on screen (its proposal is delivered); ``pixels`` its image
    data when the caller already has it (read only). ``rank`` gives the images to score
    only, best first; it is called on the worker thread, after the shown image's
    proposal, since ranking reads every image's record (0.1 s at 10,000 images, which
    the window paid at every image it opened). Every score the request sends was made
    by ``version``.
    """

    version: int
    show: int | None
    pixels: np.ndarray | None
    rank: Callable[[], Sequence[int]]


@dataclass(frozen=True)
class ProposalEvents:
    """Where the worker reports; every callback runs through the dispatcher."""

    #: The shown image's proposal (the owner checks it is still the one shown).
    on_proposal: Callable[[ProposalRequest, Proposal], None]
    #: Scores of images to rank, made by the request's version: newly computed ones one
    #: by one, those its stored proposals hold in batches.
    on_scores: Callable[[ProposalRequest, dict[int, float]], None]
    #: A request went through every image (one cancelled by a newer one says nothing).
    on_idle: Callable[[ProposalRequest], None]
    on_error: Callable[[ProposalRequest, BaseException], None]
    #: ``(request, tiles done, tiles in all)`` while the shown image's proposal is being
    #: computed tile by tile (a big image; at most every :data:`PROGRESS_EVERY_S`).
    on_progress: Callable[[ProposalRequest, int, int], None] | None = None
    #: ``version``: the scores it had stored are read (:meth:`ProposalWorker.read_stored`).
    on_stored: Callable[[int], None] | None = None
    #: ``(request, why)``: the shown image gets no proposal of the request's version, its
    #: picture lacking a channel of the version's Channel Choice (the ranking goes on,
    #: without it and the other pictures lacking one).
    on_lacking: Callable[[ProposalRequest, str], None] | None = None


#: How often the shown image's proposal reports its tiles (seconds).
PROGRESS_EVERY_S = 0.25


class ProposalWorker:
    """One background thread computing proposals; the newest request wins.

    It keeps one :class:`~annotator.ml.predict.Predictor` (of the newest version asked
    for), touched only on the worker thread since predictors are not thread-safe. A
    proposal already stored for the requested version is reused, never recomputed.

    It also keeps which images the version of its latest request scored (computed, or
    found stored), readable from any thread as it goes (:meth:`scores_by`,
    :meth:`progress_of`): the project's scores do not say which version made them, and
    the events saying so may still wait in the owner's queue. The record of a version
    starts from the scores it stored before (an earlier session's, or those of before a
    rollback), read from its proposals' JSON on a thread of their own
    (:meth:`read_stored`), so it does not wait for the shown image's proposal (seconds
    for a big image).
    """

    def __init__(
        self,
        project: Project,
        dispatcher: Dispatcher,
        events: ProposalEvents,
        predictor_options: Callable[[], tuple[str, int]],
    ) -> None:
        """``predictor_options()`` gives ``(device, cpu threads)`` for a new predictor."""
        self.project = project
        self._dispatch = dispatcher
        self._events = events
        self._options = predictor_options
        self._predictors: dict[tuple[int, tuple[str, ...]], Predictor] = {}
        self._lock = threading.Lock()
        self._made_by: int | None = None  # the version the record below is of
        self._made: dict[int, float] = {}  # image id -> the score it made
        self._listed: frozenset[int] = frozenset()  # the images its last request ranks
        self._listed_made = 0  # how many of those are in _made
        self._unread: int | None = None  # the version whose reading cancel() cut short
        self._worker: LatestWinsWorker[ProposalRequest, int] = LatestWinsWorker(
            self._propose,
            lambda request, _done: events.on_idle(request),
            events.on_error,
            dispatcher,
            "annotator-proposals",
            cancellable=True,
        )
        # A failure to read them is logged; the proposals themselves report theirs.
        self._reader: LatestWinsWorker[int, int] = LatestWinsWorker(
            self._read_stored,
            lambda version, _found: self._stored_read(version),
            lambda _version, _exc: None,
            dispatcher,
            "annotator-stored-scores",
            cancellable=True,
        )

    def submit(self, request: ProposalRequest) -> None:
        """Start ``request``, cancelling the one running (if any). A version the record
        is not of starts a record of its own (:meth:`read_stored`)."""
        self.read_stored(request.version)
        self._worker.submit(request)

    def read_stored(self, version: int) -> None:
        """Keep the record for ``version`` from now on (what another version scored is
        void), starting from the scores it stored: its proposals' JSON, read on a thread
        of their own (``on_stored`` says when they are). Nothing when the record is
        ``version``'s already, unless :meth:`cancel` cut its reading short: it then reads
        on (what was read stays recorded). Any thread."""
        with self._lock:
            if version == self._made_by and version != self._unread:
                return
            if version != self._made_by:
                self._made_by, self._made = version, {}
                self._listed, self._listed_made = frozenset(), 0
            self._unread = None
        self._reader.submit(version)

    def cancel(self) -> None:
        """Stop the running request and the reading of stored scores at their next
        check, and drop any request waiting; what was scored stays recorded. Nothing is
        reported of the request stopped (neither its end nor an error). The next
        :meth:`submit` starts again, the reading too if it was cut short. Any thread."""
        with self._lock:
            if self._reader.cancel():
                self._unread = self._made_by
        self._worker.cancel()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no request runs and the stored scores are read (tests, benchmarks)."""
        end = time.monotonic() + timeout
        if not self._reader.wait_idle(timeout):
            return False
        return self._worker.wait_idle(max(0.0, end - time.monotonic()))

    def scores_by(self, version: int) -> dict[int, float]:
        """Image id -> score, of the images ``version`` scored (or had stored) since the
        worker began to work for it (forgotten when another version is asked for). Any
        thread."""
        with self._lock:
            return dict(self._made) if version == self._made_by else {}

    def progress_of(self, version: int) -> tuple[int, int]:
        """``(scored, listed)``: of the images the latest request of ``version`` ranks
        (the shown one left out), how many that version scored; ``(0, 0)`` before it
        listed them. Any thread."""
        with self._lock:
            return (self._listed_made, len(self._listed)) if version == self._made_by else (0, 0)

    def _note(
        self,
        version: int,
        scores: Mapping[int, float] | None = None,
        listed: Sequence[int] | None = None,
    ) -> None:
        """Record what ``version`` scored, or the images it is about to rank; nothing
        when the record is another version's (a request superseded by a newer version's
        still running out)."""
        with self._lock:
            if version != self._made_by:
                return
            if listed is not None:
                self._listed = frozenset(listed)
                self._listed_made = sum(1 for i in self._listed if i in self._made)
            for image_id, score in (scores or {}).items():
                if image_id not in self._made and image_id in self._listed:
                    self._listed_made += 1
                self._made[image_id] = score

    def shutdown(self, timeout: float) -> bool:
        """Cancel the running request and the reading of stored scores; join the threads."""
        end = time.monotonic() + timeout
        proposed = self._worker.shutdown(timeout)
        read = self._reader.shutdown(max(0.0, end - time.monotonic()))
        return proposed and read

    # --- worker threads -----------------------------------------------------------------------
    def _read_stored(self, version: int, cancel: CancelToken) -> int:
        """(Its own thread.) Record the scores ``version`` stored of the images to label;
        returns how many. Only the JSON of each image's proposal is read (one small file,
        no picture: 0.2 s for 10,000 images, about 1 s from a cold disk), in the order the
        images were added, and each score is recorded as soon as a batch is read."""
        if not self._fits(version):
            return 0  # its proposals are not shown: its scores count for nothing either
        known = self.scores_by(version)  # what a request recorded already
        found: dict[int, float] = {}
        count, last = 0, time.monotonic()
        for record in self.project.images():
            if cancel.is_set():
                break  # what was read counts: the next reading skips it
            if record.status == ImageStatus.DONE or record.id in known:
                continue
            score = self._stored_score(version, record.id)
            if score is not None:
                found[record.id] = score
            if found and time.monotonic() - last >= PROGRESS_EVERY_S:
                self._note(version, found)
                count, found, last = count + len(found), {}, time.monotonic()
        self._note(version, found)
        return count + len(found)

    def _stored_score(self, version: int, image_id: int) -> float | None:
        """The score ``version``'s stored proposal of the image holds (its JSON only)."""
        found = proposal_store.version_and_score(self.project, image_id)
        return found[1] if found is not None and found[0] == version else None

    def _stored_read(self, version: int) -> None:
        if self._events.on_stored is not None:
            self._events.on_stored(version)

    def _fits(self, version: int) -> bool:
        """Whether ``version`` fits the project's classes, read from its card (loading
        it checks the same: a renamed class changed what its outputs mean)."""
        try:
            record = self.project.model(version)
        except ProjectError:
            return True  # not a version of this project: loading it says so
        return classes_fit(record.card.class_names, self.project.schema.names)

    def _propose(self, request: ProposalRequest, cancel: CancelToken) -> int:
        """The shown image's proposal, then scores; returns the number of images done."""
        done = 0
        choice = self._lacking_choice(request.version)
        if request.show is not None and choice and self._lacks(request.show, choice):
            on_lacking, why = self._events.on_lacking, self._lacking_text(request.version)
            if on_lacking is not None:
                self._dispatch(lambda: on_lacking(request, why))
        elif request.show is not None:
            shown, computed = self._proposal_for(
                request.show, request.version, request.pixels, cancel, self._progress_of(request)
            )
            self._note(request.version, {request.show: shown.score})
            self._dispatch(lambda: self._events.on_proposal(request, shown))
            if computed:  # the stored score changed even if the window has moved on
                self._send_scores(request, {request.show: shown.score})
            done += 1
        ids = list(request.rank()) if not cancel.is_set() else []
        if choice and ids:  # (the pictures it cannot score: not ranked by it)
            channels = {r.id: r.channels for r in self.project.images()}
            ids = [i for i in ids if not lacks(channels.get(i, 0), choice)]
        if cancel.is_set() or not ids:
            return done
        self._note(request.version, listed=ids)
        # The version must still fit the classes before any score of it counts, stored
        # or new (its card says; loading it refuses it in words). The model itself is
        # loaded only when a score is missing.
        if not self._fits(request.version):
            self._predictor(request.version)
        # First the scores the version already stored, in batches: the project already
        # holds them, a list that showed an older version's score catches up. Those the
        # record holds (read at the version's start) are not read again; the others'
        # JSON only (a small read per image). Then the missing ones, computed in the
        # order given (the one ranked first is prefetched), each sent as soon as made.
        known = self.scores_by(request.version)
        missing: list[int] = []
        stored: dict[int, float] = {}
        last = time.monotonic()
        for image_id in ids:
            if cancel.is_set():
                return done
            score = known.get(image_id)
            if score is None:
                score = self._stored_score(request.version, image_id)
            if score is None:
                missing.append(image_id)
                continue
            stored[image_id] = score
            done += 1
            if time.monotonic() - last >= PROGRESS_EVERY_S:
                self._send_scores(request, stored)
                stored, last = {}, time.monotonic()
        if stored:
            self._send_scores(request, stored)
        for image_id in missing:
            if cancel.is_set():
                break
            proposal, _computed = self._proposal_for(image_id, request.version, None, cancel)
            self._send_scores(request, {image_id: proposal.score})
            done += 1
        return done

    def _lacking_choice(self, version: int) -> Choice:
        """``version``'s Channel Choice when some picture may lack one of its channels
        (``core.channels.lacks``), else ``()``: nothing to look at."""
        try:
            choice = self.project.model(version).card.channel_choice
        except ProjectError:
            return ()  # (not a version of this project: loading it says so)
        return choice if any(lacks(c, choice) for c in range(1, max(choice, default=0) + 1)) else ()

    def _lacks(self, image_id: int, choice: Choice) -> bool:
        try:
            return lacks(self.project.image(image_id).channels, choice)
        except ProjectError:
            return False  # (gone: its proposal says so)

    def _lacking_text(self, version: int) -> str:
        choice = self.project.model(version).card.channel_choice
        return (
            f"the picture open lacks channel {max(choice) + 1} of model v{version}'s Channel "
            f"Choice {describe(choice)}: it gets no proposal (it would be given other "
            "channels than the model learnt from), and is not ranked"
        )

    def _send_scores(self, request: ProposalRequest, scores: dict[int, float]) -> None:
        self._note(request.version, scores)  # before the owner hears of them
        self._dispatch(lambda: self._events.on_scores(request, scores))

    def _progress_of(self, request: ProposalRequest) -> Callable[[int, int, str], None] | None:
        """Tile progress of the shown image, passed on at most every PROGRESS_EVERY_S."""
        on_progress = self._events.on_progress
        if on_progress is None:
            return None
        last = [time.monotonic()]

        def progress(done: int, total: int, _message: str) -> None:
            now = time.monotonic()
            if total > 1 and done < total and now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                self._dispatch(lambda: on_progress(request, done, total))

        return progress

    def _proposal_for(
        self,
        image_id: int,
        version: int,
        pixels: np.ndarray | None,
        cancel: CancelToken,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> tuple[Proposal, bool]:
        """(proposal, computed now?) from the stored one of this version or the model."""
        record = self.project.image(image_id)
        # The version must still fit the classes (a renamed class changed its meaning)
        # before a proposal of it is shown, stored or new. A stored one is shown without
        # the model: its card says whether it fits (loading the model, which checks the
        # same, kept a reopened project's stored proposal waiting 2-12 s for torch).
        if self._fits(version):
            stored = proposal_store.load_proposal(self.project, record, version)
            if stored is not None:
                return stored, False
        predictor = self._predictor(version)  # (refuses a version that does not fit)
        image = pixels if pixels is not None else self.project.load_image(record)
        proposal = predictor.predict(
            image, cancel=cancel, keep_probabilities=False, progress=progress
        )
        proposal = _scored_where_unlabelled(self.project, record, proposal)
        proposal_store.save_proposal(self.project, image_id, proposal)
        self.project.set_scores({image_id: proposal.score})
        return proposal, True

    def _predictor(self, version: int) -> Predictor:
        # Keyed by the project's classes too: loading checks the version fits them, and
        # a class renamed since must be checked again (and refused).
        key = (version, tuple(self.project.schema.names))
        predictor = self._predictors.get(key)
        if predictor is None:
            device, threads = self._options()
            predictor = load_predictor(
                self.project, device=device, version=version, threads=threads
            )
            if predictor.backend != "onnxruntime":
                from annotator.ml.device import limit_cpu_threads

                limit_cpu_threads(threads)
            self._predictors = {key: predictor}  # older versions are not needed again
        return predictor
