"""The benchmarks' outputs have their documented shape (tiny runs), and speed.py's reference is our math."""

import importlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO


def _load(name):
    """The study ``benchmarks.<name>`` (imported as ``python -m benchmarks.<name>`` runs it)."""
    return importlib.import_module(f"benchmarks.{name}")


def test_toy2d_json_shape(tmp_path):
    toy2d = _load("toy2d")
    out = tmp_path / "r.json"
    toy2d.main(["--seeds", "2", "--iterations", "5", "10", "--num-samples", "200", "--workers", "1",
                "--out", str(tmp_path), "--json", str(out)])
    results = json.loads(out.read_text())
    assert set(results) == {"balanced", "imbalanced"}
    for mixture in results.values():
        assert set(mixture) == {"gan", "dat"}
        for method in mixture.values():
            assert set(method) == {"5", "10"}
            for scores in method.values():
                assert set(scores) == {"modes", "hq", "kl"} and all(len(v) == 2 for v in scores.values())
                assert all(0 <= m <= 9 for m in scores["modes"])
    assert (tmp_path / "toy2d_table.md").read_text().count("| balanced |") == 4
    assert (tmp_path / "toy2d_scatter.png").stat().st_size > 1000


MNIST = REPO.parent / "shared" / "data" / "mnist"


def test_speed_memory_formats_compares_both_layouts_of_our_loop(tmp_path, capsys):
    speed = _load("speed")
    out = tmp_path / "formats.json"
    results = speed.main(["--memory-formats", "--batch", "2", "--n-dis", "2", "--rounds", "1", "--iterations", "1", "--json", str(out)])
    assert json.loads(out.read_text()) == results
    seconds = results["seconds"]
    assert set(seconds) == {"default", "channels_last"} and all(v > 0 for m in seconds.values() for v in m.values())
    iteration = {layout: 2 * m["d_step"] + m["g_step"] for layout, m in seconds.items()}
    assert results["channels_last_over_default"] == pytest.approx(iteration["channels_last"] / iteration["default"])
    assert "channels_last / default" in capsys.readouterr().out


@pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(), reason="needs ../shared/data/mnist (the MNIST test split)")
def test_mnist_dcgan_json_shape_and_grids(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    bench = _load("mnist_dcgan")
    out = tmp_path / "r.json"
    bench.main(["--iterations", "14", "--out", str(tmp_path), "--json", str(out)])
    results = json.loads(out.read_text())
    assert set(results) == {"gan", "dat"}
    for r in results.values():
        assert r["iterations"] == 14 and 0 < r["spread"][0] <= r["seconds_per_iteration"] <= r["spread"][1] < r["total_seconds"]
    assert (tmp_path / "samples_gan.png").stat().st_size > 1000 and (tmp_path / "samples_dat.png").is_file()
    assert "DAT / GAN time per iteration" in (tmp_path / "mnist_dcgan_table.md").read_text()


def _reference_and_ours(D, speed):
    import torch

    from datgan_lightning.adversarial import DAT
    from datgan_lightning.losses import get_loss
    from datgan_lightning.utils import discriminate

    torch.manual_seed(0)
    real, fake = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    hinge = get_loss("hinge")
    results = {}
    for name in ("ours", "authors", "clean"):
        D.zero_grad(set_to_none=True)
        if name == "authors":
            d_loss = speed.authors_dat_discriminator_update(D, real, fake, hinge, eps=1.0)
        else:
            batches = DAT(eps=1.0)(D, real, fake) if name == "ours" else (real, fake)
            d_loss = hinge.discriminator_loss(*discriminate(D, *batches))
            d_loss.backward()
        results[name] = (d_loss.detach(), [p.grad.clone() for p in D.parameters()])
    return results


def test_speed_reference_update_is_our_math():
    """The authors' formulation in benchmarks/speed.py gives our DAT's loss and D gradients, so the
    ratio compares costs only."""
    import torch

    from datgan_lightning.nets.sngan import SNGANDiscriminator32

    speed = _load("speed")
    D = SNGANDiscriminator32(ndf=8).eval()  # eval: no power iteration, so repeated forwards agree
    results = _reference_and_ours(D, speed)
    (ours, ours_grads), (authors, authors_grads), (clean, _) = results["ours"], results["authors"], results["clean"]
    assert torch.allclose(ours, authors, atol=1e-6) and not torch.allclose(ours, clean, atol=1e-4)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(ours_grads, authors_grads))


