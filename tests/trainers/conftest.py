"""Shared fixtures of the trainer tests."""
import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Smoke-scale models are tiny: one intra-op thread is faster than two, and several times
    faster than two fighting for a busy 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
