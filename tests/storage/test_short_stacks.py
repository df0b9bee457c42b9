"""Two to eight bare TIFF pages: the channels of one picture, or a short stack when the
user says so (``annotator add --pages slices``); label pages are always slices."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from annotator.cli import main
from annotator.core.schema import LabelSchema
from annotator.core.tiff_layout import unnamed_channels
from annotator.formats.masks import decode_mask_file, mask_stack_pages
from annotator.storage.images import tiff_stack, tiff_unnamed_channels
from annotator.storage.project import Project

RNG = np.random.default_rng(3)


def _pillow_pages(path, volume):
    """Bare pages as Pillow (and many scripts) write them: no shape, no axes."""
    pages = [Image.fromarray(p) for p in volume]
    pages[0].save(path, save_all=True, append_images=pages[1:])


def _volume(n=5, h=24, w=32):
    volume = RNG.integers(0, 255, (n, h, w)).astype(np.uint8)
    volume[:, 0, 0] = np.arange(n)  # no two slices alike
    return volume


def _project(tmp_path):
    return Project.create(tmp_path / "proj", LabelSchema.from_names(["bg", "cell"]))


@pytest.mark.parametrize(
    ("shape", "axes", "channels"),
    [
        ((5, 24, 32), "QYX", 5),
        ((2, 24, 32), "IYX", 2),
        ((8, 24, 32), "IYX", 8),
        ((9, 24, 32), "IYX", 0),  # a stack already
        ((24, 32, 5), "YXQ", 0),  # a numpy (H, W, C) picture
        ((5, 24, 32), "ZYX", 0),  # named: a stack already
        ((3, 24, 32), "CYX", 0),  # named channels
        ((24, 32, 3), "YXS", 0),
        ((1, 5, 24, 32), "QQYX", 5),  # lengths of 1 dropped
        ((2, 5, 24, 32), "QQYX", 0),
    ],
)
def test_which_layouts_hold_unnamed_channels(shape, axes, channels):
    assert unnamed_channels(shape, axes) == channels


@pytest.mark.parametrize("writer", ["pillow", "tifffile"])
def test_bare_pages_are_channels_unless_the_add_is_told_they_are_slices(tmp_path, writer):
    volume = _volume()
    path = tmp_path / "vol.tif"
    if writer == "pillow":
        _pillow_pages(path, volume)
    else:
        tifffile.imwrite(path, volume, photometric="minisblack")
    assert tiff_unnamed_channels(path) == 5 and tiff_stack(path) == 0
    assert tiff_stack(path, unnamed_slices=True) == 5
    with _project(tmp_path) as project:
        report = project.add_images([path])
        assert [r.name for r in report.added] == ["vol.tif"]
        assert report.pages_as_channels == [(str(path), 5)]
        text = report.pages_as_channels_text("annotator add --pages slices")
        assert "read the 5 bare pages of vol.tif as the channels of one picture" in text
        assert "annotator add --pages slices" in text
    with Project.create(tmp_path / "p2", LabelSchema.from_names(["bg", "cell"])) as project:
        report = project.add_images([path], unnamed_slices=True)
        assert [r.name for r in report.added] == [f"vol_z{i:03d}.tif" for i in range(5)]
        assert report.pages_as_channels == [] and report.stacks[0][1] == 5
        for i, rec in enumerate(report.added):
            assert np.array_equal(project.load_image(rec), volume[i])


def test_a_short_stack_split_once_is_split_when_added_again_without_being_told(tmp_path):
    """Adding the folder again (for new files) must not add the stack as one picture of
    five channels beside its own slices."""
    folder = tmp_path / "data"
    folder.mkdir()
    tifffile.imwrite(folder / "vol.tif", _volume())
    with _project(tmp_path) as project:
        first = project.add_images([folder / "vol.tif"], unnamed_slices=True)
        assert len(first.added) == 5
        again = project.add_images([folder])
        assert again.added == [] and again.pages_as_channels == []
        assert len(project.images()) == 5


def test_a_file_of_a_few_channels_is_added_as_one_picture_and_named(tmp_path, capsys):
    """The default stays: a numpy array of channels saved first is one picture."""
    tifffile.imwrite(tmp_path / "four.tif", _volume(4), photometric="minisblack")
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    capsys.readouterr()
    assert main(["add", str(proj), str(tmp_path / "four.tif")]) == 0
    out = capsys.readouterr().out
    assert "added 1 image(s)" in out
    assert "read the 4 bare pages of four.tif as the channels of one picture" in out
    assert f"`annotator add {proj} {tmp_path / 'four.tif'} --pages slices`" in out
    assert main(["add", str(proj), str(tmp_path / "four.tif"), "--pages", "slices"]) == 0
    out = capsys.readouterr().out
    # The picture of four channels is already in the project (same file): the slices
    # are added beside it; removing it is the user's choice.
    assert "split four.tif (4 slices)" in out and "added 4 image(s)" in out


def test_a_short_label_stack_is_read_page_by_slice_never_as_channels(tmp_path):
    labels = RNG.integers(0, 2, (3, 24, 32)).astype(np.uint8)
    _pillow_pages(tmp_path / "vol.tif", labels)
    assert mask_stack_pages(tmp_path / "vol.tif") == 3
    for i in range(3):
        assert np.array_equal(decode_mask_file(tmp_path / "vol.tif", i), labels[i])


def test_short_stacks_with_their_labels_import_into_an_empty_project(tmp_path, capsys):
    """A dataset shipped as images/vol.tif + masks/vol.tif, five bare pages each."""
    volume, labels = _volume(), RNG.integers(0, 2, (5, 24, 32)).astype(np.uint8)
    (tmp_path / "ds/images").mkdir(parents=True)
    (tmp_path / "ds/masks").mkdir()
    _pillow_pages(tmp_path / "ds/images/vol.tif", volume)
    tifffile.imwrite(tmp_path / "ds/masks/vol.tif", labels)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["import", str(proj), "--format", "masks", str(tmp_path / "ds")]) == 0
    with Project.open(proj) as project:
        records = project.images()
        assert [r.name for r in records] == [f"vol_z{i:03d}.tif" for i in range(5)]
        for i, rec in enumerate(records):
            assert np.array_equal(project.load_image(rec), volume[i])
            assert np.array_equal(project.load_mask(rec), labels[i])


def _dataset_of_short_stacks(root, dtype=np.uint8, n=5):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    top = 60000 if dtype == np.uint16 else 255
    volume = RNG.integers(0, top, (n, 24, 32)).astype(dtype)
    volume[:, 0, 0] = np.arange(n)
    labels = RNG.integers(0, 2, (n, 24, 32)).astype(dtype)
    tifffile.imwrite(root / "images/vol.tif", volume, photometric="minisblack")
    tifffile.imwrite(root / "masks/vol.tif", labels, photometric="minisblack")
    return volume, labels


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_short_label_stack_in_a_mask_folder_is_left_out_however_the_pages_are_read(
    tmp_path, dtype
):
    """Found by an audit: with its picture stack split first, masks/vol.tif had no
    picture left and was added as a five-channel image (and 16-bit pages never looked
    like a mask). Its pictures' bare pages are slices since the label stack beside them
    has a page each (before, they were one picture's channels, which no label stack can
    label); told so, they are channels."""
    _dataset_of_short_stacks(tmp_path / "ds", dtype)
    with _project(tmp_path) as project:
        report = project.add_images([tmp_path / "ds"])
        assert [r.name for r in report.added] == [f"vol_z{i:03d}.tif" for i in range(5)]
        assert report.pages_split_for_labels == [str(tmp_path / "ds/images/vol.tif")]
        assert [m for m, _ in report.masks_left_out] == [str(tmp_path / "ds/masks/vol.tif")]
    with Project.create(tmp_path / "p1", LabelSchema.from_names(["bg", "cell"])) as project:
        report = project.add_images([tmp_path / "ds"], pages_as_channels=True)
        assert [r.name for r in report.added] == ["images/vol.tif"]
        assert [m for m, _ in report.masks_left_out] == [str(tmp_path / "ds/masks/vol.tif")]
    with Project.create(tmp_path / "p2", LabelSchema.from_names(["bg", "cell"])) as project:
        first = project.add_images([tmp_path / "ds"], unnamed_slices=True)
        assert [r.name for r in first.added] == [f"vol_z{i:03d}.tif" for i in range(5)]
        assert len(first.masks_left_out) == 1
        again = project.add_images([tmp_path / "ds"])  # later, without being told
        assert again.added == [] and len(again.masks_left_out) == 1
        assert again.pages_split_before == [str(tmp_path / "ds/images/vol.tif")]
        assert "split vol.tif into slices, as it was split before" in again.pages_split_text("x")


def test_a_file_split_after_it_was_added_as_one_picture_is_named(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "five.tif", _volume(), photometric="minisblack")
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(tmp_path / "five.tif")]) == 0
    capsys.readouterr()
    assert main(["add", str(proj), str(tmp_path / "five.tif"), "--pages", "slices"]) == 0
    out = capsys.readouterr().out
    assert "five.tif is also in the project as the image 'five.tif', its pages read as " in out
    assert f"remove that image with `annotator remove {proj} NAME`" in out


def test_two_bare_pages_are_two_channels_as_more_are(tmp_path):
    """They were read as grey and its transparency, the second page never shown; a page
    is never a picture's alpha (only a PNG's LA or a TIFF's recorded ExtraSamples are)."""
    volume = _volume(2)
    _pillow_pages(tmp_path / "two.tif", volume)
    with _project(tmp_path) as project:
        report = project.add_images([tmp_path / "two.tif"])
        assert report.added[0].channels == 2
        assert np.array_equal(project.load_image(report.added[0]), np.moveaxis(volume, 0, -1))
        text = report.pages_as_channels_text("--pages slices")
        assert "read the 2 bare pages of two.tif as the channels of one picture" in text


