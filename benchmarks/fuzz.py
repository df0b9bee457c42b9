"""Fuzzing every entrance: mutated images, masks, labelme/COCO/YOLO/VOC files, project
databases and checkpoints, fed to the real CLI.

    python benchmarks/fuzz.py [--cases 5000] [--seed 0] [--timeout 20] [--out FILE]
                              [--entrances add,masks,...]

Each case starts from a fresh copy of a small template project (three 64x64 images, two
labelled and done, one tiny model version), writes one hostile input, and runs one
``annotator`` command on it in a forked child (in-process ``annotator.cli.main``: fast,
and a hang in C code or a memory blow-up is caught: the child is killed after
``--timeout`` seconds and limited to a few GB of address space).

A case passes when the command either

- refuses: exit 1, every line on stderr is one message (``annotator: error: ...`` or
  ``skipped FILE: ...``) naming the hostile file, and the project folder is byte for byte
  unchanged (hash of every file, the database compared by its logical dump); or
- accepts the input (exit 0, or 2 for "some files skipped"): the project still passes
  its integrity checks (database ``integrity_check``, every mask decodes at its image's
  size and holds only class ids of the schema, void or unlabelled).

Anything else is a failure: an internal error (exit 70, a traceback), a hang, a crash of
the child (a signal), a refusal that changed the project or does not name the file, an
accepted input that left the project damaged. Results by entrance are printed and
written as JSON; failing cases are listed with their seed so they can be replayed with
``--replay ENTRANCE:SEED``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import random
import resource
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZE = 64
CLASSES = ("background", "cell", "nucleus")
DATA = ROOT / "tests" / "data"


# --- the template project ---------------------------------------------------------------


def build_template(folder: Path) -> Path:
    """Three 64x64 images (two labelled and done) and one tiny model version (trained in a
    subprocess, so this process never starts torch threads before forking)."""
    import cv2

    from annotator.core.schema import LabelSchema
    from annotator.core.status import ImageStatus
    from annotator.core.synthetic import synthetic_cells
    from annotator.storage.project import Project

    imgs = folder / "imgs"
    imgs.mkdir(parents=True)
    for i in range(3):
        image, _ = synthetic_cells(i, size=SIZE, n_cells=3)
        cv2.imwrite(str(imgs / f"cell{i:03d}.png"), image)
    proj = folder / "proj"
    with Project.create(proj, LabelSchema.from_names(list(CLASSES))) as p:
        p.add_images([imgs])
        for rec in p.images()[:2]:
            _, mask = synthetic_cells(int(rec.name[4:7]), size=SIZE, n_cells=3)
            p.save_mask(rec.id, mask.astype(np.uint8), status=ImageStatus.DONE)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "annotator", "train", str(proj), "--steps", "1", "--depth", "2"]
        + ["--width", "4", "--device", "cpu"],
        check=True,
        env=env,
        capture_output=True,
    )
    return proj


# --- hashing and integrity ----------------------------------------------------------------


def project_hash(folder: Path) -> str:
    """Every file's path and bytes (the database by its logical dump when it has one)."""
    h = hashlib.sha1()
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.name.endswith(("-wal", "-shm", ".annotator.lock")):
            continue
        h.update(p.relative_to(folder).as_posix().encode() + b"\0")
        if p.suffix == ".sqlite":
            h.update(_dump_digest(p).encode())
            continue
        h.update(p.read_bytes())
    return h.hexdigest()


