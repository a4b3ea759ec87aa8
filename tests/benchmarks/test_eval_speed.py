"""benchmarks.eval_speed --smoke: both engines score the same fakes against the same cached reals."""

import json

import pytest

from benchmarks import eval_speed as bench


def test_eval_speed_smoke_times_both_engines_and_their_fids_agree(tmp_path, capsys):
    out = tmp_path / "speed.json"
    result = bench.main(["--smoke", "--json", str(out)])
    assert json.loads(out.read_text()) == result
    old, new = result["median_seconds"].values()
    assert old > 0 and new > 0 and result["new_over_old"] == pytest.approx(new / old)
    (old_scores, new_scores) = result["scores"].values()
    (fid,) = [name for name in new_scores if name.startswith("fid/")]
    assert new_scores[fid] == pytest.approx(old_scores[fid], rel=1e-5)
    assert "new / old" in capsys.readouterr().out
