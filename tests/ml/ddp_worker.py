"""Run by ``torchrun`` from test_ddp.py: one training round per rank, weights saved per rank."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import torch

import annotator.ml.train as train_mod
from annotator.ml import distributed
from annotator.ml.networks import NetworkConfig
from annotator.ml.train import TrainConfig
from annotator.services import training
from annotator.storage.project import Project


def main() -> None:
    project_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
    info = distributed.init_from_env("cpu")
    assert info is not None, "expected to run under torchrun"
    torch.set_num_threads(1)
    # Each validation this rank runs: what it scored and the scores, for the test to
    # score again in one process.
    real_evaluate = train_mod.evaluate
    validations = []

    def evaluate(model, device, items, n_classes, class_weights=None, **kw):
        metrics = real_evaluate(model, device, items, n_classes, class_weights, **kw)
        validations.append((items, n_classes, class_weights, metrics))
        return metrics

    train_mod.evaluate = evaluate
    with Project.open(project_dir) as project:
        outcome = training.train_project(
            project,
            steps=4,
            device="cpu",
            export_onnx=False,
            network=NetworkConfig(1, 3, depth=2, width=8),
            config=TrainConfig(crop=64, batch_size=2, lr=5e-3, val_fraction=0.25, seed=0),
        )
        # A second round on a time budget: the ranks must agree on when to stop and on
        # the learning rate, which follows the elapsed time.
        timed = training.train_project(
            project,
            seconds=1.5,
            device="cpu",
            export_onnx=False,
            config=TrainConfig(crop=64, batch_size=2, lr=5e-3, val_fraction=0.25, seed=1),
        )
    torch.save(outcome.result.state_dict, out_dir / f"rank{info.rank}.pt")
    torch.save(timed.result.state_dict, out_dir / f"timed{info.rank}.pt")
    with open(out_dir / f"validations{info.rank}.pkl", "wb") as f:
        pickle.dump(validations, f)
    published = "none" if outcome.model is None else str(outcome.model.version)
    (out_dir / f"rank{info.rank}.txt").write_text(
        f"{outcome.result.world_size} {outcome.result.steps} {published} {timed.result.steps}\n"
    )
    distributed.shutdown()


if __name__ == "__main__":
    main()
