"""Options, config round trip and the nn.Module contract of every regularizer."""

import json

import pytest
import torch

from datgan_lightning.adversarial import DAT, PerturbationStrategy
from datgan_lightning.losses import get_loss
from datgan_lightning.regularizers import AR, GP, LP, R1, R2, RFM, GradientPenalty, Regularizer, ZeroGP

ALL = [
    GP(),
    LP(weight=1.0, every=4, at="real"),
    ZeroGP(weight=0.1, at="fake"),
    R1(),
    R2(weight=2.5, every=16),
    GradientPenalty(weight=3.0, at="real", center=0.5, one_sided=True),
    AR(),
    AR(weight=1.0, eps=0.5, positions=("fake",), reduction="mean_squared", loss="hinge"),
    RFM(every=2, loss=get_loss("wasserstein")),
]


@pytest.mark.parametrize("reg", ALL, ids=repr)
def test_config_round_trip_is_plain_data(reg):
    config = reg.config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = Regularizer.from_config(config)
    assert type(rebuilt) is type(reg) and rebuilt.config() == config and repr(rebuilt) == repr(reg)


@pytest.mark.parametrize("reg", ALL, ids=repr)
def test_is_a_module_without_parameters(reg):
    assert isinstance(reg, torch.nn.Module) and list(reg.parameters()) == [] and reg.state_dict() == {}


def test_defaults_and_config():
    assert R1().config() == {"class_path": "datgan_lightning.regularizers.gradient_penalty.R1", "init_args": {"weight": 5.0, "every": 1}}
    assert GP().config()["init_args"] == {"weight": 10.0, "every": 1, "at": "interpolates"}
    assert AR().config()["init_args"] == {
        "weight": 10.0, "every": 1, "eps": 1e-4, "positions": ["real", "fake"], "reduction": "norm", "loss": None,
    }
    assert (R1().at, R1().center, LP().one_sided, ZeroGP().center, GP().center) == ("real", 0.0, True, 0.0, 1.0)
    assert R2(every=8).every == 8
    assert repr(RFM(loss="ns")) == "RFM(weight=10.0, every=1, eps=0.0001, positions=['real', 'fake'], reduction='norm', loss='ns')"


def test_requires_loss():
    assert AR().requires_loss and RFM().requires_loss and not GP().requires_loss and GP().loss is None


def test_from_config_refuses_other_classes():
    with pytest.raises(ValueError, match=r"^regularizer class_path='datgan_lightning.adversarial.dat.DAT' is not a Regularizer\.$"):
        Regularizer.from_config(DAT().config())
    with pytest.raises(ValueError, match=r"^perturbation class_path=.*GP' is not a PerturbationStrategy\.$"):
        PerturbationStrategy.from_config(GP().config())


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: GP(weight=-1), r"GP: weight=-1 is invalid; use a finite number >= 0 \(0 disables the term\)\."),
        (lambda: R1(weight=float("nan")), r"R1: weight=nan is invalid; use a finite number >= 0"),
        (lambda: AR(weight=float("inf")), r"AR: weight=inf is invalid; use a finite number >= 0"),
        (lambda: RFM(weight="10"), r"RFM: weight='10' is invalid; use a finite number >= 0"),
        (lambda: LP(every=0), r"LP: every=0 is invalid; use an integer >= 1 \(1 applies the term on every D step\)\."),
        (lambda: R2(every=1.5), r"R2: every=1.5 is invalid; use an integer >= 1"),
        (lambda: ZeroGP(at="middle"), r"ZeroGP: at='middle' is invalid; use one of \('real', 'fake', 'interpolates'\)\."),
        (lambda: GradientPenalty(center=-1), r"GradientPenalty: center=-1 is invalid; use a finite number >= 0 \(1 for GP and LP, 0 for 0-GP\)\."),
        (lambda: AR(eps=-0.1), r"AR: eps=-0.1 is invalid; use a finite number >= 0\."),
        (lambda: RFM(eps=float("nan")), r"RFM: eps=nan is invalid"),
        (lambda: AR(positions=("everything",)), r"AR: positions=\('everything',\) is invalid; use a non-empty subset of \('real', 'fake'\)\."),
        (lambda: RFM(positions=()), r"RFM: positions=\(\) is invalid"),
        (lambda: AR(reduction="sum"), r"AR: reduction='sum' is invalid; use one of \('norm', 'mean_squared'\)\."),
        (lambda: AR(loss="bce"), r"Unknown loss 'bce': choose one of"),
    ],
)
def test_bad_options_are_one_sentence_naming_the_option(make, message):
    with pytest.raises(ValueError, match=message) as error:
        make()
    text = str(error.value)
    assert text.endswith(".") and ". " not in text and "\n" not in text
