"""Class-id masks saved as RGB (or opaque RGBA) whose three channels are equal
everywhere are grey class ids: in ``decode_mask_png`` and in the masks import without
a table of colours. With a table of colours an RGB mask is read by its colours (grey
colours too), and an RGB mask whose channels differ still needs one, as before."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from annotator.core.errors import FormatError
from annotator.core.schema import LabelSchema
from annotator.formats.masks import decode_mask_png, read_masks
from annotator.services.exchange import ImportRequest, import_into_project
from annotator.storage.project import Project

IDS = np.array([[0, 1, 2, 2], [1, 1, 0, 2], [2, 0, 1, 1]], np.uint8)


def test_decode_mask_png_reads_equal_channels_as_grey(tmp_path):
    Image.fromarray(np.dstack([IDS] * 3), "RGB").save(tmp_path / "rgb.png")
    alpha = np.full(IDS.shape, 255, np.uint8)
    Image.fromarray(np.dstack([IDS] * 3 + [alpha]), "RGBA").save(tmp_path / "rgba.png")
    for name in ("rgb.png", "rgba.png"):
        got = decode_mask_png(tmp_path / name)
        assert got.dtype == np.uint8 and np.array_equal(got, IDS), name
    coloured = np.dstack([IDS] * 3)
    coloured[0, 0] = (0, 0, 1)
    Image.fromarray(coloured, "RGB").save(tmp_path / "colour.png")
    with pytest.raises(FormatError) as got:
        decode_mask_png(tmp_path / "colour.png")
    assert str(got.value) == (
        f"{tmp_path / 'colour.png'}: an RGB mask whose channels differ is colour-coded, not "
        "class ids: give the table of its colours with --labels FILE (CVAT labelmap.txt, "
        "CamVid label_colors.txt or class_dict.csv), or save the mask as a grey class-id PNG"
    )


def test_the_masks_import_reads_grey_rgb_masks_as_class_ids(tmp_path):
    src = tmp_path / "src"
    (src / "masks").mkdir(parents=True)
    (src / "images").mkdir()
    Image.fromarray(np.dstack([IDS] * 3), "RGB").save(src / "masks/a.png")
    picture = (IDS * 60).astype(np.uint8)
    Image.fromarray(picture).save(src / "images/a.png")
    with Project.create(tmp_path / "p", LabelSchema.from_names(["bg", "x", "y"])) as p:
        p.add_images([src / "images"])
        import_into_project(p, ImportRequest("masks", src / "masks"))
        (rec,) = p.images()
        assert np.array_equal(p.load_mask(rec), IDS)


def test_with_a_table_of_colours_grey_colours_are_read_by_colour(tmp_path):
    folder = tmp_path / "src/masks"
    folder.mkdir(parents=True)
    grey = np.array([(0, 0, 0), (128, 128, 128), (200, 200, 200)], np.uint8)
    Image.fromarray(grey[IDS], "RGB").save(folder / "a.png")
    (tmp_path / "src/labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbg:0,0,0::\nx:128,128,128::\ny:200,200,200::\n"
    )
    result = read_masks(folder)
    assert result.errors == []
    (item,) = result.items
    assert np.array_equal(item.labels(), IDS)  # by colour, not the value 128 as an id


def _rgb_tiff(path, pixels, planar=False):
    import tifffile

    data = np.moveaxis(pixels, -1, 0) if planar else pixels
    tifffile.imwrite(path, data, photometric="rgb", planarconfig="separate" if planar else None)


def test_planar_samples_are_no_colours_a_stack_of_three_masks_is_written_so(tmp_path):
    from annotator.formats.masks import decode_mask_file

    _rgb_tiff(tmp_path / "planar.tif", np.dstack([IDS] * 3), planar=True)
    with pytest.raises(FormatError, match="a mask must be one single-channel image"):
        decode_mask_file(tmp_path / "planar.tif")


def test_one_page_rgb_tiff_masks_read_as_rgb_png_masks_do(tmp_path):
    """They were refused ("a mask must be one single-channel image, this TIFF is
    3x4x3") while the same mask saved as PNG was read."""
    from annotator.formats.masks import decode_mask_file

    _rgb_tiff(tmp_path / "grey.tif", np.dstack([IDS] * 3))
    assert np.array_equal(decode_mask_file(tmp_path / "grey.tif"), IDS)
    coloured = np.dstack([IDS] * 3)
    coloured[0, 0] = (0, 0, 1)
    _rgb_tiff(tmp_path / "colour.tif", coloured)
    with pytest.raises(FormatError, match="channels differ is colour-coded.*--labels FILE"):
        decode_mask_file(tmp_path / "colour.tif")
    # with a table of colours, by colour (as a PNG)
    folder = tmp_path / "src/masks"
    folder.mkdir(parents=True)
    palette = np.array([(0, 0, 0), (250, 0, 0), (0, 0, 250)], np.uint8)
    _rgb_tiff(folder / "a.tif", palette[IDS])
    (tmp_path / "src/labelmap.txt").write_text(
        "# label:color_rgb:parts:actions\nbg:0,0,0::\nx:250,0,0::\ny:0,0,250::\n"
    )
    (item,) = read_masks(folder).items
    assert np.array_equal(item.labels(), IDS)


def test_the_bench_reads_grey_rgb_tiff_masks(tmp_path):
    from annotator.bench.dataset import load_dataset

    (tmp_path / "ds/images").mkdir(parents=True)
    (tmp_path / "ds/masks").mkdir()
    Image.fromarray((IDS * 60).astype(np.uint8)).save(tmp_path / "ds/images/a.png")
    _rgb_tiff(tmp_path / "ds/masks/a.tif", np.dstack([IDS] * 3))
    assert np.array_equal(load_dataset(tmp_path / "ds").truths["a"], IDS)
