"""FID/KID/IS against torch-fidelity on the same images and extractor (torch-fidelity's formulas in
ImageQuality, torchmetrics' metrics in ImageMetrics); real-feature caching."""

import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from datgan_lightning.metrics import ImageMetrics, ImageQuality, fid_from_features
from datgan_lightning.metrics.extractors import FeatureExtractor

torch_fidelity = pytest.importorskip("torch_fidelity")
from torch_fidelity.feature_extractor_base import FeatureExtractorBase  # noqa: E402

PROJECTION = torch.randn(3 * 8 * 8, 16, generator=torch.Generator().manual_seed(0))


def tiny_features(x_uint8):
    """A fixed random projection of the pixels: 16 features, and the same as 10 'logits'."""
    f = torch.tanh((x_uint8.float() / 255).flatten(1) @ PROJECTION)
    return f, f[:, :10]


class TinyFidelityExtractor(FeatureExtractorBase):
    """The tiny extractor as torch-fidelity sees it (uint8 in)."""

    def __init__(self, name, features_list, **kwargs):
        super().__init__(name, features_list)

    @staticmethod
    def get_provided_features_list():
        return ("f", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"fid": "f", "kid": "f", "isc": "logits"}[metric]

    @staticmethod
    def can_be_compiled():
        return False

    @staticmethod
    def get_dummy_input_for_compile():
        return None

    def forward(self, x):
        f, logits = tiny_features(x)
        return tuple({"f": f, "logits": logits}[name] for name in self.features_list)


class TinyExtractor(FeatureExtractor):
    """The same extractor as ours sees it (images in [-1, 1])."""

    name, features_dim, logits_dim = "tiny", 16, 10

    calls = 0  # on the class: the metrics hold copies of the extractor (one per split, one per output)

    def __init__(self, output=None):
        super().__init__(output)
        TinyExtractor.calls = 0

    def extract(self, images):
        TinyExtractor.calls += 1
        return tiny_features(images)


class Uint8Images(Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


def _uint8_images(n, seed, shift=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, 8, 8, generator=g) * 200 + shift).round().clamp(0, 255).to(torch.uint8)


class ReplayGenerator(torch.nn.Module):
    """Returns the given images in order, whatever z (so ImageQuality scores known fakes)."""

    latent_dim = 4

    def __init__(self, images):
        super().__init__()
        self.images, self.position = images, 0

    def forward(self, z):
        batch = self.images[self.position : self.position + len(z)]
        self.position += len(z)
        return batch


def _torch_fidelity(real, fake, **options):
    """``torch_fidelity.calculate_metrics(input1=fakes, input2=reals)`` with the tiny extractor."""
    if "datgan-tiny-test" not in torch_fidelity.registry.FEATURE_EXTRACTORS_REGISTRY:  # a re-run in one process
        torch_fidelity.register_feature_extractor("datgan-tiny-test", TinyFidelityExtractor)
    return torch_fidelity.calculate_metrics(
        input1=Uint8Images(fake), input2=Uint8Images(real), fid=True, kid=True, isc=True, feature_extractor="datgan-tiny-test",
        cuda=False, verbose=False, cache=False, batch_size=64, **options,
    )


def _replay(real, fake):
    """The uint8 images as our datasets and generators give them ([-1, 1]; to_uint8 gives back the same bytes)."""
    return ReplayGenerator(fake.float() / 127.5 - 1), TensorDataset(real.float() / 127.5 - 1, torch.zeros(len(real)))


REAL, FAKE = _uint8_images(300, 0), _uint8_images(300, 1, shift=40)


def test_image_quality_equals_torch_fidelity_on_the_same_images_and_extractor():
    """The whole pipeline (ImageQuality on a generator and a real dataset) against torch-fidelity:
    FID, KID (same random subsets) and IS on the same uint8 images and the same extractor."""
    reference = _torch_fidelity(REAL, FAKE, kid_subset_size=100, kid_subsets=50)
    quality = ImageQuality(TinyExtractor(), num_real={"test": 300}, batch_size=64, kid_subsets=50, kid_subset_size=100)
    generator, reals = _replay(REAL, FAKE)
    ours = quality(generator, {"test": reals}, data_key="replay")
    assert ours["fid/test/tiny"] > 0.1  # different distributions: a comparison that can fail
    assert ours["fid/test/tiny"] == pytest.approx(reference["frechet_inception_distance"], rel=1e-4)
    assert ours["kid/test/tiny"] == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-4)
    assert ours["kid_std/test/tiny"] == pytest.approx(reference["kernel_inception_distance_std"], rel=1e-4)
    assert ours["is/tiny"] == pytest.approx(reference["inception_score_mean"], rel=1e-4)


def _torchmetrics(kid_subsets, kid_subset_size, is_splits):
    """torchmetrics' FID, KID and IS on the tiny extractor, fed by ImageMetrics (the callback's engine)."""
    from datgan_lightning.metrics import fid_kid_is

    extractor = TinyExtractor()
    metrics = ImageMetrics(fid_kid_is(extractor, kid_subsets, kid_subset_size, is_splits), splits=["test"], num_real={"test": 300}, batch_size=64)
    generator, reals = _replay(REAL, FAKE)
    return metrics(generator, {"test": reals}, data_key="replay"), extractor


