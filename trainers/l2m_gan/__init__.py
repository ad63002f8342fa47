"""L2M-GAN-style attribute editing baseline (Yang et al. CVPR 2021; ``docs/models.md`` §3).

Registered through entry points (``pyproject.toml``): ``MODELS["l2m-gan"]`` rebuilds the editor
(generator, style encoder, latent manipulator) from a checkpoint, ``TRAINERS["l2m-gan"]``
trains it on one binary attribute.
"""
from .config import L2MConfig
from .model import (MODEL_NAME, Discriminator, Generator, L2MEditor, Manipulator, Split,
                    StyleEncoder, from_config)
from .trainer import L2MDataConfig, L2MLossConfig, L2MOptimConfig, L2MRunConfig, L2MTrainer
from . import presets  # noqa: F401,E402  (registers the presets)

__all__ = ["L2MConfig", "L2MDataConfig", "L2MLossConfig", "L2MOptimConfig", "L2MRunConfig",
           "L2MTrainer", "MODEL_NAME", "Discriminator", "Generator", "L2MEditor", "Manipulator",
           "Split", "StyleEncoder", "from_config"]
