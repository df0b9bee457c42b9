"""The project's channel choice (docs/adr/0030): stored in the project, taken by the
display and by new models, chosen and checked by ``annotator channels``."""

from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest
import tifffile

from annotator.cli import main
from annotator.core.card import ModelCard
from annotator.core.channels import parse, pick
from annotator.core.schema import LabelSchema
from annotator.services.channels import channels_note, lacking_fate
from annotator.services.document import display_pixels
from annotator.services.session import AnnotationSession
from annotator.services.training import NORMALISATION_TEXTS, new_network, normalisation_text
from annotator.storage.images import auto_windows
from annotator.storage.project import Project

SIZE = 32


def five_bands() -> np.ndarray:
    """16-bit, 5 channels: channel c is 1000 * (c + 1) plus noise; a square only in 5."""
    rng = np.random.default_rng(0)
    image = np.stack(
        [1000 * (c + 1) + rng.integers(0, 50, (SIZE, SIZE)) for c in range(5)], axis=-1
    ).astype(np.uint16)
    image[8:16, 8:16, 4] = 60000
    return image


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    tifffile.imwrite(folder / "five.tif", five_bands(), photometric="minisblack")
    cv2.imwrite(str(folder / "rgb.png"), np.full((SIZE, SIZE, 3), 90, np.uint8))
    root = tmp_path / "P"
    with Project.create(root, LabelSchema.from_names(["bg", "marker"])) as p:
        p.add_images([folder])
    return root


# --- the one rule -------------------------------------------------------------------------
def test_pick_takes_the_chosen_channels_in_order_and_leaves_a_picture_that_lacks_one():
    image = five_bands()
    assert np.array_equal(pick(image, (4,)), image[..., 4])
    assert np.array_equal(pick(image, (3, 2, 1)), image[..., [3, 2, 1]])
    assert pick(image, ()) is image  # no choice: the picture itself
    rgb = np.zeros((4, 4, 3), np.uint8)
    assert pick(rgb, (3, 2, 1)) is rgb  # no fourth channel: as if there were no choice
    grey = np.zeros((4, 4), np.uint8)
    assert pick(grey, (0,)) is grey
    assert parse("4,3,2") == (3, 2, 1) and parse(" 5 ") == (4,)
    assert parse("1,2,3,4,5") == (0, 1, 2, 3, 4)  # a wide choice: models take all five
    for bad in ("0", "a", ",".join(map(str, range(1, 18))), "2,2", ""):
        with pytest.raises(ValueError):
            parse(bad)


# --- storage --------------------------------------------------------------------------------
def test_the_choice_is_a_project_setting_and_none_leaves_the_project_as_before(project):
    db = project / "annotator.sqlite"
    before = sqlite3.connect(db).execute("SELECT key, value FROM settings").fetchall()
    with Project.open(project) as p:
        assert p.channel_choice() == ()
        p.set_channel_choice((4,))
        assert p.channel_choice() == (4,)
    with Project.open(project) as p:
        assert p.channel_choice() == (4,)
        p.set_channel_choice(())
    assert sqlite3.connect(db).execute("SELECT key, value FROM settings").fetchall() == before


# --- the display ----------------------------------------------------------------------------
def test_a_five_channel_picture_with_choice_5_shows_channel_5(project):
    with Project.open(project) as p:
        p.set_channel_choice((4,))
        session = AnnotationSession(p)
        try:
            doc = session.open_image(p.image("five.tif").id)
            shown = doc.display_image()
            assert shown.ndim == 2  # one channel: grey
            assert shown[8:16, 8:16].min() == 255 and shown[20:, 20:].max() < 128
            assert doc.shown_channels == 1 and len(doc.auto_windows) == 1
            # the contrast window is channel 5's own
            low, high = doc.auto_windows[0]
            assert 5000 <= low < 5050 and high > 5050
            session.choose_channels((3, 2, 1))  # 4,3,2: false colour, windows follow
            shown = doc.display_image()
            assert shown.shape == (SIZE, SIZE, 3) and len(doc.auto_windows) == 3
            assert 4000 <= doc.auto_windows[0][0] < 4050  # red is channel 4
            assert 2000 <= doc.auto_windows[2][0] < 2050  # blue is channel 2
            session.choose_channels(())
            assert 1000 <= doc.auto_windows[0][0] < 1050
            # a picture that lacks a chosen channel is shown as before
            session.choose_channels((4,))
            doc = session.open_image(p.image("rgb.png").id)
            assert doc.display_image().shape == (SIZE, SIZE, 3)
        finally:
            session.close()


