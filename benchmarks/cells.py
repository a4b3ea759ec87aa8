"""Resumable study grids: each finished cell is appended to a JSONL file at once (the file is rewritten
atomically), and a rerun of the same command skips the cells already there.

A cell is a dict with a ``key`` (a string naming everything that decides its result: the arm, the seed,
the settings); the grid runs the cells whose key is not yet in the file, in the order given (seed-major,
so partial results cover every arm), printing ``[k/n, elapsed, ETA] description`` as each finishes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def read_cells(path: Path) -> list[dict[str, Any]]:
    """The finished cells of ``path`` (none if it does not exist); a line that does not parse is skipped."""
    if not path.is_file():
        return []
    cells = []
    for line in path.read_text().splitlines():
        try:
            cells.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return cells


def append_cell(path: Path, cell: dict[str, Any]) -> None:
    """Add one finished cell to ``path``: the file is rewritten beside itself and renamed, so a reader (or
    a crash) sees the old cells or the old cells plus this one, never half a line."""
    from datgan_lightning.utils import write_atomically

    lines = [json.dumps(c, allow_nan=False) for c in read_cells(path)] + [json.dumps(cell, allow_nan=False)]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda tmp: Path(tmp).write_text("\n".join(lines) + "\n"))


def run_grid(jobs: Iterable[dict[str, Any]], run: Callable[[dict[str, Any]], dict[str, Any]], path: Path,
             describe: Callable[[dict[str, Any]], str], run_missing: bool = True) -> list[dict[str, Any]]:
    """Run every job whose ``key`` is not in ``path`` yet (none when not ``run_missing``), appending each
    result (``run(job)``, which must keep the job's ``key``) as soon as it is done; returns all finished
    cells of the grid, old and new, in the jobs' order."""
    jobs = list(jobs)
    done = {c["key"]: c for c in read_cells(path)}
    todo = [j for j in jobs if j["key"] not in done] if run_missing else []
    print(f"{len(jobs)} cells: {sum(j['key'] in done for j in jobs)} already in {path}, {len(todo)} to run", flush=True)
    start = time.perf_counter()
    for k, job in enumerate(todo, 1):
        cell = run(job)
        append_cell(path, cell)
        done[cell["key"]] = cell
        elapsed = time.perf_counter() - start
        eta = elapsed / k * (len(todo) - k)
        print(f"[{k}/{len(todo)}, {elapsed / 60:.1f} min, ETA {eta / 60:.1f} min] {describe(cell)}", flush=True)
    return [done[j["key"]] for j in jobs if j["key"] in done]
