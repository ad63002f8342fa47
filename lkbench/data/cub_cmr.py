"""Datasets ``cub-all``, ``cub-001``, ``cub-002``, ``cub-003``: CUB-200-2011 on CMR's split.

Download CUB-200-2011 (https://www.vision.caltech.edu/datasets/cub_200_2011/) and the CMR
annotation cache (github akanazawa/cmr, ``cachedir.tar.gz`` from its README), and place them
under ``<data root>/cub/``::

    cub/
      CUB_200_2011/images/001.Black_footed_Albatross/Black_Footed_Albatross_0046_18.jpg …
      cachedir/cub/data/train_cub_cleaned.mat
      cachedir/cub/data/test_cub_cleaned.mat

Each ``.mat`` holds a struct array ``images`` with ``rel_path`` (under ``images/``),
``bbox.{x1,y1,x2,y2}`` and ``parts`` (3×15: x, y, visible) in **1-based** pixels (spec
``docs/protocols.md`` §1.4). Conversion: subtract 1, then :func:`lkbench.keypoints.from_pixels`
relative to the crop box; invisible parts are ``visible = False`` and NaN.

Splits: ``fit`` = ``train`` (GAN images) = CMR train, ``test`` = CMR test; ``cub-00c`` keeps the
entries whose ``rel_path`` starts with class ``c`` (StableKeypoints' construction; AutoLink's
``cub_three.h5`` builder is not released, so its variant cannot be rebuilt — docs/protocols.md §6, item 3).

Crop (``crop="cmr"``, the only one implemented; docs/protocols.md §1.4 lists AutoLink's trimmed variant as
an open alternative): CMR's test-time box — bbox made 0-based, padded by 5 % of its width /
height on each side, rounded to integer pixels and grown symmetrically to a square of side
``max(w, h)`` (CMR ``image_utils.peturb_bbox`` with no jitter, then ``square_bbox``); pixels
outside the image are black; the square is resized to ``R×R`` (bilinear).
"""
from __future__ import annotations

from pathlib import Path
from types import MappingProxyType

import numpy as np

from .base import SPLIT_FIT, SPLIT_TEST, SPLIT_TRAIN
from .cub import CUB_PARTS
from .files import AnnotationError, Problems, require
from .real import RealLandmarkSet, SplitIndex, box_keypoints, check_choice

WHERE = ("CUB-200-2011 (https://www.vision.caltech.edu/datasets/cub_200_2011/) as "
         "CUB_200_2011/, and CMR's cachedir/cub/data/{train,test}_cub_cleaned.mat "
         "(github akanazawa/cmr, cachedir.tar.gz)")
MAT_OF = MappingProxyType({SPLIT_TRAIN: "train", SPLIT_FIT: "train", SPLIT_TEST: "test"})
CROPS = ("cmr",)
PAD_FRACTION = 0.05


def cmr_square_box(bbox_1based: "tuple[float, float, float, float]",
                   pad: float = PAD_FRACTION) -> tuple[float, float, float, float]:
    """CMR's test-time crop of a 1-based inclusive bbox, as a continuous ``(x0, y0, x1, y1)``.

    0-based ``[x1−1, y1−1, x2−1, y2−1]`` → each side padded by ``pad·(w or h)`` with
    ``w = x2 − x1 + 1`` → rounded (Python ``round``) → grown to a square of side ``m = max(w, h)``
    (the shorter side by ``round((m − side)/2)`` at its start) → inclusive pixel range
    ``[a, a + m − 1]``, i.e. the continuous box ``[a, a + m)``.
    """
    b = [float(v) - 1 for v in bbox_1based]
    w, h = b[2] - b[0] + 1, b[3] - b[1] + 1
    b = [b[0] - pad * w, b[1] - pad * h, b[2] + pad * w, b[3] + pad * h]
    q = [int(round(v)) for v in b]
    w, h = q[2] - q[0] + 1, q[3] - q[1] + 1
    m = float(max(w, h))
    x0 = q[0] - int(round((m - w) / 2.0))
    y0 = q[1] - int(round((m - h) / 2.0))
    return (float(x0), float(y0), x0 + m, y0 + m)