@pytest.mark.parametrize("short", [False, True])
def test_a_label_stack_beside_its_picture_stack_never_lands_on_another_stack_of_its_name(
    tmp_path, short
):
    """Found by an audit: with a/vol.tif split first (vol_z000...), the labels of
    b/masks/vol.tif beside b/images/vol.tif went onto a's slices, by name."""
    a = _volume(6)
    (tmp_path / "a").mkdir()
    tifffile.imwrite(tmp_path / "a/vol.tif", a, imagej=True, metadata={"axes": "ZYX"})
    b = _volume(3 if short else 5) + 7
    labels = RNG.integers(0, 2, b.shape).astype(np.uint8)
    (tmp_path / "b/images").mkdir(parents=True)
    (tmp_path / "b/masks").mkdir()
    if short:
        _pillow_pages(tmp_path / "b/images/vol.tif", b)
        _pillow_pages(tmp_path / "b/masks/vol.tif", labels)
    else:
        zyx = {"imagej": True, "metadata": {"axes": "ZYX"}}
        tifffile.imwrite(tmp_path / "b/images/vol.tif", b, **zyx)
        tifffile.imwrite(tmp_path / "b/masks/vol.tif", labels, **zyx)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(tmp_path / "a/vol.tif")]) == 0
    assert main(["import", str(proj), "--format", "masks", str(tmp_path / "b/masks")]) == 0
    with Project.open(proj) as project:
        by_name = {r.name: r for r in project.images()}
        for i in range(len(a)):  # a's slices keep no labels
            assert project.load_mask(by_name[f"vol_z{i:03d}.tif"]) is None
        for i in range(len(b)):
            rec = by_name[f"vol~2_z{i:03d}.tif"]
            assert np.array_equal(project.load_image(rec), b[i])
            assert np.array_equal(project.load_mask(rec), labels[i])


