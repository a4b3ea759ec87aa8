"""ProjectionGAN: a conditional D seen as D(x) with the step's labels, so DAT, the regularizers and the
augmentations compose with it; every D call of a training step gets the real batch's classes."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from datgan_lightning.adversarial import DAT, DATT
from datgan_lightning.augmentations import DiffAugment
from datgan_lightning.modules import ProjectionGAN
from datgan_lightning.nets.conditional import LabelledDiscriminator, projection_discriminator
from datgan_lightning.regularizers import GP, R1
from tests.conftest import fast_trainer

K = 3


def test_labelled_view_repeats_the_labels_over_stacked_batches():
    D = projection_discriminator(32, K, ndf=4).eval()  # eval: no power iteration, calls are comparable
    real, fake, labels = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32), torch.tensor([2, 0])
    view = LabelledDiscriminator(D, labels)
    expected = torch.cat([D(real, labels), D(fake, labels)])
    torch.testing.assert_close(view(torch.cat([real, fake])), expected)
    torch.testing.assert_close(view(real), D(real, labels))
    assert not torch.allclose(D(real, torch.tensor([0, 2])), D(real, labels))  # the labels matter
    with pytest.raises(ValueError, match=r"a batch of 3 samples cannot be labelled with the step's 2 labels"):
        view(torch.randn(3, 3, 32, 32))


class RecordingD(torch.nn.Module):
    """Wraps a projection D and records the labels of every call."""

    def __init__(self, D):
        super().__init__()
        self.D, self.calls = D, []
        self.features = D.features

    def forward(self, x, labels):
        self.calls.append(labels.clone())
        return self.D(x, labels)


def _loader(n=8):
    return DataLoader(TensorDataset(torch.rand(n, 3, 32, 32) * 2 - 1, torch.tensor([0, 1, 2, 1, 2, 0, 0, 1])[:n]), batch_size=4)


@pytest.mark.parametrize("perturbation", [DAT(eps=1.0), DATT(eps=1.0)], ids=["dat", "datt"])
def test_every_d_call_of_a_step_gets_the_real_batchs_classes(perturbation):
    gan = ProjectionGAN(num_classes=K, ngf=2, ndf=4, perturbation=perturbation, regularizers=[GP()])
    gan.discriminator = RecordingD(gan.discriminator)
    x, y = next(iter(_loader()))
    torch.manual_seed(0)
    fake_labels = []
    original = gan.generator.forward
    gan.generator.forward = lambda z, labels: (fake_labels.append(labels.clone()), original(z, labels))[1]
    real, labels = gan.unpack_batch((x, y))
    gan.discriminator_step(real, labels)
    assert [l.tolist() for l in fake_labels] == [y.tolist()]  # fakes drawn with the real classes
    assert gan.discriminator.calls and all(torch.equal(c, y.repeat(len(c) // len(y))) for c in gan.discriminator.calls)


def test_trains_and_checkpoints_with_dat_r1_and_diffaugment(tmp_path):
    gan = ProjectionGAN(num_classes=K, ngf=2, ndf=4, n_dis=2, max_iterations=1, perturbation=DAT(eps=1.0),
                        regularizers=[R1()], augmentations=[DiffAugment(policy="translation")])
    trainer = fast_trainer(tmp_path, enable_checkpointing=True)
    trainer.fit(gan, _loader())
    assert gan.generator_iterations == 1
    assert gan.sample(3, labels=torch.tensor([0, 1, 2])).shape == (3, 3, 32, 32)
    (checkpoint,) = tmp_path.rglob("*.ckpt")
    assert ProjectionGAN.load_from_checkpoint(checkpoint).generator_iterations == 1


def test_unlabelled_data_and_a_critic_without_labels_are_one_sentence(tmp_path):
    gan = ProjectionGAN(num_classes=K, ngf=2, ndf=4, max_iterations=1)
    assert gan.labelled_discriminator
    with pytest.raises(ValueError, match="ProjectionResNetDiscriminator needs labels"):
        gan.objective.critic(gan.discriminator)(torch.zeros(2, 3, 32, 32))
    unlabelled = DataLoader(TensorDataset(torch.rand(4, 3, 32, 32), torch.full((4,), -1)), batch_size=2)
    with pytest.raises(ValueError, match="has no labels"):
        fast_trainer(tmp_path).fit(gan, unlabelled)
