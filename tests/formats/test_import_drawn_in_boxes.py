"""COCO and labelme imports draw each object in its box, not in a mask of the whole
image (a big image of hundreds of objects took minutes), the same pixels as before,
and say their progress per image while they read."""

from __future__ import annotations

import json

import numpy as np
from fmthelpers import write_image
from pycocotools import mask as mask_utils

from annotator.core.schema import LabelSchema
from annotator.formats.coco import decode_in_box, read_coco
from annotator.formats.labelme import shape_in_box
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

H, W = 120, 160


def _placed(box, shape=(H, W)) -> np.ndarray:
    out = np.zeros(shape, bool)
    if box is not None:
        pixels, y0, x0 = box
        assert pixels.shape[0] <= shape[0] - y0 and pixels.shape[1] <= shape[1] - x0
        out[y0 : y0 + pixels.shape[0], x0 : x0 + pixels.shape[1]] = pixels
    return out


def _polygon(rng, spread=40.0) -> list[float]:
    centre = rng.uniform(-20, [W + 20, H + 20])
    points = centre + rng.uniform(-spread, spread, (9, 2))
    return points.round(int(rng.integers(0, 3))).ravel().tolist()


def test_coco_polygons_and_rle_in_their_box_are_pycocotools_pixels():
    rng = np.random.default_rng(11)
    for _ in range(150):
        polys = [_polygon(rng) for _ in range(int(rng.integers(1, 3)))]
        whole = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(polys, H, W)))
        box = decode_in_box(polys, H, W, "x")
        assert np.array_equal(_placed(box), whole.astype(bool))
        if box is not None:  # the box is the pixels' own, not the image
            pixels = box[0]
            assert pixels[0].any() and pixels[-1].any()
            assert pixels[:, 0].any() and pixels[:, -1].any()
    bars = np.zeros((H, W), np.uint8)
    bars[:, 30:33] = 1  # whole columns: runs that go on into the next column
    bars[H - 5 :, 50:52] = 1
    bars[:4, 52:54] = 1  # the bottom of one column and the top of the next: one run
    for mask in (bars, (np.random.default_rng(2).random((H, W)) > 0.7).astype(np.uint8)):
        rle = mask_utils.encode(np.asfortranarray(mask))
        compressed = {"size": [H, W], "counts": rle["counts"].decode("ascii")}
        assert np.array_equal(_placed(decode_in_box(compressed, H, W, "x")), mask > 0)
        flat = mask.ravel(order="F")
        change = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
        counts = np.diff(np.concatenate([[0], change])).tolist()[: len(change)]
        counts = [c for c in counts if c] if flat[0] == 0 else [0, *counts]
        if sum(counts) < H * W:
            counts.append(H * W - sum(counts))
        plain = {"size": [H, W], "counts": counts}
        assert np.array_equal(_placed(decode_in_box(plain, H, W, "x")), mask > 0)
    empty = mask_utils.encode(np.zeros((H, W), np.uint8, order="F"))
    assert decode_in_box({"size": [H, W], "counts": empty["counts"].decode()}, H, W, "x") is None


def test_labelme_shapes_in_their_box_are_the_pixels_of_the_whole_image():
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(5)
    for k in range(120):
        points = np.array(_polygon(rng)).reshape(-1, 2).tolist()
        canvas = Image.new("L", (W, H), 0)  # labelme's shape_to_mask for a polygon
        ImageDraw.Draw(canvas).polygon([tuple(p) for p in points], outline=1, fill=1)
        box = shape_in_box((H, W), {"shape_type": "polygon", "points": points}, "x")
        assert np.array_equal(_placed(box), np.asarray(canvas, bool)), k
        if box is not None:
            assert box[0].shape[0] < H or box[0].shape[1] < W or np.asarray(canvas).all()


def _coco(tmp_path, n_images=3):
    root = tmp_path / "coco"
    images, anns = [], []
    for i in range(1, n_images + 1):
        write_image(root / "images" / f"im{i}.png", (H, W), seed=i)
        images.append({"id": i, "file_name": f"im{i}.png", "width": W, "height": H})
        for x, y, cat in ((10, 10, 1), (20, 20, 2)):  # the second over the first
            square = [x, y, x + 40, y, x + 40, y + 40, x, y + 40]
            anns.append(
                {"id": len(anns) + 1, "image_id": i, "category_id": cat, "segmentation": [square]}
            )
    cats = [{"id": 1, "name": "cell"}, {"id": 2, "name": "nucleus"}]
    data = {"images": images, "annotations": anns, "categories": cats}
    (root / "annotations.json").write_text(json.dumps(data))
    return root


def test_coco_items_keep_compact_labels_painted_in_file_order(tmp_path):
    result = read_coco(_coco(tmp_path, 1))
    (item,) = result.items
    assert item.mask is None and item.used == (0, 1)  # drawn once, kept small
    labels = item.labels()
    assert labels.dtype == np.int32
    assert labels[15, 15] == 0 and labels[30, 30] == 1 and labels[5, 5] == -1


def test_coco_and_labelme_imports_report_each_image_as_they_read_it(tmp_path):
    said: list[str] = []

    def progress(done, total, message):
        said.append(message)

    schema = LabelSchema.from_names(["background", "cell", "nucleus"])
    with Project.create(tmp_path / "p", schema) as project:
        src = _coco(tmp_path)
        project.add_images([src / "images"])
        import_into_project(project, ImportRequest("coco", src), progress=progress)
    each = [f"reading annotations… im{i}.png" for i in (1, 2, 3)]
    assert [m for m in said if m.startswith("reading")] == ["reading annotations.json…", *each]
    assert said[-4:-1] == [f"writing masks… im{i}.png" for i in (1, 2, 3)]
    said.clear()
    folder = tmp_path / "lm"
    for i in (1, 2):
        write_image(folder / f"x{i}.png", (H, W), seed=i)
        shape = {"label": "cell", "points": [[5, 5], [50, 5], [50, 50]], "shape_type": "polygon"}
        doc = {"shapes": [shape], "imagePath": f"x{i}.png", "imageHeight": H, "imageWidth": W}
        (folder / f"x{i}.json").write_text(json.dumps(doc))
    with Project.create(tmp_path / "q", schema) as project:
        import_into_project(project, ImportRequest("labelme", folder), progress=progress)
    assert [m for m in said if m.startswith("reading")] == [
        "reading annotations… x1.json",
        "reading annotations… x2.json",
    ]