def test_labels_of_a_short_stack_added_as_one_picture_say_that_picture_stays(tmp_path, capsys):
    volume, _ = _dataset_of_short_stacks(tmp_path / "ds")
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    # one picture, 5 channels (as the add read it before a label stack beside made its
    # pages slices; now when told)
    assert main(["add", str(proj), str(tmp_path / "ds"), "--pages", "channels"]) == 0
    capsys.readouterr()
    assert main(["import", str(proj), "--format", "masks", str(tmp_path / "ds/masks")]) == 0
    out = capsys.readouterr()
    assert "vol.tif is also in the project as the image 'images/vol.tif'" in out.out + out.err
    with Project.open(proj) as project:
        assert len(project.images()) == 6  # the picture of channels, and its 5 slices


def test_a_split_made_by_mistake_is_taken_back_with_pages_as_channels(tmp_path, capsys):
    """Five bands of one picture split by mistake: the slices removed, the file added
    again comes back as slices (split before), unless --pages channels says otherwise."""
    tifffile.imwrite(tmp_path / "bands.tif", _volume(), photometric="minisblack")
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(tmp_path / "bands.tif"), "--pages", "slices"]) == 0
    names = [f"bands_z{i:03d}.tif" for i in range(5)]
    assert main(["remove", str(proj), *names]) == 0
    capsys.readouterr()
    assert main(["add", str(proj), str(tmp_path / "bands.tif")]) == 0
    out = capsys.readouterr().out
    assert "split bands.tif into slices, as it was split before" in out
    assert "--pages channels" in out
    assert main(["remove", str(proj), *names]) == 0
    assert main(["add", str(proj), str(tmp_path / "bands.tif"), "--pages", "channels"]) == 0
    with Project.open(proj) as project:
        (record,) = project.images()
        assert record.name == "bands.tif" and project.load_image(record).shape == (24, 32, 5)


