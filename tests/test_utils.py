import stat

import pytest

from datgan_lightning.utils import write_atomically


def test_written_files_get_the_permissions_open_would_give(tmp_path):
    """mkstemp creates 0600 files; a checkpoint or result file must be readable as a plain open() makes it."""
    written = write_atomically(tmp_path / "result.json", lambda tmp: open(tmp, "w").write("{}"))
    reference = tmp_path / "reference.json"
    reference.write_text("{}")
    assert stat.S_IMODE(written.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    def fail(tmp):
        open(tmp, "w").write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(tmp_path / "result.json", fail)
    assert list(tmp_path.iterdir()) == []
