"""Pictures lacking a channel of a version's Channel Choice (ADR 0030): train leaves
them out, predict and suggest give them no proposal, each saying so in one line; a
version without a choice (or one of the leading channels) takes them as before."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import tifffile
from test_channel_choice import nir_picture

from annotator.cli import main
from annotator.core.channels import lacking_note, lacks
from annotator.core.schema import LabelSchema
from annotator.core.status import ImageStatus
from annotator.storage import proposals as proposal_store
from annotator.storage.project import Project

TINY_TRAIN = ["--steps", "1", "--device", "cpu", "--depth", "2", "--width", "8"]


def test_only_a_choice_the_first_three_do_not_hold_makes_a_picture_lack_it():
    assert lacks(3, (3, 2, 1)) and lacks(1, (3, 2, 1)) and lacks(3, (3,))
    assert not lacks(4, (3, 2, 1)) and not lacks(5, (3,))
    assert not lacks(1, ()) and not lacks(3, ())  # no choice: grey repeated, as before
    assert not lacks(1, (0, 1, 2)) and not lacks(2, (0, 1))  # the leading channels
    assert lacks(1, (1, 0))  # channels 2,1: not the leading ones
    assert lacking_note(["a.png"], (3, 2, 1), "get no proposal") == (
        "1 picture lacks channel 4 of the Channel Choice 4,3,2 and gets no proposal: a.png"
    )
    five = lacking_note(list("abcde"), (3,), "are left out of training")
    assert five == (
        "5 pictures lack channel 4 of the Channel Choice 4 and are left out of training: "
        "a, b, c and 2 more"
    )


@pytest.fixture
def root(tmp_path):
    """Two 4-band pictures and an RGB one labelled (done), a grey one and a 4-band one
    not; the Channel Choice 4,3,2."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    truths = {}
    for i in range(3):
        image, truth = nir_picture(i)
        tifffile.imwrite(folder / f"band{i}.tif", image, photometric="minisblack")
        truths[f"band{i}.tif"] = truth
    rgb, truth = nir_picture(5)
    cv2.imwrite(str(folder / "rgb.png"), rgb[..., :3])
    truths["rgb.png"] = truth
    cv2.imwrite(str(folder / "grey.png"), rgb[..., 0])
    root = tmp_path / "P"
    with Project.create(root, LabelSchema.from_names(["bg", "disc"])) as p:
        p.add_images([folder])
        assert {r.name: r.channels for r in p.images()}["band0.tif"] == 4
        p.set_channel_choice((3, 2, 1))
        for rec in p.images():
            if rec.name in ("band0.tif", "band1.tif", "rgb.png"):
                p.save_mask(rec.id, truths[rec.name], status=ImageStatus.DONE)
    return root


def test_train_leaves_out_the_pictures_lacking_a_chosen_channel_and_says_so(root, capsys):
    assert main(["train", str(root), *TINY_TRAIN, "--json"]) == 0
    out, err = capsys.readouterr()
    note = (
        "1 picture lacks channel 4 of the Channel Choice 4,3,2 and is left out of training: rgb.png"
    )
    assert f"note: {note}\n" in err
    assert json.loads(out)["notes"] == [note]
    with Project.open(root, lock=False) as p:
        card = p.active_model().card
    used = {ref.name for ref in (*card.train_images, *card.validation_images)}
    assert used == {"band0.tif", "band1.tif"}
    assert card.channel_choice == (3, 2, 1) and card.input_channels == 3