def _dump_digest(path: Path, timeout: float = 10.0) -> str:
    """SHA-1 of a database's logical dump, computed in a forked child: a damaged file
    can make SQLite read without end (one run of this harness hung in its own hashing);
    after ``timeout`` the raw bytes are hashed instead."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        digest = "raw"
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            dump = hashlib.sha1()
            for line in conn.iterdump():
                dump.update(line.encode("utf-8", "surrogateescape") + b"\n")
            conn.close()
            digest = dump.hexdigest()
        except Exception:  # noqa: BLE001 - damaged: fall back to the bytes
            pass
        os.write(wfd, digest.encode())
        os._exit(0)
    os.close(wfd)
    deadline = time.monotonic() + timeout
    while not os.waitpid(pid, os.WNOHANG)[0]:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
        time.sleep(0.002)
    answer = ""
    with contextlib.suppress(OSError):
        answer = os.read(rfd, 64).decode()
    os.close(rfd)
    if not answer or answer == "raw":
        return "raw:" + hashlib.sha1(path.read_bytes()).hexdigest()
    return answer


def integrity_problems(folder: Path) -> list[str]:
    """What is wrong with a project after a command accepted an input."""
    import cv2

    problems = []
    try:
        conn = sqlite3.connect(f"file:{folder / 'annotator.sqlite'}?mode=ro", uri=True)
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            problems.append(f"integrity_check: {ok}")
        n = conn.execute("SELECT COUNT(*) FROM classes").fetchone()[0]
        rows = conn.execute(
            "SELECT id, name, width, height, labelled_pixels FROM images"
        ).fetchall()
        conn.close()
    except sqlite3.DatabaseError as exc:
        return [f"database: {exc}"]
    for image_id, name, w, h, labelled in rows:
        path = folder / "masks" / f"{image_id}.png"
        if not path.exists():
            continue
        mask = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_UNCHANGED)
        if mask is None:
            problems.append(f"{path.name}: does not decode")
            continue
        if mask.shape != (h, w):
            problems.append(f"{path.name}: {mask.shape} but image {name!r} is {h}x{w}")
        top = np.iinfo(mask.dtype).max
        bad = np.unique(mask[(mask >= n) & (mask < top - 1)])
        if bad.size:
            problems.append(f"{path.name}: values {bad[:5].tolist()} are not class ids (n={n})")
        if int(np.count_nonzero(mask != top)) != labelled:
            problems.append(f"{path.name}: labelled_pixels {labelled} does not match the mask")
    return problems


# --- hostile material ----------------------------------------------------------------------

JSON_POOL: list[Any] = [
    None,
    True,
    False,
    -1,
    0,
    1,
    2**64,
    -(2**63),
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    "",
    "x" * 5000,
    "../../etc/passwd",
    "/etc/passwd",
    "\u202e\x00",
    [],
    {},
    [[]],
    [[1e9, 1e9], [-1e9, 5]],
    [[0, 0], [0, 0], [0, 0]],
    {"a": [1, 2]},
    [1, 2, 3],
]


def _pool(rng: random.Random) -> Any:
    """A fresh copy of a pool value: handing out the shared objects let later mutations
    change the pool itself (cases stopped being reproducible; one grew without end)."""
    return json.loads(json.dumps(rng.choice(JSON_POOL)))


def _json_places(doc: Any) -> list[tuple[Any, Any]]:
    """Every ``(container, key)`` of a JSON document, depth first."""
    out: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        keys = (
            list(node)
            if isinstance(node, dict)
            else range(len(node))
            if isinstance(node, list)
            else []
        )
        for k in keys:
            out.append((node, k))
            stack.append(node[k])
    return out


def mutate_json(rng: random.Random, doc: Any, n: int = 1) -> tuple[Any, str]:
    """Change ``n`` random places of a JSON document: delete, retype, duplicate, nest."""
    doc = json.loads(json.dumps(doc))
    what = []
    for _ in range(n):
        paths = _json_places(doc)
        if not paths:
            return _pool(rng), "replaced the whole document"
        parent, key = rng.choice(paths)
        op = rng.choice(("delete", "retype", "retype", "number", "duplicate", "wrap"))
        if op == "delete":
            del parent[key]
        elif op == "retype":
            parent[key] = _pool(rng)
        elif op == "number":
            parent[key] = rng.choice([rng.uniform(-1e6, 1e6), rng.randint(-(2**40), 2**40), -0.0])
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(key, json.loads(json.dumps(parent[key])))
        else:
            parent[key] = [parent[key]]
        what.append(f"{op} {key!r}")
    return doc, ", ".join(what)


def mutate_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Byte-level damage: truncate, flip, insert, zero a run, or empty."""
    op = rng.choice(("truncate", "flip", "flip", "insert", "zero", "empty", "duplicate"))
    b = bytearray(data)
    if op == "truncate" or not b:
        cut = rng.randint(0, max(0, len(b) - 1))
        return bytes(b[:cut]), f"truncated to {cut} of {len(data)} bytes"
    if op == "flip":
        k = rng.randint(1, 16)
        for _ in range(k):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
        return bytes(b), f"{k} bit flips"
    if op == "insert":
        i = rng.randrange(len(b))
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        return bytes(b[:i] + junk + b[i:]), f"{len(junk)} junk bytes at {i}"
    if op == "zero":
        i = rng.randrange(len(b))
        n = rng.randint(1, 256)
        b[i : i + n] = bytes(len(b[i : i + n]))
        return bytes(b), f"zeroed {n} bytes at {i}"
    if op == "duplicate":
        i = rng.randrange(len(b))
        return bytes(b[:i] + b[i:] + b[i:]), f"tail from {i} repeated"
    return b"", "empty"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width: int, height: int) -> bytes:
    """A valid-looking PNG whose header declares a huge size (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + (_png_chunk(b"IEND", b""))
    )


def special_image(rng: random.Random) -> tuple[str, bytes, str]:
    """``(file name, bytes, description)`` of one of the named hard cases."""
    import cv2
    import tifffile
    from PIL import Image

    def pil(im: Image.Image, fmt: str, **kw: Any) -> bytes:
        buf = io.BytesIO()
        im.save(buf, fmt, **kw)
        return buf.getvalue()

    def tif(array: np.ndarray, **kw: Any) -> bytes:
        buf = io.BytesIO()
        tifffile.imwrite(buf, array, **kw)
        return buf.getvalue()

    grey = np.random.default_rng(rng.randrange(1 << 30)).integers(0, 255, (SIZE, SIZE), np.uint8)

    def png() -> bytes:
        return cv2.imencode(".png", grey)[1].tobytes()

    def frames() -> list[Image.Image]:
        return [Image.fromarray(grey), Image.fromarray(255 - grey)]

    table: list[tuple[str, Callable[[], bytes], str]] = [
        ("zero.png", lambda: b"", "zero bytes"),
        ("text.png", lambda: b"hello, I am not an image\n", "text with a .png name"),
        ("png_as.jpg", png, "PNG data with a .jpg name"),
        ("png_as.tif", png, "PNG data with a .tif name"),
        ("image.gif", lambda: pil(frames()[0], "GIF"), "GIF (unsupported suffix)"),
        ("image.webp", png, "unsupported suffix"),
        ("one.png", lambda: cv2.imencode(".png", np.zeros((1, 1), np.uint8))[1].tobytes(), "1x1"),
        (
            "wide.png",
            lambda: cv2.imencode(".png", np.zeros((10, 100000), np.uint8))[1].tobytes(),
            "100000x10",
        ),
        ("palette.png", lambda: pil(Image.fromarray(grey).convert("P"), "PNG"), "palette PNG"),
        ("cmyk.jpg", lambda: pil(Image.fromarray(grey).convert("CMYK"), "JPEG"), "CMYK JPEG"),
        (
            "anim.png",
            lambda: pil(frames()[0], "PNG", save_all=True, append_images=frames()[1:]),
            "animated PNG",
        ),
        ("five.tif", lambda: tif(np.zeros((SIZE, SIZE, 5), np.uint8)), "5-channel TIFF"),
        (
            "planar16.tif",
            lambda: tif(
                np.zeros((3, SIZE, SIZE), np.uint16), photometric="rgb", planarconfig="separate"
            ),
            "planar 16-bit TIFF",
        ),
        (
            "stack.tif",
            lambda: tif(np.zeros((4, 3, SIZE, SIZE), np.uint8), photometric="minisblack"),
            "4-D TIFF stack",
        ),
        ("float.tif", lambda: tif(np.full((SIZE, SIZE), np.nan, np.float32)), "all-NaN float TIFF"),
        ("bomb.png", lambda: png_declaring(100_000, 100_000), "PNG declaring 100000x100000"),
        ("bomb2.png", lambda: png_declaring(2**31 - 1, 2**31 - 1), "PNG declaring 2^31-1 square"),
        ("zerosize.png", lambda: png_declaring(0, 10), "PNG declaring width 0"),
    ]
    name, build, what = rng.choice(table)
    return name, build(), what


def base_images(rng: random.Random) -> list[tuple[str, bytes]]:
    import cv2

    g = np.random.default_rng(rng.randrange(1 << 30))
    grey = g.integers(0, 255, (SIZE, SIZE), np.uint8)
    rgb = g.integers(0, 255, (SIZE, SIZE, 3), np.uint8)
    return [
        ("a.png", cv2.imencode(".png", grey)[1].tobytes()),
        ("b.png", cv2.imencode(".png", (grey.astype(np.uint16) * 257))[1].tobytes()),
        ("c.jpg", cv2.imencode(".jpg", rgb)[1].tobytes()),
        ("d.bmp", cv2.imencode(".bmp", rgb)[1].tobytes()),
        ("e.tif", cv2.imencode(".tif", rgb)[1].tobytes()),
        ("f.jpg", (DATA / "labelme_semantic" / "2011_000003.jpg").read_bytes()),
    ]


# --- cases ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One hostile input: files to write under the case folder, a command, the file an
    error must name."""

    entrance: str
    seed: int
    what: str
    files: dict[str, bytes] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)  # "{proj}" and "{src}" are filled in
    target: str = ""
    edit_project: Callable[[Path], None] | None = None


