"""Nothing from a file runs code: crafted checkpoints and cards planted in a project.

A project folder is something people share and download. Each test plants a payload
that *would* write a marker file if anything unpickled or evaluated it, then opens the
project, lists its models, rolls back and proposes. The marker must never appear, and
each refusal must be one line naming the file.
"""

from __future__ import annotations

import json
import pickle
import sqlite3
import zipfile
from pathlib import Path

import pytest
import torch

from annotator.ml.checkpoint import FORMAT
from annotator.storage.models import CARD_NAME, CHECKSUM_NAME, ONNX_NAME, WEIGHTS_NAME

from .helpers import cli, make_project


class _Payload:
    """Pickles into a call of ``exec`` that writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        code = f"open({str(self.marker)!r}, 'w').write('ran')"
        return (exec, (code,))


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A project with two published model versions (v1, v2), built once."""
    root = tmp_path_factory.mktemp("trained")
    proj = make_project(root, n_images=3, size=32, labelled=2)
    for _ in range(2):
        r = cli("train", proj, "--steps", "1", "--depth", "2", "--width", "4", "--device", "cpu")
        assert r.code == 0, r.err
    return proj


def _copy(trained: Path, tmp_path: Path) -> Path:
    import shutil

    dst = tmp_path / "proj"
    shutil.copytree(trained, dst)
    return dst


def _plant(weights: Path, data: bytes) -> None:
    """Put ``data`` in place of a version's weights with a checksum that matches, as an
    attacker who wrote the folder would: the loader itself must refuse what it holds."""
    import hashlib

    weights.write_bytes(data)
    (weights.parent / CHECKSUM_NAME).write_text(hashlib.sha256(data).hexdigest())


def _crafted_weights(kind: str, marker: Path, good: Path) -> bytes:
    """Bytes of a weights.pt that runs code when unpickled without restrictions."""
    if kind == "plain-pickle":  # the legacy (non-zip) torch format is a pickle stream
        return pickle.dumps({"format": FORMAT, "state_dict": _Payload(marker)})
    if kind == "torch-zip":  # torch's own zip format with a malicious data.pkl
        import io

        buf = io.BytesIO()
        torch.save({"format": FORMAT, "card": "{}", "state_dict": _Payload(marker)}, buf)
        return buf.getvalue()
    if kind == "swapped-data-pkl":  # the real checkpoint with only data.pkl replaced
        import io

        src = zipfile.ZipFile(good)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename.endswith("/data.pkl"):
                    data = pickle.dumps(_Payload(marker), protocol=2)
                dst.writestr(info, data)
        return out.getvalue()
    raise AssertionError(kind)


def _assert_one_line(result, must_name: str | None = None) -> None:
    assert result.code in (0, 1), (result.code, result.err)
    lines = result.err_lines
    if result.code == 1:
        assert len(lines) == 1 and lines[0].startswith("annotator: error:"), result.err
        if must_name:
            assert must_name in lines[0], lines[0]
    assert "Traceback" not in result.err


@pytest.mark.parametrize("kind", ["plain-pickle", "torch-zip", "swapped-data-pkl"])
@pytest.mark.parametrize("which", ["active", "older"])
# torch notes that a crafted plain pickle uses another protocol than its own files: expected
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_crafted_checkpoint_never_runs(trained, tmp_path, kind, which):
    proj = _copy(trained, tmp_path)
    marker = tmp_path / "MARKER"
    version = 2 if which == "active" else 1
    folder = proj / "models" / f"v{version:04d}"
    weights = folder / WEIGHTS_NAME
    _plant(weights, _crafted_weights(kind, marker, weights))
    (folder / ONNX_NAME).unlink()  # so proposals must go through the checkpoint

    for argv in (
        ("status", proj),
        ("models", proj),
        ("models", proj, "--json"),
        ("models", proj, "--rollback", version),
        ("predict", proj, "--device", "cpu"),
    ):
        result = cli(*argv)
        assert not marker.exists(), f"{argv} ran the payload"
        _assert_one_line(result, must_name=WEIGHTS_NAME if result.code else None)
    # rolling back to the crafted version is refused, and says why
    refused = cli("models", proj, "--rollback", version)
    if which == "older":
        assert refused.code == 1 and "refused" in refused.err
    assert not marker.exists()


