"""``datgan-compare``: both runs train end to end (a few iterations) and leave one table and one two-panel
figure; bad input is one ``error:`` line with exit code 2 and nothing written."""

import pytest

from datgan_lightning.compare import run
from tests.conftest import CONFIGS


def test_compare_trains_both_and_writes_table_and_two_panel_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the default configs are found in the installed clone, outputs stay here
    result = run(["--iterations", "6", "--plot-at", "3", "--num-samples", "100", "--out", "out"])
    run_dir = tmp_path / "out" / "version_0"
    assert result["run_dir"].resolve() == run_dir
    table = (run_dir / "comparison.md").read_text()
    assert "| GAN modes (of 9) |" in table and "| GAN+DAT modes (of 9) |" in table
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == ["3", "6"]
    assert result["figure_path"].resolve() == run_dir / "comparison.png"
    assert (run_dir / "comparison.png").stat().st_size > 5000
    assert len(result["figure"].axes) == 2
    assert [ax.get_title().split(":")[0] for ax in result["figure"].axes] == ["GAN", "GAN+DAT"]
    (legend,) = result["figure"].legends  # issue 25.12: what the marks mean
    assert [t.get_text() for t in legend.get_texts()] == [
        "generated samples", "mode centres", "3 std circles (radius 0.15)", "column weight (share of the data)"]
    for ax in result["figure"].axes:  # the imbalanced mixture's columns, left to right (data/mixture.py: 0.15/0.05/0.8)
        assert [t.get_text() for t in ax.texts] == ["15%", "5%", "80%"]
    for name in ("gan_imbalanced", "gan_dat_imbalanced"):
        assert (run_dir / name / "mixture_metrics.json").exists() and (run_dir / name / "checkpoints" / "last.ckpt").exists()
    out = capsys.readouterr().out
    assert table in out and "figure: out/version_0/comparison.png" in out


def test_a_failing_run_is_one_line_naming_its_config(tmp_path, capsys):
    bad = tmp_path / "bad_dat.yaml"
    bad.write_text((CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml").read_text().replace("loss: ns", "loss: bce"))
    with pytest.raises(SystemExit) as exit_info:
        run([str(CONFIGS / "toy2d" / "gan_imbalanced.yaml"), str(bad), "--iterations", "2", "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"datgan-compare: error: training {bad} failed (exit 2): Unknown loss 'bce'")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["missing.yaml", "other.yaml"], "config missing.yaml does not exist"),
        ([str(CONFIGS / "toy2d" / "gan_balanced.yaml")], "configs: got 1; pass two"),
        (["--iterations", "0"], "--iterations 0 is invalid"),
        (["--iterations", "100", "--plot-at", "200"], "--plot-at 200 is outside 1..100"),
        (["--num-samples", "0"], "--num-samples 0 is invalid"),
        (["--iterations", "abc"], "argument --iterations: invalid int value: 'abc'"),
    ],
)
def test_bad_input_is_one_error_line_and_writes_nothing(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run([*argv, "--out", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("datgan-compare: error: ") and message in line
    assert not (tmp_path / "out").exists()