def _enc(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def case_add(rng: random.Random, seed: int) -> Case:
    if rng.random() < 0.35:
        name, data, what = special_image(rng)
    else:
        name, clean = rng.choice(base_images(rng))
        data, what = mutate_bytes(rng, clean)
    return Case(
        "add", seed, what, {f"in/{name}": data}, ["add", "{proj}", "{src}/in/" + name], name
    )


def _mask_png(rng: random.Random) -> tuple[bytes, str]:
    import cv2

    g = np.random.default_rng(rng.randrange(1 << 30))
    choice = rng.randrange(6)
    if choice == 0:
        h, w = rng.choice([(SIZE + 1, SIZE), (SIZE, 1), (1, 1), (SIZE * 2, SIZE * 2)])
        return cv2.imencode(".png", g.integers(0, 3, (h, w), np.uint8))[
            1
        ].tobytes(), f"{w}x{h} mask"
    if choice == 1:
        v = rng.choice([3, 7, 100, 200, 253])
        m = g.integers(0, 3, (SIZE, SIZE), np.uint8)
        m[5, 5] = v
        return cv2.imencode(".png", m)[1].tobytes(), f"class id {v} outside the schema"
    if choice == 2:
        m = g.integers(0, 70000 % 65535, (SIZE, SIZE)).astype(np.uint16)
        return cv2.imencode(".png", m)[1].tobytes(), "16-bit mask with big values"
    if choice == 3:
        m = g.integers(0, 3, (SIZE, SIZE, 3), np.uint8)
        return cv2.imencode(".png", m)[1].tobytes(), "RGB mask"
    clean = cv2.imencode(".png", g.integers(0, 3, (SIZE, SIZE), np.uint8))[1].tobytes()
    return mutate_bytes(rng, clean)


def case_masks(rng: random.Random, seed: int) -> Case:
    data, what = _mask_png(rng)
    files = {"src/masks/cell000.png": data}
    if rng.random() < 0.5:
        names = rng.choice(["background\ncell\nnucleus\n", "a\n", "", "\x00\xff\n", "x\nx\n"])
        files["src/masks/class_names.txt"] = names.encode("utf-8", "surrogateescape")
        what += f", class_names {names!r}"
    return Case(
        "masks",
        seed,
        what,
        files,
        ["import", "{proj}", "{src}/src/masks", "--format", "masks"],
        "cell000.png",
    )


def labelme_doc() -> dict[str, Any]:
    return {
        "version": "5.0.0",
        "flags": {},
        "shapes": [
            {
                "label": "cell",
                "points": [[5, 5], [40, 6], [35, 40], [6, 30]],
                "shape_type": "polygon",
                "flags": {},
            },
            {"label": "nucleus", "points": [[15, 15], [25, 25]], "shape_type": "rectangle"},
            {"label": "cell", "points": [[50, 50], [55, 55]], "shape_type": "circle"},
            {"label": "__ignore__", "points": [[0, 60], [63, 63]], "shape_type": "rectangle"},
        ],
        "imagePath": "cell000.png",
        "imageData": None,
        "imageHeight": SIZE,
        "imageWidth": SIZE,
    }


def case_labelme(rng: random.Random, seed: int) -> Case:
    r = rng.random()
    if r < 0.1:  # the real labelme example file, mutated
        doc = json.loads((DATA / "labelme_semantic" / "2011_000003.json").read_text())
        doc, what = mutate_json(rng, doc, rng.randint(1, 3))
        data, name = _enc(doc), "2011_000003.json"
    elif r < 0.25:  # garbage or mismatched imageData
        doc = labelme_doc()
        doc["imagePath"] = "embedded.png"
        choice = rng.choice(["notb64", "b64junk", "wrongsize", "bomb", "text"])
        import cv2

        payload = {
            "notb64": None,
            "b64junk": base64.b64encode(bytes(rng.randrange(256) for _ in range(200))).decode(),
            "wrongsize": base64.b64encode(
                cv2.imencode(".png", np.zeros((7, 9), np.uint8))[1].tobytes()
            ).decode(),
            "bomb": base64.b64encode(png_declaring(100000, 100000)).decode(),
            "text": base64.b64encode(b"hello").decode(),
        }[choice]
        doc["imageData"] = payload if payload is not None else "%%% not base64 %%%"
        what, data, name = f"imageData {choice}", _enc(doc), "cell000.json"
    elif r < 0.4:  # byte damage of a valid file
        data, what = mutate_bytes(rng, _enc(labelme_doc()))
        name = "cell000.json"
    else:
        doc, what = mutate_json(rng, labelme_doc(), rng.randint(1, 4))
        if rng.random() < 0.3:  # hostile geometry
            pts = rng.choice(
                [
                    [[0, 0], [63, 63], [63, 0], [0, 63]],  # self-intersecting bow tie
                    [[5, 5]],
                    [[5, 5], [5, 5], [5, 5]],  # degenerate
                    [[1, 1], [2, 2], [3, 3]],  # collinear
                    [[-1e9, -1e9], [1e9, 0], [0, 1e9]],
                    [[float("nan"), 1], [2, 3], [4, 5]],
                    [[1e308, 1e308], [0, 0], [5, 0]],
                    [[x % 64, (x * 7) % 64] for x in range(5000)],
                ]
            )
            doc.setdefault("shapes", [])
            if isinstance(doc["shapes"], list):
                doc["shapes"].append(
                    {
                        "label": "cell",
                        "points": pts,
                        "shape_type": rng.choice(
                            [
                                "polygon",
                                "linestrip",
                                "point",
                                "line",
                                "mask",
                                "circle",
                                "rectangle",
                                "spline",
                            ]
                        ),
                    }
                )
                what += f", geometry {str(pts)[:40]}"
        data, name = _enc(doc), "cell000.json"
    return Case(
        "labelme",
        seed,
        what,
        {f"src/{name}": data},
        ["import", "{proj}", "{src}/src", "--format", "labelme"],
        name,
    )


def coco_doc() -> dict[str, Any]:
    return {
        "images": [
            {"id": 1, "file_name": "cell000.png", "width": SIZE, "height": SIZE},
            {"id": 2, "file_name": "cell001.png", "width": SIZE, "height": SIZE},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 1,
                "segmentation": [[5, 5, 40, 5, 40, 40, 5, 40]],
                "area": 1225,
                "bbox": [5, 5, 35, 35],
                "iscrowd": 0,
            },
            {
                "id": 2,
                "image_id": 2,
                "category_id": 2,
                "segmentation": {"size": [SIZE, SIZE], "counts": [100, 20, SIZE * SIZE - 120]},
                "area": 20,
                "bbox": [1, 36, 1, 20],
                "iscrowd": 1,
            },
        ],
        "categories": [{"id": 1, "name": "cell"}, {"id": 2, "name": "nucleus"}],
    }


