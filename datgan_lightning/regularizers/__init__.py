"""Discriminator regularizers: plain-PyTorch ``nn.Module`` terms ``reg(D, real, fake, d_real, d_fake)``
added to D's loss, one small object each (the baselines of the DAT paper's Table III).

* gradient penalties (:mod:`~datgan_lightning.regularizers.gradient_penalty`): :class:`GP`, :class:`LP`,
  :class:`ZeroGP` (0-GP), :class:`R1`, :class:`R2`, and the general :class:`GradientPenalty`;
* adversarial robustness (:mod:`~datgan_lightning.regularizers.adversarial_robustness`): :class:`AR`, :class:`RFM`.

The other two Table III columns are perturbation strategies, not regularizers:
DATT is :class:`datgan_lightning.adversarial.DATT` (D trained on the clean and the DAT-perturbed batch
together), and ASGAN as Table III runs it is ``FGSM(eps=1/255, positions=("real", "fake"))``
(:class:`datgan_lightning.adversarial.FGSM`, its defaults) used as the GAN module's perturbation.
The ``ASGAN`` module is the AS-GAN paper's own scheme (reals only, a second D update).
"""

from datgan_lightning.regularizers.adversarial_robustness import AR, RFM, RobustnessRegularizer
from datgan_lightning.regularizers.base import AugmentedCritic, Regularizer
from datgan_lightning.regularizers.consistency import BCR, CR, ConsistencyRegularization
from datgan_lightning.regularizers.gradient_penalty import GP, LP, R1, R2, GradientPenalty, ZeroGP
from datgan_lightning.regularizers.lecam import LeCam

__all__ = ["AR", "AugmentedCritic", "GP", "LP", "R1", "R2", "RFM", "GradientPenalty", "Regularizer", "RobustnessRegularizer", "ZeroGP", "BCR", "CR", "ConsistencyRegularization", "LeCam"]
