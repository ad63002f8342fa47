"""Shared fixtures of the protocol tests: a smoke generator checkpoint, and the
CLI group with the detection commands."""
from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def smoke_generator(tmp_path_factory):
    """A LatentKeypointGAN generator checkpoint at the smoke preset (32 px, K = 4), untrained:
    the detection protocol only needs a valid generator, and building one takes milliseconds."""
    from lkbench.checkpoint import save_checkpoint
    from lkbench.config import resolve
    from lkbench.trainers.latent_keypoint_gan import LatentKeypointGenerator, LKGRunConfig
    from lkbench.trainers.latent_keypoint_gan.model import MODEL_NAME, model_config_dict

    cfg = resolve(LKGRunConfig, preset="smoke").model
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        g = LatentKeypointGenerator(cfg)
    path = tmp_path_factory.mktemp("smoke") / "step-0000000.pt"
    save_checkpoint(path, model=MODEL_NAME, config=model_config_dict(cfg),
                    state={"G": g.state_dict()}, step=0)
    return path


@pytest.fixture(scope="session")
def cli():
    """The `lkbench` group (same class: LkbenchError -> exit 2) with `detect` and `score`, as
    cli.py registers them; a copy, so the real group's command list is left alone."""
    from lkbench.cli import cli as main
    from lkbench.cli.detect import detect, score

    return type(main)(name="lkbench", commands={**main.commands, "detect": detect,
                                                 "score": score})
