"""Bad or unusual input to the headless commands: one clear line and a non-zero exit,
never a traceback (exit 70) and never a silently wrong result.

Each test is a case found by a sweep of the CLI that used to crash or to go on quietly.
"""

import base64
import json
import shutil

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from annotator.bench.dataset import load_dataset
from annotator.bench.effort import ImageRecordOut, RunResult
from annotator.cli import main
from annotator.core.errors import AnnotatorError, ImageReadError
from annotator.core.proposal import Proposal
from annotator.services.projects import create_project, open_project
from annotator.services.proposals import predict_images


def _image(seed=0, h=12, w=12):
    return np.random.default_rng(seed).integers(0, 255, (h, w), dtype=np.uint8)


def _mask(h=12, w=12):
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 1
    return mask


def _dataset(root, n=2):
    """A bench dataset: images/ and masks/ with the same stems, classes 0 and 1."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        cv2.imwrite(str(root / "images" / f"im{i}.png"), _image(i))
        cv2.imwrite(str(root / "masks" / f"im{i}.png"), _mask())
    return root


def _error(capsys):
    """The one line the user sees on stderr (and no traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return err


def _bench(root, out, *extra):
    return main(["bench", str(root), "--mode", "manual", "--out", str(out), *extra])


# --- bench: the dataset ------------------------------------------------------------------


def test_bench_mask_of_another_size_than_its_image_is_refused(tmp_path, capsys):
    root = _dataset(tmp_path / "ds")
    cv2.imwrite(str(root / "masks" / "im1.png"), _mask(10, 12))
    assert _bench(root, tmp_path / "out") == 1
    assert "the mask is 12x10 but its image im1.png is 12x12" in _error(capsys)


def test_bench_corrupt_image_is_refused_before_the_run(tmp_path, capsys):
    root = _dataset(tmp_path / "ds")
    data = (root / "images" / "im1.png").read_bytes()
    (root / "images" / "im1.png").write_bytes(data[: len(data) // 2])
    assert _bench(root, tmp_path / "out") == 1
    assert "im1.png: corrupt or truncated" in _error(capsys)
    assert not (tmp_path / "out" / "projects").exists()


@pytest.mark.parametrize(
    "name,array,message",
    [
        ("im1.png", np.full((12, 12), 256, np.uint16), "value 256 is not a class id"),
        ("im1.tif", np.full((12, 12), -1, np.int16), "value -1 is not a class id"),
        ("im1.tif", np.full((12, 12), 0.5, np.float32), "integer class ids, not float32"),
    ],
)
def test_bench_mask_values_that_are_no_class_id_are_refused_not_wrapped(
    tmp_path, capsys, name, array, message
):
    root = _dataset(tmp_path / "ds")
    (root / "masks" / "im1.png").unlink()
    if name.endswith(".png"):
        cv2.imwrite(str(root / "masks" / name), array)
    else:
        tifffile.imwrite(root / "masks" / name, array)
    (tmp_path / "classes.txt").write_text("bg\ncell\n")
    assert _bench(root, tmp_path / "out", "--classes", str(tmp_path / "classes.txt")) == 1
    assert message in _error(capsys)


def test_bench_two_images_with_one_stem_are_refused(tmp_path, capsys):
    root = _dataset(tmp_path / "ds")
    cv2.imwrite(str(root / "images" / "im1.jpg"), _image(5))
    assert _bench(root, tmp_path / "out") == 1
    assert "im1.jpg and im1.png have the same file stem" in _error(capsys)


def test_bench_palette_masks_are_read_as_their_indices(tmp_path):
    root = _dataset(tmp_path / "ds")
    for p in (root / "masks").iterdir():
        im = Image.fromarray(_mask(), "P")
        im.putpalette([0, 0, 0, 128, 0, 0] + [0] * 762)
        im.save(p)
    ds = load_dataset(root)
    assert ds.class_names == ("class0", "class1")
    assert np.array_equal(ds.truths["im0"], _mask())


def test_bench_images_without_masks_and_masks_without_images_are_reported(tmp_path):
    root = _dataset(tmp_path / "ds", n=3)
    (root / "masks" / "im1.png").unlink()
    cv2.imwrite(str(root / "masks" / "extra.png"), _mask())
    ds = load_dataset(root)
    assert [p.name for p in ds.images] == ["im0.png", "im2.png"]
    assert len(ds.warnings) == 2
    assert "1 image(s)" in ds.warnings[0] and "left out: im1.png" in ds.warnings[0]
    assert "1 mask(s)" in ds.warnings[1] and "ignored: extra.png" in ds.warnings[1]


@pytest.mark.parametrize("kind", ["missing", "folder", "not utf-8", "duplicate"])
def test_bench_classes_file_that_cannot_be_used_is_one_line(tmp_path, capsys, kind):
    root = _dataset(tmp_path / "ds")
    classes = tmp_path / "classes.txt"
    if kind == "folder":
        classes.mkdir()
    elif kind == "not utf-8":
        classes.write_bytes(b"\xff\xfebg\n")
    elif kind == "duplicate":
        classes.write_text("bg\ncell\nBG\n")
    assert _bench(root, tmp_path / "out", "--classes", str(classes)) == 1
    err = _error(capsys)
    assert str(classes) in err
    assert ("listed twice" if kind == "duplicate" else "cannot read the class list") in err


# --- bench: the numbers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "args,message",
    [  # wrong by themselves: refused with the usage (exit code 2)
        (["--max-strokes", "0"], "--max-strokes: '0' is not a whole number of 1 or more"),
        (["--max-strokes", "-5"], "--max-strokes: '-5' is not a whole number of 1 or more"),
        (["--train-steps", "0"], "--train-steps: '0' is not a whole number of 1 or more"),
        (["--train-seconds", "0"], "--train-seconds: '0' is not a number above 0"),
        (["--train-seconds", "nan"], "--train-seconds: 'nan' is not a number above 0"),
        (["--max-radius", "-3"], "--max-radius: '-3' is not a number above 0"),
        (["--max-radius", "nan"], "--max-radius: 'nan' is not a number above 0"),
        (["--frozen-after", "0"], "--frozen-after 0 goes with --init-model"),  # (no model)
    ],
)
def test_bench_numbers_that_make_no_sense_are_refused_before_any_work(
    tmp_path, capsys, args, message
):
    root = _dataset(tmp_path / "ds")
    if args[0] == "--frozen-after":  # wrong with the other options: names --help, exit 2
        assert _bench(root, tmp_path / "out", *args) == 2
    else:
        with pytest.raises(SystemExit) as exit_:
            _bench(root, tmp_path / "out", *args)
        assert exit_.value.code == 2
    assert message in _error(capsys)
    assert not (tmp_path / "out").exists()


def test_bench_skip_past_the_last_image_is_refused(tmp_path, capsys):
    root = _dataset(tmp_path / "ds", n=2)
    assert _bench(root, tmp_path / "out", "--skip", "5") == 1
    assert "--skip 5 leaves no image to label: the run's sequence has 2 image(s)" in _error(capsys)


def test_bench_and_bench_combine_refuse_an_out_that_is_a_file(tmp_path, capsys):
    root = _dataset(tmp_path / "ds")
    out = tmp_path / "out.txt"
    out.write_text("not a folder")
    assert _bench(root, out) == 1
    assert f"--out {out}: is a file, not a folder" in _error(capsys)
    run = tmp_path / "run.json"
    run.write_text(json.dumps(_run_dict()))
    assert main(["bench-combine", str(run), "--out", str(out)]) == 1
    assert f"--out {out}: is a file, not a folder" in _error(capsys)


# --- bench-combine -------------------------------------------------------------------------


def _run_dict():
    record = ImageRecordOut(
        name="im0.png",
        actions=3.0,
        strokes=2,
        clicks=1,
        vertices=0,
        tools={"brush": 2, "fill": 1},
        reached_target=True,
        accepted=False,
        pixels_painted=100,
        accuracy_before=0.0,
        accuracy_after=0.97,
        train_seconds=0.0,
        model_version=None,
        robot_seconds=0.1,
    )
    return RunResult("manual", "in-order", {"mode": "manual"}, images=[record]).to_dict()


def _changed(path, value):
    d = _run_dict()
    *parents, last = path
    target = d
    for key in parents:
        target = target[key]
    target[last] = value
    return d


@pytest.mark.parametrize(
    "data,message",
    [
        (_changed(["eval_images"], "abc"), "'eval_images' or 'wall_seconds' is not a number"),
        (_changed(["images", 0, "actions"], "many"), "images[0].actions is 'many'"),
        (_changed(["images", 0, "tools"], {"brush": "x"}), "images[0].tools is"),
        (_changed(["config"], None), "'config' is not an object"),
        (_changed(["notes"], "one note"), "'notes' is not a list of strings"),
        (_changed(["mode"], "lazy"), "unknown mode or strategy 'lazy'"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_bench_combine_refuses_runs_with_values_of_the_wrong_kind(tmp_path, capsys, data, message):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(data))
    assert main(["bench-combine", str(run), "--out", str(tmp_path / "o")]) == 1
    err = _error(capsys)
    assert "not a run of this version of annotator bench" in err and message in err


def test_bench_combine_still_reads_a_good_run(tmp_path, capsys):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(_run_dict()))
    assert main(["bench-combine", str(run), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "bench.json").is_file()


# --- projects: train, predict, export, import ------------------------------------------


def _project(tmp_path, names=("im0.png",), size=(12, 12), labelled=True):
    """A project whose images are labelled by an imported masks folder (if ``labelled``)."""
    proj, images, masks = tmp_path / "P", tmp_path / "imgs", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    for i, name in enumerate(names):
        cv2.imwrite(str(images / name), _image(i, *size))
        cv2.imwrite(str(masks / (name.rsplit(".", 1)[0] + ".png")), _mask(*size))
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(images)]) == 0
    if labelled:
        assert main(["import", str(proj), str(masks), "--format", "masks"]) == 0
    return proj, images, masks


@pytest.mark.parametrize("minutes", ["nan", "inf", "0", "-1"])
def test_train_minutes_must_be_a_positive_number(tmp_path, capsys, minutes):
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(tmp_path / "P"), "--minutes", minutes])
    assert exit_.value.code == 2
    assert f"argument --minutes: {minutes!r} is not a number above 0" in _error(capsys)


