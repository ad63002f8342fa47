"""The FastAPI app behind ``lkbench serve``: one static page and four JSON routes.

The server is stateless: every request carries the latents it acts on (see :mod:`.codec`) and
every response returns the new latents with their image, so two tabs or two people never share
anything but the read-only generator.

Routes (all JSON; images are ``data:image/png;base64,…`` URLs of the raw ``R×R`` render):

* ``GET  /api/info``   → generator facts, limits, the actions and the part colours.
* ``POST /api/sample`` ``{"seed": int}`` → ``{"latents", "image"}`` of ``G.sample_latents(1,
  Generator.manual_seed(seed))``, the first sample ``lkbench edit --seed seed --num 1`` edits.
* ``POST /api/render`` ``{"latents"}`` → the same latents (validated) and their image.
* ``POST /api/edit``   ``{"op", "latents", "donor"?, "params"?}`` → the edited latents and image
  (:data:`.ops.SERVE_OPS`).

Bad input never reaches the model unchecked: bodies over ``max_body_bytes`` get 413, malformed
JSON and out-of-range values 422 with a ``detail`` message naming the field, and when
``max_pending`` renders are already queued a request gets 503. Decoding, editing and rendering
run on a thread pool of ``render_threads`` workers, off the event loop.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field

from lkbench.errors import ConfigError, DataError, LkbenchError
from lkbench.models import Latents
from lkbench.plots import landmark_colour

from .codec import (LatentSpec, data_url, file_sha256, latents_from_json, latents_to,
                    latents_to_json, png_bytes, spec_of)
from .limits import BodyLimit
from .ops import SERVE_OPS, OpParams, apply_op

log = logging.getLogger(__name__)

MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class ServeConfig:
    """Settings of the app (the ``lkbench serve`` options).

    Attributes:
        max_body_bytes: largest request body accepted, in bytes (413 beyond).
        render_threads: worker threads that decode, edit and render (>= 1).
        max_pending: requests allowed to wait for or occupy a worker; more get 503.
        max_added_parts: parts a page may add beyond the model's ``K``.
    """
    max_body_bytes: int = 1 << 20
    render_threads: int = 2
    max_pending: int = 16
    max_added_parts: int = 32

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "render_threads", "max_pending"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_added_parts < 0:
            raise ValueError(f"max_added_parts must be >= 0, got {self.max_added_parts}")


class SampleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = Field(ge=0, le=MAX_SEED, description="seed of the torch.Generator")


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latents: dict[str, Any]


class EditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: str = Field(max_length=32)
    latents: dict[str, Any]
    donor: "dict[str, Any] | None" = None
    params: OpParams = Field(default_factory=OpParams)


class Busy(Exception):
    """More than ``max_pending`` requests are waiting for a render worker."""


class Renderer:
    """The generator and the pool that runs it; everything here is safe to call from several
    worker threads at once (the model is in eval mode and never modified).

    Args:
        generator: a :class:`~lkbench.models.KeypointGenerator` module on ``device``.
        device: where latents are moved before rendering.
        spec: the bounds that incoming latents are checked against.
        config: pool size and queue bound.
    """

    def __init__(self, generator: Any, device: torch.device, spec: LatentSpec,
                 config: ServeConfig):
        self.G, self.device, self.spec, self.config = generator, device, spec, config
        self.pool = ThreadPoolExecutor(config.render_threads, thread_name_prefix="lkbench-render")
        self._pending = 0

    async def run(self, fn, *args) -> Any:
        """``fn(*args)`` on a worker thread under ``torch.inference_mode``; raises :class:`Busy`
        when ``max_pending`` calls are already queued or running."""
        if self._pending >= self.config.max_pending:
            raise Busy()
        self._pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, _infer, fn, args)
        finally:
            self._pending -= 1

    # -- work done on the pool ------------------------------------------------------------
    def image(self, lat: Latents) -> str:
        """Render one sample → PNG data URL."""
        lat = latents_to(lat, self.device)
        return data_url(png_bytes(self.G.render(lat).images[0]))

    def sample(self, seed: int) -> dict[str, Any]:
        gen = torch.Generator(device=self.device).manual_seed(seed)
        lat = self.G.sample_latents(1, gen)
        return {"latents": latents_to_json(lat), "image": self.image(lat)}

    def render(self, latents: dict) -> dict[str, Any]:
        lat = latents_from_json(latents, self.spec)
        return {"latents": latents_to_json(lat), "image": self.image(lat)}

    def edit(self, req: EditRequest) -> dict[str, Any]:
        lat = latents_from_json(req.latents, self.spec)
        donor = None if req.donor is None else latents_from_json(req.donor, self.spec, "donor")
        new = apply_op(req.op, lat, donor, req.params)
        out = latents_to_json(new)
        try:  # what the page gets back must be accepted when it sends it again
            latents_from_json(out, self.spec)
        except DataError as exc:
            raise ConfigError(f"op {req.op!r} would give latents outside this server's limits "
                              f"({exc}); edit less far or undo") from None
        return {"latents": out, "image": self.image(new)}


def _infer(fn, args):
    with torch.inference_mode():
        return fn(*args)


def static_dir() -> Path:
    """The folder of the page (``index.html``, ``app.js``, ``style.css``), shipped as package
    data."""
    return Path(str(resources.files("lkbench.serve") / "static"))


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            why = (err.get("ctx") or {}).get("error", "")
            parts.append(f"the request body is not valid JSON ({why} at character "
                         f"{err.get('loc', ('', '?'))[-1]}); send a JSON object")
            continue
        loc = ".".join(str(v) for v in err.get("loc", ())[1:]) or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(generator: Any, *, model: str, checkpoint: str, checkpoint_sha256: str,
               device: "torch.device | str" = "cpu",
               config: "ServeConfig | None" = None) -> FastAPI:
    """The editor app for one loaded generator.

    Args:
        generator: a :class:`~lkbench.models.KeypointGenerator` (an ``nn.Module``); it is moved
            to ``device`` and put in eval mode.
        model: its registry name (shown on the page, written into saved latents).
        checkpoint: the checkpoint's path or name, shown on the page.
        checkpoint_sha256: hex sha256 of the checkpoint file, written into saved latents.
        device: torch device to render on.
        config: limits and pool size (defaults: :class:`ServeConfig`).
    """
    config = config or ServeConfig()
    device = torch.device(device)
    G = generator.to(device).eval()
    spec = spec_of(G, model, max_added_parts=config.max_added_parts)
    renderer = Renderer(G, device, spec, config)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        renderer.pool.shutdown(wait=True, cancel_futures=True)

    app = FastAPI(title="lkbench editor", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.renderer = renderer
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)

    @app.exception_handler(LkbenchError)
    async def lkbench_error(request: Request, exc: LkbenchError):
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return JSONResponse({"detail": f"the server is busy ({config.max_pending} renders "
                             "queued); try again in a moment"}, status_code=503,
                            headers={"Retry-After": "1"})

    info = {
        "model": model, "checkpoint": Path(checkpoint).name, "checkpoint_sha256": checkpoint_sha256,
        "image_size": spec.image_size, "num_keypoints": spec.num_keypoints,
        "embed_dim": spec.embed_dim, "has_tau": spec.has_tau, "max_parts": spec.max_parts,
        "max_abs_keypoint": spec.max_abs_keypoint, "max_body_bytes": config.max_body_bytes,
        "device": str(device),
        "ops": [{"name": op.name, "help": op.help, "needs_donor": op.needs_donor,
                 "uses": list(op.uses), "edit_op": op.edit_op} for op in SERVE_OPS.values()],
        "colours": [list(landmark_colour(k)) for k in range(spec.num_keypoints)],
        "latents_header": {"format": "lkbench-latents", "version": 1, "model": model,
                           "image_size": spec.image_size, "num_keypoints": spec.num_keypoints,
                           "embed_dim": spec.embed_dim, "checkpoint_sha256": checkpoint_sha256},
    }

    @app.get("/api/info")
    async def get_info() -> dict[str, Any]:
        return info

    @app.post("/api/sample")
    async def sample(req: SampleRequest) -> dict[str, Any]:
        return await renderer.run(renderer.sample, req.seed)

    @app.post("/api/render")
    async def render(req: RenderRequest) -> dict[str, Any]:
        return await renderer.run(renderer.render, req.latents)

    @app.post("/api/edit")
    async def edit(req: EditRequest) -> dict[str, Any]:
        return await renderer.run(renderer.edit, req)

    page = static_dir()

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(page / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=page), name="static")
    return app


def app_from_checkpoint(path: "str | Path", *, device: "torch.device | str" = "cpu",
                        config: "ServeConfig | None" = None) -> FastAPI:
    """:func:`create_app` for the generator saved at ``path`` (``G_ema``, else ``G``).

    Raises:
        CheckpointError: missing, corrupt or foreign file, or not a keypoint generator.
    """
    from lkbench.checkpoint import load_generator

    ckpt, G = load_generator(path)
    return create_app(G, model=ckpt.model, checkpoint=str(path),   # a shipped name stays a name
                      checkpoint_sha256=file_sha256(ckpt.path), device=device, config=config)