def _label_dataset(root, volume, labels):
    """images/vol.tif + masks/vol.tif, ImageJ Z stacks."""
    zyx = {"imagej": True, "metadata": {"axes": "ZYX"}}
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    tifffile.imwrite(root / "images/vol.tif", volume, **zyx)
    tifffile.imwrite(root / "masks/vol.tif", labels, **zyx)


def _import(proj, folder, *more):
    return main(["import", str(proj), "--format", "masks", str(folder), *more])


def test_label_stack_slices_find_their_own_picture_stack_whatever_else_is_named_so(tmp_path):
    """Found by an audit, each once silent: pictures of the slices' names added by hand
    took the labels; slices removed from the project refused them; an edited stack's
    labels went onto the old content's slices; a stack of another slice count, or no
    stack at all, let the labels onto another stack of the name."""
    volume, labels = _volume(3) + 9, RNG.integers(0, 2, (3, 24, 32)).astype(np.uint8)
    _label_dataset(tmp_path / "ds", volume, labels)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    (tmp_path / "other").mkdir()
    for i, page in enumerate(_volume(3)):  # other pictures that share the slices' names
        tifffile.imwrite(tmp_path / f"other/vol_z{i:03d}.tif", page)
    assert main(["add", str(proj), str(tmp_path / "other")]) == 0
    assert _import(proj, tmp_path / "ds/masks") == 0
    with Project.open(proj) as project:
        for rec in project.images():
            if rec.name.startswith("vol_z") and "~" not in rec.name:
                assert project.load_mask(rec) is None  # the other pictures: untouched
            else:  # the stack's own slices, added for its labels
                i = int(rec.name[5:8])
                assert np.array_equal(project.load_image(rec), volume[i])
                assert np.array_equal(project.load_mask(rec), labels[i])
        names = sorted(r.name for r in project.images() if "~" in r.name)
    assert names == ["vol_z000~2.tif", "vol_z001~2.tif", "vol_z002~2.tif"]
    assert main(["remove", str(proj), *names]) == 0  # its slice files stay in slices/
    assert _import(proj, tmp_path / "ds/masks") == 0  # added back, and labelled
    with Project.open(proj) as project:
        back = [r for r in project.images() if r.name.startswith("vol_z") and "~" in r.name]
        assert len(back) == 3 and all(project.load_mask(r) is not None for r in back)


