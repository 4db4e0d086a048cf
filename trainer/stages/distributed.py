"""Data parallel plumbing: which process this is under torchrun, and the few collectives the loop needs.

Launched by torchrun (`python -m torch.distributed.run --nproc_per_node=N -m trainer train ...`)
the environment holds RANK, WORLD_SIZE and LOCAL_RANK; the process group uses NCCL on CUDA and
gloo on CPU. Launched plainly, everything here is a no-op for a world of one.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Only the main process writes checkpoints, reports and bundles, and reports progress."""
        return self.rank == 0


def resolve_device(requested: str, world: World) -> torch.device:
    """--device auto|cpu|cuda -> the torch device of this process (cuda:LOCAL_RANK under torchrun)."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {requested!r}")
    use_cuda = requested == "cuda" or (requested == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        from models.errors import PicsiftError

        raise PicsiftError("--device cuda was asked for but torch sees no CUDA GPU; use --device auto or cpu")
    return torch.device(f"cuda:{world.local_rank}") if use_cuda else torch.device("cpu")


def start(requested_device: str) -> tuple[World, torch.device]:
    """Join the process group when launched by torchrun; returns (world, device)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    world = World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))
    device = resolve_device(requested_device, world)
    if world.distributed and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world, device


def stop(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


@contextlib.contextmanager
def main_first(world: World):
    """Run the block in the main process first, then in the others (which then find its caches and exports)."""
    if not world.main:
        barrier(world)
    yield
    if world.main:
        barrier(world)


def any_rank(flag: bool, world: World, device: torch.device) -> bool:
    """True on every rank when `flag` is true on any (so all ranks stop at the same step)."""
    if not world.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def mean_over_ranks(value: float, world: World, device: torch.device) -> float:
    if not world.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item() / world.size)