def case_coco(rng: random.Random, seed: int) -> Case:
    r = rng.random()
    doc = coco_doc()
    if r < 0.3:
        choice = rng.randrange(6)
        if choice == 0:
            doc["categories"] = []
            what = "no categories"
        elif choice == 1:
            doc["annotations"][0]["image_id"] = 99
            what = "annotation of a missing image"
        elif choice == 2:
            doc["annotations"][1]["segmentation"]["counts"] = rng.choice(
                [[5, 5], [SIZE * SIZE + 1], [-1, SIZE * SIZE + 1], "zzzz", "", "\u00ff\u00fe"]
            )
            what = "wrong RLE counts"
        elif choice == 3:
            doc["annotations"][1]["id"] = 1
            doc["images"][1]["id"] = rng.choice([1, 2])
            what = "duplicate ids"
        elif choice == 4:
            doc["annotations"][0]["category_id"] = rng.choice([0, 3, -1, 10**20])
            what = "annotation of a missing category"
        else:
            doc["annotations"][1]["segmentation"]["size"] = rng.choice(
                [[1, 1], [SIZE, SIZE + 1], [], "x", [10**9, 10**9]]
            )
            what = "RLE size mismatch"
        data = _enc(doc)
    elif r < 0.45:
        data, what = mutate_bytes(rng, _enc(doc))
    else:
        doc, what = mutate_json(rng, doc, rng.randint(1, 4))
        data = _enc(doc)
    return Case(
        "coco",
        seed,
        what,
        {"src/annotations.json": data},
        ["import", "{proj}", "{src}/src/annotations.json", "--format", "coco"],
        "annotations.json",
    )