def test_an_image_file_replaced_by_one_of_another_size_is_refused(tmp_path, capsys):
    proj, images, _ = _project(tmp_path)
    cv2.imwrite(str(images / "im0.png"), _image(0, 8, 20))
    capsys.readouterr()
    assert main(["train", str(proj), "--steps", "1", "--device", "cpu"]) == 1
    assert "the file is now 20x8 but was 12x12 when added" in _error(capsys)
    with open_project(proj, lock=False) as project, pytest.raises(ImageReadError):
        project.load_image(project.images()[0])


def test_export_with_an_image_file_gone_is_one_line(tmp_path, capsys):
    proj, images, _ = _project(tmp_path)
    (images / "im0.png").unlink()
    capsys.readouterr()
    assert main(["export", str(proj), str(tmp_path / "out"), "--format", "voc"]) == 1
    assert "the image file of 'im0.png' is missing" in _error(capsys)
    assert not (tmp_path / "out").exists()


class _FakePredictor:
    """Proposes class 1 everywhere (no model needed)."""

    def predict(self, image, cancel=None, keep_probabilities=True, progress=None):
        h, w = image.shape[:2]
        mask = np.ones((h, w), np.uint8)
        return Proposal(None, mask, np.zeros((h, w), np.float32), 0.5, 1)


