"""The weight EMA shared by the GAN trainers."""
import torch
from torch import nn

from lkbench.trainers.ema import update_ema


def test_parameters_move_by_one_minus_decay_and_buffers_are_copied():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    ema = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model(torch.randn(8, 3))                                   # give BatchNorm fresh statistics
    before = [p.detach().clone() for p in ema.parameters()]
    update_ema(ema, model, 0.9)
    for old, new, src in zip(before, ema.parameters(), model.parameters()):
        assert torch.allclose(new, 0.9 * old + 0.1 * src.detach(), atol=1e-7)
    for be, b in zip(ema.buffers(), model.buffers()):
        assert torch.equal(be, b)
    assert not any(p.requires_grad and p.grad is not None for p in ema.parameters())