YOLO_LINES = [
    "1 0.1 0.1 0.9 0.1 0.9 0.9",
    "2 0.2 0.2 0.5 0.2 0.5 0.5 0.2 0.5",
]


def case_yolo(rng: random.Random, seed: int) -> Case:
    import cv2

    lines = list(YOLO_LINES)
    bad = rng.choice(
        [
            "1",
            "1 0.5",
            "1 0.1 0.1 0.2",
            "1 0.5 0.5 0.2 0.2",
            "1 0.1 0.1 0.9 0.1 0.9",
            "x 0.1 0.1 0.9 0.1 0.9 0.9",
            "1 nan 0.1 0.9 0.1 0.9 0.9",
            "1 inf 0.1 0.9 0.1 0.9 0.9",
            "1 5 5 9 9 1 1",
            "3 0.1 0.1 0.9 0.1 0.9 0.9",
            "-1 0.1 0.1 0.9 0.1 0.9 0.9",
            "99999999999999999999 0.1 0.1 0.9 0.1 0.9 0.9",
            "1 " + " ".join(["0.5"] * 20001),
            "1 1e308 1e308 0 0 1 0",
            "\x00\xff",
        ]
    )
    lines.insert(rng.randrange(len(lines) + 1), bad)
    what = f"line {bad[:40]!r}"
    label = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    if rng.random() < 0.3:
        label, more = mutate_bytes(rng, label)
        what += f", {more}"
    yaml = rng.choice(
        [
            b"names: [background, cell, nucleus]\n",
            b"names: [background, cell, nucleus]\n",
            b"names: {0: background, 1: cell, 2: nucleus}\n",
            b"names: 5\n",
            b"names: [background, cell, nucleus\n",
            b"!!python/object/apply:os.system ['true']\n",
            b"names: [a, a]\n",
            b"",
        ]
    )
    if yaml != b"names: [background, cell, nucleus]\n":
        what += f", data.yaml {yaml[:30]!r}"
    image = cv2.imencode(".png", np.zeros((SIZE, SIZE), np.uint8))[1].tobytes()
    files = {
        "src/data.yaml": yaml,
        "src/labels/train/cell000.txt": label,
        "src/images/train/cell000.png": image,
    }
    return Case(
        "yolo", seed, what, files, ["import", "{proj}", "{src}/src", "--format", "yolo"], ""
    )