def test_predict_out_gives_images_sharing_a_stem_their_own_files(tmp_path):
    proj, _, _ = _project(tmp_path, names=("a.png", "a.tif", "b.png"), labelled=False)
    with open_project(proj) as project:
        done = predict_images(project, out_dir=tmp_path / "out", predictor=_FakePredictor())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.png",
        "a~2.png",
        "b.png",
        "class_names.txt",
        "images.json",
    ]
    assert len({d.exported_path for d in done}) == 3


def test_predict_skips_an_image_it_cannot_read_and_goes_on(tmp_path, capsys, monkeypatch):
    """The first unreadable image stopped the run: the images after it got no proposal,
    and a second run was refused for the files the first had written."""
    from annotator.services import proposals

    proj, images, _ = _project(tmp_path, names=("a.png", "b.png", "c.png"), labelled=False)
    (images / "b.png").unlink()
    monkeypatch.setattr(proposals, "load_predictor", lambda *a, **k: _FakePredictor())
    capsys.readouterr()
    assert main(["predict", str(proj), "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert "skipped b.png:" in err and "wrote 2 proposal(s)" in out
    assert "1 image(s) could not be read" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a.png",
        "c.png",
        "class_names.txt",
        "images.json",
    ]


def test_predict_of_an_image_named_twice_proposes_it_once(tmp_path, capsys, monkeypatch):
    from annotator.services import proposals

    proj, _, _ = _project(tmp_path, names=("a.png", "b.png"), labelled=False)
    monkeypatch.setattr(proposals, "load_predictor", lambda *a, **k: _FakePredictor())
    capsys.readouterr()
    assert main(["predict", str(proj), "--images", "a.png", "a.png", "a"]) == 0
    assert "wrote 1 proposal(s)" in capsys.readouterr().out


def test_predict_out_that_is_a_file_is_refused_before_predicting(tmp_path):
    proj, _, _ = _project(tmp_path, labelled=False)
    out = tmp_path / "out.txt"
    out.write_text("not a folder")
    with open_project(proj) as project, pytest.raises(AnnotatorError, match="is a file"):
        predict_images(project, out_dir=out, predictor=_FakePredictor())


def test_import_with_a_labels_file_that_is_not_there_is_refused(tmp_path, capsys):
    proj, _, masks = _project(tmp_path)
    capsys.readouterr()
    argv = ["import", str(proj), str(masks), "--format", "masks"]
    assert main([*argv, "--labels", str(tmp_path / "nope.txt")]) == 1
    assert "nope.txt: no such class list or colour table" in _error(capsys)


@pytest.mark.parametrize(
    "fmt,option,message",
    [
        ("coco", ["--labels", "L"], "--labels: a coco source names its own classes"),
        ("yolo", ["--labels", "L"], "--labels: a yolo source names its own classes"),
        ("masks", ["--background", "bg"], "--background: a masks import takes every pixel"),
        ("voc", ["--background", "bg"], "--background: a voc import takes every pixel"),
    ],
)
def test_import_options_the_format_would_ignore_are_refused(tmp_path, capsys, fmt, option, message):
    proj = tmp_path / "P"
    create_project(proj, ["bg", "cell"]).close()
    labels = tmp_path / "labels.txt"
    labels.write_text("bg\ncell\n")
    option = [str(labels) if o == "L" else o for o in option]
    assert (
        main(["import", str(proj), str(tmp_path), "--format", fmt, *option]) == 2
    )  # (the command line: a usage error)
    assert message in _error(capsys)


def test_import_background_none_is_still_accepted_for_masks(tmp_path, capsys):
    proj, _, masks = _project(tmp_path)
    argv = ["import", str(proj), str(masks), "--format", "masks", "--background", "none"]
    assert main(argv) == 0
    assert "--background none changes nothing in a masks import" in capsys.readouterr().err


def test_import_masks_obey_the_project_pixel_limit_not_pillows(tmp_path, capsys, monkeypatch):
    proj, _, masks = _project(tmp_path, size=(16, 16))
    # Pillow refuses images past 2 x MAX_IMAGE_PIXELS with its own exception; the
    # project's limit (ANNOTATOR_MAX_PIXELS) is the one that counts.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert main(["import", str(proj), str(masks), "--format", "masks"]) == 0
    monkeypatch.setenv("ANNOTATOR_MAX_PIXELS", "100")
    assert main(["import", str(proj), str(masks), "--format", "masks"]) == 1
    assert "16x16 is more than the limit of 100 pixels" in _error(capsys)


def test_import_labelme_embedded_image_obeys_the_project_pixel_limit(tmp_path, capsys, monkeypatch):
    proj = tmp_path / "P"
    create_project(proj, ["bg", "cell"]).close()
    ok, png = cv2.imencode(".png", _image(0, 16, 16))
    src = tmp_path / "lm"
    src.mkdir()
    shape = {"label": "cell", "points": [[2, 2], [12, 2], [12, 12]], "shape_type": "polygon"}
    doc = {
        "shapes": [shape],
        "imagePath": "x.png",
        "imageData": base64.b64encode(png.tobytes()).decode(),
        "imageHeight": 16,
        "imageWidth": 16,
    }
    (src / "x.json").write_text(json.dumps(doc))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert main(["import", str(proj), str(src), "--format", "labelme"]) == 0
    assert "imported 1 mask(s)" in capsys.readouterr().out


def test_lzw_compressed_tiffs_opencv_wrote_are_read(tmp_path, capsys):
    from annotator.storage.images import read_image

    folder = tmp_path / "tiffs"
    folder.mkdir()
    grey16 = (np.arange(40 * 48).reshape(40, 48) * 20).astype(np.uint16)
    rgb = np.random.default_rng(0).integers(0, 255, (40, 48, 3), dtype=np.uint8)
    cv2.imwrite(str(folder / "grey16.tif"), grey16)  # OpenCV writes LZW-compressed TIFF
    cv2.imwrite(str(folder / "rgb.tif"), rgb[:, :, ::-1])
    assert np.array_equal(read_image(folder / "grey16.tif"), grey16)
    assert np.array_equal(read_image(folder / "rgb.tif"), rgb)
    proj = tmp_path / "P"
    assert main(["new", str(proj), "--classes", "bg,cell"]) == 0
    assert main(["add", str(proj), str(folder)]) == 0
    assert "added 2 image(s), skipped 0, 0 unreadable" in capsys.readouterr().out


# --- found by the sweep of 2026-11-30 -------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["export", "P", "out", "--format", "masks", "--seed", "-1"],
        ["train", "P", "--seed", "99999999999999999999"],
        ["bench", "D", "--seed", "-1"],
    ],
)
def test_seeds_out_of_the_generators_range_are_refused_by_argparse(tmp_path, capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert "argument --seed" in _error(capsys)


def test_a_path_the_system_cannot_make_is_one_line(tmp_path, capsys):
    long = tmp_path / ("x" * 300)
    assert main(["new", str(long), "--classes", "a"]) == 1
    assert "File name too long" in _error(capsys)
    (tmp_path / "file").write_text("")
    assert main(["bench-combine", str(tmp_path / "none.json"), "--out", str(tmp_path / "file/sub")])
    _error(capsys)


def test_split_fractions_that_overflow_their_sum_still_split(tmp_path, capsys):
    proj, _, _ = _project(tmp_path, names=("a.png", "b.png"))
    out = tmp_path / "out"
    assert main(["export", str(proj), str(out), "--format", "masks", "--split", "1e308,1e308"]) == 0
    assert {p.name for p in out.iterdir() if p.is_dir()} == {"train", "val"}


def test_export_into_an_empty_drive_root_stages_inside_it(tmp_path, capsys, monkeypatch):
    """The root of a mounted drive cannot be removed and replaced by a rename."""
    import os.path

    proj, _, _ = _project(tmp_path, names=("a.png", "b.png"))
    drive = tmp_path / "usb"
    drive.mkdir()
    real = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: str(p) == str(drive) or real(p))
    (drive / ".usb.partial-old").mkdir()  # a killed export's leftover
    assert main(["export", str(proj), str(drive), "--format", "masks", "--split", "1"]) == 0
    assert sorted(p.name for p in drive.iterdir()) == ["class_names.txt", "dataset.json", "train"]
    assert len(list((drive / "train/masks").iterdir())) == 2


