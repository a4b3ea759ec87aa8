"""gan_ddp destroys its process group when a fit ends, normally or on an error: 2 short 2-process fits exit 0
and a fit refused on every rank exits 1, none with gloo's abort (134). ``benchmarks/clean_exit.py`` runs 10
fits (the abort came about 1 run in 10); the suite runs 2, all at once, to stay fast."""

import importlib.util

from tests.conftest import REPO


def test_two_process_fits_exit_cleanly():
    spec = importlib.util.spec_from_file_location("clean_exit", REPO / "benchmarks" / "clean_exit.py")
    clean_exit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(clean_exit)
    codes = clean_exit.main(["--runs", "2", "--parallel", "3", "--timeout", "240"])
    assert codes == {"fit": [0, 0], "failing fit": [1]}
