"""``torchrun --nproc_per_node 1`` on one GPU, NCCL.

1. ``torchrun --nproc_per_node 1 -m lkbench.cli train ... --device cuda`` runs two steps and
   checkpoints. With ``WORLD_SIZE`` = 1, ``RunContext.create`` takes the single-process path
   (no process group), so this checks the launch, not the collectives.
2. The collectives: a script under the same ``torchrun`` joins an NCCL process group itself and
   makes ``RunContext.distributed`` true for its one rank, so lkbench's data-parallel code —
   SyncBatchNorm in SPADE, the broadcast of the initial weights, the gradient all-reduce, the
   all-reduced losses and stop flag, the barrier around checkpoints — runs on NCCL for two
   LatentKeypointGAN steps with AMP. (NCCL refuses two ranks on one GPU, so one rank is what a
   one-GPU machine can run.)
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

import lkbench
from lkbench.checkpoint import load_checkpoint

pytestmark = pytest.mark.cuda

_FORCED = """
    import json, os, sys
    from pathlib import Path

    import torch
    import torch.distributed as dist

    out, device = Path(sys.argv[1]), sys.argv[2]
    if device == "cuda":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group("nccl" if device == "cuda" else "gloo")

    from lkbench.config import resolve
    from lkbench.trainers.distributed import RunContext
    from lkbench.trainers.latent_keypoint_gan import LKGRunConfig, LKGTrainer
    from lkbench.trainers.loop import train

    # WORLD_SIZE is 1, where lkbench would skip every collective: force its distributed path.
    RunContext.distributed = property(lambda self: dist.is_initialized())

    class Capturing(LKGTrainer):
        def __init__(self, cfg, ctx):
            super().__init__(cfg, ctx)
            type(self).last = self
            self.init = {k: v.detach().cpu().clone() for k, v in self.G.state_dict().items()}

    cfg = resolve(LKGRunConfig, preset="smoke", overrides=[
        f"loop.device={device}", "loop.amp=true", "loop.steps=2", "loop.ckpt_every=1"])
    result = train(Capturing, cfg, out / "run", progress=False)
    tr = Capturing.last
    now = tr.G.state_dict()
    report = {
        "backend": dist.get_backend(), "world": dist.get_world_size(), "step": result.step,
        "ctx_distributed": tr.ctx.distributed, "amp": tr.ctx.amp,
        "sync_bn": sum(isinstance(m, torch.nn.SyncBatchNorm) for m in tr.G.modules()),
        "changed": sum(not torch.equal(now[k].cpu(), v) for k, v in tr.init.items()),
        "device": str(next(tr.G.parameters()).device),
    }
    (out / "report.json").write_text(json.dumps(report))
    dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node",
         "1", "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _stats(run) -> list[dict]:
    return [json.loads(ln) for ln in (run / "stats.jsonl").read_text().splitlines()]


def test_torchrun_one_process_trains_two_steps_through_the_cli(tmp_path, device):
    run = tmp_path / "run"
    _torchrun(["-m", "lkbench.cli", "train", "--model", "latent-keypoint-gan", "--preset",
               "smoke", "--device", device.type, "--set", "loop.steps=2", "--out", str(run),
               "--no-progress"], tmp_path)
    assert [ln["step"] for ln in _stats(run)] == [1, 2]
    ckpt = load_checkpoint(run / "ckpt" / "step-0000002.pt")
    assert ckpt.step == 2 and ckpt.extra["run_config"]["loop"]["device"] == device.type
    assert ckpt.extra["images_seen"] == 2 * 4
    lkbench.load_generator(ckpt.path)


def test_nccl_collectives_of_the_training_loop_on_one_rank(tmp_path, device):
    script = tmp_path / "forced_ddp.py"
    script.write_text(textwrap.dedent(_FORCED))
    _torchrun([str(script), str(tmp_path), device.type], tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["backend"] == ("nccl" if device.type == "cuda" else "gloo")
    assert report["world"] == 1 and report["ctx_distributed"] and report["step"] == 2
    assert report["device"].startswith(device.type) and report["amp"] == (device.type == "cuda")
    if device.type == "cuda":                   # SPADE's BatchNorms became SyncBatchNorm
        assert report["sync_bn"] > 0
    assert report["changed"] > 0
    run = tmp_path / "run"
    lines = _stats(run)
    assert [ln["step"] for ln in lines] == [1, 2]
    for ln in lines:
        assert all(torch.isfinite(torch.tensor(v)) for k, v in ln.items()
                   if k.startswith(("loss", "d_", "gp")) and isinstance(v, float)), ln
    # the SyncBatchNorm state loads into the plain model
    g = lkbench.load_generator(run / "ckpt" / "step-0000002.pt")
    assert g.num_keypoints == 4
