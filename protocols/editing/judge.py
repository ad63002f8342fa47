"""The binary attribute classifier that judges attribute edits (``docs/models.md`` §3.4).

"Attribute accuracy" is the share of edited images that a classifier trained on *real* labelled
images assigns to the target attribute. Neither L2M-GAN release ships its classifier, so lkbench
trains its own on the dataset's labels (:func:`train_classifier`), saves it as an lkbench
checkpoint (model ``attribute-classifier``) and reuses it; a user's own saved classifier loads the
same way (:func:`load_classifier`).

Architecture (lkbench's): four 3×3 convolutions (widths ``widths``, batch norm, leaky ReLU; the
first with stride ``first_stride``, the others 2), global average pooling and one linear logit.
The default keeps full resolution in the first layer and is wide (32–128): ``smiling`` on the
synthetic faces moves the mouth centre by under a pixel at 32 px, and the earlier judge (stride 2
throughout, widths 16–64, 12 000 samples) scored 0.58 on real test faces, so an editor that only
blurred its sources already beat the identity edit. The default one, trained on ``edit-eval``'s
120 000 samples, scores 0.83 on the synthetic test faces at 32 px (0.77 with 60 000).

Images are float32 ``[N,3,R,R]`` in [-1, 1], resized (bilinear, antialiased) to ``image_size``
first; the logit is for "attribute present".
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lkbench.atomic import PathLike
from lkbench.checkpoint import load_model, save_checkpoint
from lkbench.data import LandmarkSet
from lkbench.data.base import shuffled_passes
from lkbench.errors import CheckpointError, ConfigError

from lkbench.protocols.landmarks.detector import resize_images

MODEL_NAME = "attribute-classifier"


class AttributeClassifier(nn.Module):
    """Binary image classifier: ``[N,3,H,W]`` in [-1, 1] → logits ``[N]``.

    Args:
        attribute: the attribute's name (kept in the config, checked on reuse).
        image_size: side the network sees; other inputs are resized to it.
        widths: channels of the convolutions.
        first_stride: stride of the first convolution (1 or 2; the others have stride 2).
    """

    def __init__(self, attribute: str, image_size: int, widths: "tuple[int, ...] | list[int]"
                 = (32, 64, 128, 128), first_stride: int = 1):
        super().__init__()
        if image_size < 8 or not widths or any(w < 1 for w in widths):
            raise ConfigError(f"attribute classifier needs image_size >= 8 and positive widths, "
                              f"got {image_size} and {list(widths)}")
        if first_stride not in (1, 2):
            raise ConfigError(f"attribute classifier first_stride must be 1 or 2, got "
                              f"{first_stride}")
        self.attribute, self.image_size, self.widths = str(attribute), int(image_size), \
            tuple(int(w) for w in widths)
        self.first_stride = int(first_stride)
        layers: list[nn.Module] = []
        c_in = 3
        for i, w in enumerate(self.widths):
            stride = self.first_stride if i == 0 else 2
            layers += [nn.Conv2d(c_in, w, 3, stride, 1), nn.BatchNorm2d(w), nn.LeakyReLU(0.2)]
            c_in = w
        self.features = nn.Sequential(*layers)
        self.logit = nn.Linear(c_in, 1)

    @property
    def config(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "image_size": self.image_size,
                "widths": list(self.widths), "first_stride": self.first_stride}

    def forward(self, images: Tensor) -> Tensor:
        h = self.features(resize_images(images, self.image_size))
        return self.logit(h.mean((2, 3)))[:, 0]

    def predict(self, images: Tensor, batch_size: int = 256) -> Tensor:
        """Probabilities ``[N]`` that the attribute is present (no gradients; call eval())."""
        with torch.no_grad():
            return torch.cat([torch.sigmoid(self.forward(images[i:i + batch_size]))
                              for i in range(0, images.shape[0], batch_size)])


def classifier_from_config(config: dict[str, Any]) -> AttributeClassifier:
    """The ``MODELS`` factory."""
    cfg = dict(config)
    cfg.setdefault("first_stride", 2)       # classifiers saved before the option had stride 2
    cfg.setdefault("widths", (16, 32, 64, 64))
    return AttributeClassifier(cfg.pop("attribute"), cfg.pop("image_size"), **cfg)


@dataclass(frozen=True)
class ClassifierStats:
    """What :func:`train_classifier` did: steps, samples, mean loss of the last tenth of the
    steps, training accuracy over that tenth, and wall time in seconds."""
    steps: int
    samples: int
    final_loss: float
    final_accuracy: float
    wall_time_s: float


def labelled_attribute_batches(dataset: LandmarkSet, attribute: str, num_samples: int,
                               batch_size: int, gen: torch.Generator
                               ) -> Iterable[tuple[Tensor, Tensor]]:
    """``(images [B,3,R,R], labels float [B])`` in shuffled passes over ``dataset``."""
    col = dataset.attribute_index(attribute)
    for idx in shuffled_passes(len(dataset), num_samples, batch_size, gen):
        yield dataset.batch(idx).images, dataset.attributes(idx)[:, col].float()


def train_classifier(model: AttributeClassifier, batches: Iterable[tuple[Tensor, Tensor]], *,
                     lr: float, device: torch.device) -> ClassifierStats:
    """Train ``model`` with Adam and binary cross-entropy; leaves it in ``eval()`` mode."""
    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses, correct = [], []
    samples, start = 0, time.perf_counter()
    for images, labels in batches:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        correct.append(((logits > 0).float() == labels).float().mean().item())
        samples += images.shape[0]
    model.eval()
    tail = max(1, len(losses) // 10)
    return ClassifierStats(len(losses), samples, sum(losses[-tail:]) / tail,
                           sum(correct[-tail:]) / tail, time.perf_counter() - start)


def save_classifier(path: PathLike, model: AttributeClassifier, *, steps: int,
                    extra: "dict[str, Any] | None" = None) -> Path:
    """Save as an lkbench checkpoint (model ``attribute-classifier``, state ``G``)."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return save_checkpoint(path, model=MODEL_NAME, config=model.config, state={"G": state},
                           step=steps, extra=extra)


def load_classifier(path: PathLike, attribute: "str | None" = None) -> AttributeClassifier:
    """Load a classifier saved by :func:`save_classifier` (CPU, eval mode).

    Raises:
        CheckpointError: unreadable, another model, or a classifier of another attribute.
    """
    model = load_model(path)
    if not isinstance(model, AttributeClassifier):
        raise CheckpointError(f"{path} holds a {type(model).__name__}, not an attribute "
                              "classifier; --classifier takes a classifier.pt that "
                              "`lkbench edit-eval` saved")
    if attribute is not None and model.attribute != attribute:
        raise CheckpointError(f"{path} classifies {model.attribute!r}, not {attribute!r}; "
                              "give the classifier of the attribute being edited")
    return model
