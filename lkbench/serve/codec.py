"""Latents as JSON, and generated images as PNG: the data that travels between the editor page,
the server and ``lkbench edit --latents``.

A latents document (``format = "lkbench-latents"``, ``version = 1``) is a JSON object::

    {"format": "lkbench-latents", "version": 1,
     "model": "latent-keypoint-gan", "image_size": 32, "num_keypoints": 8, "embed_dim": 16,
     "checkpoint_sha256": "…",                       # optional: which weights made it
     "latents": {"keypoints": [[[x, y], …]],          # float [N,K,2], (x, y) in [-1, 1]
                 "part_embeddings": [[[…], …]],       # float [N,K,D]
                 "background": [[…]],                 # float [N,D]
                 "active": [[true, …]],               # bool  [N,K]
                 "tau": [[…]] | null,                 # float [N,K] heatmap widths, or null
                 "slots": [0, 1, …] | null},          # int   [K] model part per entry, or null
     "donor": {…same fields…}}                        # optional: the donor the page used

Keypoints follow the project convention (:mod:`lkbench.keypoints`): ``-1`` is the left/top
edge of the image, ``+1`` the right/bottom edge. Numbers are written as the exact decimal of
each float32 value (Python's shortest round-trip ``repr`` of the float32 widened to float64),
so decoding gives the same float32 bits and a replay renders the same pixels.

Decoding validates everything a client could get wrong (shapes, types, the generator's ``K`` and
``D``, value ranges) and raises :class:`~lkbench.errors.DataError` with a message naming the
field and the fix; the server turns that into HTTP 422.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lkbench.errors import DataError
from lkbench.models import Latents

FORMAT = "lkbench-latents"
VERSION = 1
FIELDS = ("keypoints", "part_embeddings", "background", "active", "tau", "slots")


@dataclass(frozen=True)
class LatentSpec:
    """What a generator accepts, and the bounds a latents document must respect.

    Attributes:
        model: registry name of the generator (written into documents, informative only).
        image_size: ``R``, the side of the rendered images in pixels.
        num_keypoints: ``K0``, the model's own number of parts; documents may hold up to
            ``K0 + max_added_parts`` entries (parts added by editing carry ``slots``).
        embed_dim: ``D``, the size of part and background embeddings.
        has_tau: whether the model's latents carry per-part widths (``tau``).
        max_samples: the largest ``N`` accepted (the server edits one sample at a time).
        max_added_parts: how many parts editing may add beyond ``K0``.
        max_abs_keypoint: bound on ``|x|`` and ``|y|`` (normalised units; the image spans
            [-1, 1], edits do not clamp, so points may sit somewhat outside it).
        max_abs_embedding: bound on every embedding value.
        max_tau: upper bound on a heatmap width ``tau`` (normalised units², must be > 0).
    """
    model: str
    image_size: int
    num_keypoints: int
    embed_dim: int
    has_tau: bool
    max_samples: int = 1
    max_added_parts: int = 32
    max_abs_keypoint: float = 4.0
    max_abs_embedding: float = 1e4
    max_tau: float = 10.0

    @property
    def max_parts(self) -> int:
        """The largest ``K`` a document may have."""
        return self.num_keypoints + self.max_added_parts


def spec_of(generator: Any, model: str, **bounds: Any) -> LatentSpec:
    """The :class:`LatentSpec` of a :class:`~lkbench.models.KeypointGenerator`: ``K0`` and ``R``
    from its attributes, ``D`` and whether it has ``tau`` from one sampled latents."""
    device = next(generator.parameters()).device if hasattr(generator, "parameters") else "cpu"
    with torch.no_grad():
        lat = generator.sample_latents(1, torch.Generator(device=device).manual_seed(0))
    return LatentSpec(model=model, image_size=int(generator.image_size),
                      num_keypoints=int(generator.num_keypoints),
                      embed_dim=int(lat.part_embeddings.shape[-1]),
                      has_tau=lat.tau is not None, **bounds)


# -- encoding ---------------------------------------------------------------------------------

def latents_to_json(lat: Latents) -> dict[str, Any]:
    """The ``latents`` object of a document: plain lists (float32 values, bools, ints)."""
    def floats(t: "Tensor | None"):
        return None if t is None else t.detach().to("cpu", torch.float32).tolist()

    return {"keypoints": floats(lat.keypoints),
            "part_embeddings": floats(lat.part_embeddings),
            "background": floats(lat.background),
            "active": lat.active.detach().cpu().bool().tolist(),
            "tau": floats(lat.tau),
            "slots": None if lat.slots is None else lat.slots.detach().cpu().long().tolist()}


def document(lat: Latents, spec: LatentSpec, *, donor: "Latents | None" = None,
             checkpoint_sha256: "str | None" = None) -> dict[str, Any]:
    """A complete latents document (see the module docstring) for ``lat`` and its donor."""
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION, "model": spec.model,
                           "image_size": spec.image_size, "num_keypoints": spec.num_keypoints,
                           "embed_dim": spec.embed_dim}
    if checkpoint_sha256:
        doc["checkpoint_sha256"] = checkpoint_sha256
    doc["latents"] = latents_to_json(lat)
    if donor is not None:
        doc["donor"] = latents_to_json(donor)
    return doc


def latents_to(lat: Latents, device: "torch.device | str") -> Latents:
    """The same latents with every tensor on ``device``."""
    def mv(t: "Tensor | None"):
        return None if t is None else t.to(device)
    return Latents(keypoints=mv(lat.keypoints), part_embeddings=mv(lat.part_embeddings),
                   background=mv(lat.background), active=mv(lat.active), tau=mv(lat.tau),
                   slots=mv(lat.slots))


# -- decoding ---------------------------------------------------------------------------------

def _array(value: Any, shape: tuple[int, ...], kind: str, name: str) -> np.ndarray:
    """A nested JSON list as a numpy array of exactly ``shape``; leaves must be ``kind``
    (``float``: int or float, not bool; ``bool``; ``int``: int, not bool)."""
    if not isinstance(value, list):
        raise DataError(f"{name} must be a nested list of shape {list(shape)}, got "
                        f"{type(value).__name__}")
    try:
        arr = np.array(value, dtype=object)
    except ValueError:
        arr = None
    if arr is None or arr.shape != shape:
        got = "a ragged nested list" if arr is None else f"shape {list(arr.shape)}"
        raise DataError(f"{name} must have shape {list(shape)}, got {got}")
    ok = {"float": lambda v: type(v) in (int, float), "bool": lambda v: type(v) is bool,
          "int": lambda v: type(v) is int}[kind]
    for v in arr.flat:
        if not ok(v):
            want = {"float": "numbers", "bool": "true/false", "int": "integers"}[kind]
            raise DataError(f"{name} must hold {want}, found {json.dumps(v)[:40]}")
    return arr


def _floats(value: Any, shape: tuple[int, ...], name: str, bound: float,
            positive: bool = False) -> Tensor:
    arr = _array(value, shape, "float", name)
    t = torch.from_numpy(np.asarray(arr, dtype=np.float64)).to(torch.float32)
    if not bool(torch.isfinite(t).all()):
        raise DataError(f"{name} holds a value that is not finite in float32 (NaN, inf, or "
                        f"beyond ±3.4e38); every value must lie in [-{bound:g}, {bound:g}]")
    big = float(t.abs().max()) if t.numel() else 0.0
    if big > bound:
        raise DataError(f"{name} holds {big:g}, outside the allowed range [-{bound:g}, "
                        f"{bound:g}]")
    if positive and t.numel() and float(t.min()) <= 0:
        raise DataError(f"{name} must be > 0 (a heatmap width), found {float(t.min()):g}")
    return t


def latents_from_json(obj: Any, spec: LatentSpec, name: str = "latents") -> Latents:
    """Validate one ``latents`` object against ``spec`` and build CPU :class:`Latents`.

    Raises:
        DataError: a missing or unknown field, a wrong shape or type, ``N`` or ``K`` beyond the
            spec's limits, a non-finite or out-of-range value, or a slot the model lacks.
    """
    if not isinstance(obj, dict):
        raise DataError(f"{name} must be a JSON object with fields {', '.join(FIELDS)}")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise DataError(f"{name} has unknown field(s) {', '.join(unknown)}; allowed: "
                        f"{', '.join(FIELDS)}")
    missing = [f for f in FIELDS[:4] if f not in obj]
    if missing:
        raise DataError(f"{name} lacks field(s) {', '.join(missing)}")
    kp = obj["keypoints"]
    if not (isinstance(kp, list) and kp and isinstance(kp[0], list)):
        raise DataError(f"{name}.keypoints must be a non-empty list [N][K][2]")
    n, k, d = len(kp), len(kp[0]), spec.embed_dim
    if not 1 <= n <= spec.max_samples:
        raise DataError(f"{name} has {n} samples; this accepts 1 to {spec.max_samples}")
    if not 1 <= k <= spec.max_parts:
        raise DataError(f"{name} has {k} parts; this generator accepts 1 to {spec.max_parts} "
                        f"(its {spec.num_keypoints} plus at most {spec.max_added_parts} added)")
    keypoints = _floats(kp, (n, k, 2), f"{name}.keypoints", spec.max_abs_keypoint)
    emb = _floats(obj["part_embeddings"], (n, k, d), f"{name}.part_embeddings",
                  spec.max_abs_embedding)
    bg = _floats(obj["background"], (n, d), f"{name}.background", spec.max_abs_embedding)
    active = torch.from_numpy(np.asarray(_array(obj["active"], (n, k), "bool",
                                                f"{name}.active"), dtype=bool))
    tau = obj.get("tau")
    if tau is not None:
        if not spec.has_tau:
            raise DataError(f"{name}.tau must be null: this generator has no per-part widths")
        tau = _floats(tau, (n, k), f"{name}.tau", spec.max_tau, positive=True)
    slots = obj.get("slots")
    if slots is not None:
        slots = torch.from_numpy(np.asarray(_array(slots, (k,), "int", f"{name}.slots"),
                                            dtype=np.int64))
        if k and not (0 <= int(slots.min()) and int(slots.max()) < spec.num_keypoints):
            raise DataError(f"{name}.slots must lie in [0, {spec.num_keypoints}) (the model's "
                            f"parts), got {slots.tolist()}")
    elif k != spec.num_keypoints:
        raise DataError(f"{name} has {k} parts but the generator has {spec.num_keypoints}; "
                        "latents with added parts need slots (which model part each renders as)")
    return Latents(keypoints=keypoints, part_embeddings=emb, background=bg, active=active,
                   tau=tau, slots=slots)


def read_document(obj: Any, spec: LatentSpec) -> tuple[Latents, "Latents | None"]:
    """Validate a whole document (format, version, sizes) → ``(latents, donor or None)``.

    ``model`` and ``checkpoint_sha256`` are not checked here: a document from another checkpoint
    of the same shape replays (the caller may warn, see :func:`checkpoint_mismatch`).
    """
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise DataError(f"not a latents document: expected a JSON object with \"format\": "
                        f"\"{FORMAT}\" (save one with the editor's 'Download latents')")
    if obj.get("version") != VERSION:
        raise DataError(f"latents document version {obj.get('version')!r} is not supported; "
                        f"this lkbench reads version {VERSION}")
    for key, want in (("num_keypoints", spec.num_keypoints), ("embed_dim", spec.embed_dim)):
        if key in obj and obj[key] != want:
            raise DataError(f"the latents were saved for a generator with {key} = {obj[key]}, "
                            f"but this one has {want}; replay them with the checkpoint that "
                            "made them")
    lat = latents_from_json(obj.get("latents"), spec, "latents")
    donor = obj.get("donor")
    return lat, (None if donor is None else latents_from_json(donor, spec, "donor"))


def checkpoint_mismatch(obj: dict[str, Any], sha256: str) -> "str | None":
    """A warning when the document names other weights than ``sha256``, else None."""
    saved = obj.get("checkpoint_sha256")
    if saved and saved != sha256:
        return (f"these latents were made with checkpoint sha256 {saved[:12]}…, not "
                f"{sha256[:12]}…; the replayed image will differ from the one saved")
    return None


def load_document(path: "str | Path", spec: LatentSpec) -> tuple[dict, Latents,
                                                                   "Latents | None"]:
    """Read and validate a latents JSON file → ``(raw object, latents, donor or None)``."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"latents file not found: {path}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not a JSON latents file ({exc}); save one with the "
                        "editor's 'Download latents'") from None
    lat, donor = read_document(obj, spec)
    return obj, lat, donor


# -- images -----------------------------------------------------------------------------------

def png_bytes(image: Tensor) -> bytes:
    """One float image ``[3,H,W]`` in [-1, 1] as PNG bytes, converted with
    :func:`lkbench.plots.images_to_uint8` (``round((x + 1)·127.5)``, clipped). Deterministic:
    the same pixels always give the same bytes."""
    from PIL import Image

    from lkbench.plots import images_to_uint8

    if image.dim() != 3 or image.shape[0] != 3:
        raise DataError(f"png_bytes needs one image [3,H,W], got {tuple(image.shape)}")
    arr = images_to_uint8(image).permute(1, 2, 0).contiguous().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def data_url(png: bytes) -> str:
    """``data:image/png;base64,…`` for PNG bytes (what the page puts in an ``<img>``)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_from_data_url(url: str) -> bytes:
    """The PNG bytes inside a :func:`data_url`."""
    prefix = "data:image/png;base64,"
    if not url.startswith(prefix):
        raise DataError("not a PNG data URL")
    return base64.b64decode(url[len(prefix):])


def file_sha256(path: "str | Path") -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
