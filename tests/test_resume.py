"""Exact resume: a run SIGKILLed after a checkpoint and resumed with ``--ckpt_path`` ends with the G and D
weights of the uninterrupted run, bit for bit (CPU, one thread), on the 2D mixture and on images with DAT.
Also: explicit command-line options win over the checkpoint's, and the loaders' own resume logic."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from datgan_lightning.cli import main
from datgan_lightning.data.resumable import ResumableDataLoader
from tests.conftest import CONFIGS, REPO

TIMEOUT = 900  # the machine may be busy; a run takes a few seconds of CPU
CHECKPOINT_EVERY_10 = ('--trainer.callbacks+={"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", '
                       '"init_args": {"every_n_train_steps": 20, "save_last": true, "save_top_k": -1}}')  # 10 generator iterations


def _datgan(args, out, **popen):
    command = [sys.executable, "-m", "datgan_lightning.cli", "fit", *args, f"--trainer.logger.init_args.save_dir={out}",
               "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false", "--threads=1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _finish(process):
    out, err = process.communicate(timeout=TIMEOUT)
    return process.returncode, out, err


def _last(folder):
    (path,) = Path(folder).rglob("last.ckpt")
    return torch.load(path, map_location="cpu", weights_only=True), path


def _kill_resume_compare(args, kill_at, tmp_path):
    """Uninterrupted run and a run SIGKILLed at generator iteration ``kill_at`` side by side; then resume
    the killed one from its last checkpoint; return both final checkpoints."""
    full = _datgan(args, tmp_path / "full")
    killed = _datgan([*args, "--trainer.callbacks+=tests.callbacks.helpers.KillAt", f"--trainer.callbacks.iteration={kill_at}"], tmp_path / "killed")
    code, out, err = _finish(killed)
    assert code == -9, f"the run was not SIGKILLed (code {code}): {err[-2000:]}"
    interrupted, resume_from = _last(tmp_path / "killed")
    assert 0 < interrupted["generator_iterations"] < kill_at
    code, out, err = _finish(_datgan([*args, f"--ckpt_path={resume_from}"], tmp_path / "resumed"))
    assert code == 0, err[-3000:]
    code, out, err = _finish(full)
    assert code == 0, err[-3000:]
    return _last(tmp_path / "full")[0], _last(tmp_path / "resumed")[0], interrupted


def _assert_bitwise_equal(a, b):
    assert a["generator_iterations"] == b["generator_iterations"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    different = [k for k in a["state_dict"] if not torch.equal(a["state_dict"][k], b["state_dict"][k])]
    assert different == [], f"weights differ after resume: {different[:5]}"


def test_toy2d_kill_and_resume_is_bitwise_the_uninterrupted_run(tmp_path):
    args = ["--config", str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml"), "--model.init_args.hidden=16",
            "--model.init_args.max_iterations=60", "--trainer.callbacks=[]", CHECKPOINT_EVERY_10]
    full, resumed, interrupted = _kill_resume_compare(args, kill_at=27, tmp_path=tmp_path)
    assert interrupted["generator_iterations"] == 20 and full["generator_iterations"] == 60
    _assert_bitwise_equal(full, resumed)
    assert any(k.startswith("generator.") for k in full["state_dict"]) and any(k.startswith("discriminator.") for k in full["state_dict"])


def test_ctrl_c_saves_the_interrupted_iteration_and_its_printed_command_resumes_bitwise(tmp_path):
    """Issue 25.2: a SIGINT in generator iteration 27 (the last periodic checkpoint is at 20) writes last.ckpt
    at 27 and prints the resume command, shell-quoted (the output folder has a space); that command, run as
    printed, ends with the weights of the uninterrupted run."""
    args = ["--config", str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml"), "--model.init_args.hidden=16",
            "--model.init_args.max_iterations=60", "--trainer.callbacks=[]", CHECKPOINT_EVERY_10]
    full = _datgan(args, tmp_path / "full")
    interrupted_dir = tmp_path / "ctrl c"
    code, out, err = _finish(_datgan([*args, "--trainer.callbacks+=tests.callbacks.helpers.InterruptAt", "--trainer.callbacks.iteration=27"], interrupted_dir))
    assert code == 1, f"the run was not interrupted (code {code}): {err[-2000:]}"
    interrupted, path = _last(interrupted_dir)
    assert interrupted["generator_iterations"] == 27, "the checkpoint is not at the interrupted iteration"
    assert f"Interrupted (Ctrl-C): saved {path} at generator iteration 27; resume with:" in err, err[-2000:]
    (command,) = [line.strip() for line in err.splitlines() if line.strip().startswith("datgan fit ")]
    printed = shlex.split(command)
    assert printed[-2:] == ["--ckpt_path", str(path)] and shlex.quote(str(path)) in command  # quoted: the path has a space
    resumed = _datgan(printed[2:], tmp_path / "resumed")  # as printed (its output folder moved aside)
    code, out, err = _finish(resumed)
    assert code == 0, err[-3000:]
    code, out, err = _finish(full)
    assert code == 0, err[-3000:]
    _assert_bitwise_equal(_last(tmp_path / "full")[0], _last(tmp_path / "resumed")[0])


@pytest.fixture
def tiny_npz(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "tiny.npz"
    np.savez(path, train_x=rng.integers(0, 256, (26, 3, 32, 32), dtype=np.uint8), test_x=rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8))
    return path


def test_images_with_dat_kill_and_resume_is_bitwise_the_uninterrupted_run(tiny_npz, tmp_path):
    """DCGAN + DAT + EMA on a shuffled .npz (6 batches of 4 per epoch, the last 2 images dropped): the kill
    lands mid-epoch, after a checkpoint that is itself mid-epoch."""
    config = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "max_epochs": -1, "log_every_n_steps": 5,
                    "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "x", "name": "npz"}},
                    "callbacks": [{"class_path": "lightning.pytorch.callbacks.ModelCheckpoint",
                                   # no epoch-end saves (Lightning < 2.6 writes last.ckpt there too): the last is mid-epoch
                                   "init_args": {"every_n_train_steps": 10, "save_last": True, "save_top_k": -1,
                                                 "save_on_train_epoch_end": False}}]},
        "model": {"class_path": "datgan_lightning.modules.DCGAN",
                  "init_args": {"ngf": 4, "ndf": 4, "latent_dim": 8, "max_iterations": 20, "ema_decay": 0.9,
                                "perturbation": {"class_path": "datgan_lightning.adversarial.DAT", "init_args": {"eps": 1.0}}}},
        "data": {"class_path": "datgan_lightning.data.NpzImages", "init_args": {"path": str(tiny_npz), "batch_size": 4, "seed": 3}},
    }
    path = tmp_path / "npz.yaml"
    path.write_text(yaml.safe_dump(config))
    full, resumed, interrupted = _kill_resume_compare(["--config", str(path)], kill_at=14, tmp_path=tmp_path)
    assert interrupted["generator_iterations"] == 10  # 10 batches: epoch 1, position 4 of 6
    (position,) = interrupted["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    assert position["position"] == 4
    _assert_bitwise_equal(full, resumed)
    assert any(k.startswith("generator_ema.") for k in full["state_dict"])


def test_explicit_options_win_over_the_checkpoint_and_extend_the_run(tmp_path, capsys):
    checkpointing = ["--trainer.callbacks=[]", '--trainer.callbacks+={"class_path": "lightning.pytorch.callbacks.ModelCheckpoint", '
                     '"init_args": {"every_n_train_steps": 8, "save_last": true}}', "--trainer.enable_progress_bar=false"]
    config = ["fit", "--config", str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml"), *checkpointing]
    main([*config, "--model.init_args.hidden=8", "--model.init_args.max_iterations=4", f"--trainer.logger.init_args.save_dir={tmp_path / 'first'}"])
    first, ckpt = _last(tmp_path / "first")
    assert first["generator_iterations"] == 4
    # the config file says hidden 64 and lr_g 1e-3: the checkpoint's hidden 8 wins over the file, the command line's lr_g and length over both
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:  # resuming the finished run as it is: nothing to do, no new folder
        main([*config, f"--ckpt_path={ckpt}", f"--trainer.logger.init_args.save_dir={tmp_path / 'again'}"])
    assert exit_info.value.code == 0 and not (tmp_path / "again").exists()
    assert "Nothing to train: the checkpoint has finished its run (4 of max_iterations=4" in capsys.readouterr().out
    main([*config, f"--ckpt_path={ckpt}", "--model.init_args.max_iterations=8", "--model.init_args.lr_g=0.0005",
          f"--trainer.logger.init_args.save_dir={tmp_path / 'second run'}"])
    second, written = _last(tmp_path / "second run")
    assert second["generator_iterations"] == 8  # a finished run was extended
    assert second["hyper_parameters"]["lr_g"] == 0.0005 and second["hyper_parameters"]["hidden"] == 8
    lrs = [group["lr"] for state in second["optimizer_states"] for group in state["param_groups"]]
    assert lrs == [0.001, 0.0005]  # D's from the checkpoint, G's from the command line
    out = capsys.readouterr().out
    # the command says which of the config's options the checkpoint replaced (not those the command line gave)
    (said,) = [line for line in out.splitlines() if "the checkpoint's model options replace the config's" in line]
    assert "hidden=8 (config: 64)" in said and "lr_g" not in said and "max_iterations" not in said
    assert "Outputs of this run:" in out and f"last checkpoint: {written}" in out
    (resume,) = [line.split("resume with: ", 1)[1] for line in out.splitlines() if "resume with: " in line]
    command = shlex.split(resume)  # quoted: the folder's name has a space
    assert command[:2] == ["datgan", "fit"] and command[command.index("--ckpt_path") + 1] == str(written)
    assert Path(command[command.index("--config") + 1]).is_file()


def test_a_run_folder_in_use_is_refused_and_a_stale_lock_is_taken_over(tmp_path, capsys):
    run = tmp_path / "gan_dat_imbalanced" / "version_0"
    lock = run.with_name("version_0.lock")
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{os.getppid()}\n")  # a live process that is not this one
    args = ["fit", "--config", str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml"), "--model.init_args.hidden=8", "--model.init_args.max_iterations=2",
            "--trainer.callbacks=[]", f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.logger.init_args.version=0",
            "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith("error: the run folder") and f"is in use by another run (pid {os.getppid()})" in err
    assert not run.exists() and lock.read_text() == f"{os.getppid()}\n"
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    lock.write_text(finished.stdout)  # the pid of a process that has ended: a stale lock
    main(args)
    assert (run / "metrics.csv").is_file() and not lock.exists()


# ---------------------------------------------------------------- the loaders alone
def _batches(loader, n=None):
    out = []
    for i, (x,) in enumerate(loader):
        if n is not None and i == n:
            break
        out.append(x.tolist())
    return out


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resumable_loader_continues_the_epoch_and_the_next_ones(num_workers):
    """Stopped after ``epoch`` full epochs and ``position`` batches of the next (5 = its end), a new loader
    given the state yields exactly the rest of the uninterrupted sequence, across epochs, with or
    without persistent workers."""
    data = torch.utils.data.TensorDataset(torch.arange(22.0))

    def loader():
        return ResumableDataLoader(data, batch_size=4, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(1),
                                   num_workers=num_workers, persistent_workers=num_workers > 0)

    def epoch(loader, skip=0):  # as Lightning consumes a sized loader: len(loader) batches, never past its end
        iterator = iter(loader)
        return [next(iterator)[0].tolist() for _ in range(len(loader) - skip)]

    reference = loader()
    flat = [batch for _ in range(4) for batch in epoch(reference)]  # 4 epochs of 5 batches
    assert len(flat) == 20 and flat[:5] != flat[5:10]
    for done, position in [(0, 2), (1, 0), (1, 3), (2, 5)]:
        first = loader()
        for _ in range(done):
            epoch(first)
        iterator = iter(first)
        seen = [next(iterator)[0].tolist() for _ in range(position)]
        assert seen == flat[done * 5 : done * 5 + position]
        resumed = loader()
        resumed.load_state_dict(first.state_dict())
        rest = epoch(resumed, skip=position % 5)
        while len(rest) < 20 - (done * 5 + position):
            rest += epoch(resumed)
        assert rest == flat[done * 5 + position :], (done, position)


# ---------------------------------------------------------------- atomic checkpoints
SLOW_SAVE = """
import io, os, sys, time
import torch
original = torch.save
seen = {"last": 0}

