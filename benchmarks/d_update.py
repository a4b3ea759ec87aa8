"""DAT's D update over the baseline's, on whichever ``datgan_lightning`` is first on the path: the way to
time two commits of the library against each other (the code of each is imported, not this file's).

    git worktree add /tmp/before 9f4bc37
    for i in 1 2 3; do
        PYTHONPATH=/tmp/before python benchmarks/d_update.py   # the older code
        PYTHONPATH=. python benchmarks/d_update.py             # this checkout
    done

Run as a file (not ``-m``), so that the working directory does not shadow ``PYTHONPATH``. Only public
API that every commit since the DAT strategy has: ``SNGAN(ngf, ndf, perturbation)``, its ``discriminator``
and ``loss``, and ``DAT()(D, real, fake)``; on code with ``GANObjective``, its D loss is timed as well.
SNGAN-32 at Mimicry's widths (G 256, D 128), one D loss + backward on fixed inputs in [-1, 1], the
methods interleaved ``--repeats`` times after a warm-up; prints one JSON line of medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    import datgan_lightning
    from datgan_lightning.adversarial import DAT
    from datgan_lightning.modules import SNGAN

    torch.manual_seed(0)
    module = SNGAN(ngf=256, ndf=128, perturbation=DAT())
    D, loss, dat = module.discriminator, module.loss, module.perturbation
    generator = torch.Generator().manual_seed(1)
    real, fake = (torch.rand(args.batch, 3, 32, 32, generator=generator) * 2 - 1 for _ in range(2))

    def discriminate(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = D(torch.cat([a, b]))
        return logits[: len(a)], logits[len(a) :]

    steps = {
        "baseline": lambda: loss.discriminator_loss(*discriminate(real, fake)).backward(),
        "dat_strategy": lambda: loss.discriminator_loss(*discriminate(*dat(D, real, fake))).backward(),
    }
    objective = getattr(module, "objective", None)
    if objective is not None:
        steps["dat_objective"] = lambda: objective.discriminator_loss(D, real, fake)[0].backward()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for repeat in range(args.repeats + 1):  # the first round warms up
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            elapsed = time.perf_counter() - start
            D.zero_grad(set_to_none=True)
            if repeat:
                times[name].append(elapsed)
    medians = {name: statistics.median(t) for name, t in times.items()}
    result = {"code": datgan_lightning.__file__, "medians": medians,
              **{f"{name}/baseline": medians[name] / medians["baseline"] for name in medians if name != "baseline"}}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
