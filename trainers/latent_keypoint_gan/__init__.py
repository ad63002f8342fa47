"""LatentKeypointGAN (He, Wandt, Rhodin): model, losses, trainer, presets and editing.

Registered through entry points (``pyproject.toml``): ``MODELS["latent-keypoint-gan"]`` rebuilds
the generator from a checkpoint, ``TRAINERS["latent-keypoint-gan"]`` trains it.
"""
from .config import LKGConfig
from .model import (MODEL_NAME, Discriminator, LatentKeypointGenerator, build_discriminator,
                    from_config)
from .trainer import LKGOptimConfig, LKGRunConfig, LKGTrainer
from . import presets  # noqa: F401,E402  (registers the presets)

__all__ = ["LKGConfig", "LKGOptimConfig", "LKGRunConfig", "LKGTrainer", "MODEL_NAME",
           "LatentKeypointGenerator", "Discriminator", "build_discriminator", "from_config"]