@pytest.mark.parametrize("case", ["edited", "count", "single"])
def test_labels_of_a_stack_that_cannot_be_theirs_are_refused_not_put_on_a_namesake(
    tmp_path, case, capsys
):
    a = _volume(4)
    (tmp_path / "a").mkdir()
    zyx = {"imagej": True, "metadata": {"axes": "ZYX"}}
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    labels = RNG.integers(0, 2, (4, 24, 32)).astype(np.uint8)
    if case == "edited":  # ds/images/vol.tif split, then edited where it lies
        _label_dataset(tmp_path / "ds", a, labels)
        assert main(["add", str(proj), str(tmp_path / "ds/images/vol.tif")]) == 0
        tifffile.imwrite(tmp_path / "ds/images/vol.tif", a + 1, **zyx)
    else:  # a/vol.tif split; ds's picture stack has 3 slices, or is one picture
        tifffile.imwrite(tmp_path / "a/vol.tif", a, **zyx)
        assert main(["add", str(proj), str(tmp_path / "a/vol.tif")]) == 0
        _label_dataset(tmp_path / "ds", _volume(3), labels[:3])
        tifffile.imwrite(tmp_path / "ds/masks/vol.tif", labels, **zyx)
        if case == "single":
            tifffile.imwrite(tmp_path / "ds/images/vol.tif", _volume(1)[0])
    capsys.readouterr()
    assert _import(proj, tmp_path / "ds/masks") == 1
    err = capsys.readouterr()
    text = err.out + err.err
    assert "not added" in text
    with Project.open(proj) as project:
        assert all(project.load_mask(r) is None for r in project.images())


def test_a_moved_stack_whose_slice_files_were_deleted_is_found_again_with_its_files(tmp_path):
    """Found by an audit: the images were relinked to the slices written again, which
    were then removed as a split none of whose slices was added."""
    (tmp_path / "ds").mkdir()
    tifffile.imwrite(tmp_path / "ds/vol.tif", _volume(3), imagej=True, metadata={"axes": "ZYX"})
    with _project(tmp_path) as project:
        project.add_images([tmp_path / "ds/vol.tif"])
        for f in (project.root / "slices/vol").glob("vol_z*.tif"):
            f.unlink()
        (tmp_path / "ds").rename(tmp_path / "ds2")
        report = project.add_images([tmp_path / "ds2/vol.tif"])
        assert report.errors == [] and report.added == []  # written again in place
        assert len(project.images()) == 3
        assert all(project.image_path(r).is_file() for r in project.images())


def test_each_label_slice_is_checked_against_the_users_own_slice_file_of_its_name(tmp_path):
    """Found by an audit: only slice 0 was compared; page 1 went onto a file of its
    name that shows another picture."""
    volume, labels = _volume(3) + 3, RNG.integers(0, 2, (3, 24, 32)).astype(np.uint8)
    _label_dataset(tmp_path / "ds", volume, labels)
    (tmp_path / "hand").mkdir()
    for i in range(3):
        page = volume[i] if i != 1 else _volume(1)[0]  # slice 1: another picture
        tifffile.imwrite(tmp_path / f"hand/vol_z{i:03d}.tif", page)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(tmp_path / "hand")]) == 0
    assert _import(proj, tmp_path / "ds/masks") == 0
    with Project.open(proj) as project:
        by_name = {r.name: r for r in project.images()}
        assert project.load_mask(by_name["vol_z001.tif"]) is None
        for name, i in (("vol_z000.tif", 0), ("vol_z001~2.tif", 1), ("vol_z002.tif", 2)):
            assert np.array_equal(project.load_image(by_name[name]), volume[i])
            assert np.array_equal(project.load_mask(by_name[name]), labels[i])


def test_labels_reach_slices_whose_files_were_deleted_by_hand(tmp_path):
    """Found by an audit: a split with slice files missing was no split, and the
    labels of its images were refused."""
    volume, labels = _volume(3), RNG.integers(0, 2, (3, 24, 32)).astype(np.uint8)
    _label_dataset(tmp_path / "ds", volume, labels)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(tmp_path / "ds/images/vol.tif")]) == 0
    for f in (proj / "slices/vol").glob("vol_z*.tif"):
        f.unlink()
    assert _import(proj, tmp_path / "ds/masks") == 0
    with Project.open(proj) as project:
        records = sorted(project.images(), key=lambda r: r.name)
        assert [r.name for r in records] == [f"vol_z{i:03d}.tif" for i in range(3)]
        for i, rec in enumerate(records):
            assert np.array_equal(project.load_mask(rec), labels[i])


