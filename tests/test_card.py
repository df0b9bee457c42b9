"""The model card: one typed form, today's JSON layout on disk, one-line errors."""

from __future__ import annotations

import json

import pytest

from annotator.core.card import CARD_FORMAT, CardMetrics, ModelCard
from annotator.core.errors import ModelError

#: A card exactly as the code before ModelCard wrote it (models/v0001/card.json).
LEGACY_CARD = """{
  "format": "annotator-unet/1",
  "version": 1,
  "parent": null,
  "created_at": "2026-11-29T14:22:39+00:00",
  "architecture": {
    "in_channels": 1,
    "n_classes": 3,
    "depth": 2,
    "width": 4,
    "growth": 2.0,
    "arch": "unet"
  },
  "parameters": 7487,
  "classes": [
    "background",
    "cell",
    "nucleus"
  ],
  "input": {
    "channels": 1,
    "normalisation": "uint8 / 255; other dtypes: per-image 0.5-99.5 percentiles"
  },
  "training": {
    "steps": 2,
    "seconds": 0.64,
    "budget": {
      "steps": 2,
      "seconds": null
    },
    "from_scratch": true,
    "device": "cpu",
    "world_size": 1,
    "config": {
      "crop": 128,
      "batch_size": 8,
      "lr": 0.002,
      "final_lr_fraction": 0.05,
      "weight_decay": 0.0001,
      "dice_weight": 0.0,
      "val_fraction": 0.2,
      "augment": {
        "flips": true,
        "rot90": true,
        "elastic_p": 0.3,
        "elastic_alpha": 0.04,
        "intensity": 0.2,
        "noise": 0.05
      },
      "seed": 0
    }
  },
  "images": {
    "train": [
      {
        "id": 1,
        "name": "cell000.png"
      },
      {
        "id": 2,
        "name": "cell001.png"
      }
    ],
    "validation": [
      {
        "id": 3,
        "name": "cell002.png"
      }
    ]
  },
  "metrics": {
    "loss": 2.03271,
    "pixel_accuracy": 0.04004,
    "mean_iou": 0.05199,
    "iou": {
      "background": 0.00568,
      "cell": 0.13734,
      "nucleus": 0.01294
    },
    "val_pixels": 4096
  },
  "onnx": "model.onnx"
}"""


def test_a_card_written_before_modelcard_reads_into_typed_fields():
    card = ModelCard.from_json(LEGACY_CARD, "v0001/card.json")
    assert card.version == 1 and card.parent is None
    assert card.arch == "unet" and card.architecture["depth"] == 2
    assert card.class_names == ["background", "cell", "nucleus"]
    assert card.parameters == 7487 and card.input_channels == 1
    assert card.training.steps == 2 and card.training.budget_steps == 2
    assert card.training.budget_seconds is None and card.training.from_scratch
    assert card.training.config["augment"]["rot90"] is True
    assert [r.name for r in card.train_images] == ["cell000.png", "cell001.png"]
    assert [r.id for r in card.validation_images] == [3]
    assert card.mean_iou == pytest.approx(0.05199)
    assert card.iou("cell") == pytest.approx(0.13734) and card.iou("unknown") is None
    assert card.onnx == "model.onnx"


def test_writing_keeps_the_old_layout_and_only_adds_the_card_format():
    old = json.loads(LEGACY_CARD)
    new = ModelCard.from_json(LEGACY_CARD).to_dict()
    assert new.pop("card_format") == CARD_FORMAT
    assert new == old
    assert ModelCard.from_json(ModelCard.from_json(LEGACY_CARD).to_json()).to_dict() == {
        **old,
        "card_format": CARD_FORMAT,
    }


def test_a_card_from_before_the_architecture_choice_is_a_unet():
    data = json.loads(LEGACY_CARD)
    del data["architecture"]["arch"]
    assert ModelCard.from_json(data).arch == "unet"


def test_a_card_without_validation_writes_only_the_loss():
    card = ModelCard(version=2, architecture={}, classes=("a",), metrics=CardMetrics(loss=0.5))
    assert card.to_dict()["metrics"] == {"loss": 0.5}
    assert ModelCard.from_json(card.to_json()) == card
    assert card.mean_iou is None and card.iou("a") is None


