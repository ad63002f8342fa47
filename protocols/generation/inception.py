"""Feature extractors for Fréchet distances, with offline-first Inception weights.

FID uses clean-fid's Inception-v3 TorchScript file ``inception-2015-12-05.pt`` (the TF-FID
weights; spec §3.1). Where the file comes from, in order:

1. ``weights=PATH`` (``--inception-weights``), else ``$LKBENCH_INCEPTION_WEIGHTS``;
2. ``<cache root>/weights/inception-2015-12-05.pt`` (cache root: ``$LKBENCH_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/lkbench``, else ``~/.cache/lkbench``);
3. unless ``$LKBENCH_OFFLINE=1``: downloaded from clean-fid's own URL
   (:data:`cleanfid.downloads_helper.inception_url`) into that cache file, through a temporary
   file that is renamed only once complete (clean-fid's own download writes the final name
   directly, so an interrupted download is read back later: clean-fid issue #24).

When none works, :func:`resolve_inception` raises *before any generation* with one message naming
the file, where to get it and how to pass it. A file is checked against
:data:`INCEPTION_SHA256` when that is known (⚠ it is not recorded in the sources this project
could read, so it is ``None`` and the check is skipped for the default; the file's actual sha256
always goes into the result record). Callers (tests, mirrors) can pass ``sha256=`` to enforce one.

Other feature networks are never called FID: :data:`FEATURES` holds the registry of extractors
(``inception`` plus ``random-conv``, a fixed random-init network for tests and CPU demos), and
records of anything but ``inception`` carry a different metric name.
"""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from lkbench.data.cache import cache_root  # the one lkbench cache root
from lkbench.errors import ConfigError, LkbenchError
from lkbench.records import sha256_file
from lkbench.registry import Registry

log = logging.getLogger(__name__)

__all__ = ["INCEPTION_FILE", "INCEPTION_SHA256", "WeightsError", "cache_root", "offline",
           "resolve_inception", "FeatureExtractor", "FEATURES", "build_extractor"]

INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_SHA256: "str | None" = None
"""sha256 of the published ``inception-2015-12-05.pt``; ⚠ not recovered (see module docstring)."""
DOWNLOAD_TIMEOUT_S = 60


class WeightsError(LkbenchError):
    """Feature-network weights that are missing, corrupt or not allowed to be downloaded."""


