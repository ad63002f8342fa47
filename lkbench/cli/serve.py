"""``lkbench serve``: run the interactive keypoint editor (:mod:`lkbench.serve`) for one
checkpoint.

Importing this module imports neither torch nor FastAPI; both load when the command runs.
"""
from __future__ import annotations

import errno
import ipaddress
import re
import socket

import click

from ..errors import ConfigError
from . import options


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); other names and
    addresses (including 0.0.0.0, which listens on every interface) are not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_HOSTNAME = re.compile(r"(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                       r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?")


def check_host(host: str) -> None:
    """Refuse a ``--host`` that is neither an IP address nor a well-formed host name
    (``999.1.1.1``, ``1.2.3``, ``bad_name``) before it is called remote or looked up."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare)
        return
    except ValueError:
        pass
    numeric = re.fullmatch(r"[0-9.]+", bare) is not None or ":" in bare
    if numeric or not _HOSTNAME.fullmatch(bare):
        raise ConfigError(f"--host {host} is not a valid IP address or host name; use "
                          "127.0.0.1 (this machine only, the default), or an address of this "
                          "machine such as 0.0.0.0 (every interface) with --allow-remote")


def check_can_listen(host: str, port: int) -> None:
    """Bind ``(host, port)`` once and let it go, so a busy port or an address that is not this
    machine's is a one-line error before the URL is printed (the server binds it again with
    the same SO_REUSEADDR setting right after)."""
    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"--host {host}: cannot resolve it ({exc.strerror}); use 127.0.0.1 or "
                          "an address of this machine") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(f"port {port} on {host} is already in use (another lkbench "
                                  f"serve, or another server); choose a free one, e.g. --port "
                                  f"{port + 1 if port < 65535 else 8000}, or stop the program "
                                  "that holds it") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise ConfigError(f"--host {host} is not an address of this machine; use "
                                  "127.0.0.1, or 0.0.0.0 with --allow-remote for every "
                                  "interface") from None
            if exc.errno == errno.EACCES:
                raise ConfigError(f"port {port} needs administrator rights (ports below 1024 "
                                  "do); use a port such as --port 8000") from None
            raise ConfigError(f"cannot listen on {host} port {port}: "
                              f"{exc.strerror or exc}; choose another --host or --port") from None


@click.command("serve")
@click.argument("checkpoint", type=click.Path(dir_okay=False), metavar="CHECKPOINT|demo")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but a loopback address needs --allow-remote.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="TCP port to listen on.")
@click.option("--allow-remote", is_flag=True,
              help="Allow a --host other than loopback: anyone who can reach it can use the "
              "editor (there is no authentication); a warning is printed.")
@options.device()
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

    CHECKPOINT is a file from lkbench train or export, or 'demo' (the shipped demo generator).

    Example: lkbench serve demo, then open http://127.0.0.1:8000
    """
    check_host(host)
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(f"--host {host} would make the editor reachable from other machines, "
                          "and it has no authentication; add --allow-remote if you mean it, or "
                          "keep the default 127.0.0.1")
    import uvicorn

    from ..serve.app import ServeConfig, app_from_checkpoint
    from ..device import choose_device

    config = ServeConfig(max_body_bytes=max_body_kb * 1024, render_threads=render_threads,
                         max_pending=max_pending, max_added_parts=max_added_parts)
    app = app_from_checkpoint(checkpoint, device=choose_device(device), config=config)
    check_can_listen(host, port)
    if not is_loopback(host):
        click.echo(f"WARNING: listening on {host}: anyone who can reach this address can use "
                   "the editor and run the generator; there is no authentication.", err=True)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"lkbench editor for {checkpoint}: http://{shown}:{port}  (Ctrl+C stops it)",
               err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