@pytest.mark.parametrize("case", ["values", "size", "strict"])
def test_a_label_stack_whose_every_page_is_refused_adds_no_slice(tmp_path, case, capsys):
    """Found by an audit: the slices were added for the labels first, and the labels
    refused after: values no class has, pages of another size, or --strict and a class
    the project lacks left the stack's slices in the project, unlabelled (exit 1)."""
    volume, labels = _volume(3), RNG.integers(0, 2, (3, 24, 32)).astype(np.uint8)
    if case == "values":
        labels[:, 0, 0] = 7
    elif case == "size":
        labels = labels[:, :12, :16]
    _label_dataset(tmp_path / "ds", volume, labels)
    args = []
    if case == "strict":
        (tmp_path / "ds/labels.txt").write_text("bg\ncell\ntumour\n")
        args = ["--strict"]
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    capsys.readouterr()
    assert _import(proj, tmp_path / "ds/masks", *args) == 1
    err = capsys.readouterr().err
    said = {  # (a label stack is skipped whole, in one line: its first slice refused)
        "values": "label stack not imported: slice 0: values [7] are not class ids of this project",
        "size": "label stack not imported: slice 0 of the labels is 16x12 but slice 0 of",
        "strict": "classes not in the project: tumour",
    }[case]
    assert said in err
    if case != "strict":
        assert "(3 of its 3 slices refused" in err
        assert sum(line.startswith("skipped") for line in err.splitlines()) == 1
    with Project.open(proj) as project:
        assert project.images() == []
    assert not list((proj / "slices").glob("*/*.tif"))


def test_labels_find_their_slices_in_the_second_split_of_a_name_by_their_pictures(tmp_path):
    """Found by an audit: a/vol.tif and b/vol.tif split as vol/ and vol~2/; the labels of
    b's pictures, beside a copy of b's stack saved in other bytes (compressed), were
    matched by name to vol's slices, which show other pictures, and refused as having
    'no image' in the project, though vol~2's slices show them."""
    zyx = {"imagej": True, "metadata": {"axes": "ZYX"}}
    a, b = _volume(3), _volume(3) + 5
    for name, volume in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        tifffile.imwrite(tmp_path / name / "vol.tif", volume, **zyx)
    labels = RNG.integers(0, 2, b.shape).astype(np.uint8)
    (tmp_path / "ds/images").mkdir(parents=True)
    (tmp_path / "ds/masks").mkdir()
    tifffile.imwrite(
        tmp_path / "ds/images/vol.tif",
        b,
        photometric="minisblack",
        metadata={"axes": "ZYX"},
        compression="zlib",
    )
    tifffile.imwrite(tmp_path / "ds/masks/vol.tif", labels, **zyx)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(tmp_path / "a/vol.tif"), str(tmp_path / "b/vol.tif")]) == 0
    assert _import(proj, tmp_path / "ds/masks") == 0
    with Project.open(proj) as project:
        assert len(project.images()) == 6  # none added
        for i in range(3):
            assert project.load_mask(project.image(f"vol_z{i:03d}.tif")) is None
            second = project.image(f"vol~2_z{i:03d}.tif")
            assert np.array_equal(project.load_mask(second), labels[i])


def test_removed_slices_come_back_only_for_the_labels_of_their_pages(tmp_path, capsys):
    """Found by an audit: removed slices all came back as new images to label, also
    those whose page of the label stack labels nothing (as an export writes the slices
    it left out). A removed slice whose page holds labels comes back with them, as any
    picture an import brings."""
    volume, labels = _volume(4), RNG.integers(0, 2, (4, 24, 32)).astype(np.uint8)
    labels[2:] = 255  # unlabelled pages
    _label_dataset(tmp_path / "ds", volume, labels)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(tmp_path / "ds/images/vol.tif")]) == 0
    assert main(["remove", str(proj), "vol_z001.tif", "vol_z002.tif", "vol_z003.tif"]) == 0
    capsys.readouterr()
    assert _import(proj, tmp_path / "ds/masks") == 0
    out = capsys.readouterr().out
    assert "2 page(s) label nothing; their slices of" in out
    assert "removed from the project, were not added again" in out
    with Project.open(proj) as project:
        records = sorted(project.images(), key=lambda r: r.name)
        assert [r.name for r in records] == ["vol_z000.tif", "vol_z001.tif"]
        for i, rec in enumerate(records):
            assert np.array_equal(project.load_image(rec), volume[i])
            assert np.array_equal(project.load_mask(rec), labels[i])