def test_a_wide_choice_shows_its_first_three_channels(project):
    image = five_bands()
    with Project.open(project) as p:
        p.set_channel_choice((4, 0, 1, 2, 3))
        session = AnnotationSession(p)
        try:
            doc = session.open_image(p.image("five.tif").id)
            assert np.array_equal(doc.shown_image, image[..., [4, 0, 1]])
            assert doc.shown_channels == 3 and len(doc.auto_windows) == 3
            assert 5000 <= doc.auto_windows[0][0] < 5050  # red is channel 5
            assert 2000 <= doc.auto_windows[2][0] < 2050  # blue is channel 2
            session.choose_channels((0, 1, 2, 3, 4))  # 1,2,3,4,5: shown as 1,2,3
            chosen = doc.display_image()
            session.choose_channels((0, 1, 2))
            assert np.array_equal(chosen, doc.display_image())
        finally:
            session.close()


def test_no_choice_shows_the_first_three_as_before(project):
    image = five_bands()
    auto = tuple(auto_windows(image[..., :3]))
    want = display_pixels(image[..., :3], None, lambda: auto)
    with Project.open(project) as p:
        session = AnnotationSession(p)
        try:
            doc = session.open_image(p.image("five.tif").id)
            assert doc.channel_choice == () and doc.shown_image is doc.image
            assert np.array_equal(doc.display_image(), want)
        finally:
            session.close()


# --- new models -----------------------------------------------------------------------------
def test_a_new_network_records_the_projects_choice(project):
    with Project.open(project) as p:
        assert new_network(p).channel_choice == () and new_network(p).in_channels == 3
        p.set_channel_choice((4,))
        net = new_network(p)
        assert net.channel_choice == (4,)
        # the rgb picture lacks channel 5: the model is given none of it (it would be
        # fed other channels than channel 5), so one input, channel 5 alone
        assert net.in_channels == 1


def test_a_new_network_of_a_wide_choice_takes_every_chosen_channel(project):
    with Project.open(project) as p:
        p.set_channel_choice((0, 1, 2, 3, 4))
        net = new_network(p)
        p.set_channel_choice((0, 1, 2))
        three = new_network(p)
    assert net.channel_choice == (0, 1, 2, 3, 4) and net.in_channels == 5
    assert normalisation_text(net).endswith(
        "; input: the picture's channels 1, 2, 3, 4, 5 (from 1), in that order; height and "
        f"width padded to a multiple of {net.multiple}"
    )
    assert three.in_channels == 3  # three: as before


def test_the_card_names_the_channels_a_chosen_network_takes(project):
    """A user of model.onnx outside the app reads from the card which bands to feed."""
    with Project.open(project) as p:
        p.set_channel_choice((3, 2, 1))
        chosen = new_network(p)
        p.set_channel_choice(())
        plain = new_network(p)
    assert normalisation_text(chosen).endswith(
        "; input: the picture's channels 4, 3, 2 (from 1), in that order; height and "
        f"width padded to a multiple of {chosen.multiple}"
    )
    assert "first three" not in normalisation_text(chosen)
    assert normalisation_text(plain).startswith(NORMALISATION_TEXTS[plain.normalisation])


def test_the_note_says_when_the_active_versions_channels_differ():
    old = ModelCard(version=1, architecture={"in_channels": 3}, classes=("a", "b"))
    assert channels_note(old, ()) == ""
    note = channels_note(old, (3, 2, 1))
    assert "first three channels" in note and "channels 4,3,2" in note
    assert note.endswith("train from scratch to use them")
    new = ModelCard(version=2, architecture={"channel_choice": [4]}, classes=("a", "b"))
    assert channels_note(new, (4,)) == ""
    assert "takes channel 5" in channels_note(new, ())


