"""Model contract tests: forward/backward, any input size, save/load round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from annotator.core.card import ModelCard
from annotator.core.errors import ModelError
from annotator.ml.checkpoint import checkpoint_bytes, load_checkpoint
from annotator.ml.networks import NetworkConfig, count_parameters
from annotator.ml.unet import UNet


@pytest.mark.parametrize("in_channels,n_classes", [(1, 2), (3, 5), (1, 1)])
def test_forward_and_backward_give_logits_per_class_and_gradients_everywhere(
    in_channels, n_classes
):
    torch.manual_seed(0)
    model = UNet(NetworkConfig(in_channels, n_classes, depth=2, width=4, arch="unet"))
    x = torch.randn(2, in_channels, 32, 48)
    out = model(x)
    assert out.shape == (2, n_classes, 32, 48)
    out.square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got no gradient"


@pytest.mark.parametrize("h,w", [(37, 61), (1, 1), (5, 130), (64, 64), (17, 16)])
def test_odd_sizes_are_padded_and_cropped_back(h, w):
    model = UNet(NetworkConfig(1, 3, depth=3, width=4, arch="unet")).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 1, h, w))
    assert out.shape == (1, 3, h, w)
    assert torch.isfinite(out).all()


def test_padding_does_not_change_the_aligned_part_much():
    # An odd-size input is the aligned input with its last rows cut: the top-left region,
    # far from the padded border, must give the same prediction.
    torch.manual_seed(1)
    model = UNet(NetworkConfig(1, 2, depth=2, width=4, arch="unet")).eval()
    x = torch.randn(1, 1, 64, 64)
    with torch.no_grad():
        full = model(x)
        cut = model(x[..., :61, :59])
    assert torch.allclose(full[..., :24, :24], cut[..., :24, :24], atol=1e-5)


def test_width_and_depth_set_the_channels_and_parameter_count():
    small = UNet(NetworkConfig(1, 2, depth=2, width=8, arch="unet"))
    large = UNet(NetworkConfig(1, 2, depth=4, width=16, arch="unet"))
    assert NetworkConfig(1, 2, depth=3, width=8).channels() == [8, 16, 32, 64]
    assert count_parameters(small) < count_parameters(large)
    assert 1_000_000 < count_parameters(large) < 3_000_000


@pytest.mark.parametrize(
    "bad", [dict(in_channels=2), dict(n_classes=0), dict(depth=0), dict(width=0)]
)
def test_invalid_configurations_are_refused(bad):
    with pytest.raises(ModelError):
        NetworkConfig(**{**dict(in_channels=1, n_classes=2, depth=2, width=4), **bad})


def test_config_round_trips_through_a_dict_and_rejects_unknown_keys():
    cfg = NetworkConfig(3, 4, depth=3, width=12, growth=1.5)
    assert NetworkConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ModelError, match="unknown"):
        NetworkConfig.from_dict({**cfg.to_dict(), "attention": True})


def test_save_and_load_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(2)
    cfg = NetworkConfig(1, 3, depth=2, width=8, arch="unet")
    model = UNet(cfg)
    # Train-mode steps so the BatchNorm statistics differ from their initial values.
    model.train()
    for _ in range(3):
        model(torch.randn(2, 1, 32, 32)).mean().backward()
    model.eval()
    card = ModelCard(version=3, architecture=cfg.to_dict(), classes=("a", "b", "c"))
    weights = tmp_path / "weights.pt"
    weights.write_bytes(checkpoint_bytes(model.state_dict(), card))
    loaded = load_checkpoint(weights, ["a", "b", "c"])
    assert loaded.network == cfg
    assert loaded.card == card
    again = loaded.build_model()
    x = torch.randn(1, 1, 40, 24)
    with torch.no_grad():
        np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), rtol=0, atol=1e-6)
    for k, v in model.state_dict().items():
        assert torch.equal(v, again.state_dict()[k]), k