def slow_save(obj, f, *args, **kwargs):
    if isinstance(f, (str, os.PathLike)) and "last.ckpt" in os.path.basename(str(f)):
        seen["last"] += 1
        if seen["last"] == 2:  # the second last.ckpt: write half of it, then hang until killed
            buffer = io.BytesIO()
            original(obj, buffer)
            data = buffer.getvalue()
            with open(f, "wb") as handle:
                handle.write(data[: len(data) // 2])
                handle.flush()
            print("SLOW SAVE", f, flush=True)
            time.sleep(600)
    return original(obj, f, *args, **kwargs)

torch.save = slow_save
from datgan_lightning.cli import main
main(sys.argv[1:])
"""


def test_a_kill_during_a_checkpoint_save_leaves_the_previous_last_ckpt_loadable(tmp_path):
    args = ["fit", "--config", str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml"), "--model.init_args.hidden=8", "--model.init_args.max_iterations=6",
            "--trainer.callbacks=[]", CHECKPOINT_EVERY_10.replace('"every_n_train_steps": 20', '"every_n_train_steps": 4'),
            f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false", "--threads=1"]
    process = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)})
    try:
        for line in process.stdout:
            if line.startswith("SLOW SAVE"):
                break
        else:
            pytest.fail("torch.save never wrote last.ckpt to a file path: checkpoints do not go through AtomicCheckpointIO; "
                        + process.stderr.read()[-2000:])
        process.kill()  # SIGKILL in the middle of writing the second last.ckpt
    finally:
        process.kill()
        process.wait(timeout=TIMEOUT)
    (last,) = tmp_path.rglob("last.ckpt")
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)  # intact: the first save, not half of the second
    assert checkpoint["generator_iterations"] == 2
    assert [p.name for p in last.parent.glob(".last.ckpt.*.tmp")], "the kill should have hit the temporary file"


def test_atomic_checkpoint_io_replaces_the_file_and_never_writes_non_finite_weights(tmp_path):
    from datgan_lightning.checkpoint_io import AtomicCheckpointIO

    io, path = AtomicCheckpointIO(), tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(2)}, "generator_iterations": 1}, path)
    io.save_checkpoint({"state_dict": {"w": torch.full((2,), 2.0)}, "generator_iterations": 2}, path)
    assert torch.load(path, weights_only=True)["generator_iterations"] == 2 and list(path.parent.iterdir()) == [path]
    with pytest.warns(UserWarning, match="was not written: weight w is not finite"):
        io.save_checkpoint({"state_dict": {"w": torch.tensor([1.0, float("nan")])}, "generator_iterations": 3}, path)
    assert torch.load(path, weights_only=True)["generator_iterations"] == 2


def test_the_next_save_removes_a_temporary_file_left_by_a_killed_save(tmp_path):
    from datgan_lightning.checkpoint_io import AtomicCheckpointIO

    path = tmp_path / "last.ckpt"
    leftover, other = tmp_path / ".last.ckpt.k1ll3d.tmp", tmp_path / ".best.ckpt.x.tmp"
    leftover.write_bytes(b"half a checkpoint")
    other.write_bytes(b"another checkpoint's")
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(2)}}, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".best.ckpt.x.tmp", "last.ckpt"]