def offline() -> bool:
    """True when ``$LKBENCH_OFFLINE`` is set to something other than ``0``/``false``/empty."""
    return os.environ.get("LKBENCH_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def _url() -> str:
    from cleanfid.downloads_helper import inception_url
    return inception_url


def _how_to_get(default: Path) -> str:
    return (f"get {INCEPTION_FILE} from {_url()} (e.g. on a machine with internet), then pass "
            f"it with --inception-weights PATH or LKBENCH_INCEPTION_WEIGHTS=PATH, or put it at "
            f"{default}")


def _check_sha(path: Path, sha256: "str | None") -> str:
    actual = sha256_file(path)
    if sha256 is not None and actual != sha256.lower():
        raise WeightsError(f"{path} has sha256 {actual} but {INCEPTION_FILE} must have "
                           f"{sha256}: the file is corrupt, truncated or a different network. "
                           f"Delete it and {_how_to_get(cache_root() / 'weights' / INCEPTION_FILE)}")
    return actual


def resolve_inception(weights: "str | os.PathLike[str] | None" = None, *,
                      sha256: "str | None" = INCEPTION_SHA256,
                      download: "Callable[[str, Path], None] | None" = None) -> tuple[Path, str]:
    """Find (or fetch) the Inception TorchScript file; see the module docstring for the order.

    Args:
        weights: an explicit file; ``None`` looks at the environment and the cache.
        sha256: the digest the file must have, or None to only record it.
        download: ``download(url, tmp_path)`` (tests replace it); default ``urllib``.

    Returns:
        ``(path, sha256 of the file)``.

    Raises:
        WeightsError: missing file, wrong checksum, download forbidden or failed.
    """
    default = cache_root() / "weights" / INCEPTION_FILE
    explicit = weights or os.environ.get("LKBENCH_INCEPTION_WEIGHTS")
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            source = "--inception-weights" if weights else "LKBENCH_INCEPTION_WEIGHTS"
            raise WeightsError(f"{source} points at {path}, which is not a file; "
                               + _how_to_get(default))
        return path, _check_sha(path, sha256)
    if default.is_file():
        return default, _check_sha(default, sha256)
    if offline():
        raise WeightsError(f"the Inception weights {INCEPTION_FILE} are not in the cache "
                           f"({default}) and LKBENCH_OFFLINE=1 forbids downloading them; "
                           + _how_to_get(default))
    log.info("downloading %s to %s", _url(), default)
    default.parent.mkdir(parents=True, exist_ok=True)
    tmp = default.with_name(f".{default.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:  # a temp file beside the target, renamed only when complete and checked
        (download or _urllib_download)(_url(), tmp)
        digest = _check_sha(tmp, sha256)
        os.replace(tmp, default)
    except OSError as exc:
        raise WeightsError(f"could not download {_url()} ({exc}); "
                           + _how_to_get(default)) from exc
    finally:
        tmp.unlink(missing_ok=True)
    return default, digest


def _urllib_download(url: str, tmp: Path) -> None:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, \
            open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)


# ---------------------------------------------------------------- extractors

@dataclass(frozen=True)
class FeatureExtractor:
    """A feature network with the interface clean-fid's extractors have.

    Attributes:
        name: registry name (``inception`` is the only one whose distance is called FID).
        fn: float32 ``[N,3,S,S]`` with values in [0, 255] → float32 ``[N,dim]``; ``S = 299``
            except in ``legacy_tensorflow`` mode (the network resizes inside).
        dim: feature size.
        weights_sha256: sha256 of the weights file, or a description of fixed weights.
        info: facts for the record (weights path, seed, ...).
    """
    name: str
    fn: Callable[[Tensor], Tensor]
    dim: int
    weights_sha256: str
    info: dict = field(default_factory=dict)

    @property
    def is_fid(self) -> bool:
        return self.name == "inception"


def _inception_module(path: Path, resize_inside: bool) -> nn.Module:
    """clean-fid's :class:`~cleanfid.inception_torchscript.InceptionV3W` (its forward: the
    ``(x − 128)/128`` normalisation and the 2048-d pool features) over a file of any name."""
    from cleanfid.inception_torchscript import InceptionV3W

    class _FromFile(InceptionV3W):
        def __init__(self) -> None:  # InceptionV3W only takes a folder + fixed name
            nn.Module.__init__(self)
            try:
                self.base = torch.jit.load(str(path), map_location="cpu").eval()
            except (RuntimeError, ValueError) as exc:
                raise WeightsError(f"{path} is not a readable TorchScript file ({exc}); "
                                   + _how_to_get(cache_root() / "weights" / INCEPTION_FILE)
                                   ) from exc
            self.layers = self.base.layers
            self.resize_inside = resize_inside

    return _FromFile()


def _build_inception(mode: str, device: torch.device, weights: "str | None",
                     sha256: "str | None") -> FeatureExtractor:
    if mode == "legacy_pytorch":
        raise ConfigError("mode legacy_pytorch uses pytorch-fid's Inception port, whose weights "
                          "lkbench does not manage offline; use --mode clean (default) or "
                          "legacy_tensorflow")
    path, digest = resolve_inception(weights, sha256=sha256)
    net = _inception_module(path, resize_inside=mode == "legacy_tensorflow").to(device).eval()
    return FeatureExtractor("inception", net, 2048, digest, {"weights_path": str(path)})


class RandomConvNet(nn.Module):
    """A fixed, randomly initialised conv net (seed 0): ``[N,3,299,299]`` in [0,255] → 64-d.

    Not a perceptual metric: its Fréchet distance only says whether two image sets differ in
    simple statistics. For tests and CPU demos where the Inception file is unavailable or slow.
    """

    DIM = 64

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.net = nn.Sequential(
                nn.Conv2d(3, 16, 4, stride=4), nn.ReLU(),
                nn.Conv2d(16, 32, 4, stride=4), nn.ReLU(),
                nn.Conv2d(32, self.DIM, 3, stride=2),  # no ReLU: no dead feature dimensions
                nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x: Tensor) -> Tensor:
        return self.net((x - 128.0) / 128.0)


def _build_random_conv(mode: str, device: torch.device, weights: "str | None",
                       sha256: "str | None") -> FeatureExtractor:
    if mode == "legacy_tensorflow":
        raise ConfigError("random-conv features take 299x299 inputs; use --mode clean")
    net = RandomConvNet().to(device).eval()
    return FeatureExtractor("random-conv", net, RandomConvNet.DIM, "random-init-seed-0",
                            {"architecture": "conv 4/4 + ReLU, conv 4/4 + ReLU, conv 3/2, avgpool; seed 0"})


FEATURES: Registry[Callable[..., FeatureExtractor]] = Registry("features")
FEATURES.add("inception", _build_inception)
FEATURES.add("random-conv", _build_random_conv)


def build_extractor(name: str, mode: str, device: torch.device, *,
                    weights: "str | None" = None,
                    sha256: "str | None" = INCEPTION_SHA256) -> FeatureExtractor:
    """The extractor ``name`` (see :data:`FEATURES`) for clean-fid ``mode`` on ``device``."""
    return FEATURES.get(name)(mode, device, weights, sha256)
