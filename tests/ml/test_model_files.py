"""A model version travels between projects as one file: export, import, and the checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import FAST, TINY, make_cells_project

from annotator.cli import main
from annotator.core.errors import AnnotatorError, ModelError
from annotator.core.schema import LabelSchema
from annotator.ml.checkpoint import load_checkpoint
from annotator.services import proposals, training, versions
from annotator.storage import models as model_store
from annotator.storage.project import Project


@pytest.fixture
def trained(tmp_path):
    """A project with one trained version (v1) and a second, unlabelled project."""
    source = make_cells_project(tmp_path / "source")
    training.train_project(source, steps=3, network=TINY, config=FAST, device="cpu")
    target = make_cells_project(tmp_path / "target", n_labelled=2)
    yield source, target
    source.close()
    target.close()


def test_an_exported_version_imports_as_the_next_version_with_the_same_weights(trained, tmp_path):
    source, target = trained
    exported = versions.export_model(source, tmp_path / "cells.pt")
    assert exported.version == 1
    record = versions.import_model(target, tmp_path / "cells.pt")
    assert record.version == 1 and target.active_model().version == 1
    card = record.card
    assert card.parent is None and card.imported_from.startswith("cells.pt (its v1, made ")
    # Images and scores belong to the project it was trained in.
    assert card.train_images == () and card.validation_images == ()
    assert card.mean_iou is None and card.metrics.loss is not None
    assert card.architecture == TINY.to_dict() and card.onnx == model_store.ONNX_NAME
    theirs = load_checkpoint(model_store.model_files(source, source.model(1)).weights)
    ours = load_checkpoint(model_store.model_files(target, record).weights)
    assert ours.state_dict.keys() == theirs.state_dict.keys()
    assert all(torch.equal(ours.state_dict[k], theirs.state_dict[k]) for k in ours.state_dict)
    # It proposes in the new project, and the next round continues from it.
    image = target.load_image(target.images()[3])
    predictor = proposals.load_predictor(target, device="cpu")
    assert predictor.version == 1 and predictor.predict(image).mask.shape == (96, 96)
    nxt = training.train_project(target, steps=2, config=FAST, device="cpu", export_onnx=False)
    assert nxt.model.version == 2 and nxt.model.parent == 1
    assert nxt.model.card.imported_from is None


def test_a_model_with_other_classes_is_refused_and_one_with_fewer_is_taken(trained, tmp_path):
    source, _target = trained
    path = tmp_path / "cells.pt"
    versions.export_model(source, path)
    names = list(source.schema.names)
    other = Project.create(tmp_path / "other", LabelSchema.from_names(["sky", *names[1:]]))
    with pytest.raises(ModelError) as refused:
        versions.import_model(other, path)
    # names joined with ", ", no list syntax, the glossary's word
    assert str(refused.value).startswith(
        f"{path} is a model file for other classes ({', '.join(names)}) than this "
        f"project's (sky, {', '.join(names[1:])}); a model fits a project whose classes"
    )
    assert "[" not in str(refused.value)
    assert other.models() == []
    wider = Project.create(tmp_path / "wider", LabelSchema.from_names([*names, "debris"]))
    record = versions.import_model(wider, path, export_onnx=False)
    assert record.card.classes == tuple(names)  # the next round learns "debris"
    # The same names in other letters fit, as they do for a rename (it was refused with
    # "the classes changed while model v1 was made")
    shouted = Project.create(
        tmp_path / "shouted", LabelSchema.from_names([n.upper() for n in names])
    )
    assert versions.import_model(shouted, path, export_onnx=False).version == 1
    other.close()
    wider.close()
    shouted.close()


def test_export_says_what_is_wrong(trained, tmp_path):
    source, target = trained
    with pytest.raises(ModelError, match="no model yet"):
        versions.export_model(target, tmp_path / "none.pt")
    with pytest.raises(ModelError, match="is a folder"):
        versions.export_model(source, tmp_path)
    with pytest.raises(ModelError, match="no such folder"):
        versions.export_model(source, tmp_path / "missing" / "m.pt")
    with pytest.raises(Exception, match="no model version 7"):
        versions.export_model(source, tmp_path / "m.pt", version=7)
    assert not (tmp_path / "none.pt").exists() and not (tmp_path / "m.pt").exists()
    weights = model_store.model_files(source, source.model(1)).weights
    weights.unlink()  # the version's own file is gone: said of it, not of the destination
    with pytest.raises(ModelError, match=r"weights\.pt: model v1's weights are not on disk"):
        versions.export_model(source, tmp_path / "m.pt")


def test_the_cli_exports_and_imports_and_refuses_junk(trained, tmp_path, capsys):
    source, target = trained
    src, dst, out = str(source.root), str(target.root), str(tmp_path / "m.pt")
    assert main(["models", src, "--export", out, "--from-version", "v1"]) == 0  # as listed
    assert f"wrote v1 to {out}" in capsys.readouterr().out
    assert main(["models", dst, "--import", out]) == 0
    assert "as v1" in capsys.readouterr().out
    assert main(["models", dst]) == 0
    assert "imported from m.pt (its v1" in capsys.readouterr().out
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    assert main(["models", dst, "--import", str(junk)]) != 0
    err = capsys.readouterr().err
    assert "is not a model file Annotator can read" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["models", dst, "--from-version", "1"]) != 0
    assert "--from-version goes with --export" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: one of --rollback, --import, --export
        main(["models", dst, "--import", out, "--export", out])
    assert [m.version for m in target.models()] == [1]
    assert np.isfinite(target.active_model().card.metrics.loss)


def test_outputs_never_replace_project_files_or_existing_ones_unasked(trained, tmp_path):
    source, _ = trained
    db = source.root / "annotator.sqlite"
    before = db.read_bytes()
    with pytest.raises(AnnotatorError, match="inside the project folder"):
        versions.export_model(source, db, overwrite=True)
    assert db.read_bytes() == before
    versions.export_model(source, tmp_path / "m.pt")
    with pytest.raises(ModelError, match="exists; .*--overwrite"):
        versions.export_model(source, tmp_path / "m.pt")
    versions.export_model(source, tmp_path / "m.pt", overwrite=True)
    labelled = [r for r in source.images() if source.load_mask(r) is not None]
    maps = {r.id: source.load_mask(r) for r in labelled}
    with pytest.raises(AnnotatorError, match="inside the project folder"):
        proposals.predict_images(source, out_dir=source.root / "masks", device="cpu")
    assert all(np.array_equal(source.load_mask(r), maps[r.id]) for r in labelled)
    out = tmp_path / "masks-out"
    out.mkdir()
    (out / "cells_0.png").write_bytes(b"mine")
    with pytest.raises(AnnotatorError, match="already holds 1 file"):
        proposals.predict_images(source, out_dir=out, device="cpu")
    assert (out / "cells_0.png").read_bytes() == b"mine"
    proposals.predict_images(source, out_dir=out, device="cpu", overwrite=True)
    assert (out / "cells_0.png").read_bytes() != b"mine"
    # A folder holding the project's own pictures: never replaced, not even when asked.
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / "x.png").write_bytes((source.root / "images" / "cells_0.png").read_bytes())
    import cv2

    cv2.imwrite(str(pictures / "x.png"), 255 - cv2.imread(str(pictures / "x.png")))
    source.add_images([pictures / "x.png"])
    before = (pictures / "x.png").read_bytes()
    with pytest.raises(AnnotatorError, match="is the image file of 'x.png'"):
        proposals.predict_images(source, out_dir=pictures, device="cpu", overwrite=True)
    with pytest.raises(AnnotatorError, match="is the image file of 'x.png'"):
        versions.export_model(source, pictures / "x.png", overwrite=True)
    assert (pictures / "x.png").read_bytes() == before


def test_weights_damaged_on_disk_are_refused_by_their_checksum(trained, tmp_path):
    """A flipped byte inside a tensor is still a checkpoint that loads: only the checksum
    written with the weights tells."""
    from annotator.storage.models import CHECKSUM_NAME

    source, _ = trained
    record = source.active_model()
    files = model_store.model_files(source, record)
    assert (files.folder / CHECKSUM_NAME).is_file()
    data = bytearray(files.weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    files.weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="changed on disk since they were written"):
        proposals.load_predictor(source, device="cpu")
    with pytest.raises(ModelError, match="--rollback"):
        versions.export_model(source, tmp_path / "m.pt")
    (files.folder / CHECKSUM_NAME).unlink()  # a version written before checksums were kept
    assert model_store.model_files(source, record).weights == files.weights


def test_depth_and_width_out_of_range_are_refused_before_anything_else(trained, capsys):
    """--width 1000000 ran out of memory allocating 36 TB; --depth 0 with a model was told
    to add --from-scratch, which then refused the depth."""
    source, _ = trained
    root = str(source.root)
    cases = [  # wrong by themselves: refused with the usage (exit code 2)
        (["--width", "1000000"], "--width: '1000000' is not a whole number from 1 to 256"),
        (["--width", "0"], "--width: '0' is not a whole number from 1 to 256"),
        (["--depth", "0"], "--depth: '0' is not a whole number from 1 to 7"),
        (["--depth", "0", "--from-scratch"], "--depth: '0' is not a whole number from 1 to 7"),
    ]
    for extra, said in cases:
        with pytest.raises(SystemExit) as exit_:
            main(["train", root, "--steps", "1", "--device", "cpu", *extra])
        assert exit_.value.code == 2
        assert said in capsys.readouterr().err
    assert [m.version for m in source.models()] == [1]


def test_status_and_models_say_when_the_active_version_no_longer_fits(trained, capsys):
    """After a rename the active version cannot propose; status and models listed it
    with its scores as if nothing had changed (the window says so; the CLI did not)."""
    source, _target = trained
    root = str(source.root)
    assert main(["status", root]) == 0 and "note:" not in capsys.readouterr().err
    source.set_schema(source.schema.renamed(1, "nucleus body"))
    for argv in (["status", root], ["models", root]):
        assert main(argv) == 0
        err = capsys.readouterr().err
        assert "the classes changed since model v1 was trained" in err
        assert "--from-scratch" in err


def test_a_grey_model_continued_on_colour_images_says_they_train_as_grey(trained, tmp_path, capsys):
    """Colour images labelled after a grey model existed were trained and proposed as
    grey, without a word; a round from scratch takes their colour."""
    import cv2

    source, _target = trained
    picture, mask = source.load_image(source.images()[0]), source.load_mask(source.images()[0])
    colour = np.dstack([picture, np.roll(picture, 3, axis=1), 255 - picture])
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    (rec,) = source.add_images([tmp_path / "colour.png"]).added
    source.save_mask(rec.id, mask)
    assert main(["train", str(source.root), "--steps", "1", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "model v1 takes grey pictures" in err
    assert f"(`annotator train {source.root} --from-scratch`)" in err  # the project named
    assert main(["train", str(source.root), "--steps", "1", "--device", "cpu", "--json"]) == 0
    assert f"(`annotator train {source.root} --from-scratch`)" in capsys.readouterr().err
    out = training.train_project(source, steps=1, config=FAST, device="cpu", from_scratch=True)
    assert out.notes == () and out.model.card.input_channels == 3


def test_importing_the_same_file_again_does_nothing_unless_again(trained, tmp_path, capsys):
    source, target = trained
    src, dst, out = str(source.root), str(target.root), tmp_path / "m.pt"
    assert main(["models", src, "--export", str(out)]) == 0
    assert main(["models", dst, "--import", str(out)]) == 0
    capsys.readouterr()
    copy = tmp_path / "copy.pt"  # the same content under another name is the same model
    copy.write_bytes(out.read_bytes())
    for again in (out, copy):
        assert main(["models", dst, "--import", str(again)]) == 0
        said = capsys.readouterr().out
        assert said == (
            f"{again}: already imported as v1 (the same file content), nothing changed; "
            "it is active (--again imports it once more)\n"
        )
    assert [m.version for m in target.models()] == [1]
    assert target.model(1).card.imported_sha1 == versions.model_file_sha1(out)
    assert main(["models", dst, "--import", str(out), "--again"]) == 0
    assert "as v2" in capsys.readouterr().out
    assert [m.version for m in target.models()] == [1, 2]
    assert main(["models", dst, "--rollback", "1"]) == 0
    capsys.readouterr()
    assert main(["models", dst, "--import", str(out)]) == 0
    said = capsys.readouterr().out
    assert "already imported as v2 (the same file content), nothing changed; " in said
    assert f"`annotator models {dst} --rollback 2` makes it active" in said
    assert [m.version for m in target.models()] == [1, 2]
    assert main(["models", dst, "--again"]) != 0
    assert "--again goes with --import FILE" in capsys.readouterr().err


def test_a_rollback_to_a_version_of_other_classes_names_the_versions_that_fit(trained, capsys):
    """It said "<the checkpoint's path>: the model was trained for classes (...) other than
    the project's (...); train a new model from scratch", not that a version fits."""
    source, _ = trained
    root = str(source.root)
    old = list(source.schema.names)
    assert main(["classes", root, "--merge", old[2], old[1]]) == 0  # v2: v1 adapted
    capsys.readouterr()
    assert main(["models", root, "--rollback", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"annotator: error: model v1 was trained for other classes ({', '.join(old)}) than "
        f"the project's now ({', '.join(old[:2])}): roll back to a version made since the "
        f"classes changed (v2), or train from scratch (`annotator train {root} --from-scratch`)"
    )
    with Project.open(source.root, lock=False) as project:
        assert project.active_model().version == 2


def test_train_and_suggest_after_a_rename_say_the_command_for_this_project(trained, capsys):
    """After a rename they said `annotator train --from-scratch` without the project,
    after the model file's path, and train only after reading every image."""
    source, _ = trained
    root = str(source.root)
    old = list(source.schema.names)
    assert main(["classes", root, "--rename", old[1], "renamed"]) == 0
    new = [old[0], "renamed", *old[2:]]
    for command, where in (("train", "the active model v1"), ("suggest", "model v1")):
        capsys.readouterr()
        assert main([command, root]) == 1
        err = capsys.readouterr().err.strip()
        assert err == (
            f"annotator: error: {where}: the model was trained for classes ({', '.join(old)}) "
            f"other than the project's ({', '.join(new)}); train a new model from scratch "
            f"(`annotator train {root} --from-scratch`, or Model > Train from scratch in the app)"
        )


def test_a_model_continued_after_a_channel_choice_says_it_keeps_its_channels(trained, capsys):
    """`annotator channels P --use ...` then `train`: the round went on training the
    model's own channels without a word (only `channels` and `models` said it)."""
    source, _target = trained
    source.set_channel_choice((0,))
    assert main(["train", str(source.root), "--steps", "1", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "note: model v1 takes the first three channels, the project shows channel 1" in err
    assert f"(`annotator train {source.root} --from-scratch`)" in err


def test_validation_on_scribbles_says_it_scored_only_the_labelled_pixels(trained):
    """Scribbled images validated at 0.96 while the model scored 0.87 on whole images,
    and the output did not say that the figures are those of the labelled pixels."""
    from annotator.ml.train import Metrics

    source, _target = trained
    records = source.images()[:2]
    area = sum(r.width * r.height for r in records)
    ids = tuple(r.id for r in records)

    def metrics(pixels):
        return Metrics(0.96, (0.9, 1.0), 0.95, pixels, ids)

    sparse = training.sparse_validation_warning(source, metrics(area // 50), 8)
    assert sparse is not None and "only the labelled pixels" in sparse and "(2% of" in sparse
    tiny = training.sparse_validation_warning(source, metrics(3), 8)
    assert tiny is not None and "(under 1 % of" in tiny
    assert training.sparse_validation_warning(source, metrics(area * 3 // 4), 8) is None
    # blocks of every image held out (few labelled images): a small share by design
    assert training.sparse_validation_warning(source, metrics(area // 50), 3) is None
    assert training.sparse_validation_warning(source, None, 8) is None


def test_an_onnx_export_is_the_versions_onnx_file_and_importing_one_is_refused(
    trained, tmp_path, capsys
):
    import onnxruntime

    source, target = trained
    src, dst, out = str(source.root), str(target.root), tmp_path / "m.onnx"
    assert main(["models", src, "--export", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"wrote v1 to {out} as ONNX" in said and len(said.strip().splitlines()) == 1
    onnx = model_store.model_files(source, source.model(1)).onnx
    assert onnx is not None and out.read_bytes() == onnx.read_bytes()
    onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])  # it opens
    assert main(["models", dst, "--import", str(out)]) != 0
    err = capsys.readouterr().err
    assert "an ONNX file holds no training weights" in err and ".pt export" in err
    assert "(`annotator models PROJECT --export FILE.pt`)" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert target.models() == []
    onnx.unlink()  # a version without an ONNX file: refused, nothing written
    with pytest.raises(ModelError, match="model v1 has no ONNX file"):
        versions.export_model(source, tmp_path / "n.ONNX")
    assert not (tmp_path / "n.ONNX").exists()


def test_the_onnx_export_used_as_the_card_and_guide_say_gives_the_apps_proposal(trained):
    """Outside the app, a user has the ONNX file and the card: the card said "uint8 /
    255" (the network takes (v - low) / (high - low) * 4 - 2), and said nothing of the
    class weights the app divides out; followed, 14 % of the pixels agreed."""
    import json

    import onnxruntime

    from annotator.ml.predict import Predictor
    from annotator.storage.images import read_image

    source, _ = trained
    record = source.active_model()
    files = model_store.model_files(source, record)
    card = json.loads(files.card.read_text())
    assert card["input"]["normalisation"].startswith(
        "(v - low) / (high - low) * 4 - 2, low and high 0 and 255 for 8-bit pictures"
    )
    weights = np.asarray(card["training"]["class_weights"], np.float32)
    multiple = load_checkpoint(files.weights).network.multiple
    assert f"padded to a multiple of {multiple}" in card["input"]["normalisation"]
    image = read_image(source.image_path(source.images()[3]))
    assert image.dtype == np.uint8 and image.ndim == 2
    h, w = image.shape
    x = image.astype(np.float32) / 255 * 4 - 2  # the card's rule
    ph, pw = -h % multiple, -w % multiple
    x = np.pad(x, ((0, ph), (0, pw)), mode="reflect")[None, None]
    session = onnxruntime.InferenceSession(str(files.onnx), providers=["CPUExecutionProvider"])
    (p,) = session.run(None, {"image": x})
    p = p[0, :, :h, :w] / weights[:, None, None]  # the weights divided out, as the guide says
    theirs = p.argmax(axis=0)
    ours = Predictor.from_checkpoint(files.weights, backend="torch", device="cpu").predict(image)
    assert (theirs == ours.mask).mean() > 0.99