def case_voc(rng: random.Random, seed: int) -> Case:
    import cv2

    from annotator.formats.voc import encode_palette_png

    g = np.random.default_rng(rng.randrange(1 << 30))
    mask = encode_palette_png(g.integers(0, 3, (SIZE, SIZE), np.uint8))
    parts = {
        "src/SegmentationClass/cell000.png": mask,
        "src/JPEGImages/cell000.jpg": cv2.imencode(".jpg", np.zeros((SIZE, SIZE), np.uint8))[
            1
        ].tobytes(),
        "src/ImageSets/Segmentation/train.txt": b"cell000\n",
        "src/class_names.txt": b"background\ncell\nnucleus\n",
    }
    drop = [k for k in parts if rng.random() < 0.35]
    files = {k: v for k, v in parts.items() if k not in drop}
    what = "missing " + ", ".join(Path(d).name for d in drop) if drop else "all parts"
    r = rng.random()
    if r < 0.4 and "src/SegmentationClass/cell000.png" in files:
        files["src/SegmentationClass/cell000.png"], more = _mask_png(rng)
        what += f", mask: {more}"
    elif r < 0.6 and "src/class_names.txt" in files:
        files["src/class_names.txt"] = rng.choice(
            [b"", b"a\n", b"\xff\xfe\n", b"background\n" * 300]
        )
        what += ", odd class_names.txt"
    return Case("voc", seed, what, files, ["import", "{proj}", "{src}/src", "--format", "voc"], "")


def _damage_db(rng: random.Random) -> tuple[Callable[[Path], None], str]:
    choice = rng.randrange(9)

    def sql(statement: str) -> Callable[[Path], None]:
        def edit(proj: Path) -> None:
            conn = sqlite3.connect(proj / "annotator.sqlite")
            conn.execute("PRAGMA ignore_check_constraints = ON")
            conn.executescript(statement)
            conn.commit()
            conn.close()

        return edit

    if choice == 0:
        return sql("PRAGMA user_version = 99"), "newer database version"
    if choice == 1:
        return sql("DROP TABLE images"), "images table missing"
    if choice == 2:
        return sql("UPDATE images SET status = 'weird' WHERE id = 1"), "unknown status"
    if choice == 3:
        return sql(
            "INSERT INTO classes (id, name, color) VALUES (400, 'far', '#ffffff')"
        ), "class id 400"
    if choice == 4:
        return sql("UPDATE images SET width = -5, height = 0 WHERE id = 1"), "negative image size"
    if choice == 5:
        return sql(
            "UPDATE images SET width = 100000 WHERE id = 1"
        ), "image size disagrees with its mask"
    if choice == 6:
        return sql("UPDATE classes SET color = 'not a colour' WHERE id = 1"), "bad class colour"

    def raw(proj: Path) -> None:
        p = proj / "annotator.sqlite"
        data, _ = mutate_bytes(rng, p.read_bytes())
        p.write_bytes(data)

    if choice == 7:
        return raw, "database bytes damaged"

    def garbage(proj: Path) -> None:
        (proj / "annotator.sqlite").write_bytes(
            b"SQLite format 3\x00" + bytes(rng.randrange(256) for _ in range(3000))
        )

    return garbage, "database replaced by garbage"


def case_database(rng: random.Random, seed: int) -> Case:
    edit, what = _damage_db(rng)
    cmd = rng.choice(
        [
            ["status", "{proj}"],
            ["models", "{proj}"],
            [
                "export",
                "{proj}",
                "{src}/out",
                "--format",
                rng.choice(["voc", "coco", "masks", "labelme", "yolo"]),
            ],
            ["add", "{proj}", "{src}/in/x.png"],
        ]
    )
    import cv2

    files = {"in/x.png": cv2.imencode(".png", np.full((8, 8), 7, np.uint8))[1].tobytes()}
    return Case("database", seed, f"{what}; {cmd[0]}", files, cmd, "annotator.sqlite", edit)


def case_checkpoint(rng: random.Random, seed: int) -> Case:
    choice = rng.randrange(5)

    def edit(proj: Path) -> None:
        import torch  # only inside the child-free parent step: torch.load of plain data

        folder = proj / "models" / "v0001"
        w = folder / "weights.pt"
        if choice == 0:
            data, _ = mutate_bytes(rng, w.read_bytes())
            w.write_bytes(data)
        elif choice == 1:  # another architecture: deeper network, same names
            payload = torch.load(w, weights_only=True)
            card = json.loads(payload["card"])
            card["architecture"] = {**card["architecture"], "depth": 3}
            payload["card"] = json.dumps(card)
            torch.save(payload, w)
        elif choice == 2:  # weights of another shape
            payload = torch.load(w, weights_only=True)
            k = rng.choice(sorted(payload["state_dict"]))
            payload["state_dict"][k] = torch.zeros(3, 1)
            torch.save(payload, w)
        elif choice == 3:
            (folder / "model.onnx").write_bytes(
                mutate_bytes(rng, (folder / "model.onnx").read_bytes())[0]
            )
        else:
            payload = torch.load(w, weights_only=True)
            payload["format"] = rng.choice(["annotator-unet/99", None, 5])
            torch.save(payload, w)

    what = [
        "bytes damaged",
        "card says another architecture",
        "a weight of the wrong shape",
        "ONNX damaged",
        "unknown format",
    ][choice]
    cmd = rng.choice(
        [["predict", "{proj}", "--device", "cpu"], ["models", "{proj}", "--rollback", "1"]]
    )
    return Case("checkpoint", seed, f"{what}; {cmd[0]}", {}, cmd, "v0001", edit)


