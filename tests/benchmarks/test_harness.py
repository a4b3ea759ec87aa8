"""benchmarks.harness: the summaries by hand, and the journal of finished cells."""

import json

from benchmarks import harness


def test_mean_std_is_the_sample_std_of_the_finite_values_and_counts_the_missing():
    assert harness.mean_std([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00"
    assert harness.mean_std([1.0, None, float("nan"), 4.0], 1) == "2.5 ± 2.1 (2 missing)"  # std of (1, 4): 3 / sqrt(2)
    assert harness.mean_std([5.0], 3) == "5.000 ± 0.000" and harness.mean_std([None], 2) == "n/a"


def test_paired_differences_are_taken_seed_by_seed():
    rows = {"a": {"fid": [10.0, 12.0, None]}, "ref": {"fid": [9.0, 13.0, 1.0]}}
    assert harness.differences(rows["a"]["fid"], rows["ref"]["fid"]) == [1.0, -1.0]
    # mean 0, std sqrt(2); the reference is lower in seed 0 only
    assert harness.paired(rows, "a", "ref") == "+0.00 ± 1.41 vs ref (1/2 lower)"
    assert harness.paired(rows, "a", None) == "" and harness.paired(rows, "a", "missing") == ""


def test_the_journal_keeps_finished_cells_by_their_whole_job_and_forgets_failed_ones(tmp_path):
    path = tmp_path / "cells.json"
    journal = harness.FinishedCells(path)
    job = {"row": "dat", "seed": 0, "arguments": ["--x=1"]}
    journal.add(job, {**job, "scores": {"fid": 1.5}, "error": None})
    journal.add({**job, "seed": 1}, {**job, "seed": 1, "scores": {}, "error": "RuntimeError: boom"})
    assert len(json.loads(path.read_text())) == 1  # written at once; the failed cell is not kept
    again = harness.FinishedCells(path)
    assert again.get(job)["scores"] == {"fid": 1.5}
    assert again.get({**job, "arguments": ["--x=2"]}) is None and again.get({**job, "seed": 1}) is None
    assert harness.FinishedCells(path, restart=True).get(job) is None


def test_run_jobs_reports_each_cell_with_an_eta_and_a_failed_cell_does_not_stop_the_grid(capsys):
    def work(job):
        if job["n"] == 2:
            raise ValueError("two")
        return {"square": job["n"] ** 2}

    runs = harness.run_jobs(lambda job: harness.run_safely(work, job), [{"n": n} for n in (1, 2, 3)], 1, 0.0,
                            lambda r: f"n={r['n']} {r['error'] or r['square']}")
    assert [(r["n"], r.get("square"), r["error"]) for r in runs] == [(1, 1, None), (2, None, "ValueError: two"), (3, 9, None)]
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1/3, ") and " ETA " in lines[0] and lines[0].endswith("] n=1 1")
    assert lines[1].endswith("n=2 ValueError: two") and lines[2].startswith("[3/3, ") and "ETA 0.0 min" in lines[2]
