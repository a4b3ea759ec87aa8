"""ImageMetrics (the engine of ImageQualityMetrics): torchmetrics metrics fed per split, real statistics
computed once and cached on disk, seeded and RNG-neutral evaluations, named errors; an extra torchmetrics
metric (MiFID) given in YAML is computed and logged; the Table II trainer config uses torchmetrics metrics."""

import csv

import pytest
import torch
from torch.utils.data import TensorDataset
from torchmetrics.image import FrechetInceptionDistance, InceptionScore, KernelInceptionDistance

from datgan_lightning.callbacks import ImageQualityMetrics
from datgan_lightning.cli import create_cli, main
from datgan_lightning.errors import ConfigurationError
from datgan_lightning.metrics import DomainClassifierFeatures, ImageMetrics, InceptionV3Features, fid_kid_is
from datgan_lightning.metrics.extractors import FeatureExtractor
from datgan_lightning.metrics.image_metrics import _part
from tests.callbacks.test_evaluation_callbacks import _classifier, _mnist_like
from tests.conftest import CONFIGS


class Pixels(FeatureExtractor):
    """The first 6 pixels as features and logits; counts its network passes."""

    name, features_dim, logits_dim = "pixels", 6, 6
    calls = 0

    def extract(self, images):
        Pixels.calls += 1
        f = images.flatten(1)[:, :6].float() / 255
        return f, 4 * f


class Shift(torch.nn.Module):
    latent_dim = 3 * 4 * 4

    def forward(self, z):
        return torch.tanh(z.view(-1, 3, 4, 4) * 0.5 + 0.2)