ENTRANCES: dict[str, Callable[[random.Random, int], Case]] = {
    "add": case_add,
    "masks": case_masks,
    "labelme": case_labelme,
    "coco": case_coco,
    "yolo": case_yolo,
    "voc": case_voc,
    "database": case_database,
    "checkpoint": case_checkpoint,
}


def make_case(entrance: str, seed: int) -> Case:
    return ENTRANCES[entrance](random.Random(f"{entrance}:{seed}"), seed)


# --- running ----------------------------------------------------------------------------


def _child(case: Case, argv: list[str], log_dir: Path, mem_bytes: int, wfd: int) -> None:
    try:
        with open("/proc/self/status") as fh:
            soft = int(fh.read().split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (soft + mem_bytes, soft + mem_bytes))
    except (OSError, ValueError, IndexError):
        pass
    os.environ["ANNOTATOR_LOG_DIR"] = str(log_dir)
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    try:
        from annotator.cli import main

        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:  # noqa: BLE001 - anything escaping main() is a failure
        code = 99
        err.write(f"ESCAPED {type(exc).__name__}: {exc}\n")
    msg = json.dumps(
        {
            "code": code,
            "out": out.getvalue()[-2000:],
            "err": err.getvalue()[-100_000:],
            "s": time.perf_counter() - start,
        }
    ).encode()
    os.write(wfd, msg)
    os._exit(0)


def preload() -> None:
    """Import what the commands use once, before forking, so each case pays only for
    its own work (torch starts no threads on import; forking after it is safe)."""
    import annotator.cli
    import annotator.cli.format_cmds  # noqa: F401
    import annotator.ml.checkpoint  # noqa: F401
    import annotator.ml.predict  # noqa: F401
    import annotator.ml.train  # noqa: F401
    import annotator.services.exchange  # noqa: F401
    import annotator.services.training  # noqa: F401

    annotator.cli.build_parser()
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401


def run_case(
    case: Case, template: Path, work: Path, timeout: float, mem_bytes: int
) -> dict[str, Any]:
    """Run one case in a forked child; classify the result."""
    folder = work / f"case-{case.entrance}-{case.seed}"
    proj = folder / "proj"
    shutil.copytree(template, proj)
    for rel, data in case.files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    if case.edit_project is not None:
        case.edit_project(proj)
    argv = [a.replace("{proj}", str(proj)).replace("{src}", str(folder)) for a in case.argv]
    before = project_hash(proj)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        _child(case, argv, folder, mem_bytes, wfd)
    os.close(wfd)
    deadline = time.monotonic() + timeout
    chunks = []
    status = None
    os.set_blocking(rfd, False)
    while True:
        with contextlib.suppress(BlockingIOError):
            chunk = os.read(rfd, 1 << 16)
            if chunk:
                chunks.append(chunk)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            with contextlib.suppress(BlockingIOError):
                while chunk := os.read(rfd, 1 << 16):
                    chunks.append(chunk)
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = None
            break
        time.sleep(0.005)
    os.close(rfd)
    record: dict[str, Any] = {
        "entrance": case.entrance,
        "seed": case.seed,
        "what": case.what,
        "argv": case.argv,
    }
    if status is None:
        record.update(verdict="hang", detail=f"no answer in {timeout:g} s")
    elif not chunks:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        record.update(verdict="crash", detail=f"child died (signal {sig}, status {status})")
    else:
        res = json.loads(b"".join(chunks))
        record.update(classify(case, res, proj, before))
        record.update(code=res["code"], err=res["err"][-600:], seconds=round(res["s"], 3))
    shutil.rmtree(folder, ignore_errors=True)
    return record