def test_predict_and_suggest_give_no_proposal_to_the_pictures_lacking_one(root, capsys):
    assert main(["train", str(root), *TINY_TRAIN]) == 0
    capsys.readouterr()
    assert main(["predict", str(root), "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert (
        "note: 2 pictures lack channel 4 of the Channel Choice 4,3,2 and get no proposal: "
        "grey.png, rgb.png\n"
    ) in err
    assert "wrote 3 proposal(s) from model v1" in out
    with Project.open(root, lock=False) as p:
        stored = {r.name for r in p.images() if proposal_store.version_and_score(p, r.id)}
        assert stored == {"band0.tif", "band1.tif", "band2.tif"}
    assert main(["suggest", str(root), "--device", "cpu", "--json"]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert [i["name"] for i in data["images"]] == ["band2.tif"]
    assert data["lacking_channels"] == ["grey.png"]
    assert err == (
        "note: 1 picture lacks channel 4 of the Channel Choice 4,3,2 and is not ranked: grey.png\n"
    )


def test_every_labelled_picture_lacking_a_chosen_channel_is_said_in_one_line(root, capsys):
    with Project.open(root) as p:
        p.set_channel_choice((3,))
        for rec in p.images():
            if rec.name.startswith("band"):
                p.save_mask(rec.id, np.full((64, 64), 255, np.uint8), status=ImageStatus.NEW)
    assert main(["train", str(root), *TINY_TRAIN]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        "annotator: error: every labelled picture lacks channel 4 of the Channel Choice 4 "
        "of the project: "
    )
    assert len(err.strip().splitlines()) == 1


def test_the_app_shows_no_proposal_for_a_picture_lacking_one_and_ranks_it_not(root, capsys):
    from annotator.services.jobs import call_directly
    from annotator.services.model_service import ModelListener, ModelService, ModelSettings

    assert main(["train", str(root), *TINY_TRAIN]) == 0
    capsys.readouterr()
    errors, shown, scored = [], [], {}
    listener = ModelListener(
        on_error=lambda what, exc: errors.append((what, str(exc))),
        on_proposal=lambda image_id, version, proposal: shown.append(image_id),
        on_scores=scored.update,
    )
    settings = ModelSettings(device="cpu", threads=1, train_on_done=False)
    with Project.open(root) as p:
        ids = {r.name: r.id for r in p.images()}
        service = ModelService(p, call_directly, listener, settings)
        try:
            service.show_image(ids["rgb.png"])
            assert service.wait_proposals(60)
            assert errors == [
                (
                    "proposal",
                    "the picture open lacks channel 4 of model v1's Channel Choice 4,3,2: it "
                    "gets no proposal (it would be given other channels than the model "
                    "learnt from), and is not ranked",
                )
            ]
            assert shown == [] and set(scored) == {ids["band2.tif"]}  # not grey.png
            service.show_image(ids["band2.tif"])
            assert service.wait_proposals(60)
            assert shown == [ids["band2.tif"]] and len(errors) == 1
        finally:
            service.shutdown(10)


def test_predict_of_pictures_all_lacking_a_chosen_channel_says_so_and_exits_1(root, capsys):
    assert main(["train", str(root), *TINY_TRAIN]) == 0
    capsys.readouterr()
    code = main(["predict", str(root), "--images", "grey.png", "rgb.png", "--device", "cpu"])
    out, err = capsys.readouterr()
    assert code == 1  # (it was 0, with no summary: nothing could be predicted)
    assert out.startswith("wrote 0 proposal(s) from model v1 into ")
    assert "  2 image(s) lack a chosen channel and have no proposal" in out
    assert "note: 2 pictures lack channel 4 of the Channel Choice 4,3,2" in err


def test_accept_names_the_pictures_lacking_a_chosen_channel_with_no_predict_to_suggest(
    root, capsys
):
    assert main(["train", str(root), *TINY_TRAIN]) == 0
    capsys.readouterr()
    code = main(["accept", str(root), "grey.png", "--predict", "--device", "cpu", "--json"])
    out, err = capsys.readouterr()
    assert code == 1
    data = json.loads(out)
    assert data["exit_code"] == 1 and data["predicted"] == 0
    assert [(s["name"], s["kind"]) for s in data["skipped"]] == [("grey.png", "lacks_channels")]
    assert data["error"].endswith("skipped 1: 1 lacking a chosen channel")
    assert "annotator predict" not in err and "--predict" not in err
    assert (
        "skipped: 1 picture lacks channel 4 of the Channel Choice 4,3,2 and gets no proposal "
        "of model v1: grey.png\n"
    ) in err
    # without --predict too: predict would not store one either
    assert main(["accept", str(root), "rgb.png", "band2.tif"]) == 1
    err = capsys.readouterr().err
    assert "skipped: 1 picture lacks channel 4" in err


def test_the_apps_round_refused_for_a_chosen_channel_names_the_channels_menu(root):
    """The same refusal of a round the app starts names View > Channels…, never the
    CLI's ``annotator channels`` (the CLI's words: the test above)."""
    from annotator.gui.loop_controller import CHANNELS_HOW
    from annotator.services.jobs import call_directly
    from annotator.services.model_service import ModelListener, ModelService, ModelSettings

    errors = []
    listener = ModelListener(on_error=lambda what, exc: errors.append((what, str(exc))))
    settings = ModelSettings(device="cpu", threads=1, train_on_done=False, steps=1)
    with Project.open(root) as p:
        p.set_channel_choice((3,))
        for rec in p.images():
            if rec.name.startswith("band"):
                p.save_mask(rec.id, np.full((64, 64), 255, np.uint8), status=ImageStatus.NEW)
        service = ModelService(p, call_directly, listener, settings, CHANNELS_HOW)
        try:
            assert service.train_now() == "started"
            assert service.wait_training(60)
        finally:
            service.shutdown(10)
    assert errors == [
        (
            "training",
            "every labelled picture lacks channel 4 of the Channel Choice 4 of the project: "
            "label pictures that have it, or choose channels they have (View > Channels…) "
            "and train from scratch",
        )
    ]
