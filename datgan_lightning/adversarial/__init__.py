"""Perturbation strategies: plain-PyTorch callables ``strategy(D, real, fake) -> (real_adv, fake_adv)``."""

from datgan_lightning.adversarial.base import POSITIONS, PerturbationStrategy
from datgan_lightning.adversarial.dat import DAT
from datgan_lightning.adversarial.datt import DATT
from datgan_lightning.adversarial.fgsm import FGSM
from datgan_lightning.adversarial.pgd import PGD

__all__ = ["DAT", "DATT", "FGSM", "PGD", "POSITIONS", "PerturbationStrategy"]