def classify(case: Case, res: dict[str, Any], proj: Path, before: str) -> dict[str, str]:
    code, err = res["code"], res["err"]
    lines = [
        x
        for x in err.splitlines()
        if x.strip() and not x.startswith(("adding:", "importing:", "exporting:", "predicting:"))
    ]
    lines = [x.split("\r")[-1] for x in lines]
    lines = [
        x
        for x in lines
        if x.strip()
        and not x.lstrip().startswith(("adding", "importing", "exporting", "predicting"))
    ]
    if code in (70, 99) or "Traceback" in err or "internal error" in err:
        return {"verdict": "traceback", "detail": (lines or ["?"])[-1][:300]}
    if code == 1:
        if project_hash(proj) != before:
            return {"verdict": "changed-on-refusal", "detail": (lines or ["?"])[-1][:300]}
        if not lines or not all(
            x.startswith(("annotator: error:", "skipped ", "unreadable "))
            or x.endswith("item(s) skipped (reasons above)")  # an import's count of them
            for x in lines
        ):
            return {"verdict": "bad-message", "detail": " | ".join(lines)[:300]}
        named = (case.target, str(proj.parent)) if case.target else (str(proj.parent),)
        if not any(n in x for x in lines for n in named):
            return {"verdict": "unnamed-file", "detail": lines[-1][:300]}
        return {"verdict": "refused", "detail": lines[-1][:200]}
    if code in (0, 2):
        problems = integrity_problems(proj) if case.entrance not in ("database",) else []
        if problems:
            return {"verdict": "silent-wrong", "detail": "; ".join(problems)[:300]}
        return {"verdict": "accepted", "detail": (lines or [""])[-1][:200]}
    return {"verdict": "bad-exit", "detail": f"exit {code}: " + " | ".join(lines)[:300]}


FAIL = (
    "traceback",
    "hang",
    "crash",
    "changed-on-refusal",
    "bad-message",
    "unnamed-file",
    "silent-wrong",
    "bad-exit",
)


def run(
    n_cases: int,
    seed: int = 0,
    entrances: list[str] | None = None,
    timeout: float = 20.0,
    mem_gb: float = 3.0,
    out: Path | None = None,
    progress: bool = True,
    start: int = 0,
) -> dict[str, Any]:
    names = entrances or list(ENTRANCES)
    preload()
    with tempfile.TemporaryDirectory(prefix="annotator-fuzz-") as tmp:
        work = Path(tmp)
        template = build_template(work / "template")
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        failures = []
        t0 = time.perf_counter()
        for i in range(start, start + n_cases):
            entrance = names[i % len(names)]
            case_seed = seed * 1_000_000 + i
            case = make_case(entrance, case_seed)
            record = run_case(case, template, work, timeout, int(mem_gb * 2**30))
            counts[entrance][record["verdict"]] += 1
            if record["verdict"] in FAIL:
                failures.append(record)
            if progress and (i + 1 - start) % 50 == 0:
                print(
                    f"{i + 1 - start}/{n_cases} cases, {len(failures)} failures, "
                    f"{time.perf_counter() - t0:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
            if out is not None and ((i + 1 - start) % 200 == 0 or i + 1 - start == n_cases):
                _write(out, counts, failures, i + 1 - start, time.perf_counter() - t0)
        report = _report(counts, failures, n_cases, time.perf_counter() - t0)
    if out is not None:
        out.write_text(json.dumps(report, indent=1) + "\n")
    return report


def _report(
    counts: dict[str, Counter[str]], failures: list[dict[str, Any]], n: int, seconds: float
) -> dict[str, Any]:
    return {
        "cases": n,
        "seconds": round(seconds, 1),
        "by_entrance": {k: dict(v) for k, v in counts.items()},
        "failures": len(failures),
        "failures_by_verdict": dict(Counter(f["verdict"] for f in failures)),
        "failure_cases": failures[:300],
    }


def _write(
    out: Path, counts: dict[str, Counter[str]], failures: list[dict[str, Any]], n: int, s: float
) -> None:
    out.write_text(json.dumps(_report(counts, failures, n, s), indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--mem-gb", type=float, default=3.0, help="address space per case")
    parser.add_argument("--entrances", help="comma-separated subset of " + ",".join(ENTRANCES))
    parser.add_argument("--out", type=Path, help="write the JSON report here (updated as it runs)")
    parser.add_argument("--start", type=int, default=0, help="index of the first case")
    parser.add_argument("--replay", metavar="ENTRANCE:SEED", help="run one case and print it")
    args = parser.parse_args()
    if args.replay:
        entrance, s = args.replay.split(":")
        with tempfile.TemporaryDirectory() as tmp:
            template = build_template(Path(tmp) / "template")
            record = run_case(
                make_case(entrance, int(s)),
                template,
                Path(tmp),
                args.timeout,
                int(args.mem_gb * 2**30),
            )
        print(json.dumps(record, indent=1))
        return 0
    entrances = args.entrances.split(",") if args.entrances else None
    report = run(
        args.cases, args.seed, entrances, args.timeout, args.mem_gb, args.out, start=args.start
    )
    print(
        f"{report['cases']} cases in {report['seconds']} s; failures: {report['failures']} {report['failures_by_verdict']}"
    )
    for name, verdicts in report["by_entrance"].items():
        print(f"  {name:<11} " + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    for f in report["failure_cases"][:40]:
        print(
            f"  FAIL {f['verdict']:<18} {f['entrance']}:{f['seed']}  {f['what'][:60]}  -> {f.get('detail', '')[:160]}"
        )
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
