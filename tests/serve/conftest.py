"""Shared fixtures of the editor tests: one smoke checkpoint per session, the app and a client."""
import warnings

import pytest
import torch
from click.testing import CliRunner

from lkbench.cli import cli

with warnings.catch_warnings():  # starlette warns that its test client will move to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="session")
def smoke_ckpt(tmp_path_factory):
    """A 4-step smoke LatentKeypointGAN (32 px, K = 4), trained in-process on the CPU."""
    out = tmp_path_factory.mktemp("serve-smoke")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        res = CliRunner().invoke(cli, ["train", "--model", "latent-keypoint-gan", "--preset",
                                       "smoke", "--out", str(out), "--device", "cpu",
                                       "--no-progress"], catch_exceptions=False)
    finally:
        torch.set_num_threads(before)
    assert res.exit_code == 0, res.output
    return out / "ckpt" / "step-0000004.pt"


@pytest.fixture(scope="module")
def app(smoke_ckpt):
    from lkbench.serve.app import app_from_checkpoint
    return app_from_checkpoint(smoke_ckpt, device="cpu")


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def G(smoke_ckpt):
    import lkbench
    return lkbench.load_generator(smoke_ckpt).eval()
