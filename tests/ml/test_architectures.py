"""The contract every registered architecture keeps (see ``annotator.ml.networks``).

Parametrised over the whole registry, so a new architecture is tested by registering it.
Tiny widths and small images keep this fast on two CPU cores.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from annotator.core.card import ModelCard
from annotator.core.errors import ModelError
from annotator.ml.checkpoint import checkpoint_bytes, load_checkpoint, onnx_bytes
from annotator.ml.data import IGNORE, fit_normalizer
from annotator.ml.networks import (
    ARCHITECTURES,
    NetworkConfig,
    architecture,
    architecture_names,
    build_network,
    classifier_convs,
    count_parameters,
    load_weights,
    widen_classes,
)
from annotator.ml.predict import Predictor
from annotator.ml.train import TrainConfig, TrainImage, TrainRequest, train_round

ARCHS = architecture_names()
LOCAL = [a for a in ARCHS if not ARCHITECTURES[a].global_context]


def tiny(arch: str, in_channels: int = 1, n_classes: int = 3, depth: int = 2) -> NetworkConfig:
    return NetworkConfig(in_channels, n_classes, depth=depth, width=4, arch=arch)


def settled(model: nn.Module, in_channels: int, size: int = 48) -> nn.Module:
    """Give BatchNorm non-trivial statistics and the classifiers real weight, then eval.

    Freshly built classifiers are deliberately small (near-uniform probabilities), which
    would make output comparisons trivially true.
    """
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(2, in_channels, size, size))
        for conv in classifier_convs(model):
            conv.weight.mul_(100.0)
    return model.eval()


def test_the_registry_has_every_architecture_of_the_seed():
    assert ARCHS == ["fcn", "encdec", "unet", "deeplab", "pspnet", "refinenet", "gcn"]
    with pytest.raises(ModelError, match="unknown architecture 'segformer'; choose one of: fcn"):
        architecture("segformer")
    with pytest.raises(ModelError, match="choose one of"):
        NetworkConfig(arch="segformer")


@pytest.mark.parametrize("arch", ARCHS)
def test_default_size_is_laptop_sized(arch):
    for in_channels in (1, 3):
        n = count_parameters(build_network(NetworkConfig(in_channels, 11, arch=arch)))
        assert 1_000_000 <= n <= 5_000_000, f"{arch}: {n:,} parameters"


@pytest.mark.parametrize("arch", ARCHS)
def test_width_and_depth_knobs_change_the_size(arch):
    small = count_parameters(build_network(tiny(arch, depth=2)))
    wider = count_parameters(build_network(NetworkConfig(1, 3, depth=2, width=8, arch=arch)))
    deeper = count_parameters(build_network(NetworkConfig(1, 3, depth=3, width=4, arch=arch)))
    assert small < wider and small < deeper


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("in_channels,n_classes", [(1, 2), (3, 5), (1, 1)])
def test_forward_and_backward_reach_every_parameter(arch, in_channels, n_classes):
    torch.manual_seed(0)
    model = build_network(tiny(arch, in_channels, n_classes))
    for m in model.modules():  # zero-initialised residual scales would block gradients
        if isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
    x = torch.randn(2, in_channels, 48, 40)
    out = model(x)
    assert out.shape == (2, n_classes, 48, 40)
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{arch}: {name} got no gradient"


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("h,w", [(37, 61), (1, 1), (5, 130)])
def test_any_input_size_is_padded_and_cropped_back(arch, h, w):
    model = settled(build_network(tiny(arch)), 1)
    with torch.no_grad():
        out = model(torch.randn(1, 1, h, w))
    assert out.shape == (1, 3, h, w)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", LOCAL)
def test_padding_does_not_change_the_aligned_part_of_local_networks(arch):
    torch.manual_seed(1)
    model = settled(build_network(tiny(arch)), 1, size=64)
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        full, cut = model(x), model(x[..., :61, :59])
    torch.testing.assert_close(full[..., :16, :16], cut[..., :16, :16], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_multiple_is_what_the_network_needs(arch):
    cfg = tiny(arch, depth=3)
    m = cfg.multiple
    model = build_network(cfg).eval()
    # An aligned input passes with no padding at all: same output as inside the network.
    x = torch.randn(1, 1, 2 * m, 3 * m)
    with torch.no_grad():
        assert model.features_to_logits(x).shape == (1, 3, 2 * m, 3 * m)
    if arch == "pspnet":
        assert m == 8 * 6  # output stride 8, times 6 so that every bin grid divides
    assert cfg.multiple == architecture(arch).multiple(3)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("dtype,channels", [(np.uint16, 1), (np.uint16, 3)])
def test_sixteen_bit_and_colour_images_give_proposals(arch, dtype, channels):
    torch.manual_seed(0)
    model = settled(build_network(tiny(arch, channels)), channels)
    rng = np.random.default_rng(0)
    hi = 4095 if dtype == np.uint16 else 255  # a 12-bit camera in a 16-bit file
    shape = (50, 70) if channels == 1 else (50, 70, 3)
    image = rng.integers(0, hi, size=shape).astype(dtype)
    x = fit_normalizer(image, channels).apply(image)
    assert -3 < x.mean() < 3  # the 16-bit image is not black or saturated
    proposal = Predictor.from_model(model, device="cpu").predict(image)
    assert proposal.mask.shape == (50, 70)
    assert np.isfinite(proposal.uncertainty).all()


def _partial_request(arch: str, steps: int = 3) -> TrainRequest:
    rng = np.random.default_rng(0)
    images = []
    for i in range(2):
        pixels = rng.integers(0, 255, size=(40, 56, 3), dtype=np.uint8)
        mask = np.full((40, 56), 255, np.uint8)  # unlabelled
        mask[5:20, 5:30] = 0
        mask[22:35, 10:50] = 1
        mask[0:4, :] = 254  # void
        mask[30:33, 40:45] = 2
        images.append(TrainImage(i, f"im{i}", pixels, mask))
    return TrainRequest(
        images=tuple(images),
        class_names=("a", "b", "c"),
        network=tiny(arch, 3, 3),
        max_steps=steps,
        config=TrainConfig(crop=32, batch_size=2, val_fraction=0.0, seed=0),
        device="cpu",
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_trains_on_partial_labels_and_stores_input_statistics(arch):
    result = train_round(_partial_request(arch))
    assert result.publishable and result.network.arch == arch
    assert result.state_dict is not None
    # Per-channel statistics of the training images live in the network.
    mean, std = result.state_dict["input_mean"], result.state_dict["input_std"]
    assert mean.shape == (3,) and not torch.equal(std, torch.ones(3))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("arch", ARCHS)
def test_on_cuda_trains_with_mixed_precision_and_proposes_on_the_gpu(arch):
    from dataclasses import replace

    result = train_round(replace(_partial_request(arch), device="cuda"))
    assert result.publishable and result.device.startswith("cuda")
    model = load_weights(build_network(result.network), result.state_dict)
    predictor = Predictor.from_model(model, device="cuda")
    assert predictor.backend == "torch-cuda"
    image = np.random.default_rng(1).integers(0, 255, size=(50, 70, 3), dtype=np.uint8)
    proposal = predictor.predict(image)
    assert proposal.mask.shape == (50, 70) and np.isfinite(proposal.uncertainty).all()
    cpu = Predictor.from_model(model, device="cpu").predict(image)
    assert (proposal.mask == cpu.mask).mean() > 0.95  # fp16 on the GPU, fp32 on the CPU


def test_unlabelled_and_void_pixels_get_no_gradient():
    from annotator.ml.loss import segmentation_loss

    logits = torch.randn(1, 3, 8, 8, requires_grad=True)
    target = torch.full((1, 8, 8), IGNORE, dtype=torch.int16)
    target[0, :4] = 1
    target[0, 4:6, :3] = 2
    weights = torch.tensor([0.5, 1.0, 3.0])
    segmentation_loss(logits, target, dice_weight=0.5, class_weights=weights).backward()
    assert logits.grad is not None
    assert (logits.grad[0, :, target[0] == IGNORE] == 0).all()
    assert (logits.grad[0, :, target[0] != IGNORE] != 0).any()


@pytest.mark.parametrize("arch", ARCHS)
def test_growing_the_classes_keeps_the_old_outputs(arch):
    torch.manual_seed(0)
    model = settled(build_network(tiny(arch, n_classes=2)), 1)
    wider = widen_classes(model, 4).eval()
    assert wider.config.n_classes == 4 and wider.config.arch == arch
    assert all(c.out_channels == 4 for c in classifier_convs(wider))
    x = torch.rand(1, 1, 48, 48)
    with torch.no_grad():
        old, new = model(x), wider(x)
    torch.testing.assert_close(new[:, :2], old)
    assert (new.argmax(1) == old.argmax(1)).all()
    with pytest.raises(ModelError, match="only grow"):
        widen_classes(model, 1)


def test_fcn_widens_every_score_layer():
    model = build_network(tiny("fcn", n_classes=2, depth=3))
    assert len(classifier_convs(model)) == 3
    assert all(c.out_channels == 5 for c in classifier_convs(widen_classes(model, 5)))


@pytest.mark.parametrize("arch", ARCHS)
def test_onnx_export_matches_torch_on_two_sizes_and_tiled_proposals_agree(arch, tmp_path):
    from annotator.ml.onnx_runtime import OnnxRunner

    torch.manual_seed(0)
    cfg = tiny(arch, 3, 4)
    model = settled(build_network(cfg), 3)
    model.set_input_statistics([0.1, -0.2, 0.3], [1.5, 0.7, 1.1])
    path = tmp_path / "m.onnx"
    path.write_bytes(onnx_bytes(model, example_size=48))
    runner = OnnxRunner(path, threads=1)
    m = cfg.multiple
    for h, w in ((2 * m, 3 * m), (5 * m, m)):
        x = torch.randn(1, 3, h, w)
        with torch.no_grad():
            expected = model(x).softmax(1).numpy()
        np.testing.assert_allclose(runner(x.numpy()), expected, atol=1e-4, rtol=0)
    # Tiled proposals through onnxruntime equal those of torch, tile by tile.
    image = np.random.default_rng(1).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    onnx_pred = Predictor(runner, cfg, 1, "onnxruntime").predict(image, tile=48, overlap=8)
    torch_pred = Predictor.from_model(model, device="cpu").predict(image, tile=48, overlap=8)
    np.testing.assert_allclose(
        onnx_pred.probabilities.astype(np.float32),
        torch_pred.probabilities.astype(np.float32),
        atol=2e-3,
    )


@pytest.mark.parametrize("arch", ARCHS)
def test_save_and_load_through_the_card_give_identical_outputs(arch, tmp_path):
    torch.manual_seed(2)
    cfg = tiny(arch)
    model = settled(build_network(cfg), 1)
    model.set_input_statistics([0.25], [0.5])
    card = ModelCard(version=3, architecture=cfg.to_dict(), classes=("a", "b", "c"))
    weights = tmp_path / "model.pt"
    weights.write_bytes(checkpoint_bytes(model.state_dict(), card))
    loaded = load_checkpoint(weights, ["a", "b", "c"])
    assert loaded.network == cfg and loaded.network.arch == arch
    again = loaded.build_model()
    assert type(again) is type(model)
    x = torch.randn(1, 1, 40, 24)
    with torch.no_grad():
        np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), rtol=0, atol=1e-6)


def test_weights_of_another_architecture_are_refused_in_one_line():
    unet = build_network(tiny("unet"))
    with pytest.raises(ModelError, match="do not fit the deeplab architecture") as err:
        load_weights(build_network(tiny("deeplab")), unet.state_dict())
    assert "\n" not in str(err.value)


def test_old_checkpoints_without_input_statistics_still_load():
    model = build_network(tiny("unet"))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("input_")}
    again = load_weights(build_network(tiny("unet")), state)
    assert torch.equal(again.input_std, torch.ones(1))


def test_cards_without_an_arch_are_unets():
    cfg = NetworkConfig.from_dict({"in_channels": 1, "n_classes": 2, "depth": 2, "width": 4})
    assert cfg.arch == "unet"


@pytest.mark.slow
def test_every_architecture_trains_under_torchrun_with_identical_weights(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(here.parent.parent)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(here / "ddp_archs_worker.py"),
        str(tmp_path),
        ",".join(ARCHS),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for arch in ARCHS:
        a = torch.load(tmp_path / f"{arch}-rank0.pt", weights_only=True)
        b = torch.load(tmp_path / f"{arch}-rank1.pt", weights_only=True)
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), f"{arch}: {k} differs between ranks"


def test_a_round_with_batches_drawn_ahead_ends_with_the_same_weights(monkeypatch):
    """On a GPU the crops are drawn on a thread (train.BatchPrefetcher): forced on the
    CPU, where rounds are deterministic, it must change nothing."""
    from annotator.ml import train

    plain = train_round(_partial_request("fcn", steps=6))
    real = train._optimise
    used = []

    def with_prefetch(*args):
        used.append(args[-1])
        return real(*args[:-1], True)

    monkeypatch.setattr(train, "_optimise", with_prefetch)
    ahead = train_round(_partial_request("fcn", steps=6))
    assert used == [False]  # the CPU draws its own crops; forced here
    assert plain.state_dict is not None and ahead.state_dict is not None
    for key, value in plain.state_dict.items():
        assert torch.equal(value, ahead.state_dict[key]), key
