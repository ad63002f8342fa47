"""The cartoon-face model behind ``synthetic``: uniforms → parameters → images and keypoints.

A face is described in its own *face frame*: origin at the head centre, ``y`` down, one unit =
half the head's height, the head outline the ellipse ``(x/A)² + y² = 1`` (``A`` = aspect). Eyes,
nose and mouth sit on that head as on a rotating ellipsoid: a feature at azimuth ``α`` and height
``y`` appears at ``x = A·k·√(1−y²)·sin(α + yaw)`` (``k`` its depth: the nose tip protrudes, so it
moves more under yaw than the eyes), and is foreshortened by ``cos(α + yaw)``. Pitch shifts
features vertically in proportion to depth. The face frame maps to the image by
``p = c + s·R(roll)·q`` (``c`` head centre, ``s`` head half-height, both in normalised image
units), and so do the landmarks: they are computed analytically from the same parameters the
renderer uses, in continuous coordinates, hence exact at every image size.

Angles are drawn as tangents and carried as (cos, sin) pairs, and the renderer uses only exactly
rounded arithmetic (see :mod:`lkbench.data.draw`), so results do not depend on batch layout.

Everything is vectorised over the batch: :func:`params_from_uniforms` maps float64 uniforms
``[N, NUM_SLOTS]`` to :class:`FaceParams`, :func:`face_keypoints` gives ``[N,5,2]`` and
:func:`render_faces` draws ``[N,3,R,R]`` without a per-image Python loop.

One concept in one module (about 700 lines): the face model's parameters, landmark layout and
renderer share the face-frame conventions above and change together.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Callable, Mapping

import torch
from torch import Tensor

from ..keypoints import heatmap_grid
from .draw import capsule_sd, coverage, ellipse_sd, hsv_to_rgb, paint, smoothstep, triangle_wave

# -- the uniform draws ------------------------------------------------------------------------
NUM_STRIPES = 3
NUM_BLOBS = 3

# One uniform per slot, in this fixed order: appending slots keeps earlier faces unchanged only if
# new slots go at the END (the stream of a face is a fixed-length vector).
SLOTS: tuple[str, ...] = (
    # pose
    "scale", "shift_x", "shift_y", "yaw", "pitch", "roll",
    # head and feature geometry (identity)
    "aspect", "jaw", "eye_spread", "eye_y", "eye_size", "nose_y", "nose_size",
    "mouth_spread", "mouth_y", "lip_upper", "lip_lower", "smile", "mouth_open",
    "brow_gap", "brow_tilt", "brow_width",
    # hair
    "hair_on", "hair_colour", "hair_shade", "hairline", "hair_curve", "hair_length",
    # colours and light
    "skin_tone", "skin_warmth", "light_x", "light_y", "iris_colour",
    "shirt_h", "shirt_s", "shirt_v",
    "bg_h", "bg_s", "bg_v", "bg_side", "bg2_h", "bg2_s", "bg2_v", "stripe_contrast",
    *(f"stripe{k}_{a}" for k in range(NUM_STRIPES)
      for a in ("dx", "dy", "freq", "phase", "weight")),
    *(f"blob{k}_{a}" for k in range(NUM_BLOBS) for a in ("x", "y", "r", "h", "s", "v", "alpha")),
)
NUM_SLOTS = len(SLOTS)
_SLOT = {name: i for i, name in enumerate(SLOTS)}

PAIR_SLOTS: tuple[str, ...] = ("yaw", "pitch", "roll", "shift_x", "shift_y", "scale", "smile")
"""Uniforms of the second view of a frame pair (:func:`perturb_pose`)."""
NUM_PAIR_SLOTS = len(PAIR_SLOTS)

# -- fixed face-model constants (face-frame units) ----------------------------------------------
DEPTH_EYE, DEPTH_NOSE, DEPTH_BRIDGE, DEPTH_MOUTH = 0.92, 1.25, 1.0, 0.95
EYE_HALF_WIDTH, EYE_HALF_HEIGHT, IRIS_RADIUS, PUPIL_RADIUS = 0.15, 0.09, 0.075, 0.045
LID = 0.022                # eyelid outline width
HEAD_EXTENT = 1.12         # radius that contains head and hair; keeps the head inside the frame
MIN_FORESHORTENING = 0.3   # a feature turned away never collapses to zero width

# RGB in [0, 1]
SKIN_LIGHT = (0.98, 0.85, 0.74)
SKIN_DARK = (0.40, 0.26, 0.17)
HAIR_COLOURS = ((0.08, 0.07, 0.07), (0.27, 0.16, 0.09), (0.50, 0.32, 0.17),
                (0.85, 0.70, 0.40), (0.68, 0.26, 0.10), (0.70, 0.70, 0.70))
IRIS_COLOURS = ((0.36, 0.20, 0.08), (0.14, 0.09, 0.05), (0.22, 0.42, 0.72),
                (0.28, 0.52, 0.28), (0.42, 0.47, 0.52))
SCLERA = (0.97, 0.97, 0.95)
PUPIL = (0.02, 0.02, 0.03)
MOUTH_INSIDE = (0.24, 0.04, 0.06)


@dataclass(frozen=True)
class PoseJitter:
    """Largest pose change between the two views of a frame pair (uniform, symmetric).

    Attributes:
        yaw_deg, roll_deg: rotation changes, degrees.
        pitch: vertical feature shift change, face units.
        shift: head-centre change per axis, normalised image units.
        scale: relative head-size change.
        smile: mouth-curve change, face units (a small expression change).
    """
    yaw_deg: float = 6.0
    roll_deg: float = 5.0
    pitch: float = 0.03
    shift: float = 0.03
    scale: float = 0.04
    smile: float = 0.02


@dataclass(frozen=True)
class FaceStyle:
    """The ranges one difficulty draws faces from (pose, framing, background, hair).

    Attributes:
        head_scale: (lo, hi) head half-height, in normalised image units (1 = half the image).
        max_shift: largest head-centre offset per axis, normalised units; further limited so
            that the head (radius ``HEAD_EXTENT`` face units) stays inside the image.
        yaw_deg, roll_deg: largest |yaw| and |roll|, degrees.
        pitch: largest |pitch| shift, face units.
        background: key of :data:`BACKGROUNDS`.
        hair_prob: probability that a face has hair.
        pair_jitter: pose change between the views of a frame pair (``pair_mode = "jitter"``).
        pair_mode: how the second view of a frame pair is drawn, a key of :data:`PAIR_MODES`:
            ``jitter`` — the first view's pose changed by at most ``pair_jitter``
            (:func:`perturb_pose`); ``redraw`` — a new, independent pose (and expression) from
            this style's own law, everything else kept (:func:`redraw_pose`: video frames).
        background_lightness: how the plain background's lightness is drawn, a key of
            :data:`BACKGROUND_LIGHTNESS`: ``contrast`` — pushed away from the skin's so the head
            stands out (every face has a background–skin gap ≥ 0.28); ``independent`` — uniform
            in [0.08, 1], whatever the skin (so a face whose skin alone is changed is still a
            face the law could draw: the fair ``dark_skin`` counterfactual).
    """
    head_scale: tuple[float, float]
    max_shift: float
    yaw_deg: float
    roll_deg: float
    pitch: float
    background: str
    hair_prob: float
    pair_jitter: PoseJitter = PoseJitter()
    pair_mode: str = "jitter"
    background_lightness: str = "contrast"


# -- parameters ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaceParams:
    """Everything that determines a batch of N faces. Scalars are ``[N]``, colours ``[N,3]`` RGB in
    ``[0,1]``; lengths are in face units unless stated. All tensors share one float dtype.

    Pose: ``cx, cy`` head centre and ``scale`` head half-height (normalised image units);
    ``roll_cos, roll_sin`` and ``yaw_cos, yaw_sin`` rotations; ``pitch`` vertical feature shift.
    """
    cx: Tensor
    cy: Tensor
    scale: Tensor
    roll_cos: Tensor
    roll_sin: Tensor
    yaw_cos: Tensor
    yaw_sin: Tensor
    pitch: Tensor
    aspect: Tensor
    jaw: Tensor
    eye_sin: Tensor
    eye_y: Tensor
    eye_size: Tensor
    nose_y: Tensor
    nose_size: Tensor
    mouth_sin: Tensor
    mouth_y: Tensor
    lip_upper: Tensor
    lip_lower: Tensor
    smile: Tensor
    mouth_open: Tensor
    brow_gap: Tensor
    brow_tilt: Tensor
    brow_width: Tensor
    hair: Tensor            # 0 or 1
    hairline: Tensor
    hair_curve: Tensor
    hair_length: Tensor
    light_x: Tensor
    light_y: Tensor
    skin: Tensor
    hair_rgb: Tensor
    iris: Tensor
    lips: Tensor
    shirt: Tensor
    background: Tensor
    background2: Tensor
    stripe_contrast: Tensor
    stripes: Tensor         # [N,S,4]: direction·frequency (a, b), phase, weight
    blobs: Tensor           # [N,B,4]: centre x, y (normalised image units), radius, opacity
    blob_rgb: Tensor        # [N,B,3]

    def __len__(self) -> int:
        return self.cx.shape[0]

    def map(self, fn: Callable[[Tensor], Tensor]) -> "FaceParams":
        """A copy with ``fn`` applied to every tensor (e.g. a dtype cast or an index)."""
        return FaceParams(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def flat(self) -> Tensor:
        """All parameters of each face as one row, ``[N, P]`` (for comparisons)."""
        return torch.cat([getattr(self, f.name).reshape(len(self), -1) for f in fields(self)], 1)


def _lerp(u: Tensor, lo: float, hi: float) -> Tensor:
    return lo + (hi - lo) * u


def _signed(u: Tensor, bound: float) -> Tensor:
    return bound * (2 * u - 1)


def _rotation(u: Tensor, max_deg: float) -> tuple[Tensor, Tensor]:
    """(cos, sin) of an angle whose tangent is uniform in ±tan(max_deg): no sin/cos at runtime."""
    t = _signed(u, math.tan(math.radians(max_deg)))
    c = 1 / torch.sqrt(1 + t * t)
    return c, t * c


def _palette(u: Tensor, colours: tuple[tuple[float, float, float], ...]) -> Tensor:
    table = torch.tensor(colours, dtype=u.dtype, device=u.device)
    idx = torch.floor(u * len(colours)).long().clamp_(0, len(colours) - 1)
    return table[idx]


def _contrast_lightness(skin_v: Tensor, u_gap: Tensor, u_side: Tensor) -> Tensor:
    """Lightness pushed away from the skin's by 0.28–0.5, on a random side where there is room."""
    gap = _lerp(u_gap, 0.28, 0.5)
    darker, lighter = skin_v - gap, skin_v + gap
    use_darker = ((u_side < 0.5) & (darker >= 0.08)) | (lighter > 1.0)
    return torch.where(use_darker, darker, lighter).clamp(0.05, 1.0)