def test_torchmetrics_fid_kid_is_equal_torch_fidelity_where_no_random_draw_differs():
    """torchmetrics' FID equals torch-fidelity's to 1e-5 (measured: 7e-7; both in float64: torchmetrics sums
    the features in float64 and takes the root of the covariances' product by eigenvalues, torch-fidelity
    by scipy's sqrtm, and returns it rounded to the features' float32).
    KID over subsets of all 300 samples and IS over one split, where the two libraries' random subsets
    and shuffles cannot differ, equal torch-fidelity's to 1e-5; each batch goes through the extractor once."""
    reference = _torch_fidelity(REAL, FAKE, kid_subset_size=300, kid_subsets=3, isc_splits=1)
    ours, extractor = _torchmetrics(kid_subsets=3, kid_subset_size=300, is_splits=1)
    assert ours["fid/test/tiny"] > 0.1
    assert ours["fid/test/tiny"] == pytest.approx(reference["frechet_inception_distance"], rel=1e-5)
    assert ours["kid/test/tiny"] == pytest.approx(reference["kernel_inception_distance_mean"], rel=1e-5)
    assert ours["is/tiny"] == pytest.approx(reference["inception_score_mean"], rel=1e-5)
    assert extractor.calls == 5 + 5  # 300 reals and 300 fakes in batches of 64, shared by FID, KID and IS


def test_torchmetrics_kid_and_is_with_random_subsets_agree_with_torch_fidelity_within_their_spread():
    """With random subsets (KID: 50 x 100) and shuffled splits (IS: 10) the two libraries draw different
    ones (torch.randperm vs numpy's RandomState(2020)): the means agree within the spread of the draws."""
    reference = _torch_fidelity(REAL, FAKE, kid_subset_size=100, kid_subsets=50, isc_splits=10)
    ours, _ = _torchmetrics(kid_subsets=50, kid_subset_size=100, is_splits=10)
    kid_spread = reference["kernel_inception_distance_std"] / 50**0.5
    assert abs(ours["kid/test/tiny"] - reference["kernel_inception_distance_mean"]) < 4 * kid_spread
    assert ours["kid_std/test/tiny"] == pytest.approx(reference["kernel_inception_distance_std"], rel=0.3)
    assert abs(ours["is/tiny"] - reference["inception_score_mean"]) < 4 * reference["inception_score_std"] / 10**0.5


def test_fid_matches_torchmetrics_with_the_same_features():
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Features(torch.nn.Module):
        num_features = 16

        def forward(self, x):
            return tiny_features(x)[0]

    real, fake = _uint8_images(200, 2), _uint8_images(200, 3, shift=30)
    metric = FrechetInceptionDistance(feature=Features())
    metric.update(real, real=True)
    metric.update(fake, real=False)
    ours = fid_from_features(tiny_features(real)[0], tiny_features(fake)[0])
    assert ours == pytest.approx(float(metric.compute()), rel=1e-3)


class ShiftGenerator(torch.nn.Module):
    latent_dim = 3 * 8 * 8

    def forward(self, z):
        return torch.tanh(z.view(-1, 3, 8, 8) * 0.5 + 0.2)


def _reals(n=96):
    return TensorDataset(torch.rand(n, 3, 8, 8) * 2 - 1, torch.zeros(n))


def test_real_features_are_computed_once_and_cached_on_disk(tmp_path):
    reals, generator = _reals(), ShiftGenerator()
    first = ImageQuality(TinyExtractor(), num_real={"test": 96}, batch_size=32, kid_subset_size=50, cache_dir=tmp_path)
    scores = first(generator, {"test": reals}, data_key="toy")
    assert first.extractor.calls == 3 + 3  # 3 real batches + 3 fake batches
    first(generator, {"test": reals}, data_key="toy")
    assert first.extractor.calls == 6 + 3  # reals kept in memory
    second = ImageQuality(TinyExtractor(), num_real={"test": 96}, batch_size=32, kid_subset_size=50, cache_dir=tmp_path)
    assert second(generator, {"test": reals}, data_key="toy") == scores  # same z, same reals from disk
    assert second.extractor.calls == 3  # a new run pays only for the fakes
    other = ImageQuality(TinyExtractor(), num_real={"test": 64}, batch_size=32, kid_subset_size=50, cache_dir=tmp_path)
    other(generator, {"test": reals}, data_key="toy")
    assert other.extractor.calls == 2 + 2  # another sample count is another key (and 64 fakes)
    assert len(list(tmp_path.glob("*.pt"))) == 2


def test_bad_sample_counts_are_named():
    with pytest.raises(ValueError, match=r"num_real=\{'test': 1\} is invalid"):
        ImageQuality(TinyExtractor(), num_real={"test": 1})


class ClassImages(torch.nn.Module):
    """Class-conditional: image = label / 4 everywhere (so the labels it got are visible)."""

    latent_dim, num_classes = 2, 4

    def forward(self, z, labels):
        return (labels.float() / 4).view(-1, 1, 1, 1).expand(len(z), 3, 8, 8)


def test_fakes_of_a_conditional_generator_use_classes_from_the_uniform_prior():
    quality = ImageQuality(TinyExtractor(), num_real={"test": 400}, num_fake={"test": 400}, batch_size=64, kid_subset_size=50)
    seen = []
    G = ClassImages()
    G.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    quality.fake_features(G, 400)
    labels = torch.cat(seen)
    assert len(labels) == 400 and set(labels.tolist()) == {0, 1, 2, 3}
    assert (torch.bincount(labels).float() / 400 - 0.25).abs().max() < 0.08