def test_background_that_no_class_has_is_refused_not_added(tmp_path, capsys):
    proj, images, _ = _project(tmp_path, labelled=False)
    src = tmp_path / "lm"
    src.mkdir()
    shutil.copy(images / "im0.png", src / "im0.png")
    shape = {"label": "cell", "points": [[1, 1], [8, 1], [8, 8]], "shape_type": "polygon"}
    doc = {"shapes": [shape], "imagePath": "im0.png", "imageHeight": 12, "imageWidth": 12}
    (src / "im0.json").write_text(json.dumps(doc))
    args = ["import", str(proj), str(src), "--format", "labelme", "--background"]
    assert main([*args, "backgroud"]) == 1
    assert "--background backgroud: neither the project nor the source" in _error(capsys)
    with open_project(proj, lock=False) as project:
        assert (
            project.schema.names == ["bg", "cell"]
            and project.load_mask(project.images()[0]) is None
        )
    assert main([*args, "bg"]) == 0


def test_depth_and_width_are_checked_and_never_silently_ignored(tmp_path, capsys):
    proj, _, _ = _project(tmp_path)
    train = ["train", str(proj), "--steps", "1", "--device", "cpu"]
    with pytest.raises(SystemExit) as exit_:
        main([*train, "--depth", "0", "--from-scratch"])
    assert exit_.value.code == 2
    assert "argument --depth: '0' is not a whole number from 1 to 7" in _error(capsys)
    assert main([*train, "--depth", "1", "--width", "2"]) == 0
    assert main([*train, "--depth", "1", "--width", "2"]) == 0  # the same network: fine
    capsys.readouterr()
    assert main([*train, "--depth", "2"]) == 1
    assert "has depth 1; training continues from it, so --depth 2 needs --from-scratch" in _error(
        capsys
    )


