"""Where a run executes: device choice, AMP, and data parallelism under ``torchrun``.

Gradients are averaged with explicit collectives after each backward (StyleGAN2-ADA's approach)
instead of wrapping models in ``DistributedDataParallel``: the gradient penalties differentiate
through D twice, which DDP's hooks do not support, and every trainer then syncs the same way.
Every rank takes part in every collective; only rank 0 writes files.

SPADE's BatchNorm becomes ``SyncBatchNorm`` on CUDA. ``SyncBatchNorm`` has no CPU kernel, so a
CPU (gloo) run normalises each rank's batch on its own and averages the running statistics
across ranks after every step, which keeps every parameter and buffer identical across ranks.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from lkbench.device import choose_device


@dataclass
class RunContext:
    """Device, rank and precision of this process.

    Attributes:
        device: where models and batches live.
        rank, world: this process's rank and the number of processes (1 without torchrun).
        amp: autocast to bfloat16 (CUDA only).
    """
    device: torch.device
    rank: int = 0
    world: int = 1
    amp: bool = False
    _owns_group: bool = field(default=False, repr=False)

    @classmethod
    def create(cls, device: str = "auto", amp: bool = True) -> "RunContext":
        """Join the ``torchrun`` process group when launched by it, else a single process."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            dev = choose_device(device)
            return cls(dev, amp=amp and dev.type == "cuda")
        rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        dev = choose_device(device)
        if dev.type == "cuda":
            dev = torch.device("cuda", local)
            torch.cuda.set_device(dev)
        owns = not dist.is_initialized()
        if owns:
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        return cls(dev, rank=rank, world=world, amp=amp and dev.type == "cuda", _owns_group=owns)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def autocast(self):
        """bfloat16 autocast on CUDA when AMP is on; a no-op context otherwise."""
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, module: nn.Module) -> nn.Module:
        """Move to the device; under DDP on CUDA use SyncBatchNorm; same weights on all ranks."""
        if self.distributed and self.device.type == "cuda":
            module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
        module = module.to(self.device)
        if self.distributed:
            for t in module.state_dict().values():
                dist.broadcast(t, src=0)
        return module

    def average_gradients(self, module: nn.Module) -> None:
        """All-reduce the mean of ``module``'s gradients over ranks (one flat buffer)."""
        if not self.distributed:
            return
        params = [p for p in module.parameters() if p.grad is not None]
        if not params:
            return
        flat = torch.cat([p.grad.flatten() for p in params])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p in params:
            n = p.grad.numel()
            p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
            offset += n

    def average_buffers(self, module: nn.Module) -> None:
        """Average floating buffers (BatchNorm running statistics) over ranks (CPU runs)."""
        if not self.distributed or self.device.type == "cuda":
            return
        for b in module.buffers():
            if b.is_floating_point():
                dist.all_reduce(b)
                b /= self.world

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Mean of a tensor over ranks (for logging and a consistent NaN check)."""
        if self.distributed:
            values = values.clone()
            dist.all_reduce(values)
            values /= self.world
        return values

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self._owns_group and dist.is_initialized():
            dist.destroy_process_group()
