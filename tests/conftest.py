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


@pytest.fixture
def smooth_leaky_relu(monkeypatch):
    """Replace ``F.leaky_relu`` by a smooth stand-in with the same two slopes far from 0.

    Two implementations of one function round differently in the last bits; a pre-activation
    within that noise of leaky ReLU's kink then takes the other slope in one of them, and their
    gradients differ there by (1 − slope)·upstream (measured with ATEN_CPU_CAPABILITY=default:
    0.44 of 127 in a conv weight's gradient, 1e-4 with this stand-in). Tests that compare two
    implementations' gradients use it so that they compare the implementations, not the kink.
    """
    import torch

    def smooth(x, negative_slope=0.01, inplace=False):
        return negative_slope * x + (1 - negative_slope) * torch.nn.functional.softplus(x, beta=20)
    monkeypatch.setattr(torch.nn.functional, "leaky_relu", smooth)