def test_export_and_train_refuse_a_label_map_that_was_saved_and_is_gone(tmp_path, capsys):
    proj, _, _ = _project(tmp_path, names=("a.png", "b.png"))
    with open_project(proj, lock=False) as project:
        gone = project.mask_path(project.images()[0].id)
    gone.unlink()
    capsys.readouterr()
    assert main(["export", str(proj), str(tmp_path / "out"), "--format", "masks"]) == 1
    assert "the label map of image 'a.png'" in _error(capsys)
    assert main(["train", str(proj), "--steps", "1", "--device", "cpu"]) == 1
    assert "is missing; restore it from a backup" in _error(capsys)


def test_damaged_convenience_settings_fall_back_to_defaults(tmp_path):
    import sqlite3

    from annotator.services.model_settings import SETTINGS_KEY, ModelSettings, load_settings
    from annotator.services.session import LAST_IMAGE_SETTING, AnnotationSession

    proj, _, _ = _project(tmp_path, names=("a.png", "b.png"))
    with sqlite3.connect(proj / "annotator.sqlite") as db:
        for key in (LAST_IMAGE_SETTING, SETTINGS_KEY):
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, '{bad')", (key,))
    with open_project(proj) as project:
        assert load_settings(project) == ModelSettings()
        session = AnnotationSession(project)
        assert session.last_image_id() == project.images()[0].id
        session.close()


