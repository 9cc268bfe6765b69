"""C-Mixup draws mixing partners near in label; plain mixup draws them anywhere."""

from __future__ import annotations

import pytest
import torch

from music_emotion.study.augment import CMixupConfig, MixupConfig, c_mixup, label_partners, mixup


def _labels(n=64, seed=0):
    return torch.rand((n, 2), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def _mean_partner_distance(draw, y, rounds=50):
    generator = torch.Generator().manual_seed(1)
    distances = [torch.linalg.norm(y - y[draw(y, generator)], dim=1).mean() for _ in range(rounds)]
    return float(torch.stack(distances).mean())


def _uniform_partners(y, generator):  # plain mixup's partner: a random permutation of the batch
    return torch.randperm(len(y), generator=generator)


@pytest.mark.parametrize("bandwidth, is_c_mixup", [(0.25, True), (1e6, False)])  # 1e6: the broken twin (uniform)
def test_c_mixup_partners_are_nearer_in_label_than_plain_mixups(bandwidth, is_c_mixup):
    y = _labels()
    near = _mean_partner_distance(lambda labels, g: label_partners(labels, bandwidth, g), y)
    anywhere = _mean_partner_distance(_uniform_partners, y)
    assert (near < 0.5 * anywhere) is is_c_mixup


def test_a_sample_is_never_its_own_partner_and_labels_stay_in_range():
    y = _labels(16)
    generator = torch.Generator().manual_seed(0)
    for _ in range(20):
        assert not (label_partners(y, 0.01, generator) == torch.arange(16)).any()
    x = torch.randn(16, 4, 8)
    x_mixed, y_mixed = c_mixup(x, y, CMixupConfig(alpha=0.2, bandwidth=0.25), generator)
    assert x_mixed.shape == x.shape and y_mixed.abs().max() <= 1
    _, y_plain = mixup(x, y, MixupConfig(alpha=0.2), torch.Generator().manual_seed(0))
    assert not torch.equal(y_mixed, y_plain)


def test_c_mixup_is_deterministic_for_a_seed():
    y, x = _labels(16), torch.randn(16, 4, 8)
    first = c_mixup(x, y, CMixupConfig(0.2, 0.25), torch.Generator().manual_seed(3))
    again = c_mixup(x, y, CMixupConfig(0.2, 0.25), torch.Generator().manual_seed(3))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
