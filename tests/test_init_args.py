"""Regularizers and augmentations record their constructor's arguments when built; configs written by the
earlier code (which read the arguments back from attributes) still build the same objects."""

import copy
import json
import pickle

import pytest
import torch

from datgan_lightning.augmentations import AdaptiveAugment, Augmentation, DiffAugment
from datgan_lightning.init_args import RecordsInitArgs, plain_data
from datgan_lightning.losses import get_loss
from datgan_lightning.regularizers import AR, BCR, CR, LeCam, Regularizer

DIFF = "datgan_lightning.augmentations.diffaugment.DiffAugment"
# verbatim what config() returned before init arguments were recorded (commit af5874f), as checkpoints' hparams hold it
EARLIER = {
    "cr": {"class_path": "datgan_lightning.regularizers.consistency.CR", "init_args": {"weight": 3.0, "augmentation": {
        "class_path": DIFF, "init_args": {"policy": "flip,translation", "probability": 1.0, "translation": 0.125, "cutout": 0.5}}, "every": 1}},
    "bcr": {"class_path": "datgan_lightning.regularizers.consistency.BCR", "init_args": {"weight_real": 5.0, "weight_fake": 10.0, "augmentation": {
        "class_path": DIFF, "init_args": {"policy": "translation", "probability": 1.0, "translation": 0.25, "cutout": 0.5}}, "every": 1}},
    "lecam": {"class_path": "datgan_lightning.regularizers.lecam.LeCam", "init_args": {"weight": 0.3, "decay": 0.9, "start": 4, "every": 1}},
    "ar": {"class_path": "datgan_lightning.regularizers.adversarial_robustness.AR",
           "init_args": {"weight": 10.0, "every": 1, "eps": 0.0001, "positions": ["fake"], "reduction": "norm", "loss": "hinge"}},
    "ada": {"class_path": "datgan_lightning.augmentations.ada.AdaptiveAugment", "init_args": {
        "policy": "color,translation,cutout", "target": 0.6, "speed": 1000.0, "interval": 4, "p_init": 0.1, "translation": 0.125, "cutout": 0.5}},
    "diffaugment": {"class_path": DIFF, "init_args": {"policy": "color,cutout", "probability": 0.5, "translation": 0.125, "cutout": 0.5}},
}


def test_earlier_configs_build_the_same_objects():
    cr = Regularizer.from_config(EARLIER["cr"])
    assert type(cr) is CR and (cr.weight, cr.weight_fake, cr.every) == (3.0, 0.0, 1) and cr.augmentation.ops == ["flip", "translation"]
    bcr = Regularizer.from_config(EARLIER["bcr"])
    assert (bcr.weight_real, bcr.weight_fake, bcr.augmentation.translation, bcr.augmentation.ops) == (5.0, 10.0, 0.25, ["translation"])
    lecam = Regularizer.from_config(EARLIER["lecam"])
    assert type(lecam) is LeCam and (lecam.weight, lecam.decay, lecam.start) == (0.3, 0.9, 4)
    ar = Regularizer.from_config(EARLIER["ar"])
    assert type(ar) is AR and ar.positions == ("fake",) and ar.loss.name == "hinge"
    ada = Augmentation.from_config(EARLIER["ada"])
    assert type(ada) is AdaptiveAugment and (ada.speed, float(ada.p)) == (1000.0, pytest.approx(0.1))
    diff = Augmentation.from_config(EARLIER["diffaugment"])
    assert (diff.probability, diff.ops) == (0.5, ["brightness", "saturation", "contrast", "cutout"])
    for config in EARLIER.values():  # and each records the arguments it was given (options added since: their defaults)
        base = Regularizer if "regularizers" in config["class_path"] else Augmentation
        rebuilt = base.from_config(config).config()
        assert rebuilt["class_path"] == config["class_path"] and {k: rebuilt["init_args"][k] for k in config["init_args"]} == config["init_args"]


def test_a_gan_built_from_earlier_hparams_trains_saves_and_loads(tmp_path):
    """What ``load_from_checkpoint`` does with a checkpoint of the earlier code: its hparams' configs go to the constructor."""
    from datgan_lightning.modules import DCGAN
    from tests.conftest import fast_trainer, image_loader

    model = DCGAN(ngf=4, ndf=4, latent_dim=8, channels=1, max_iterations=1,
                  regularizers=[EARLIER["lecam"], EARLIER["cr"]], augmentations=[EARLIER["diffaugment"]])
    assert model.hparams["regularizers"][1] == EARLIER["cr"] and model.hparams["augmentations"] == [EARLIER["diffaugment"]]
    assert model.hparams["regularizers"][0]["init_args"] == {**EARLIER["lecam"]["init_args"], "warmup": "restart", "delay": 0}  # added since
    trainer = fast_trainer(tmp_path, max_steps=2)
    trainer.fit(model, image_loader(channels=1, batch_size=4))
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    torch.load(tmp_path / "last.ckpt", weights_only=True)  # plain data: loads without unpickling any code
    loaded = DCGAN.load_from_checkpoint(tmp_path / "last.ckpt")  # (its weights_only option needs Lightning >= 2.6)
    assert [type(r) for r in loaded.regularizers] == [LeCam, CR] and loaded.regularizers[1].config()["init_args"] == EARLIER["cr"]["init_args"]
    assert torch.equal(loaded.regularizers[0].ema_real, model.regularizers[0].ema_real)


def test_the_most_derived_signature_is_recorded_with_defaults():
    assert CR(weight=2).config()["init_args"] == {"weight": 2, "augmentation": None, "every": 1}  # not the base's weight_real/weight_fake
    assert AdaptiveAugment(speed=64).init_args["p_init"] == 0.0 and "probability" not in AdaptiveAugment().init_args
    inner = DiffAugment("flip")
    assert BCR(augmentation=inner).config()["init_args"]["augmentation"] == inner.config()


def test_config_is_plain_data():
    import numpy as np

    config = AR(weight=np.float32(2.5), every=np.int64(2), positions=("real",), loss=get_loss("ns")).config()
    assert config["init_args"] == {"weight": 2.5, "every": 2, "eps": 0.0001, "positions": ["real"], "reduction": "norm", "loss": "ns"}
    assert type(config["init_args"]["weight"]) is float and type(config["init_args"]["every"]) is int
    assert json.loads(json.dumps(config)) == config and plain_data((1, (2.0, "a"))) == [1, [2.0, "a"]]


def test_copies_and_pickles_keep_the_recorded_arguments():
    lecam = LeCam(weight=0.5, start=3)
    assert copy.deepcopy(lecam).config() == lecam.config() == pickle.loads(pickle.dumps(lecam)).config()


def test_wrong_arguments_raise_pythons_own_error():
    class Two(RecordsInitArgs):
        def __init__(self, a, b=1):
            self.a = a

    with pytest.raises(TypeError, match="missing 1 required positional argument: 'a'"):
        Two()
    assert Two(1).config()["init_args"] == {"a": 1, "b": 1}