# --- bench on odd sets (sweep of 2026-11-30) --------------------------------------------------


def _record(name, actions, reached=True):
    return ImageRecordOut(
        name=name,
        actions=actions,
        strokes=int(actions),
        clicks=0,
        vertices=0,
        tools={"brush": int(actions)},
        reached_target=reached,
        accepted=False,
        pixels_painted=10,
        accuracy_before=0.0,
        accuracy_after=0.97 if reached else 0.5,
        train_seconds=0.0,
        model_version=None,
        robot_seconds=0.1,
    )


def test_bench_duplicate_pictures_and_dot_files_are_left_out_with_a_word(tmp_path, capsys):
    ds = tmp_path / "ds"
    _dataset(ds, n=3)
    shutil.copy(ds / "images/im0.png", ds / "images/im2.png")  # same picture, other mask
    (ds / "images/._im1.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    (ds / "masks/._im1.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    data = load_dataset(ds)
    assert [p.name for p in data.images] == ["im0.png", "im1.png"]
    assert any("im2.png (= im0.png)" in w for w in data.warnings)
    assert _bench(ds, tmp_path / "out", "--max-strokes", "20") == 0
    assert "byte for byte another image" in _error(capsys)


def test_bench_names_with_unicode_digits_sort_without_a_crash(tmp_path):
    ds = tmp_path / "ds"
    _dataset(ds, n=1)
    for folder in ("images", "masks"):
        (ds / folder / "im0.png").rename(ds / folder / "scan_10².png")
    assert [p.name for p in load_dataset(ds).images] == ["scan_10².png"]


def test_bench_all_void_masks_are_refused_and_0_255_sets_stay_binary(tmp_path, capsys):
    ds = tmp_path / "ds"
    _dataset(ds, n=2)
    for i in range(2):
        cv2.imwrite(str(ds / "masks" / f"im{i}.png"), np.full((12, 12), 255, np.uint8))
    with pytest.raises(AnnotatorError, match="every mask is void"):
        load_dataset(ds)
    cv2.imwrite(str(ds / "masks/im0.png"), _mask() * 255)
    data = load_dataset(ds)
    assert data.class_names == ("class0", "class1") and "255 -> 1" in data.note


def test_bench_assisted_run_goes_on_past_a_first_image_with_nothing_to_label(tmp_path, capsys):
    ds = tmp_path / "ds"
    _dataset(ds, n=3)
    cv2.imwrite(str(ds / "masks/im0.png"), np.full((12, 12), 255, np.uint8))
    (ds / "classes.txt").write_text("bg\ncell\n")
    args = ["--classes", str(ds / "classes.txt"), "--mode", "assisted", "--strategy", "in-order"]
    tiny = ["--train-steps", "1", "--depth", "1", "--width", "2", "--device", "cpu"]
    assert main(["bench", str(ds), "--out", str(tmp_path / "o"), *args, *tiny]) == 0
    report = json.loads((tmp_path / "o/bench.json").read_text())
    # A void-only mask has nothing to label: left out (it counted 0 actions at accuracy
    # 1.000 and pulled the averages), and said so.
    assert [r["name"] for r in report["images"]] == ["im1.png", "im2.png"]
    assert "1 mask(s) are void (255) only and their images are left out: im0.png" in (
        capsys.readouterr().err
    )


def test_bench_ratio_compares_the_images_both_runs_labelled():
    from annotator.bench.effort import saving_factors, summary_lines

    manual = RunResult("manual", "in-order", {"max_strokes": 100})
    manual.images = [_record(f"im{i}.png", 4.0) for i in range(5)]
    assisted = RunResult("assisted", "in-order", {"max_strokes": 100})
    assisted.images = [_record(f"im{i}.png", 2.0 + i) for i in range(3)]  # stopped early
    factors = saving_factors([manual, assisted])
    assert factors["saving_factor"] == round(12 / 9, 3) and factors["saving_factor_images"] == 3
    assert "the 3 image(s) both labelled" in "\n".join(summary_lines([manual, assisted]))


def test_bench_tells_images_at_the_budget_from_images_no_gesture_helps():
    from annotator.bench.effort import summary_lines

    run = RunResult("manual", "in-order", {"max_strokes": 10})
    run.images = [_record("a.png", 10, reached=False), _record("b.png", 1, reached=False)]
    assert run.stuck() == ["b.png"] and run.capped() == ["a.png", "b.png"]
    text = "\n".join(summary_lines([run]))
    assert (
        "1 image(s) stopped at the budget below the target (their counts are lower bounds): a.png"
        in text
    )
    assert "1 image(s) stopped below the target with no gesture left that helps" in text


def test_bench_combine_refuses_manual_parts_made_with_other_settings(tmp_path, capsys):
    parts = []
    for k, target in enumerate((0.95, 0.5)):
        run = RunResult("manual", "in-order", {"mode": "manual", "target": target, "skip": 3 * k})
        run.images = [_record(f"im{k}.png", 3.0)]
        parts.append(tmp_path / f"p{k}.json")
        parts[-1].write_text(json.dumps(run.to_dict()))
    assert main(["bench-combine", *map(str, parts), "--out", str(tmp_path / "o")]) == 1
    assert "different settings (target 0.95 and 0.5)" in _error(capsys)


def test_bench_repeated_tools_and_modes_count_once(tmp_path, capsys):
    from annotator.cli.options import bench_tools

    assert bench_tools("brush,brush") == ("brush",)
    ds = tmp_path / "ds"
    _dataset(ds, n=1)
    assert main(["bench", str(ds), "--mode", "manual,manual", "--out", str(tmp_path / "o")]) == 0
    assert len(json.loads((tmp_path / "o/bench.json").read_text())["runs"]) == 1


def test_a_rank_variable_alone_does_not_turn_the_project_lock_off(monkeypatch):
    from annotator.storage import lock

    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert lock.needed()  # a scheduler's leftover, not torchrun
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not lock.needed()  # a helper rank of torchrun: rank 0 holds the lock
    monkeypatch.setenv("RANK", "0")
    assert lock.needed()


def test_progress_whose_reader_went_away_does_not_stop_the_work():
    from annotator.cli.progress import ProgressLine

    class Gone:
        def write(self, _text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

        def isatty(self):
            return True

    line = ProgressLine("training", delay=0, stream=Gone())
    line(1, 10, "step 1")  # no exception: the round goes on
    line(10, 10, "done")
    line.finish()


def test_under_torchrun_a_peer_that_stopped_is_one_line_not_an_internal_error(monkeypatch):
    from annotator.cli import _peer_gone

    gloo = RuntimeError(
        "[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:15531. This "
        "is typically caused by a remote worker crashing."
    )
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert _peer_gone(gloo)
    assert not _peer_gone(RuntimeError("shape mismatch"))  # a bug of its own stays one
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not _peer_gone(gloo)  # no torchrun: nobody else said why


def test_bench_into_a_folder_of_an_earlier_run_says_its_files_stay(tmp_path, capsys):
    ds = tmp_path / "ds"
    _dataset(ds, n=2)
    out = tmp_path / "o"
    out.mkdir()
    (out / "bench-assisted-uncertainty.json").write_text("{}")
    tiny = ["--mode", "manual", "--max-strokes", "50", "--device", "cpu"]
    assert main(["bench", str(ds), "--out", str(out), *tiny]) == 0
    err = capsys.readouterr().err
    assert "holds results of an earlier run (bench-assisted-uncertainty.json)" in err


def test_bench_again_into_its_own_results_is_refused_unless_overwrite(tmp_path, capsys):
    ds = tmp_path / "ds"
    _dataset(ds, n=2)
    out = tmp_path / "o"
    argv = ["bench", str(ds), "--out", str(out), "--mode", "manual", "--max-strokes", "50"]
    assert main(argv) == 0
    mine = out / "bench-manual-uncertainty.json"
    first = mine.read_text()
    (out / "projects" / "manual-uncertainty" / "keep.txt").write_text("an earlier run's")
    capsys.readouterr()
    assert main(argv) == 1
    assert _error(capsys) == (
        f"annotator: error: --out {out}: already holds bench-manual-uncertainty.json, "
        "projects/manual-uncertainty of an earlier run; give a new folder, or --overwrite "
        "to replace them\n"
    )
    assert mine.read_text() == first
    assert (out / "projects" / "manual-uncertainty" / "keep.txt").is_file()
    assert main([*argv, "--overwrite"]) == 0
    assert not (out / "projects" / "manual-uncertainty" / "keep.txt").exists()
    assert json.loads(mine.read_text())["mode"] == "manual"


def test_bench_combine_refuses_to_replace_results_unless_overwrite(tmp_path, capsys):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(_run_dict()))
    out = tmp_path / "o"
    out.mkdir()
    (out / "notes.txt").write_text("not a result: nothing replaces it")
    assert main(["bench-combine", str(run), "--out", str(out)]) == 0
    combined = (out / "bench.json").read_text()
    (out / "bench.json").write_text("an earlier combination")
    capsys.readouterr()
    assert main(["bench-combine", str(run), "--out", str(out)]) == 1
    err = _error(capsys)
    assert f"--out {out}: already holds bench.json, " in err and "--overwrite" in err
    assert (out / "bench.json").read_text() == "an earlier combination"
    assert main(["bench-combine", str(run), "--out", str(out), "--overwrite"]) == 0
    assert (out / "bench.json").read_text() == combined


@pytest.mark.parametrize("option", ["--overwrite", "--geotiff"])
def test_predict_options_that_need_out_are_usage_errors(tmp_path, capsys, option):
    """Options that do not go together exit 2 as argparse's refusals do (they exited 1)."""
    proj = tmp_path / "P"
    create_project(proj, ["bg", "cell"]).close()
    assert main(["predict", str(proj), option]) == 2
    assert f"{option} goes with --out DIR (see `annotator predict --help`)" in _error(capsys)
