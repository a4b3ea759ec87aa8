"""Exact resume under data parallelism: a 2-process gan_ddp run (toy 2D mixture, DAT) SIGKILLed after a
checkpoint and resumed with ``--ckpt_path`` ends with the G and D weights of the uninterrupted 2-process
run, bit for bit: every rank's RNG state is in the checkpoint and each rank restores its own."""

import torch

from tests.test_resume import CHECKPOINT_EVERY_10, CONFIGS, _assert_bitwise_equal, _kill_resume_compare


def test_two_process_kill_and_resume_is_bitwise_the_uninterrupted_run(tmp_path):
    args = ["--config", str(CONFIGS / "toy2d" / "gan_dat_imbalanced.yaml"), "--model.init_args.hidden=16",
            "--model.init_args.max_iterations=20", "--trainer.devices=2", "--trainer.callbacks=[]", CHECKPOINT_EVERY_10]
    full, resumed, interrupted = _kill_resume_compare(args, kill_at=15, tmp_path=tmp_path)
    assert interrupted["generator_iterations"] == 10 and full["generator_iterations"] == 20
    assert len(interrupted["callbacks"]["ResumeState"]["rng_per_rank"]) == 2  # both ranks' streams...
    states = interrupted["callbacks"]["ResumeState"]["rng_per_rank"]
    assert not torch.equal(states[0]["torch"], states[1]["torch"])  # ...which differ
    _assert_bitwise_equal(full, resumed)