def test_unknown_keys_survive_a_round_trip():
    data = {**json.loads(LEGACY_CARD), "notes": {"by": "a newer minor version"}}
    assert ModelCard.from_json(data).to_dict()["notes"] == {"by": "a newer minor version"}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("version"), "has no 'version'"),
        (lambda d: d.pop("architecture"), "has no 'architecture'"),
        (lambda d: d.update(classes="background"), "'classes' must be a list"),
        (lambda d: d.update(classes=[1, 2]), "'classes' must be a list of names"),
        (lambda d: d.update(version="one"), "'version' must be an integer"),
        (lambda d: d["training"].update(steps=1.5), "'training.steps' must be an integer"),
        (lambda d: d["metrics"].update(mean_iou="high"), "'metrics.mean_iou' must be a number"),
        (lambda d: d["images"]["train"][0].pop("id"), "has no 'id'"),
        (lambda d: d.update(card_format=CARD_FORMAT + 1), "newer than this Annotator"),
        (
            lambda d: d["training"].update(class_weights=[1.0, -2.0, 1.0]),
            "'training.class_weights' must be a list of positive numbers",
        ),
        (
            lambda d: d["training"].update(class_weights="heavy"),
            "'training.class_weights' must be a list",
        ),
    ],
)
def test_a_damaged_card_raises_one_line_naming_the_file_and_the_problem(change, message):
    data = json.loads(LEGACY_CARD)
    change(data)
    with pytest.raises(ModelError, match=message) as info:
        ModelCard.from_json(data, "P/models/v0001/card.json")
    assert str(info.value).startswith("P/models/v0001/card.json: ")
    assert "\n" not in str(info.value)


def test_text_that_is_not_a_json_object_is_refused():
    with pytest.raises(ModelError, match="not valid JSON"):
        ModelCard.from_json("{oops", "card.json")
    with pytest.raises(ModelError, match="not a JSON object"):
        ModelCard.from_json("[1, 2]", "card.json")


def test_class_weights_round_trip_and_old_cards_have_none():
    card = ModelCard.from_json(LEGACY_CARD)
    assert card.training.class_weights is None
    assert "class_weights" not in card.to_dict()["training"]
    data = json.loads(LEGACY_CARD)
    data["training"]["class_weights"] = [0.8, 1.5, 2]
    card = ModelCard.from_json(data)
    assert card.training.class_weights == (0.8, 1.5, 2.0)
    assert ModelCard.from_json(card.to_json()).training.class_weights == (0.8, 1.5, 2.0)


# --- a score over too few validation labels is no score -----------------------------------------
def _validated(iou, class_pixels=None, mean_iou=1.0, accuracy=1.0):
    pixels = sum((class_pixels or {}).values()) if class_pixels else 3
    return ModelCard(
        version=1,
        architecture={},
        classes=tuple(iou),
        metrics=CardMetrics(
            loss=0.5,
            pixel_accuracy=accuracy,
            mean_iou=mean_iou,
            iou=iou,
            val_pixels=pixels,
            class_pixels=class_pixels or {},
        ),
    )


def test_three_validation_pixels_of_one_class_are_not_a_score():
    """The audit's round: one stroke of background, 3 pixels held out, "mIoU 1.00"."""
    card = _validated(
        {"background": 1.0, "cell": None, "nucleus": None},
        {"background": 3, "cell": 0, "nucleus": 0},
    )
    assert card.mean_iou is None and card.pixel_accuracy is None
    why = "too few validation labels (3 pixels of 1 class)"
    assert card.metrics.not_scored == why
    assert card.metrics.score_text() == f"not scored: {why}"
    written = card.to_dict()["metrics"]
    assert written["not_scored"] == why
    assert written["class_pixels"] == {"background": 3, "cell": 0, "nucleus": 0}
    assert ModelCard.from_json(card.to_json()) == card


def test_an_old_card_of_few_pixels_or_one_class_is_not_scored_either():
    """Cards written before class_pixels count the classes with an IoU."""
    tiny = _validated({"background": 1.0, "cell": None}, None)  # 3 pixels
    assert tiny.mean_iou is None
    assert tiny.metrics.not_scored == "too few validation labels (3 pixels of 1 class)"
    data = json.loads(LEGACY_CARD)
    data["metrics"]["iou"] = {"background": 0.9, "cell": None, "nucleus": None}
    one_class = ModelCard.from_json(data)
    assert one_class.metrics.not_scored == "too few validation labels (4,096 pixels of 1 class)"
    assert one_class.mean_iou is None


def test_enough_labels_of_two_classes_score_and_say_over_how_many_classes():
    card = _validated(
        {"background": 0.9, "cell": 0.7, "nucleus": None},
        {"background": 300, "cell": 100, "nucleus": 0},
        mean_iou=0.8,
        accuracy=0.95,
    )
    assert card.metrics.not_scored is None
    assert card.mean_iou == 0.8 and card.pixel_accuracy == 0.95
    assert card.metrics.score_text() == "mIoU 0.80 over 2 of 3 classes"
    every = _validated(
        {"background": 0.9, "cell": 0.7}, {"background": 300, "cell": 100}, mean_iou=0.8
    )
    assert every.metrics.score_text(3, "mean IoU") == "mean IoU 0.800"
    assert "not_scored" not in every.to_dict()["metrics"]


@pytest.mark.parametrize(
    ("pixels", "classes", "scored"),
    [(199, 3, False), (200, 1, False), (200, 2, True), (10_000, 2, True), (0, 0, False)],
)
def test_the_threshold_of_a_score(pixels, classes, scored):
    from annotator.core.card import MIN_SCORED_CLASSES, MIN_SCORED_PIXELS, not_scored_reason

    assert (MIN_SCORED_PIXELS, MIN_SCORED_CLASSES) == (200, 2)
    assert (not_scored_reason(pixels, classes) is None) == scored
