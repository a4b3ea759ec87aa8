"""GAN(compile=...): G and D compiled in place (state-dict keys unchanged); a spectral-norm D stays eager
with a warning (PyTorch cannot backpropagate a compiled SN D through two forwards before one backward)."""

import pytest
import torch

from datgan_lightning.adversarial import DAT
from datgan_lightning.modules import SNGAN, Toy2DGAN
from datgan_lightning.regularizers import GP
from tests.conftest import fast_trainer

EAGER = {"backend": "eager"}  # dynamo traces, no code generation: tests the wiring in seconds


def _compiled(module):
    return getattr(module, "_compiled_call_impl", None) is not None


def test_compiles_g_and_d_and_trains_with_dat_and_a_penalty(tmp_path):
    model = Toy2DGAN(hidden=8, n_dis=2, max_iterations=2, perturbation=DAT(eps=0.5, data_range=None), regularizers=[GP()], compile=EAGER)
    keys = set(model.state_dict())
    fast_trainer(tmp_path).fit(model, torch.utils.data.DataLoader(torch.randn(16, 2), batch_size=4))
    assert _compiled(model.generator) and _compiled(model.discriminator)
    assert model.generator_iterations == 2 and set(model.state_dict()) == keys


def test_a_spectral_norm_discriminator_stays_eager_with_a_warning(tmp_path):
    model = SNGAN(ngf=4, ndf=4, latent_dim=8, n_dis=1, max_iterations=1, perturbation=DAT(eps=1.0), compile=EAGER)
    loader = torch.utils.data.DataLoader(torch.rand(4, 3, 32, 32) * 2 - 1, batch_size=2)
    with pytest.warns(UserWarning, match="spectral norm and stays eager"):
        fast_trainer(tmp_path).fit(model, loader)
    assert _compiled(model.generator) and not _compiled(model.discriminator)


def test_off_by_default_and_a_bad_value_is_one_sentence():
    assert not _compiled(Toy2DGAN(hidden=8).discriminator)
    with pytest.raises(ValueError, match=r"compile='yes' is invalid; use true, false or a dict of torch.compile options"):
        Toy2DGAN(hidden=8, compile="yes")