# --- the command line -----------------------------------------------------------------------
def test_channels_command_shows_chooses_checks_and_resets(project, capsys):
    assert main(["channels", str(project)]) == 0
    out = capsys.readouterr().out
    assert "the first three channels (no choice)" in out
    assert "1 picture of 5 channels, 1 of 3 channels" in out
    assert main(["channels", str(project), "--use", "5,4,3"]) == 0
    out = capsys.readouterr().out
    assert "channels 5,4,3" in out
    assert "1 picture lacks a chosen channel" in out
    assert "give them no proposal and leave them out of training" in out  # (no longer taken)
    assert main(["channels", str(project), "--use", "1,2,3"]) == 0  # the leading three
    out = capsys.readouterr().out
    assert "no proposal" not in out and "(and so taken by models)" not in out  # all have 3
    assert lacking_fate((0,)) == " (and so taken by models)"
    # more than three: every picture lacking one is left out, leading or not
    assert main(["channels", str(project), "--use", "1,2,3,4,5"]) == 0
    out = capsys.readouterr().out
    assert "channels 1,2,3,4,5" in out and "1 picture lacks a chosen channel" in out
    assert "give them no proposal and leave them out of training" in out
    assert main(["channels", str(project), "--use", "1,2,3,4,5,6"]) == 1
    assert "has channel 6 (its pictures have at most 5)" in capsys.readouterr().err
    assert main(["channels", str(project), "--use", "5,4,3"]) == 0
    capsys.readouterr()
    assert main(["channels", str(project), "--use", "6"]) == 1  # the project's to say
    err = capsys.readouterr().err
    assert "no picture of the project has channel 6 (its pictures have at most 5)" in err
    assert len(err.strip().splitlines()) == 1, err
    for bad, words in (  # wrong by themselves: the usage, exit code 2
        ("0", "channels are counted from 1"),
        (",".join(map(str, range(1, 18))), "at most 16 channels can be chosen, not 17"),
        ("2,2", "a channel is chosen twice"),
        ("x", "channels are numbers counted from 1"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["channels", str(project), "--use", bad])
        assert exit_.value.code == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith("annotator channels: error: argument --use: ") and words in last
    with Project.open(project) as p:
        assert p.channel_choice() == (4, 3, 2)  # refusals change nothing
    assert main(["channels", str(project), "--reset"]) == 0
    assert "(no choice)" in capsys.readouterr().out
    with Project.open(project) as p:
        assert p.channel_choice() == ()


def test_models_and_channels_say_the_active_version_takes_other_channels(project, capsys):
    with Project.open(project) as p:
        card = ModelCard(version=1, architecture={}, classes=("bg", "marker"))
        p.register_model(1, None, "models/v1/model.pt", card)
    assert main(["models", str(project)]) == 0
    before = capsys.readouterr().out
    assert "train from scratch" not in before
    assert main(["channels", str(project), "--use", "5"]) == 0
    assert (
        "model v1 takes the first three channels, the project shows channel 5: train from scratch to use them"
        in capsys.readouterr().out
    )
    assert main(["models", str(project)]) == 0
    after = capsys.readouterr().out
    assert "takes the first three channels, the project shows channel 5" in after
    # the listing of before, and one line more under the active version
    lines = after.splitlines()
    noted = [n for n, line in enumerate(lines) if "train from scratch" in line]
    assert len(noted) == 1 and lines[: noted[0]] + lines[noted[0] + 1 :] == before.splitlines()


def test_add_names_how_to_use_the_channels_past_the_third(project, tmp_path, capsys):
    folder = tmp_path / "more"
    folder.mkdir()
    tifffile.imwrite(
        folder / "six.tif", np.zeros((SIZE, SIZE, 6), np.uint16), photometric="minisblack"
    )
    assert main(["add", str(project), str(folder)]) == 0
    err = capsys.readouterr().err
    assert "channels 4-6 not used" in err
    assert f"'annotator channels {project} --use ...' chooses which are used" in err


def test_add_under_a_choice_names_the_pictures_too_few_channels_for_it(project, tmp_path, capsys):
    """Under a channel choice, the add does not say "the first three are shown" of a
    picture the choice applies to (it is wrong there); it names those lacking a chosen
    channel, which are shown as if there were no choice and left out by its models."""
    folder = tmp_path / "more"
    folder.mkdir()
    tifffile.imwrite(
        folder / "six.tif", np.zeros((SIZE, SIZE, 6), np.uint16), photometric="minisblack"
    )
    tifffile.imwrite(
        folder / "three.tif", np.ones((SIZE, SIZE, 3), np.uint16), photometric="minisblack"
    )
    assert main(["channels", str(project), "--use", "5,4,1"]) == 0
    capsys.readouterr()
    assert main(["add", str(project), str(folder)]) == 0
    err = capsys.readouterr().err
    assert "six.tif" not in err and "not used" not in err
    assert (
        "three.tif has 3 channel(s), too few for the project's channel choice (5,4,1): "
        "its first three are shown; models of the choice give it no proposal and leave it "
        "out of training" in err
    )  # (they did say "trained on", which models of the choice no longer do)
