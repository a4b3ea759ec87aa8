import pytest
import torch

from datgan_lightning.adversarial import DAT
from datgan_lightning.modules import SNGAN
from tests.conftest import fast_trainer, image_loader


@pytest.mark.parametrize("perturbation", [None, DAT(eps=1.0)], ids=["baseline", "dat"])
def test_one_generator_iteration_on_tiny_nets(tmp_path, perturbation):
    torch.manual_seed(0)
    model = SNGAN(resolution=32, latent_dim=8, ngf=8, ndf=8, n_dis=2, max_iterations=1, perturbation=perturbation)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, image_loader())
    assert model.generator_iterations == 1 and trainer.global_step == 3
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert any(k.startswith("generator.") for k in changed) and any(k.startswith("discriminator.") for k in changed)


def test_images_with_labels_and_dat_perturb_within_range():
    model = SNGAN(resolution=32, latent_dim=8, ngf=8, ndf=8, perturbation=DAT(eps=1.0))
    real = torch.rand(4, 3, 32, 32) * 2 - 1
    torch.manual_seed(0)
    fake = model.generate(4).detach()
    real_adv, fake_adv = model.perturbation(model.discriminator, real, fake)
    assert real_adv.min() >= -1 and real_adv.max() <= 1 and not torch.equal(real_adv, real)
    assert torch.equal(model.unpack_batch((real, torch.zeros(4)))[0], real) and model.unpack_batch((real, torch.zeros(4)))[1] is None


def test_unknown_resolution_is_a_clear_error():
    with pytest.raises(ValueError, match=r"resolution=128 is invalid; SNGAN nets exist for \[32, 48, 64\] pixels"):
        SNGAN(resolution=128)


def test_channels_last_trains_the_same_math_in_the_faster_layout(tmp_path):
    """With ``channels_last`` the conv weights and every batch D sees are in that layout, and the first
    D step (DAT's attack forward, then the forward on the perturbed batch) gives the default layout's
    logits. Later steps are not compared: Adam's first steps move every weight by about ``lr`` whatever
    the gradient's size, so rounding-level gradient differences show up as lr-sized weight differences."""
    layouts, outputs = {}, {}
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = SNGAN(resolution=32, latent_dim=8, ngf=8, ndf=8, n_dis=2, max_iterations=1, perturbation=DAT(eps=1.0), channels_last=channels_last)
        layouts[channels_last], outputs[channels_last] = [], []

        def record(module, args, output, channels_last=channels_last):
            layouts[channels_last].append(args[0].is_contiguous(memory_format=torch.channels_last))
            outputs[channels_last].append(output.detach())

        model.discriminator.register_forward_hook(record)
        torch.manual_seed(1)
        fast_trainer(tmp_path).fit(model, image_loader())
        weights = [p for p in model.parameters() if p.dim() == 4]
        layout = torch.channels_last if channels_last else torch.contiguous_format
        assert weights and all(p.is_contiguous(memory_format=layout) for p in weights)
        assert channels_last == all(p.is_contiguous(memory_format=torch.channels_last) for p in weights)
    assert not any(layouts[False]) and all(layouts[True]) and len(layouts[True]) == 5  # 2 per D step, 1 in G's
    for default, fast in zip(outputs[False][:2], outputs[True][:2]):
        assert torch.allclose(default, fast, atol=1e-5)


def test_channels_last_checkpoint_reloads_in_its_layout(tmp_path):
    torch.manual_seed(0)
    model = SNGAN(resolution=32, latent_dim=8, ngf=8, ndf=8, n_dis=1, max_iterations=1, channels_last=True)
    trainer = fast_trainer(tmp_path)
    trainer.fit(model, image_loader())
    trainer.save_checkpoint(tmp_path / "cl.ckpt")
    loaded = SNGAN.load_from_checkpoint(tmp_path / "cl.ckpt")
    assert loaded.hparams.channels_last and loaded.generator_iterations == 1
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in loaded.parameters() if p.dim() == 4)
