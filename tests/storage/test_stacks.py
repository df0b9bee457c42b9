"""TIFF stacks added to a project: one image per slice, every pixel kept."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

from annotator.cli import main
from annotator.core.errors import ImageReadError
from annotator.core.naming import slice_stems
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage import images
from annotator.storage.images import read_tiff_stack, tiff_stack
from annotator.storage.project import Project

RNG = np.random.default_rng(0)
#: An ImageJ stack of Z planes (3 or 4 unnamed planes are read as channels).
ZYX = {"imagej": True, "metadata": {"axes": "ZYX"}}


def _volume(shape, first=0):
    """Random slices (identical ones would be one picture) whose first pixel is ``first``."""
    volume = RNG.integers(0, 255, shape).astype(np.uint8)
    volume[:, 0, 0] = first
    return volume


def _project(tmp_path):
    return Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "membrane"]))


@pytest.mark.parametrize(
    ("shape", "dtype", "kwargs", "planes"),
    [
        ((12, 40, 56), np.uint8, {"imagej": True, "metadata": {"axes": "ZYX"}}, 12),
        ((2, 3, 40, 56), np.uint16, {"imagej": True, "metadata": {"axes": "TZYX"}}, 6),
        ((20, 40, 56), np.uint8, {}, 20),  # planes nobody named
        ((5, 40, 56, 3), np.uint8, {"photometric": "rgb"}, 5),
        ((4, 40, 56), np.uint8, {"photometric": "minisblack"}, 0),  # 4 planes: channels
        ((40, 56), np.uint16, {}, 0),
    ],
)
def test_stacks_are_split_into_their_slices_in_order(tmp_path, shape, dtype, kwargs, planes):
    top = 60000 if dtype == np.uint16 else 255
    volume = RNG.integers(0, top, shape).astype(dtype)
    tifffile.imwrite(tmp_path / "v.tif", volume, **kwargs)
    assert tiff_stack(tmp_path / "v.tif") == planes
    if not planes:
        with pytest.raises(ImageReadError, match="not a stack"):
            read_tiff_stack(tmp_path / "v.tif")
        return
    slices = read_tiff_stack(tmp_path / "v.tif")
    want = volume.reshape((planes, *shape[-3 if len(shape) == 4 and shape[-1] == 3 else -2 :]))
    assert len(slices) == planes
    for got, expected in zip(slices, want, strict=True):
        assert got.dtype == dtype and np.array_equal(got, expected)


def test_pages_written_one_by_one_are_slices_too(tmp_path):
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:
        for i in range(3):
            tif.write(np.full((30, 20), 50 * i, np.uint16))
    assert tiff_stack(tmp_path / "pages.tif") == 3
    assert [int(s[0, 0]) for s in read_tiff_stack(tmp_path / "pages.tif")] == [0, 50, 100]


def test_adding_a_stack_adds_one_image_per_slice_and_the_same_stack_again_adds_none(tmp_path):
    volume = RNG.integers(0, 60000, (11, 40, 56)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "vol.tif", volume, imagej=True, metadata={"axes": "ZYX"})
    before = (tmp_path / "vol.tif").read_bytes()
    with _project(tmp_path) as project:
        report = project.add_images([tmp_path / "vol.tif"])
        names = [f"vol_z{i:03d}.tif" for i in range(11)]
        assert [r.name for r in report.added] == names
        assert report.stacks == [(str(tmp_path / "vol.tif"), 11, str(project.root / "slices/vol"))]
        assert "split vol.tif (11 slices)" in report.stacks_text()
        for i, record in enumerate(project.images()):
            assert record.bit_depth == 16
            assert np.array_equal(project.load_image(record), volume[i])
        written = {p.name: p.stat().st_mtime_ns for p in (project.root / "slices/vol").iterdir()}
        again = project.add_images([tmp_path])  # the folder holding it: found, not rewritten
        assert again.added == [] and again.stacks == []
        assert sum(why == "already in the project" for _, why in again.skipped) == 11
        assert {
            p.name: p.stat().st_mtime_ns for p in (project.root / "slices/vol").iterdir()
        } == written
    assert (tmp_path / "vol.tif").read_bytes() == before  # the user's file is untouched


def test_another_stack_of_the_same_name_gets_its_own_folder(tmp_path):
    for folder, value in (("a", 1), ("b", 2)):
        (tmp_path / folder).mkdir()
        tifffile.imwrite(tmp_path / folder / "vol.tif", _volume((3, 8, 8), value), **ZYX)
    with _project(tmp_path) as project:
        project.add_images([tmp_path / "a", tmp_path / "b"])
        assert len(project.images()) == 6
        assert sorted(p.name for p in (project.root / "slices").iterdir()) == ["vol", "vol~2"]
        values = sorted(int(project.load_image(r)[0, 0]) for r in project.images())
        assert values == [1, 1, 1, 2, 2, 2]  # (each slice's first pixel: its stack's value)


def test_a_stack_too_large_to_split_is_one_error_and_leaves_nothing(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "big.tif", np.zeros((6, 32, 32), np.uint8), **ZYX)
    tifffile.imwrite(tmp_path / "one.tif", np.zeros((32, 32), np.uint8))
    monkeypatch.setattr(images, "MAX_STACK_BYTES", 1000)
    with _project(tmp_path) as project:
        report = project.add_images([tmp_path])
        assert [r.name for r in report.added] == ["one.tif"]
        assert len(report.errors) == 1 and "Stack to Images" in str(report.errors[0])
        assert not (project.root / "slices").exists() or not any(
            (project.root / "slices").iterdir()
        )


def test_a_split_killed_half_way_is_cleared_by_the_next_writer(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / "vol.tif", _volume((4, 16, 16)), **ZYX)
    with _project(tmp_path) as project:
        calls = []
        real = tifffile.imwrite

        def killed(*args, **kwargs):
            if len(calls) == 2:
                raise KeyboardInterrupt  # the process dies here
            calls.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(tifffile, "imwrite", killed)
        with pytest.raises(KeyboardInterrupt):
            project.add_images([tmp_path / "vol.tif"])
        assert [p.name for p in (project.root / "slices").iterdir()] == [".vol.partial"]
        assert project.images() == []
    monkeypatch.undo()
    with Project.open(tmp_path / "proj") as project:
        assert not any((project.root / "slices").iterdir())
        assert len(project.add_images([tmp_path / "vol.tif"]).added) == 4


def test_masks_named_after_a_slice_import_onto_it(tmp_path, capsys):
    tifffile.imwrite(
        tmp_path / "vol.tif", RNG.integers(0, 255, (3, 16, 24)).astype(np.uint8), **ZYX
    )
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "bg,membrane"]) == 0
    assert main(["add", root, str(tmp_path / "vol.tif")]) == 0
    assert "split vol.tif (3 slices)" in capsys.readouterr().out
    (tmp_path / "labels" / "masks").mkdir(parents=True)
    mask = np.zeros((16, 24), np.uint8)
    mask[:, 12:] = 1
    images.write_png(tmp_path / "labels" / "masks" / "vol_z001.png", mask)
    assert main(["import", root, "--format", "masks", str(tmp_path / "labels")]) == 0
    with Project.open(tmp_path / "proj") as project:
        record = project.image("vol_z001.tif")
        assert np.array_equal(project.load_mask(record), mask)
        assert project.load_mask(project.image("vol_z000.tif")) is None


def test_slice_names_widen_for_long_stacks():
    assert slice_stems("s", 3) == ["s_z000", "s_z001", "s_z002"]
    assert slice_stems("s", 1001)[-1] == "s_z1000"


def test_a_label_stack_named_as_the_image_stack_imports_slice_by_slice(tmp_path, capsys):
    volume = _volume((5, 16, 24))
    tifffile.imwrite(tmp_path / "vol.tif", volume, **ZYX)
    labels = (volume > 127).astype(np.uint8) * 255  # ISBI's labels: 0 and 255
    (tmp_path / "labels").mkdir()
    tifffile.imwrite(tmp_path / "labels" / "vol.tif", labels, **ZYX)
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "membrane,cell"]) == 0
    assert main(["add", root, str(tmp_path / "vol.tif")]) == 0
    assert main(["import", root, "--format", "masks", str(tmp_path / "labels")]) == 0
    assert "imported 5" in capsys.readouterr().out
    with Project.open(tmp_path / "proj") as project:
        for i in range(5):
            mask = project.load_mask(project.image(f"vol_z{i:03d}.tif"))
            assert np.array_equal(mask, (labels[i] == 255).astype(np.uint8)), i


def test_a_label_stack_is_never_read_as_its_first_slice(tmp_path):
    from annotator.core.errors import FormatError
    from annotator.formats.masks import decode_mask_file

    tifffile.imwrite(tmp_path / "m.tif", np.zeros((4, 8, 8), np.uint8), **ZYX)
    with pytest.raises(FormatError, match="a stack of 4 masks"):
        decode_mask_file(tmp_path / "m.tif")
    assert decode_mask_file(tmp_path / "m.tif", 3).shape == (8, 8)


def test_a_thumbnail_among_the_pages_of_a_label_stack_moves_no_slice(tmp_path):
    from annotator.formats.masks import decode_mask_file, mask_stack_pages

    labels = RNG.integers(0, 3, (4, 16, 24)).astype(np.uint8)
    with tifffile.TiffWriter(tmp_path / "m.tif") as tif:
        for i, page in enumerate(labels):
            tif.write(page)
            if i == 1:
                tif.write(np.zeros((4, 6), np.uint8))  # a thumbnail between slices
    assert mask_stack_pages(tmp_path / "m.tif") == 4
    for i in range(4):
        assert np.array_equal(decode_mask_file(tmp_path / "m.tif", i), labels[i]), i


def test_the_second_stack_of_one_name_takes_the_label_stack_of_its_folder_name(tmp_path):
    volumes = {}
    for folder in ("sample1", "sample2"):
        (tmp_path / folder).mkdir()
        volumes[folder] = _volume((3, 16, 24))
        tifffile.imwrite(tmp_path / folder / "image.tif", volumes[folder], **ZYX)
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "a,b"]) == 0
    assert main(["add", root, str(tmp_path / "sample1"), str(tmp_path / "sample2")]) == 0
    with Project.open(tmp_path / "proj") as project:
        names = sorted(r.name for r in project.images())
        pictures = {r.name: project.load_image(r) for r in project.images()}
    assert names == [f"image{k}_z00{i}.tif" for k in ("", "~2") for i in range(3)]
    assert np.array_equal(pictures["image~2_z001.tif"], volumes["sample2"][1])
    (tmp_path / "labels").mkdir()
    labels = np.ones((3, 16, 24), np.uint8)
    tifffile.imwrite(tmp_path / "labels" / "image~2.tif", labels, **ZYX)
    assert main(["import", root, "--format", "masks", str(tmp_path / "labels")]) == 0
    with Project.open(tmp_path / "proj") as project:
        assert project.load_mask(project.image("image_z000.tif")) is None
        assert project.load_mask(project.image("image~2_z002.tif")) is not None


@pytest.mark.parametrize(
    ("shape", "dtype", "kwargs"),
    [
        ((5, 20, 30, 3), np.uint16, {"photometric": "rgb"}),  # 16-bit RGB
        ((5, 20, 30, 3), np.float32, {"photometric": "rgb"}),
        ((3, 2, 20, 30), np.uint8, {"imagej": True, "metadata": {"axes": "ZCYX"}}),  # 2 channels
    ],
)
def test_every_slice_file_is_one_picture_with_every_channel(tmp_path, shape, dtype, kwargs):
    volume = (RNG.random(shape) * 1000).astype(dtype)
    tifffile.imwrite(tmp_path / "v.tif", volume, **kwargs)
    with _project(tmp_path) as project:
        project.add_images([tmp_path / "v.tif"])
        files = sorted((project.root / "slices" / "v").glob("*.tif"))
        assert len(files) == shape[0]
        for i, f in enumerate(files):
            with tifffile.TiffFile(f) as tif:
                assert len(tif.pages) == 1  # never a page per row
                stored = tif.asarray()
            want = volume[i] if kwargs.get("imagej") is None else np.moveaxis(volume[i], 0, -1)
            assert np.array_equal(stored, want), f.name


def test_a_file_of_several_stacks_is_refused_in_words(tmp_path):
    with tifffile.TiffWriter(tmp_path / "two.tif") as tif:
        tif.write(_volume((5, 16, 24)), photometric="minisblack", metadata={"axes": "ZYX"})
        tif.write(_volume((4, 16, 24)), photometric="minisblack", metadata={"axes": "ZYX"})
    with _project(tmp_path) as project:
        report = project.add_images([tmp_path / "two.tif"])
        assert report.added == [] and "holds 2 stacks" in str(report.errors[0])


def test_a_stack_touched_or_moved_is_found_by_its_content_not_copied_again(tmp_path):
    tifffile.imwrite(tmp_path / "vol.tif", _volume((4, 16, 24)), **ZYX)
    with _project(tmp_path) as project:
        assert len(project.add_images([tmp_path / "vol.tif"]).added) == 4
        (tmp_path / "elsewhere").mkdir()
        (tmp_path / "vol.tif").rename(tmp_path / "elsewhere" / "vol.tif")
        os.utime(tmp_path / "elsewhere" / "vol.tif")  # touched too
        again = project.add_images([tmp_path / "elsewhere" / "vol.tif"])
        assert again.added == [] and again.stacks == []
        assert [p.name for p in (project.root / "slices").iterdir()] == ["vol"]
        other = _volume((4, 16, 24))
        other[:2] = tifffile.imread(project.root / "slices/vol/vol_z000.tif")  # 2 repeats
        (tmp_path / "other").mkdir()
        tifffile.imwrite(tmp_path / "other" / "vol.tif", other, **ZYX)  # same name only
        third = project.add_images([tmp_path / "other" / "vol.tif"])
        # (every slice is an image of its own: those repeating vol_z000 too, ADR 0022)
        assert len(third.added) == 4 and len(third.stacks) == 1
        # the stack split first, edited where it lies: refused, as a replaced picture is
        tifffile.imwrite(tmp_path / "elsewhere" / "vol.tif", _volume((4, 16, 24)), **ZYX)
        fourth = project.add_images([tmp_path / "elsewhere" / "vol.tif"])
        assert fourth.added == [] and "it replaced the stack split into" in fourth.skipped[0][1]


def test_a_label_stack_beside_its_volume_is_left_out_as_a_mask(tmp_path):
    tifffile.imwrite(tmp_path / "vol.tif", _volume((4, 16, 24)), **ZYX)
    tifffile.imwrite(tmp_path / "vol_mask.tif", np.ones((4, 16, 24), np.uint8), **ZYX)
    with _project(tmp_path) as project:
        report = project.add_images([tmp_path])
        assert len(report.added) == 4
        assert report.masks_left_out == [
            (str(tmp_path / "vol_mask.tif"), str(tmp_path / "vol.tif"))
        ]


def test_an_lzw_stack_is_split_by_pillow_when_tifffile_needs_a_codec(tmp_path):
    from PIL import Image

    volume = _volume((9, 16, 24))  # (3 bare pages would be read as channels)
    frames = [Image.fromarray(s) for s in volume]
    frames[0].save(
        tmp_path / "lzw.tif", save_all=True, append_images=frames[1:], compression="tiff_lzw"
    )
    assert tiff_stack(tmp_path / "lzw.tif") == 9
    assert all(np.array_equal(a, b) for a, b in zip(read_tiff_stack(tmp_path / "lzw.tif"), volume))


def test_a_stack_with_samples_and_channels_is_refused_as_such_everywhere(tmp_path):
    hyper = np.zeros((3, 2, 16, 24, 3), np.uint8)  # ZCYXS: no picture this app can show
    tifffile.imwrite(tmp_path / "h.tif", hyper, imagej=True, metadata={"axes": "ZCYXS"})
    with pytest.raises(ImageReadError, match="both samples and channels"):
        tiff_stack(tmp_path / "h.tif")
    with pytest.raises(ImageReadError, match="unsupported TIFF layout") as refused:
        images.read_image(tmp_path / "h.tif")
    assert "add the stack to a project" not in str(refused.value)  # it would be refused


def test_label_stacks_export_page_by_slice_and_import_back_exactly(tmp_path, capsys):
    volume = _volume((6, 16, 24))
    tifffile.imwrite(tmp_path / "vol.tif", volume, **ZYX)
    tifffile.imwrite(tmp_path / "one.tif", _volume((1, 16, 24))[0])  # a picture, no slice
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "bg,membrane"]) == 0
    assert main(["add", root, str(tmp_path / "vol.tif"), str(tmp_path / "one.tif")]) == 0
    labelled = {}
    with Project.open(tmp_path / "proj") as project:
        for i in (0, 2, 5):  # slices 1, 3 and 4 stay unlabelled
            record = project.image(f"vol_z00{i}.tif")
            labelled[i] = (volume[i] > 127).astype(np.uint8)
            project.save_mask(record.id, labelled[i], status=ImageStatus.DONE)
        project.save_mask(project.image("one.tif").id, np.ones((16, 24), np.uint8))
    out = tmp_path / "out"
    args = ["export", root, str(out), "--format", "masks", "--split", "1", "--include", "all"]
    assert main([*args, "--stacks"]) == 0
    assert "1 label stack(s), page i the labels of slice i (first: train/stacks/vol.tif)" in (
        capsys.readouterr().out
    )
    stack = tifffile.imread(out / "train" / "stacks" / "vol.tif")
    assert stack.shape == (6, 16, 24)
    for i in range(6):
        want = labelled[i] if i in labelled else np.full((16, 24), 255, np.uint8)
        assert np.array_equal(stack[i], want), i
    # into a fresh project of the same volume, the label stack gives the labels back
    again = str(tmp_path / "again")
    assert main(["new", again, "--classes", "bg,membrane"]) == 0
    assert main(["add", again, str(tmp_path / "vol.tif")]) == 0
    (tmp_path / "labels").mkdir()
    (out / "train" / "stacks" / "vol.tif").rename(tmp_path / "labels" / "vol.tif")
    assert main(["import", again, "--format", "masks", str(tmp_path / "labels")]) == 0
    with Project.open(tmp_path / "again") as project:
        for i in range(6):
            mask = project.load_mask(project.image(f"vol_z00{i}.tif"))
            if i in labelled:
                assert np.array_equal(mask, labelled[i]), i
            else:  # an unlabelled page gives no labels, never an empty "done" map
                assert mask is None or not (mask != 255).any(), i


def test_label_stacks_are_for_the_masks_format_only(tmp_path, capsys):
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "a,b"]) == 0
    args = ["export", root, str(tmp_path / "out"), "--format", "voc", "--stacks"]
    assert main(args) == 2  # (options that do not go together: a usage error)
    assert "label stacks are written by the masks format, not voc" in capsys.readouterr().err


def test_a_truncated_stack_is_refused_not_added_as_what_was_left(tmp_path):
    tifffile.imwrite(tmp_path / "full.tif", _volume((5, 128, 128)), **ZYX)
    whole = (tmp_path / "full.tif").read_bytes()
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "vol.tif").write_bytes(whole[: len(whole) // 2])
    with _project(tmp_path) as project:
        report = project.add_images([tmp_path / "cut" / "vol.tif"])
        assert report.added == []
        assert "corrupt or truncated TIFF" in str(report.errors[0])


def test_the_label_stack_add_leaves_out_imports_as_add_says(tmp_path, capsys):
    volume = _volume((4, 16, 24))
    labels = (volume > 127).astype(np.uint8)
    (tmp_path / "bes").mkdir()
    tifffile.imwrite(tmp_path / "bes" / "vol.tif", volume, **ZYX)
    tifffile.imwrite(tmp_path / "bes" / "vol_mask.tif", labels, **ZYX)
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "bg,membrane"]) == 0
    assert main(["add", root, str(tmp_path / "bes")]) == 0
    assert "to import them as labels: `annotator import" in capsys.readouterr().err
    assert main(["import", root, "--format", "masks", str(tmp_path / "bes")]) == 0
    out = capsys.readouterr()
    assert "imported 4" in out.out and "skipped" not in out.err + out.out
    with Project.open(tmp_path / "proj") as project:
        for i in range(4):
            mask = project.load_mask(project.image(f"vol_z00{i}.tif"))
            assert np.array_equal(mask, labels[i]), i


def test_a_dataset_shipped_as_stacks_imports_into_an_empty_project(tmp_path, capsys):
    volume = _volume((5, 16, 24))
    labels = (volume > 127).astype(np.uint8)
    for sub, data in (("images", volume), ("masks", labels)):
        (tmp_path / "ds" / sub).mkdir(parents=True)
        tifffile.imwrite(tmp_path / "ds" / sub / "vol.tif", data, **ZYX)
    tifffile.imwrite(tmp_path / "ds" / "masks" / "short.tif", labels[:3], **ZYX)
    tifffile.imwrite(tmp_path / "ds" / "images" / "short.tif", volume[:4], **ZYX)
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "bg,membrane"]) == 0
    assert main(["import", root, "--format", "masks", str(tmp_path / "ds")]) == 2
    out = capsys.readouterr().out
    assert "imported 5 mask(s)" in out and "0 matched to project images, 5 image(s) added" in out
    assert "holds 4 slices where its labels hold 3" in out
    with Project.open(tmp_path / "proj") as project:
        assert len(project.images()) == 5  # the short stack's pictures were not added
        for i in range(5):
            record = project.image(f"vol_z00{i}.tif")
            assert np.array_equal(project.load_image(record), volume[i])
            assert np.array_equal(project.load_mask(record), labels[i])


def test_slice_files_deleted_by_hand_are_written_again_when_the_stack_is_added(tmp_path):
    """Found by an audit: the stack was then called "same file, other content" and
    refused, its images left without files."""
    volume = _volume((3, 40, 56))
    tifffile.imwrite(tmp_path / "vol.tif", volume, imagej=True, metadata={"axes": "ZYX"})
    with _project(tmp_path) as project:
        project.add_images([tmp_path / "vol.tif"])
        for f in (project.root / "slices/vol").glob("vol_z*.tif"):
            f.unlink()
        report = project.add_images([tmp_path / "vol.tif"])
        assert report.errors == [] and report.added == []
        assert not any("other content" in why for _, why in report.skipped)
        for i, record in enumerate(sorted(project.images(), key=lambda r: r.name)):
            assert np.array_equal(project.load_image(record), volume[i])


def test_the_slices_of_a_two_channel_hyperstack_keep_both_channels(tmp_path):
    """Slices of a TZCYX stack with C=2 were recorded as 1 channel, the second lost."""
    volume = np.zeros((1, 3, 2, 20, 30), np.uint8)
    volume[:, :, 0] = 40
    volume[0, :, 1, 5:15, 5:25] = 200
    volume[0, :, 0, 0, :3] = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]  # no two slices alike
    tifffile.imwrite(tmp_path / "h.tif", volume, imagej=True, metadata={"axes": "TZCYX"})
    with _project(tmp_path) as project:
        project.add_images([tmp_path / "h.tif"])
        records = sorted(project.images(), key=lambda r: r.name)
        assert [r.channels for r in records] == [2, 2, 2]
        for z, r in enumerate(records):
            assert np.array_equal(project.load_image(r), np.moveaxis(volume[0, z], 0, -1))


def test_a_stack_with_a_long_name_is_split_and_its_label_stack_finds_the_slices(tmp_path):
    """A stack whose stem was near 255 bytes could not be split ('File name too long':
    called unreadable), though the same file added as one picture was taken."""
    name = "T" * 246 + "é" * 2  # 250 bytes of stem
    volume = _volume((3, 16, 24))
    tifffile.imwrite(tmp_path / f"{name}.tif", volume, **ZYX)
    labels = (volume > 127).astype(np.uint8) * 255
    (tmp_path / "labels").mkdir()
    tifffile.imwrite(tmp_path / "labels" / f"{name}.tif", labels, **ZYX)
    root = str(tmp_path / "proj")
    assert main(["new", root, "--classes", "membrane,cell"]) == 0
    assert main(["add", root, str(tmp_path / f"{name}.tif")]) == 0
    assert main(["import", root, "--format", "masks", str(tmp_path / "labels")]) == 0
    with Project.open(root) as project:
        records = sorted(project.images(), key=lambda r: r.name)
        assert len(records) == 3 and all(len(r.name.encode()) <= 255 for r in records)
        for z, record in enumerate(records):
            assert np.array_equal(project.load_mask(record) == 1, volume[z] > 127)


@pytest.mark.parametrize("damage", ["{not json", '{"stack": 7, "sha1": null}', ""])
def test_a_split_whose_record_is_lost_is_found_again_and_recorded(tmp_path, damage):
    """A damaged or lost source.json: adding the stack again split it a second time
    beside the first (stack~2_z000...), each slice an image twice."""
    import json

    volume = _volume((4, 16, 24))
    tifffile.imwrite(tmp_path / "vol.tif", volume, **ZYX)
    root = tmp_path / "proj"
    with Project.create(root, LabelSchema.from_names(["a", "b"])) as project:
        project.add_images([tmp_path / "vol.tif"])
    source = root / "slices" / "vol" / "source.json"
    if damage:
        source.write_text(damage)
    else:
        source.unlink()
    with Project.open(root) as project:
        report = project.add_images([tmp_path / "vol.tif"])
        assert report.added == [] and len(project.images()) == 4
    assert json.loads(source.read_text())["files"] == [f"vol_z{i:03d}.tif" for i in range(4)]
    other = _volume((4, 16, 24)) // 2  # another stack of that name: a split of its own
    (tmp_path / "b").mkdir()
    tifffile.imwrite(tmp_path / "b" / "vol.tif", other, **ZYX)
    with Project.open(root) as project:
        assert len(project.add_images([tmp_path / "b" / "vol.tif"]).added) == 4
