"""Shared fixtures for tests that train tiny models (import the fixture into a test module or conftest)."""

import pytest


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest (and steadiest on a shared 2-core machine) on one intra-op thread, and the cores
    are never oversubscribed."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
