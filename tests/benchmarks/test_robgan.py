"""benchmarks.robgan: the diversity and paired-difference formulas by hand, and a smoke run on a tiny
labelled .npz (no ../shared data needed) whose rows all get the same number of classifier updates."""

import json
import math

import numpy as np
import pytest
import torch

from tests.benchmarks.test_benchmarks import _load


class StubExtractor:
    """Features are the images' first two pixels (in [0, 255]); logits are the features."""

    def extract(self, pixels):
        features = pixels.flatten(1)[:, :2]
        return features, features


def test_diversity_is_the_mean_within_class_pairwise_distance_and_the_share_in_the_drawn_class():
    bench = _load("robgan")
    pixels = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [0.0, 1.0], [0.0, 2.0], [9.0, 0.0]])
    images = (pixels / 127.5 - 1).view(6, 2, 1, 1)  # diversity() maps [-1, 1] back to these pixels
    labels = torch.tensor([0, 0, 1, 1, 1, 2])  # class 2 has one sample: no distance, but it is classified
    scores = bench.diversity(StubExtractor(), images, labels)
    assert scores["within_class_distance"] == pytest.approx((5 + (1 + 2 + 1) / 3) / 2)
    # argmax of the logits [0, 0] -> 0 (right), [3, 4] -> 1, [0, 0] -> 0, [0, 1] -> 1 (right), [0, 2] -> 1 (right), [9, 0] -> 0
    assert scores["class_agreement"] == pytest.approx(3 / 6)


def test_accuracy_table_pairs_rob_gan_with_madry_seed_by_seed():
    bench = _load("robgan")
    row = lambda *values: {str(e): list(values) for e in bench.EPS}  # noqa: E731
    text = bench.accuracy_markdown({"clean": row(0.5, 0.5), "madry": row(0.25, 0.5), "robgan": row(0.5, 0.25)})
    assert "| (a) clean training | 50.0 ± 0.0 |" in text
    assert "| (c) − (b), same seed, points | 0.0 ± 35.4 (1/2 seeds higher) |" in text  # +25 and -25 points


def test_smoke_run_json_grids_and_one_budget_for_every_row(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    images = lambda n: rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)  # noqa: E731
    np.savez(tmp_path / "tiny.npz", train_x=images(24), train_y=np.arange(24) % 10, test_x=images(8), test_y=np.arange(8) % 4)
    bench = _load("robgan")
    updates = []  # (row, classifier updates) of every fit: D steps of co-training, steps of the others
    fit = bench.fit

    def counting_fit(arguments):
        cli = fit(arguments)
        model = cli.model
        row = next(a for a in arguments if a.endswith(".yaml")).rsplit("/", 1)[1]
        updates.append((row, model.discriminator_steps if type(model).__name__ == "RobGAN" else model.generator_iterations))
        return cli

    monkeypatch.setattr(bench, "fit", counting_fit)
    out = tmp_path / "r.json"
    results = bench.main(["--smoke", "--seeds", "1", "--jobs", "1", "--data", str(tmp_path / "tiny.npz"), "--out", str(tmp_path / "out"),
                          "--classifier-dir", str(tmp_path / "out"), "--json", str(out), "--grid", str(tmp_path / "grid.png")])
    assert json.loads(out.read_text()) == results and not results["failed"]
    assert all(len(v) == 1 and v[0] > 0 for v in results["cpu_seconds"].values())
    budget = results["budget"]["classifier_updates"]
    assert budget == 5 * 1 + 2 and results["budget"]["cotrain_iterations"] == 1 and results["budget"]["finetune_steps"] == 2
    by_config = {}
    for config, n in updates:
        by_config.setdefault(config, []).append(n)
    assert by_config["cifar10_subset_cpu_clean.yaml"] == by_config["cifar10_subset_cpu_madry.yaml"] == [budget]
    assert by_config["cifar10_subset_cpu.yaml"] == [5, 5]  # split and acgan
    assert [5 + n for n in by_config["cifar10_subset_cpu_finetune.yaml"]] == [budget]
    for row in ("clean", "madry", "robgan"):
        assert set(results["accuracy"][row]) == {"0.0", "0.02", "0.04", "0.08"}
        assert all(len(v) == 1 and all(0 <= a <= 1 for a in v) for v in results["accuracy"][row].values())
    for samples in ("split", "acgan"):
        assert all(len(v) == 1 and math.isfinite(v[0]) for v in results["diversity"][samples].values())
    assert results["diversity"]["real"]["within_class_distance"][0] > 0
    printed = capsys.readouterr().out
    assert "| (b) Madry adversarial training (reals) | " in printed and "budget 7 classifier updates" in printed
    assert (tmp_path / "grid.png").stat().st_size > 1000 and (tmp_path / "out" / "r_table.md").is_file()
