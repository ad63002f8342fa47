"""Fixtures of the whole suite."""
import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The suite's models are smoke-sized: one intra-op thread is faster than two, and several
    times faster than two fighting over a busy 2-core machine. Restored after each module."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
