"""Per-step communication of gan_ddp, before and after issue 26 item 4, on 2 gloo processes (one thread each):
the buffer broadcast before each training step (every buffer vs :func:`divergent_buffers`) and the gradient
average after a D backward (a loop of ``copy_`` vs one fused copy), on SNGAN-32 (default widths) with EMA and
``sync_batchnorm``. Alternates old and new ``--repeats`` times and prints median milliseconds.

    python benchmarks/communication.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path


def worker(repeats: int) -> None:
    import torch
    import torch.distributed as dist

    from datgan_lightning.distributed import GlobalBatchNorm, _by_dtype, average_gradients, broadcast_tensors, divergent_buffers
    from datgan_lightning.modules import SNGAN

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    gan = torch.nn.SyncBatchNorm.convert_sync_batchnorm(SNGAN(ema_decay=0.999))
    for layer in gan.modules():
        if type(layer) is torch.nn.SyncBatchNorm:
            layer.__class__ = GlobalBatchNorm
    for p in gan.discriminator.parameters():
        p.grad = torch.randn_like(p)

    def old_broadcast() -> None:
        broadcast_tensors(gan.buffers())

    def new_broadcast() -> None:
        buffers = divergent_buffers(gan)
        if buffers:
            broadcast_tensors(buffers)

    def old_average() -> None:  # the loop of copy_ it replaced
        grads = [p.grad for p in gan.parameters() if p.requires_grad and p.grad is not None]
        for group in _by_dtype(grads):
            flat = torch.cat([g.reshape(-1) for g in group])
            dist.all_reduce(flat)
            flat /= dist.get_world_size()
            for g, part in zip(group, flat.split([g.numel() for g in group])):
                g.copy_(part.view_as(g))

    def new_average() -> None:
        average_gradients(gan.parameters())

    def timed(fn) -> float:
        dist.barrier()
        started = time.perf_counter()
        fn()
        return 1000 * (time.perf_counter() - started)

    times: dict[str, list[float]] = {k: [] for k in ("old_broadcast", "new_broadcast", "old_average", "new_average")}
    for _ in range(repeats):
        for name, fn in (("old_broadcast", old_broadcast), ("new_broadcast", new_broadcast), ("old_average", old_average), ("new_average", new_average)):
            times[name].append(timed(fn))
    if dist.get_rank() == 0:
        print(f"buffers: {len(list(gan.buffers()))} every step before, {len(divergent_buffers(gan))} now (sync_batchnorm, EMA)")
        for name, values in times.items():
            print(f"{name}: median {statistics.median(values):.2f} ms")
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.repeats)
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    processes = [subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", "--repeats", str(args.repeats)], env={**env, "RANK": str(r)})
                 for r in range(2)]
    sys.exit(max(p.wait() for p in processes))


if __name__ == "__main__":
    main()