@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on CPU needs a C++ compiler (g++)")
def test_speed_reference_update_backpropagates_through_a_compiled_spectral_norm_d():
    """``--compile``: two training-mode forwards of a compiled spectral-norm D before one backward fail
    in PyTorch's compiled autograd; the reference backpropagates each forward before the next."""
    import torch

    from datgan_lightning.nets.sngan import SNGANDiscriminator32

    speed = _load("speed")
    torch.manual_seed(0)
    D = SNGANDiscriminator32(ndf=4)
    D.compile()
    results = _reference_and_ours(D, speed)
    assert all(torch.isfinite(loss) for loss, _ in results.values())
    assert all(g.abs().sum() > 0 for g in results["authors"][1])


@pytest.mark.parametrize("method", ["dat_plain", "dat_authors"])
def test_speed_plain_loops_feed_d_channels_last_batches_with_channels_last(method):
    """``--channels-last`` compares layouts only if every batch D sees is in it (collation makes NCHW)."""
    import torch

    speed = _load("speed")
    args = speed.parse(["--batch", "2", "--n-dis", "1", "--channels-last"])
    loop = speed.PlainLoop(speed.build_module(method, args), authors=method == "dat_authors", device=torch.device("cpu"), bf16=False)
    layouts = []
    loop.D.register_forward_pre_hook(lambda module, inputs: layouts.append(inputs[0].is_contiguous(memory_format=torch.channels_last)))
    loop.run(speed.endless(speed.make_loader(args)), 1)
    assert len(layouts) == (7 if method == "dat_authors" else 3) and all(layouts)


def test_speed_json_has_the_five_measures(tmp_path):
    speed = _load("speed")
    out = tmp_path / "speed.json"
    speed.main(["--batch", "2", "--n-dis", "1", "--rounds", "1", "--iterations", "1", "--json", str(out)])
    results = json.loads(out.read_text())
    measures = ("dat_over_baseline", "ours_over_authors", "asgan_over_baseline", "lightning_over_plain", "dat_peak_memory_ratio")
    assert all(isinstance(results[m], float) and results[m] > 0 for m in measures)
    assert set(results["timings"]) == {"baseline", "dat", "asgan", "dat_plain", "dat_authors"}
    assert all(len(t) == 1 and t[0] > 0 for t in results["raw_times"].values())
    assert results["dat_over_baseline"] == results["timings"]["dat"]["median"] / results["timings"]["baseline"]["median"]
    d = results["d_update_seconds"]
    assert set(d) == {"baseline", "ours", "authors"} and all(v > 0 for v in d.values())
    assert results["d_update_ours_over_authors"] == d["ours"] / d["authors"]
    parts = results["part_seconds"]
    assert parts["g_forward"] > 0 and parts["g_step"] > 0
    composed = {name: parts["g_forward"] + d[name] + parts["g_step"] for name in d}  # n_dis 1
    assert parts["composed_iteration"] == pytest.approx(composed)
    assert results["composed_ours_over_authors"] == pytest.approx(composed["ours"] / composed["authors"])
    assert results["composed_dat_over_baseline"] == pytest.approx(composed["ours"] / composed["baseline"])


@pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(), reason="needs ../shared/data/mnist (the MNIST test split)")
def test_lr_sensitivity_json_table_and_plot(tmp_path):
    bench = _load("lr_sensitivity")
    out = tmp_path / "r.json"
    bench.main(["--iterations", "2", "--lrs", "0.001", "0.005", "--width", "8", "--classifier-epochs", "1",
                "--mnist-root", str(MNIST), "--out", str(tmp_path), "--json", str(out)])
    results = json.loads(out.read_text())
    assert set(results) == {"gan", "dat"}
    for method in results.values():
        assert set(method) == {"0.001", "0.005"}
        assert all(set(s) == {"fid", "kid"} and s["fid"] > 0 for s in method.values())
    with np.load(tmp_path / "mnist_split.npz") as split:
        assert split["train_x"].shape == (8000, 1, 32, 32) and split["test_x"].shape == (2000, 1, 32, 32)
    assert (tmp_path / "lr_sensitivity_table.md").read_text().count("\n| 0.0") == 2
    assert (tmp_path / "lr_sensitivity.png").stat().st_size > 1000


@pytest.mark.parametrize("option", ["--batch", "--rounds", "--iterations", "--part-repeats"])
def test_speed_refuses_a_zero_count_instead_of_using_the_default(option, capsys):
    speed = _load("speed")
    with pytest.raises(SystemExit):
        speed.parse([option, "0"])
    assert f"{option}=0 must be >= 1" in capsys.readouterr().err


def test_d_update_times_the_library_first_on_the_path(tmp_path):
    """benchmarks/d_update.py (old commit vs new): runs as a file on this checkout and reports both DAT paths."""
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "d_update.py"), "--repeats", "1", "--batch", "2", "--threads", "1"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["code"] == str(REPO / "datgan_lightning" / "__init__.py")
    assert result["dat_strategy/baseline"] > 1 and result["dat_objective/baseline"] > 1  # the attack adds a forward and a backward
