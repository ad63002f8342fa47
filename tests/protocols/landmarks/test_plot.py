"""The detection figure: its legend says whether the crosses were regressed or predicted."""
import torch

from lkbench.protocols.landmarks.plot import detection_figure


def test_the_legend_follows_the_regression_flag():
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 16, 16, generator=gen) * 2 - 1
    gt = torch.rand(2, 3, 2, generator=gen) * 1.6 - 0.8
    kw = dict(names=["a", "b", "c"], bars={"model": [1.0, 2.0, 3.0]}, unit="px", title="t")
    regressed = detection_figure(images, gt, gt + 0.05, None, **kw)
    predicted = detection_figure(images, gt, gt + 0.05, None, regressed=False, **kw)
    assert regressed.dtype == torch.uint8 and regressed.shape == predicted.shape
    assert not torch.equal(regressed, predicted)       # only the legend's word differs
    assert torch.equal(regressed, detection_figure(images, gt, gt + 0.05, None, **kw))
