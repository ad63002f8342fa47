"""``lkbench serve``: run the interactive keypoint editor (:mod:`lkbench.serve`) for one
checkpoint.

Registered on the main group with ``cli.add_command(serve)``. Importing this module imports
neither torch nor FastAPI; both load when the command runs.
"""
from __future__ import annotations

import ipaddress

import click

from .errors import ConfigError


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); other names and
    addresses (including 0.0.0.0, which listens on every interface) are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but a loopback address needs --allow-remote.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="TCP port to listen on.")
@click.option("--allow-remote", is_flag=True,
              help="Allow a --host other than loopback: anyone who can reach it can use the "
              "editor (there is no authentication); a warning is printed.")
@click.option("--device", default="auto", show_default=True,
              help="auto (CUDA if available), cpu, cuda or cuda:N.")
@click.option("--render-threads", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker threads that edit and render requests (off the event loop).")
@click.option("--max-pending", default=16, show_default=True, type=click.IntRange(1, 10_000),
              help="Requests that may wait for a worker; more are answered 503 (busy).")
@click.option("--max-body-kb", default=1024, show_default=True,
              type=click.IntRange(1, 1 << 20),
              help="Largest request body accepted, in KiB; larger ones get 413.")
@click.option("--max-added-parts", default=32, show_default=True, type=click.IntRange(0, 1024),
              help="How many parts a page may add beyond the model's K.")
def serve(checkpoint: str, host: str, port: int, allow_remote: bool, device: str,
          render_threads: int, max_pending: int, max_body_kb: int,
          max_added_parts: int) -> None:
    """Open an interactive keypoint editor for the generator in CHECKPOINT in the browser.

    Drag keypoints (Shift-drag moves all, Alt-drag scales all), swap parts, background or
    global appearance with a donor, remove, restore and add parts, interpolate, undo/redo, and
    download the image (PNG) and its latents (JSON; `lkbench edit CKPT --latents FILE --op
    render` reproduces the image exactly). The server keeps no per-user state.

    Example: lkbench serve lkbench/assets/demo-generator.pt, then open http://127.0.0.1:8000
    """
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(f"--host {host} would make the editor reachable from other machines, "
                          "and it has no authentication; add --allow-remote if you mean it, or "
                          "keep the default 127.0.0.1")
    import uvicorn

    from .serve.app import ServeConfig, app_from_checkpoint
    from .trainers.distributed import choose_device

    config = ServeConfig(max_body_bytes=max_body_kb * 1024, render_threads=render_threads,
                         max_pending=max_pending, max_added_parts=max_added_parts)
    app = app_from_checkpoint(checkpoint, device=choose_device(device), config=config)
    if not is_loopback(host):
        click.echo(f"WARNING: listening on {host}: anyone who can reach this address can use "
                   "the editor and run the generator; there is no authentication.", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"lkbench editor for {checkpoint}: http://{shown}:{port}  (Ctrl+C stops it)",
               err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