def _reals(n=48):
    return TensorDataset(torch.rand(n, 3, 4, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1)


def _metrics(cache_dir=None, **counts):
    Pixels.calls = 0
    options = {"num_real": {"test": 48}, "batch_size": 16, **counts}
    return ImageMetrics(fid_kid_is(Pixels(), kid_subsets=5, kid_subset_size=16, is_splits=2), splits=["test"], cache_dir=cache_dir, **options)


def test_real_statistics_are_computed_once_and_cached_on_disk(tmp_path):
    first = _metrics(tmp_path)
    scores = first(Shift(), {"test": _reals()}, data_key="toy")
    assert set(scores) == {"fid/test/pixels", "kid/test/pixels", "kid_std/test/pixels", "is/pixels", "is_std/pixels"}
    assert Pixels.calls == 3 + 3  # 3 real and 3 fake batches, each extracted once for FID, KID and IS
    assert first(Shift(), {"test": _reals()}, data_key="toy") == scores  # reals kept (reset_real_features=False), same z
    assert Pixels.calls == 6 + 3
    second = _metrics(tmp_path)
    assert second(Shift(), {"test": _reals()}, data_key="toy") == scores  # same reals, from disk
    assert Pixels.calls == 3  # a new run pays only for the fakes
    assert len(list(tmp_path.glob("*.pt"))) == 2  # FID's and KID's real statistics
    _metrics(tmp_path, num_real={"test": 32})(Shift(), {"test": _reals()}, data_key="toy")
    assert Pixels.calls == 2 + 2 and len(list(tmp_path.glob("*.pt"))) == 4  # another count is another key


def test_evaluation_is_seeded_and_leaves_the_training_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    scores = _metrics()(Shift(), {"test": _reals()}, data_key="toy")  # KID's subsets and IS's shuffle draw from torch's RNG
    assert torch.equal(torch.rand(3), expected)
    assert _metrics()(Shift(), {"test": _reals()}, data_key="toy") == scores


def test_each_split_gets_its_first_num_fake_samples_and_fake_only_metrics_get_the_largest_count():
    class Recorder(FrechetInceptionDistance):
        def update(self, imgs, real):
            super().update(imgs, real)
            self.seen = getattr(self, "seen", 0) + (0 if real else len(imgs))

    reals = {"train": _reals(40), "test": _reals(20)}
    metrics = ImageMetrics({"fid": Recorder(feature=Pixels("features")), "is": InceptionScore(feature=Pixels("logits"))},
                           num_real={"train": 40, "test": 20}, num_fake={"train": 37, "test": 11}, batch_size=8)
    metrics(Shift(), reals, data_key="toy")
    assert {split: m["fid"].seen for split, m in metrics.paired.items()} == {"train": 37, "test": 11}
    assert metrics.unpaired["is"].features == []  # reset after compute ...
    assert metrics.paired["test"]["fid"].real_features_num_samples == 20  # ... the reals stay


def test_global_batches_are_dealt_out_in_contiguous_parts_that_keep_the_order():
    for m in (8, 7, 1):
        parts = [_part(16, 16 + m, r, 3) for r in range(3)]
        assert [i for lo, hi in parts for i in range(lo, hi)] == list(range(16, 16 + m))
        assert max(hi - lo for lo, hi in parts) - min(hi - lo for lo, hi in parts) <= 1


def test_bad_metric_configurations_are_named():
    with pytest.raises(ConfigurationError, match=r"subset_size=32, more than the 20 samples of split 'test'; lower subset_size"):
        metrics = {"kid": KernelInceptionDistance(feature=Pixels("features"), subset_size=32)}
        ImageMetrics(metrics, splits=["test"], num_real={"test": 20})(Shift(), {"test": _reals()}, data_key="toy")
    with pytest.raises(ConfigurationError, match=r"metrics\['fid'\] is a Pixels, not a torchmetrics Metric"):
        ImageMetrics({"fid": Pixels()})
    with pytest.raises(ConfigurationError, match="give exactly one of metrics .* or extractor"):
        ImageQualityMetrics()
    with pytest.raises(ConfigurationError, match="give exactly one of metrics .* or extractor"):
        ImageQualityMetrics(metrics={"is": InceptionScore(feature=Pixels("logits"))}, extractor=Pixels())


def test_an_extra_torchmetrics_metric_in_yaml_is_computed_and_logged(tmp_path):
    """MiFID (torchmetrics.image.MemorizationInformedFrechetInceptionDistance) next to FID in the callback's
    YAML, both on the domain classifier: both appear, per split, in the CSV log."""
    classifier = _classifier(tmp_path)
    feature = {"class_path": "datgan_lightning.metrics.DomainClassifierFeatures", "init_args": {"path": str(classifier), "output": "features"}}
    config = tmp_path / "quality.yaml"
    config.write_text(f"""
trainer:
  callbacks:
    - class_path: datgan_lightning.callbacks.ImageQualityMetrics
      init_args:
        every_n_iterations: 2
        num_real: {{train: 16, test: 16}}
        batch_size: 8
        cache_dir: null
        metrics:
          fid: {{class_path: torchmetrics.image.FrechetInceptionDistance, init_args: {{feature: {feature}}}}}
          mifid:
            class_path: torchmetrics.image.MemorizationInformedFrechetInceptionDistance
            init_args: {{feature: {feature}, cosine_distance_eps: 0.5}}
""")
    main(["fit", "--config", str(CONFIGS / "cpu" / "dcgan_mnist_dat.yaml"), "--config", str(config), f"--trainer.default_root_dir={tmp_path}",
          f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false", "--model.init_args.ngf=4",
          "--model.init_args.ndf=4", "--model.init_args.max_iterations=2", "--data=datgan_lightning.data.NpzImages",
          f"--data.path={_mnist_like(tmp_path)}", "--data.batch_size=4"])
    (metrics_csv,) = tmp_path.rglob("metrics.csv")
    with open(metrics_csv) as f:
        rows = list(csv.DictReader(f))
    name = DomainClassifierFeatures(str(classifier)).name
    for column in (f"mifid/train/{name}", f"mifid/test/{name}", f"fid/train/{name}", f"fid/test/{name}"):
        values = [float(r[column]) for r in rows if r.get(column)]
        assert len(values) == 1 and values[0] > 0, column


def test_table2_trainer_scores_with_torchmetrics_on_tf_inception(tmp_path):
    """The papers' protocol: torchmetrics FID/KID (100 x 1000) vs 50k train / 10k test and IS (10 splits), on
    torch-fidelity's InceptionV3 with TF1 resizing, built at the first evaluation, not when the config loads."""
    cli = create_cli(["--config", str(CONFIGS / "table2" / "sngan_cifar10_dat.yaml"), f"--trainer.default_root_dir={tmp_path}",
                      f"--trainer.logger.init_args.save_dir={tmp_path}"], run=False)
    (quality,) = [c for c in cli.trainer.callbacks if isinstance(c, ImageQualityMetrics)]
    metrics = quality.metrics
    assert metrics.num_real == {"train": 50000, "test": 10000} and quality.every_n_iterations == 5000
    for split in ("train", "test"):
        fid, kid = metrics.paired[split]["fid"], metrics.paired[split]["kid"]
        assert type(fid) is FrechetInceptionDistance and type(kid) is KernelInceptionDistance
        assert (kid.subsets, kid.subset_size) == (100, 1000) and not fid.reset_real_features
        for metric in (fid, kid):
            assert isinstance(metric.inception, InceptionV3Features) and metric.inception.output == "features"
            assert metric.inception.name == "inception-v3" and metric.inception.net is None
    inception_score = metrics.unpaired["is"]
    assert type(inception_score) is InceptionScore and inception_score.splits == 10 and inception_score.inception.output == "logits"
