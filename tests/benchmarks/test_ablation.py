"""benchmarks.ablation on a tiny labelled .npz (no ../shared data needed): cells built from the configs, the
JSON's documented shape, and a grid that resumes: a rerun of the same command does not recompute a finished cell."""

import json

import numpy as np

from benchmarks import ablation as bench


def _tiny_npz(path):
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)  # noqa: E731
    np.savez(path, train_x=images(24), train_y=rng.integers(0, 10, 24), test_x=images(8), test_y=rng.integers(0, 10, 8))
    return path


def test_ablation_json_schema_table_and_plot(tmp_path, capsys):
    """benchmarks.ablation on a tiny labelled .npz (no ../shared data needed): cells built from the configs,
    ``{table: {row: {metric: [one value per seed]}}}``, a mean ± std row per cell, a PNG."""
    _tiny_npz(tmp_path / "tiny.npz")
    out = tmp_path / "r.json"
    results = bench.main(["--smoke", "--table", "table3_ns", "fig4", "--rows", "none", "dat", "dat lr=0.001", "--seeds", "2", "--jobs", "1",
                          "--data", str(tmp_path / "tiny.npz"), "--out", str(tmp_path / "out"), "--json", str(out),
                          "--plot", str(tmp_path / "ablation.png")])
    assert json.loads(out.read_text()) == results
    assert set(results) == {"table3_ns", "fig4"} and set(results["table3_ns"]) == {"none", "dat"} and set(results["fig4"]) == {"dat lr=0.001"}
    for rows in results.values():
        for metrics in rows.values():
            assert set(metrics) == set(bench.METRICS) and all(len(v) == 2 for v in metrics.values())
            assert all(isinstance(v, float) for v in metrics["fid"] + metrics["flip_share_fake"] + metrics["fgsm_accuracy_real"])
            assert all(0 <= v <= 1 for v in metrics["flip_share_fake"] + metrics["fgsm_accuracy_real"])
    assert results["table3_ns"]["none"]["step_mean_grey"] == [None, None]  # no perturbation: no step column value
    assert all(v > 0 for v in results["table3_ns"]["dat"]["step_mean_grey"]), results["table3_ns"]["dat"]["step_mean_grey"]
    printed = capsys.readouterr().out
    assert "| dat | " in printed and " ± " in printed and "FAILED" not in printed
    assert (tmp_path / "ablation.png").stat().st_size > 1000 and (tmp_path / "out" / "r_table.md").is_file()
    (config,) = (tmp_path / "out" / "runs" / "table3_ns" / "dat" / "seed1").glob("config.yaml")  # the run's resolved config
    assert "datgan_lightning.adversarial.DAT" in config.read_text() and "seed_everything: 1" in config.read_text()
    assert list((tmp_path / "out").glob("classifier_*.pt"))  # cached for the next run


def test_ablation_tables_are_built_from_existing_configs():
    for name, table in bench.TABLES.items():
        assert len(table.rows) >= 5, name
        paths = [table.base] if table.base else []
        for args in table.rows.values():
            paths += [a for a in args if a.endswith(".yaml")]
        assert all((bench.CONFIGS / p).is_file() for p in paths), name
    assert set(bench.TABLES["table3_ns"].rows) == {"none", "gp", "lp", "zero_gp", "ar", "rfm", "asgan", "dat", "datt"}


def test_a_rerun_of_the_same_command_skips_the_finished_cells(tmp_path, monkeypatch, capsys):
    """Two cells; the journal loses the second (as when the grid is killed while it runs); the same command
    again trains only that cell, and the table holds the first run's scores of the cell it skipped."""
    trained = []
    train_and_score = bench._train_and_score

    def counting(job):
        trained.append(job["row"])
        return train_and_score(job)

    monkeypatch.setattr(bench, "_train_and_score", counting)
    command = ["--smoke", "--table", "table3_ns", "--rows", "none", "dat", "--seeds", "1", "--jobs", "1",
               "--data", str(_tiny_npz(tmp_path / "tiny.npz")), "--out", str(tmp_path / "out")]
    first = bench.main(command)
    assert trained == ["none", "dat"]
    journal = tmp_path / "out" / "ablation_cells.json"
    cells = json.loads(journal.read_text())
    assert sorted(cell["row"] for cell in cells.values()) == ["dat", "none"]
    journal.write_text(json.dumps({key: cell for key, cell in cells.items() if cell["row"] == "none"}))
    capsys.readouterr()

    second = bench.main(command)
    assert trained == ["none", "dat", "dat"]  # the finished cell was not recomputed
    assert second["table3_ns"]["none"] == first["table3_ns"]["none"]
    printed = capsys.readouterr().out
    assert "[1/2, finished earlier] table3_ns / none / seed 0: FID" in printed and "[2/2, " in printed and " ETA " in printed
    assert len(json.loads(journal.read_text())) == 2  # the recomputed cell is back in the journal

    bench.main([*command, "--restart"])
    assert trained == ["none", "dat", "dat", "none", "dat"]