def test_crafted_checkpoint_in_session_and_model_service(trained, tmp_path):
    """The app's own path: a session opens the project and asks for proposals."""
    from annotator.core.errors import AnnotatorError
    from annotator.services import proposals, versions
    from annotator.storage.project import Project

    proj = _copy(trained, tmp_path)
    marker = tmp_path / "MARKER"
    weights = proj / "models" / "v0002" / WEIGHTS_NAME
    _plant(weights, _crafted_weights("torch-zip", marker, weights))
    (proj / "models" / "v0002" / ONNX_NAME).unlink()
    with Project.open(proj) as project:
        project.models()
        with pytest.raises(AnnotatorError, match="refused"):
            proposals.load_predictor(project, device="cpu")
        with pytest.raises(AnnotatorError):
            versions.rollback(project, 2)
    assert not marker.exists()


YAML_TAG = "!!python/object/apply:os.system ['touch {marker}']"
CARDS = {
    "yaml-tag": lambda m: YAML_TAG.format(marker=m),
    "yaml-tag-in-json": lambda m: json.dumps({"metrics": YAML_TAG.format(marker=m)}),
    "huge-int": lambda m: '{"metrics": {"pixel_accuracy": ' + "9" * 100_000 + "}}",
    "huge-float": lambda m: '{"metrics": {"pixel_accuracy": 1e999, "mean_iou": -1e999}}',
    "nan": lambda m: '{"metrics": {"pixel_accuracy": NaN}}',
    "wrong-types": lambda m: json.dumps(
        {"metrics": [1, 2], "training": "x", "images": 5, "architecture": []}
    ),
    "not-an-object": lambda m: "[1, 2, 3]",
    "deep-nesting": lambda m: "[" * 100_000 + "]" * 100_000,
    "not-json": lambda m: "\x00\xff garbage",
}


@pytest.mark.parametrize("name", sorted(CARDS))
def test_crafted_card_never_runs_and_is_refused_in_one_line(trained, tmp_path, name):
    """The card travels in three places: card.json, inside weights.pt, and the index."""
    proj = _copy(trained, tmp_path)
    marker = tmp_path / "MARKER"
    text = CARDS[name](marker)
    folder = proj / "models" / "v0001"
    (folder / CARD_NAME).write_text(text, encoding="utf-8", errors="surrogateescape")
    payload = torch.load(folder / WEIGHTS_NAME, weights_only=True)
    payload["card"] = text
    torch.save(payload, folder / WEIGHTS_NAME)
    _plant(folder / WEIGHTS_NAME, (folder / WEIGHTS_NAME).read_bytes())
    conn = sqlite3.connect(proj / "annotator.sqlite")
    conn.execute("UPDATE models SET card = ? WHERE version = 1", (text,))
    conn.commit()
    conn.close()
    for argv in (
        ("status", proj),
        ("status", proj, "--json"),
        ("models", proj),
        ("models", proj, "--json"),
        ("models", proj, "--rollback", 1),
        ("predict", proj, "--device", "cpu"),
        ("models", proj, "--rollback", 2),
    ):
        result = cli(*argv)
        assert not marker.exists(), f"{argv} ran the card"
        _assert_one_line(result)


def test_garbage_onnx_export_is_refused_or_bypassed(trained, tmp_path):
    """model.onnx holds no code either; a damaged one gives one line, never a crash."""
    proj = _copy(trained, tmp_path)
    (proj / "models" / "v0002" / ONNX_NAME).write_bytes(b"\x08\x07garbage" * 100)
    result = cli("predict", proj, "--device", "cpu")
    _assert_one_line(result, must_name=ONNX_NAME if result.code else None)


def test_source_has_no_unsafe_loaders():
    """An audit that stays true: no pickle/yaml.load/eval/exec/unsafe torch.load in the app."""
    import re

    root = Path(__file__).resolve().parents[2] / "annotator"
    bad = re.compile(
        r"pickle\.loads?\(|yaml\.load\(|yaml\.unsafe_load|(?<![\w.])eval\(|(?<![\w.])exec\(|allow_pickle\s*=\s*True"
        r"|marshal\.loads?|shelve\.open|dill\.|joblib\.load|torch\.jit\.load"
    )
    hits = []
    for path in root.rglob("*.py"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if bad.search(line) and not line.lstrip().startswith("#"):
                hits.append(f"{path.relative_to(root.parent)}:{n}: {line.strip()}")
            if "torch.load(" in line and "weights_only=True" not in line:
                hits.append(f"{path.relative_to(root.parent)}:{n}: {line.strip()}")
    assert not hits, "\n".join(hits)