def _independent_lightness(skin_v: Tensor, u_gap: Tensor, u_side: Tensor) -> Tensor:
    """Lightness uniform in [0.08, 1], independent of the skin (``u_side`` unused)."""
    return _lerp(u_gap, 0.08, 1.0)


BACKGROUND_LIGHTNESS: Mapping[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = \
    MappingProxyType({"contrast": _contrast_lightness, "independent": _independent_lightness})
"""``FaceStyle.background_lightness`` → ``fn(skin_v [N], u_bg_v [N], u_bg_side [N]) -> [N]``,
the plain background's HSV value (``skin_v`` is the skin colour's largest channel)."""


def params_from_uniforms(u: Tensor, style: FaceStyle) -> FaceParams:
    """Map uniforms to face parameters.

    Args:
        u: float64 ``[N, NUM_SLOTS]`` in ``[0, 1)``, columns in :data:`SLOTS` order.
        style: the ranges to draw from.

    Returns:
        :class:`FaceParams` in ``u``'s dtype.
    """
    def g(name: str) -> Tensor:
        return u[:, _SLOT[name]]

    scale = _lerp(g("scale"), *style.head_scale)
    room = (1.0 - HEAD_EXTENT * scale).clamp(min=0).clamp(max=style.max_shift)
    roll_cos, roll_sin = _rotation(g("roll"), style.roll_deg)
    yaw_cos, yaw_sin = _rotation(g("yaw"), style.yaw_deg)

    tone = g("skin_tone")[:, None]
    light, dark = (torch.tensor(c, dtype=u.dtype) for c in (SKIN_LIGHT, SKIN_DARK))
    skin = light + (dark - light) * tone
    warmth = _signed(g("skin_warmth"), 0.035)[:, None]
    skin = (skin + warmth * torch.tensor([1.0, 0.0, -1.0], dtype=u.dtype)).clamp(0, 1)
    hair_rgb = _palette(g("hair_colour"), HAIR_COLOURS) * _lerp(g("hair_shade"), 0.8, 1.15)[:, None]
    lips = (skin * torch.tensor([0.82, 0.50, 0.52], dtype=u.dtype)
            + torch.tensor([0.12, 0.0, 0.03], dtype=u.dtype)).clamp(0, 1)

    # Plain background: random hue; lightness as style.background_lightness says.
    bg_v = BACKGROUND_LIGHTNESS[style.background_lightness](skin.max(dim=1).values, g("bg_v"),
                                                            g("bg_side"))
    background = hsv_to_rgb(g("bg_h"), _lerp(g("bg_s"), 0.15, 0.6), bg_v)
    background2 = hsv_to_rgb(g("bg2_h"), _lerp(g("bg2_s"), 0.1, 0.8), _lerp(g("bg2_v"), 0.15, 0.95))

    stripes = []
    for k in range(NUM_STRIPES):
        dx, dy = 2 * g(f"stripe{k}_dx") - 1, 2 * g(f"stripe{k}_dy") - 1
        norm = torch.sqrt(dx * dx + dy * dy).clamp(min=1e-3)
        freq = _lerp(g(f"stripe{k}_freq"), 0.6, 2.5)     # cycles per half image side
        stripes.append(torch.stack([dx / norm * freq, dy / norm * freq, g(f"stripe{k}_phase"),
                                    _lerp(g(f"stripe{k}_weight"), 0.3, 1.0)], 1))
    blobs, blob_rgb = [], []
    for k in range(NUM_BLOBS):
        blobs.append(torch.stack([_signed(g(f"blob{k}_x"), 0.95), _signed(g(f"blob{k}_y"), 0.95),
                                  _lerp(g(f"blob{k}_r"), 0.15, 0.55),
                                  _lerp(g(f"blob{k}_alpha"), 0.4, 0.9)], 1))
        blob_rgb.append(hsv_to_rgb(g(f"blob{k}_h"), _lerp(g(f"blob{k}_s"), 0.1, 0.9),
                                   _lerp(g(f"blob{k}_v"), 0.1, 1.0)))

    return FaceParams(
        cx=_signed(g("shift_x"), 1.0) * room, cy=_signed(g("shift_y"), 1.0) * room, scale=scale,
        roll_cos=roll_cos, roll_sin=roll_sin, yaw_cos=yaw_cos, yaw_sin=yaw_sin,
        pitch=_signed(g("pitch"), style.pitch),
        aspect=_lerp(g("aspect"), 0.74, 0.86), jaw=_lerp(g("jaw"), 0.04, 0.2),
        eye_sin=_lerp(g("eye_spread"), 0.40, 0.50), eye_y=_lerp(g("eye_y"), -0.22, -0.08),
        eye_size=_lerp(g("eye_size"), 0.9, 1.15),
        nose_y=_lerp(g("nose_y"), 0.13, 0.25), nose_size=_lerp(g("nose_size"), 0.85, 1.2),
        mouth_sin=_lerp(g("mouth_spread"), 0.30, 0.42), mouth_y=_lerp(g("mouth_y"), 0.46, 0.58),
        lip_upper=_lerp(g("lip_upper"), 0.026, 0.045), lip_lower=_lerp(g("lip_lower"), 0.04, 0.07),
        smile=_lerp(g("smile"), -0.02, 0.07), mouth_open=_lerp(g("mouth_open"), 0.0, 0.03),
        brow_gap=_lerp(g("brow_gap"), 0.035, 0.08), brow_tilt=_signed(g("brow_tilt"), 0.03),
        brow_width=_lerp(g("brow_width"), 0.022, 0.036),
        hair=(g("hair_on") < style.hair_prob).to(u.dtype),
        hairline=_lerp(g("hairline"), -0.8, -0.66), hair_curve=_lerp(g("hair_curve"), 0.06, 0.22),
        hair_length=g("hair_length"),
        light_x=_signed(g("light_x"), 1.0), light_y=-g("light_y"),
        skin=skin, hair_rgb=hair_rgb.clamp(0, 1),
        iris=_palette(g("iris_colour"), IRIS_COLOURS), lips=lips,
        shirt=hsv_to_rgb(g("shirt_h"), _lerp(g("shirt_s"), 0.3, 0.8),
                         _lerp(g("shirt_v"), 0.3, 0.9)),
        background=background, background2=background2,
        stripe_contrast=_lerp(g("stripe_contrast"), 1.0, 3.0),
        stripes=torch.stack(stripes, 1), blobs=torch.stack(blobs, 1),
        blob_rgb=torch.stack(blob_rgb, 1),
    )


def perturb_pose(p: FaceParams, u: Tensor, jitter: PoseJitter) -> FaceParams:
    """The second view of a frame pair: the same face under a small pose and expression change.

    Args:
        p: the first view.
        u: float64 ``[N, NUM_PAIR_SLOTS]`` uniforms, columns in :data:`PAIR_SLOTS` order.
        jitter: largest changes.
    """
    col = {name: u[:, i] for i, name in enumerate(PAIR_SLOTS)}
    dyc, dys = _rotation(col["yaw"], jitter.yaw_deg)
    drc, drs = _rotation(col["roll"], jitter.roll_deg)
    values = {f.name: getattr(p, f.name) for f in fields(p)}
    values.update(
        # angle addition: (cos, sin) of a + b from those of a and b
        yaw_cos=p.yaw_cos * dyc - p.yaw_sin * dys, yaw_sin=p.yaw_sin * dyc + p.yaw_cos * dys,
        roll_cos=p.roll_cos * drc - p.roll_sin * drs, roll_sin=p.roll_sin * drc + p.roll_cos * drs,
        pitch=p.pitch + _signed(col["pitch"], jitter.pitch),
        cx=p.cx + _signed(col["shift_x"], jitter.shift),
        cy=p.cy + _signed(col["shift_y"], jitter.shift),
        scale=p.scale * (1 + _signed(col["scale"], jitter.scale)),
        smile=p.smile + _signed(col["smile"], jitter.smile),
    )
    return FaceParams(**values)


REDRAW_SLOTS: tuple[str, ...] = ("scale", "shift_x", "shift_y", "yaw", "pitch", "roll", "smile",
                                 "mouth_open")
"""The pose and expression slots of :data:`SLOTS` that :func:`redraw_pose` draws anew."""


def redraw_pose(u: Tensor, u_pose: Tensor, style: FaceStyle) -> FaceParams:
    """The second view of a video-like frame pair: the same face in a new, independent pose.

    The first view's uniforms ``u`` keep every identity, colour, clothing and background slot;
    the :data:`REDRAW_SLOTS` columns are replaced by ``u_pose``, so head position, scale, yaw,
    pitch, roll, smile and mouth opening are a fresh draw from ``style``'s own law (the second
    view is distributed exactly like any first view).

    Args:
        u: float64 ``[N, NUM_SLOTS]``, the first view's uniforms.
        u_pose: float64 ``[N, len(REDRAW_SLOTS)]`` in ``[0, 1)``, columns in that order.
        style: the law both views are drawn from.
    """
    v = u.clone()
    v[:, [_SLOT[name] for name in REDRAW_SLOTS]] = u_pose
    return params_from_uniforms(v, style)


@dataclass(frozen=True)
class PairMode:
    """One way of drawing a frame pair's second view (see ``FaceStyle.pair_mode``).

    Attributes:
        width: uniforms per sample it takes from the pair stream.
        view: ``(first, u_first, u_pair, style) -> second`` (:class:`FaceParams`).
    """
    width: int
    view: Callable[[FaceParams, Tensor, Tensor, FaceStyle], FaceParams]


PAIR_MODES: Mapping[str, PairMode] = MappingProxyType({
    "jitter": PairMode(NUM_PAIR_SLOTS, lambda p, u, v, s: perturb_pose(p, v, s.pair_jitter)),
    "redraw": PairMode(len(REDRAW_SLOTS), lambda p, u, v, s: redraw_pose(u, v, s)),
})
"""``FaceStyle.pair_mode`` → how the second view of a frame pair is drawn."""


# -- layout: where the features are, in the face frame ------------------------------------------
@dataclass(frozen=True)
class FaceLayout:
    """Feature positions in the face frame; ``[N,2]`` tensors hold (image-left, image-right)."""
    eye_x: Tensor          # [N,2]
    eye_y: Tensor          # [N]
    eye_fore: Tensor       # [N,2] horizontal foreshortening in [MIN_FORESHORTENING, 1]
    nose_x: Tensor
    nose_y: Tensor
    bridge_x: Tensor
    mouth_x: Tensor        # [N,2]
    mouth_y: Tensor
    mouth_fore: Tensor     # [N]
    hair_part: Tensor


def _on_head(p: FaceParams, sin_a: Tensor, y: Tensor, depth: float) -> tuple[Tensor, Tensor]:
    """x and foreshortening ``[N,2]`` of the feature pair at azimuth ±α (``sin_a`` = sin α)."""
    side = torch.tensor([-1.0, 1.0], dtype=sin_a.dtype)
    s, c = sin_a[:, None] * side, torch.sqrt(1 - sin_a * sin_a)[:, None]
    sin_phi = s * p.yaw_cos[:, None] + c * p.yaw_sin[:, None]
    cos_phi = c * p.yaw_cos[:, None] - s * p.yaw_sin[:, None]
    radius = (p.aspect * depth * torch.sqrt(1 - y * y))[:, None]
    return radius * sin_phi, cos_phi.clamp(min=MIN_FORESHORTENING)


def face_layout(p: FaceParams) -> FaceLayout:
    """Where eyes, nose and mouth are for parameters ``p`` (see the module docstring)."""
    eye_x, eye_fore = _on_head(p, p.eye_sin, p.eye_y, DEPTH_EYE)
    mouth_x, mouth_fore = _on_head(p, p.mouth_sin, p.mouth_y, DEPTH_MOUTH)
    return FaceLayout(
        eye_x=eye_x, eye_y=p.eye_y + p.pitch * DEPTH_EYE, eye_fore=eye_fore,
        nose_x=p.aspect * DEPTH_NOSE * torch.sqrt(1 - p.nose_y * p.nose_y) * p.yaw_sin,
        nose_y=p.nose_y + p.pitch * DEPTH_NOSE,
        bridge_x=p.aspect * DEPTH_BRIDGE * torch.sqrt(1 - p.eye_y * p.eye_y) * p.yaw_sin,
        mouth_x=mouth_x, mouth_y=p.mouth_y + p.pitch * DEPTH_MOUTH,
        mouth_fore=mouth_fore.min(dim=1).values,
        hair_part=0.9 * p.aspect * p.yaw_sin,
    )


def face_keypoints(p: FaceParams) -> Tensor:
    """The 5 landmarks in MAFL order (left eye, right eye, nose tip, left and right mouth corner;
    left = image-left), as ``[N,5,2]`` (x, y) in normalised image coordinates (``p``'s dtype).

    Eye landmarks are pupil centres, the nose landmark the nose tip (centre of the nose ball), the
    mouth landmarks the two points where upper and lower lip meet.
    """
    lay = face_layout(p)
    qx = torch.stack([lay.eye_x[:, 0], lay.eye_x[:, 1], lay.nose_x,
                      lay.mouth_x[:, 0], lay.mouth_x[:, 1]], 1)
    qy = torch.stack([lay.eye_y, lay.eye_y, lay.nose_y, lay.mouth_y, lay.mouth_y], 1)
    s, c, sn = p.scale[:, None], p.roll_cos[:, None], p.roll_sin[:, None]
    x = p.cx[:, None] + s * (c * qx - sn * qy)
    y = p.cy[:, None] + s * (sn * qx + c * qy)
    return torch.stack([x, y], -1)


# -- backgrounds --------------------------------------------------------------------------------
def _plain_background(p: FaceParams, gx: Tensor, gy: Tensor) -> Tensor:
    return p.background[:, :, None, None].expand(len(p), 3, gy.shape[-2], gx.shape[-1]).clone()


def _textured_background(p: FaceParams, gx: Tensor, gy: Tensor) -> Tensor:
    """Smooth random stripes (sum of soft triangle waves) between two colours, plus soft blobs."""
    total = torch.zeros(len(p), gy.shape[-2], gx.shape[-1], dtype=gx.dtype)
    weights = p.stripes[:, :, 3].sum(1)[:, None, None]
    for k in range(p.stripes.shape[1]):
        a, b, phase, weight = (p.stripes[:, k, j, None, None] for j in range(4))
        total += weight * smoothstep(triangle_wave((gx * a + phase) + gy * b))
    t = ((total / weights - 0.5) * p.stripe_contrast[:, None, None] + 0.5).clamp_(0, 1)
    img = _plain_background(p, gx, gy)
    paint(img, t, p.background2)
    for k in range(p.blobs.shape[1]):
        bx, by, r, alpha = (p.blobs[:, k, j, None, None] for j in range(4))
        ddx, ddy = (gx - bx) / r, (gy - by) / r            # separable: [N,1,R] and [N,R,1]
        d2 = ddx * ddx + ddy * ddy
        bump = (1 - d2).clamp_(0, 1)
        paint(img, bump * bump * alpha, p.blob_rgb[:, k])
    return img


BACKGROUNDS: Mapping[str, Callable[[FaceParams, Tensor, Tensor], Tensor]] = MappingProxyType({
    "plain": _plain_background,
    "textured": _textured_background,
})
"""Background painters ``fn(params_float32, gx [1,1,R], gy [1,R,1]) -> [N,3,R,R]`` in [0,1]
(``gx, gy``: pixel-centre coordinates, broadcast against each other)."""


# -- rendering ----------------------------------------------------------------------------------
def _col(t: Tensor) -> Tensor:
    """``[N]`` → ``[N,1,1]`` for broadcasting against ``[N,H,W]`` grids."""
    return t[:, None, None]


def _face_frame(p: FaceParams, gx: Tensor, gy: Tensor) -> tuple[Tensor, Tensor]:
    """Face-frame coordinates ``q = R(−roll)(g − c) / s`` of image points ``gx, gy``."""
    inv_s, c, sn = 1 / _col(p.scale), _col(p.roll_cos), _col(p.roll_sin)
    dx, dy = gx - _col(p.cx), gy - _col(p.cy)
    return (c * dx + sn * dy) * inv_s, (c * dy - sn * dx) * inv_s


def _paint_head(img: Tensor, p: FaceParams, lay: FaceLayout, gx: Tensor, gy: Tensor) -> None:
    """Paint hair, shoulders, neck, ears and head over the whole canvas ``img`` ``[N,3,R,R]``."""
    size = img.shape[-1]
    x, y = _face_frame(p, gx, gy)
    inv_s, c, sn = 1 / _col(p.scale), _col(p.roll_cos), _col(p.roll_sin)
    px = (2.0 / size) * inv_s                   # one pixel, in face units
    A = _col(p.aspect)
    hair = _col(p.hair)
    any_hair = bool(p.hair.any())

    # Back hair (behind head and shoulders); long hair reaches below the chin.
    if any_hair:
        length = _col(p.hair_length)
        back = ellipse_sd(x, y, 0.0, -0.07 + 0.3 * length, 1.13 * A, 1.03 + 0.3 * length)
        paint(img, coverage(back, px, hair), p.hair_rgb)
    # Shoulders stay upright (image axes); the neck bends from the rolled head down to them.
    up_x, up_y = (gx - _col(p.cx)) * inv_s, (gy - _col(p.cy)) * inv_s
    paint(img, coverage(ellipse_sd(up_x, up_y, 0.0, 1.95, 1.55, 0.85), px), p.shirt)
    paint(img, coverage(capsule_sd(x, y, 0.0, 0.6, 1.3 * sn, 1.3 * c, 0.36 * A), px), p.skin * 0.8)
    # Ears (one mirrored ellipse), behind the head; yaw turns them opposite to the features.
    ear_x = (x + 0.25 * A * _col(p.yaw_sin)).abs()
    ears = ellipse_sd(ear_x, y, 0.97 * A, _col(lay.eye_y) + 0.15, 0.11, 0.17)
    paint(img, coverage(ears, px), p.skin * 0.86)
    # Head: an egg (narrower towards the chin by ``jaw``) in skin under soft directional light,
    # darker towards and at the rim.
    below_centre = y.clamp(min=0)
    xn = x / (A * (1 - _col(p.jaw) * below_centre * below_centre))
    r2 = xn * xn + y * y
    r = torch.sqrt(r2)
    rim = ((r - 0.965) * (1 / 0.035)).clamp_(0, 1)
    shade = (1 + 0.1 * (_col(p.light_x) * xn + _col(p.light_y) * y) - 0.12 * r2 - 0.3 * rim)
    paint(img, coverage((r - 1) * A.sqrt(), px), p.skin[:, :, None, None] * shade.unsqueeze(1))
    # Front hair: inside a slightly larger head ellipse and above a curved hairline.
    if any_hair:
        u = ((x - _col(lay.hair_part)) / A).clamp_(-1, 1)   # clamped: never down over the eyes
        line = _col(p.hairline) + _col(p.hair_curve) * u * u
        cap = torch.maximum(ellipse_sd(x, y, 0.0, -0.05, 1.07 * A, 1.06), y - line)
        paint(img, coverage(cap, px, hair), p.hair_rgb)


def _brow_y(p: FaceParams, lay: FaceLayout) -> Tensor:
    """Height of the brow line ``[N]``: ``brow_gap`` above the lid and brow, larger than the
    tilt, so brows never touch the eyes."""
    return (lay.eye_y - EYE_HALF_HEIGHT * p.eye_size - LID - p.brow_width - p.brow_gap)


def _paint_features(img: Tensor, p: FaceParams, lay: FaceLayout, gx: Tensor, gy: Tensor,
                    size: int) -> None:
    """Paint brows, eyes, nose and mouth on ``img`` ``[N,3,h,w]`` whose pixel centres are at
    ``gx`` ``[·,1,w]``, ``gy`` ``[·,h,1]`` (a window of a ``size``-pixel image, or all of it).

    Paired features (eyes, brows, nostrils) are drawn in one pass each: every pixel uses the
    feature of its own side, which is exact because a feature's coverage is zero well before
    the dividing line.
    """
    x, y = _face_frame(p, gx, gy)
    px = (2.0 / size) / _col(p.scale)

    # Eyes and brows: local coordinates relative to the eye on the pixel's side.
    right = x > _col(lay.eye_x.mean(dim=1))
    ex = torch.where(right, _col(lay.eye_x[:, 1]), _col(lay.eye_x[:, 0]))
    fore = torch.where(right, _col(lay.eye_fore[:, 1]), _col(lay.eye_fore[:, 0]))
    outward = (x - ex) * torch.where(right, 1.0, -1.0)       # > 0 away from the nose
    ey, size_e = _col(lay.eye_y), _col(p.eye_size)
    brow_y, tilt = _col(_brow_y(p, lay)), _col(p.brow_tilt)
    half = (0.85 * EYE_HALF_WIDTH) * fore
    brow = capsule_sd(outward, y, -half, brow_y + tilt, half, brow_y - 0.3 * tilt,
                      _col(p.brow_width))
    paint(img, coverage(brow, px), (p.hair_rgb * 0.47 + 0.04).clamp(0, 1))

    ux = (x - ex) / fore                         # undo foreshortening: eyes are round here
    uy = y - ey
    sclera = ellipse_sd(ux, uy, 0.0, 0.0, EYE_HALF_WIDTH * size_e, EYE_HALF_HEIGHT * size_e)
    px_eye = px / fore                           # a pixel is wider in the unforeshortened frame
    paint(img, coverage(sclera - LID, px_eye), p.skin * 0.3)
    sclera_a = coverage(sclera, px_eye)
    paint(img, sclera_a, torch.tensor(SCLERA).expand(len(p), 3))
    iris_r = torch.sqrt(ux * ux + uy * uy)
    paint(img, coverage(iris_r - IRIS_RADIUS * size_e, px_eye) * sclera_a, p.iris)
    paint(img, coverage(iris_r - PUPIL_RADIUS * size_e, px_eye),
          torch.tensor(PUPIL).expand(len(p), 3))

    # Nose: bridge line and tip ball in one shade, then nostrils (mirrored about the tip).
    ns = _col(p.nose_size)
    nx, ny = _col(lay.nose_x), _col(lay.nose_y)
    nose = torch.minimum(capsule_sd(x, y, _col(lay.bridge_x), ey + 0.07, nx, ny - 0.045, 0.02 * ns),
                         ellipse_sd(x, y, nx, ny, 0.065 * ns, 0.05 * ns))
    paint(img, coverage(nose, px), p.skin * 0.84)
    nostrils = ellipse_sd((x - nx).abs(), y, 0.036 * ns, ny + 0.026 * ns, 0.02 * ns, 0.013 * ns)
    paint(img, coverage(nostrils, px), p.skin * 0.35)

    # Mouth: a lens between the corners (lips), centre line bent by the smile, and the slit.
    xl, xr = _col(lay.mouth_x[:, 0]), _col(lay.mouth_x[:, 1])
    mid, half_m = (xl + xr) * 0.5, (xr - xl) * 0.5
    t = (x - mid) / half_m
    w = 1 - t * t
    fullness = w * (2 - w)                      # = 1 - t⁴: full lips, pointed corners
    centre = _col(lay.mouth_y) + _col(p.smile) * w
    beyond = (x - mid).abs() - half_m           # > 0 outside the corners
    px_m = px * _col(lay.mouth_fore)
    below = y - centre
    lips = torch.maximum(torch.maximum(below - _col(p.lip_lower) * fullness,
                                       -below - _col(p.lip_upper) * fullness), beyond)
    paint(img, coverage(lips, px_m), p.lips)
    slit = torch.maximum(below.abs() - (0.006 + _col(p.mouth_open)) * fullness, beyond)
    paint(img, coverage(slit, px_m), torch.tensor(MOUTH_INSIDE).expand(len(p), 3))


def feature_box(p: FaceParams, lay: FaceLayout, size: int) -> Tensor:
    """Pixel-centre bounds ``[N,4]`` = (x0, y0, x1, y1) that contain every pixel the features
    (brows, eyes, nose, mouth) can touch at ``size``, anti-aliasing ramp included.

    A face-frame box around the features, padded by each shape's largest extent, rotated into
    the image, then grown by 2 pixels (the ramp reaches 0.5 px beyond a boundary, or up to
    √2 times that where :func:`~lkbench.data.draw.ellipse_sd` underestimates distance).
    """
    # Eye + lid (the approximate distance stretches the lid by up to √(15/9) < 1.3 sideways),
    # or brow half-length + brow width, whichever reaches further.
    pad_eye = torch.maximum(EYE_HALF_WIDTH * p.eye_size + 1.3 * LID,
                            0.85 * EYE_HALF_WIDTH + p.brow_width)
    eye_l, eye_r = lay.eye_x[:, 0], lay.eye_x[:, 1]
    nose_pad = 0.07 * p.nose_size
    x0 = torch.minimum(torch.minimum(eye_l - pad_eye, lay.mouth_x[:, 0]), lay.nose_x - nose_pad)
    x1 = torch.maximum(torch.maximum(eye_r + pad_eye, lay.mouth_x[:, 1]), lay.nose_x + nose_pad)
    y0 = _brow_y(p, lay) - p.brow_width - p.brow_tilt.abs()
    y1 = torch.maximum(lay.mouth_y + p.smile.clamp(min=0) + p.lip_lower + p.mouth_open,
                       lay.nose_y + 0.05 * p.nose_size)
    corners_x = torch.stack([x0, x1, x0, x1], 1)
    corners_y = torch.stack([y0, y0, y1, y1], 1)
    s, c, sn = p.scale[:, None], p.roll_cos[:, None], p.roll_sin[:, None]
    ix = (p.cx[:, None] + s * (c * corners_x - sn * corners_y) + 1) * (size / 2) - 0.5
    iy = (p.cy[:, None] + s * (sn * corners_x + c * corners_y) + 1) * (size / 2) - 0.5
    return torch.stack([ix.min(1).values - 2, iy.min(1).values - 2,
                        ix.max(1).values + 2, iy.max(1).values + 2], 1)


def _window(box: Tensor, size: int) -> "tuple[Tensor, Tensor] | None":
    """Pixel rows ``[N,h]`` and columns ``[N,w]`` of one window size per batch that contains each
    face's ``box``; ``None`` when the window would be nearly the whole image anyway."""
    lo = torch.floor(box[:, :2]).long()
    extent = (torch.ceil(box[:, 2:]).long() - lo + 1).max(0).values.clamp(max=size)
    w, h = int(extent[0]), int(extent[1])
    if w * h > 0.6 * size * size:
        return None
    lo_x = lo[:, 0].clamp(0, size - w)
    lo_y = lo[:, 1].clamp(0, size - h)
    return lo_y[:, None] + torch.arange(h), lo_x[:, None] + torch.arange(w)


def _draw(p: FaceParams, lay: FaceLayout, size: int, background: str,
          windowed: bool = True) -> Tensor:
    """Render float32 parameters ``p`` (N faces) at ``size``: ``[N,3,size,size]`` in [0,1].

    The features are drawn only inside a window around them (:func:`feature_box`): pixels outside
    get zero coverage anyway, so ``windowed`` changes speed, not a single bit of the result.
    """
    grid = heatmap_grid(size)
    gx, gy = grid[None, :1, :, 0], grid[None, :, :1, 1]          # [1,1,R], [1,R,1]
    img = BACKGROUNDS[background](p, gx, gy)
    _paint_head(img, p, lay, gx, gy)
    win = _window(feature_box(p, lay, size), size) if windowed else None
    if win is None:
        _paint_features(img, p, lay, gx, gy, size)
        return img.clamp_(0, 1)
    rows, cols = win
    n, (h, w) = len(p), (rows.shape[1], cols.shape[1])
    flat = (rows[:, :, None] * size + cols[:, None, :]).view(n, 1, h * w).expand(n, 3, h * w)
    canvas = img.view(n, 3, size * size).gather(2, flat).view(n, 3, h, w)
    # Same formula as lkbench.keypoints.pixel_centers, so window pixels get identical coordinates.
    wx = (2 * cols.to(torch.float32) + 1) / size - 1
    wy = (2 * rows.to(torch.float32) + 1) / size - 1
    _paint_features(canvas, p, lay, wx[:, None, :], wy[:, :, None], size)
    img.view(n, 3, size * size).scatter_(2, flat, canvas.view(n, 3, h * w))
    return img.clamp_(0, 1)


def quantise(images: Tensor) -> Tensor:
    """``[0, 1]`` float images → the float32 ``[-1, 1]`` values of their uint8 storage.

    ``q = round(255·x)`` (half to even; exact ops), returned as ``q / 127.5 − 1``.
    """
    return images.mul_(255).round_().div_(127.5).sub_(1)


CHUNK_PIXELS = 1 << 16
"""Pixels rendered per vectorised pass (``N·R²``): small enough for temporaries to stay in cache."""


def render_faces(p: FaceParams, image_size: int, background: str, *,
                 windowed: bool = True) -> Tensor:
    """Draw faces ``p`` at ``image_size``.

    Args:
        p: N faces (any float dtype; drawn in float32).
        image_size: side ``R`` of the square images, pixels.
        background: key of :data:`BACKGROUNDS`.
        windowed: draw small features only near the face (faster, bit-identical output;
            ``False`` exists to test exactly that).

    Returns:
        float32 ``[N,3,R,R]`` RGB in ``[-1, 1]``, quantised like a stored dataset: every value is
        ``q / 127.5 − 1`` for an integer ``q`` in ``[0, 255]`` (what ``RealLandmarkSet`` gives for
        uint8 pixels). Rounding makes the content portable: two CPUs whose float kernels differ
        in the last bit can only disagree where a value sits on a rounding boundary, by one
        level (see ``docs/determinism.md``).
    """
    p32 = p.map(lambda t: t.to(torch.float32))
    lay = face_layout(p32)
    # Faces with similar feature-window sizes share a chunk, so windows stay tight. The order
    # changes nothing in any image (each pixel depends on its own face only).
    box = feature_box(p32, lay, image_size)
    order = torch.argsort(torch.maximum(box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]), stable=True)
    out = torch.empty(len(p), 3, image_size, image_size)
    chunk = max(1, CHUNK_PIXELS // (image_size * image_size))
    for start in range(0, len(p), chunk):
        idx = order[start:start + chunk]
        part = p32.map(lambda t: t[idx])
        part_lay = FaceLayout(**{f.name: getattr(lay, f.name)[idx] for f in fields(lay)})
        out[idx] = _draw(part, part_lay, image_size, background, windowed)
    return quantise(out)
