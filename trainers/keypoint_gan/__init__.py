"""KeypointGAN (Jakab, Gupta, Bilen, Vedaldi; CVPR 2020) and its Table 4 ablation variants.

Registered through entry points (``pyproject.toml``): ``MODELS["keypoint-gan"]`` rebuilds the
trained pose network (a :class:`~lkbench.models.KeypointPredictor`, scored with ``lkbench
detect --direct``), ``TRAINERS["keypoint-gan"]`` trains it.
"""
from .config import KGConfig, KGDataConfig, KGLossConfig, KGOptimConfig, KGRunConfig
from .model import MODEL_NAME, KeypointGAN, from_config
from .trainer import KGTrainer
from .variants import VARIANTS, VariantSpec
from . import presets  # noqa: F401,E402  (registers the presets)

__all__ = ["KGConfig", "KGDataConfig", "KGLossConfig", "KGOptimConfig", "KGRunConfig",
           "KGTrainer", "KeypointGAN", "MODEL_NAME", "VARIANTS", "VariantSpec", "from_config"]