def _field(struct, name: str, where: str):
    try:
        return getattr(struct, name)
    except AttributeError:
        raise AnnotationError(f"{where}: entry has no field {name!r}") from None


class CUBCMR(RealLandmarkSet):
    """CUB-200-2011 with CMR's train/test split and box crops, 15 parts (K = 4 published).

    Args:
        split: ``train`` | ``fit`` | ``test``.
        image_size: side ``R`` of the model input (published: 128).
        root: data root holding ``cub/`` (default ``$LKBENCH_DATA``).
        cache_dir: cache root (default ``$LKBENCH_CACHE_DIR``, else the user cache folder).
        crop: ``"cmr"`` (see the module docstring).
        progress: show a progress bar while preprocessing.
    """
    name = "cub-all"
    meta = CUB_PARTS
    splits = (SPLIT_TRAIN, SPLIT_FIT, SPLIT_TEST)
    folder = "cub"
    where_to_get = WHERE
    class_id: "int | None" = None
    """Keep only this CUB class (``rel_path`` prefix ``001.``…), or all classes."""

    def __init__(self, split: str = SPLIT_TRAIN, image_size: int = 128, root=None,
                 cache_dir=None, crop: str = "cmr", progress: bool = True):
        crop = check_choice(crop, CROPS, "crop", self.name)
        super().__init__(split, image_size, root, cache_dir,
                         {"crop": crop, "class_id": self.class_id}, progress)

    def annotation_files(self) -> list[Path]:
        name = f"{MAT_OF[self.split]}_cub_cleaned.mat"
        return [require(self.root_dir / "cachedir" / "cub" / "data" / name, WHERE)]

    def image_path(self, image_id: str) -> Path:
        return self.root_dir / "CUB_200_2011" / "images" / image_id

    def build_index(self, problems: Problems) -> SplitIndex:
        from scipy.io import loadmat
        (path,) = self.annotation_files()
        try:
            mat = loadmat(path, struct_as_record=False, squeeze_me=True)
        except Exception as exc:  # noqa: BLE001 - scipy raises several types for bad files
            raise AnnotationError(f"cannot read {path} as a MATLAB file: {exc}; "
                                  "re-download CMR's cachedir") from None
        if "images" not in mat:
            raise AnnotationError(f"{path}: no variable 'images' (expected CMR's struct array)")
        entries = np.atleast_1d(mat["images"])
        ids, boxes, px, vis, listed = [], [], [], [], 0
        for i, e in enumerate(entries):
            where = f"{path}: images({i + 1})"
            try:
                rel = str(_field(e, "rel_path", where))
                if self.class_id is not None and \
                        not rel.startswith(f"{self.class_id:03d}."):
                    continue
                listed += 1
                bb = _field(e, "bbox", where)
                bbox = tuple(float(_field(bb, k, where)) for k in ("x1", "y1", "x2", "y2"))
                parts = np.asarray(_field(e, "parts", where), dtype=np.float64)
                if parts.shape != (3, 15):
                    raise AnnotationError(f"{where}: parts must be 3x15 (x, y, visible), got "
                                          f"{parts.shape}")
            except AnnotationError as exc:
                problems.add(exc)
                continue
            box = cmr_square_box(bbox)
            ids.append(rel)
            boxes.append(box)
            px.append(parts[:2].T - 1.0)                 # 1-based → 0-based pixel centres
            vis.append(parts[2] > 0)
        boxes_a = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        kp = box_keypoints(np.asarray(px).reshape(-1, 15, 2), boxes_a)
        return SplitIndex(ids, boxes_a, kp, np.asarray(vis, dtype=bool).reshape(-1, 15), listed)


def _per_class(c: int) -> type:
    doc = (f"CUB-200-2011 class {c:03d} only (CMR split, box crops), 15 parts (K = 4 published)."
           + (CUBCMR.__doc__ or "").split("\n", 1)[1])
    return type(f"CUB{c:03d}", (CUBCMR,), {"name": f"cub-{c:03d}", "class_id": c,
                                          "__doc__": doc, "__module__": __name__})


CUB001, CUB002, CUB003 = (_per_class(c) for c in (1, 2, 3))
