import math

import torch

from datgan_lightning.nets.heads import InfoMaxHead, RotationHead, infonce_loss, rotate_quarters


def test_rotate_quarters_rotates_each_quarter_by_its_label():
    image = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    rotated, labels = rotate_quarters(image.repeat(4, 1, 1, 1))
    assert labels.tolist() == [0, 1, 2, 3]
    # counter-clockwise quarter turns of [[1, 2], [3, 4]]
    expected = [[[1, 2], [3, 4]], [[2, 4], [1, 3]], [[4, 3], [2, 1]], [[3, 1], [4, 2]]]
    assert rotated[:, 0].tolist() == expected


def test_rotation_labels_of_a_batch_that_is_not_a_multiple_of_four():
    """Mimicry's SSGAN (`_rotate_batch`): sample i of N gets rotation label i * 4 // N."""
    image = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)
    quarter_turns = [[[1, 2], [3, 4]], [[2, 4], [1, 3]], [[4, 3], [2, 1]], [[3, 1], [4, 2]]]
    for n, mimicry_labels in [(6, [0, 0, 1, 2, 2, 3]), (5, [0, 0, 1, 2, 3]), (3, [0, 1, 2])]:
        rotated, labels = rotate_quarters(image.repeat(n, 1, 1, 1))
        assert labels.tolist() == mimicry_labels
        assert rotated[:, 0].tolist() == [quarter_turns[k] for k in mimicry_labels]


def test_infonce_by_hand():
    # N=2 images, R=1, L=1: positives l_n g_n; for anchor n the negatives are l_m g_n (m != n) and
    # the masked own score -10
    local = torch.tensor([[[1.0]], [[2.0]]])
    global_ = torch.tensor([[0.5], [-1.0]])
    p0, p1 = 1.0 * 0.5, 2.0 * -1.0
    n0, n1 = 2.0 * 0.5, 1.0 * -1.0
    l0 = -(p0 - math.log(math.exp(p0) + math.exp(-10) + math.exp(n0)))
    l1 = -(p1 - math.log(math.exp(p1) + math.exp(n1) + math.exp(-10)))
    assert infonce_loss(local, global_).item() == torch.tensor((l0 + l1) / 2).item()


def test_infonce_rewards_matching_global_and_local_features():
    torch.manual_seed(0)
    local = torch.randn(8, 16, 4)
    assert infonce_loss(local, local.mean(2) * 5) < infonce_loss(local, torch.randn(8, 16) * 5)


def test_heads_shapes_and_spectral_norm():
    rotation = RotationHead(8)
    assert rotation(torch.randn(5, 8)).shape == (5, 4)
    infomax = InfoMaxHead(local_channels=6, global_features=8, rkhs_dim=16)
    local, global_ = infomax(torch.randn(3, 6, 4, 4), torch.randn(3, 8))
    assert local.shape == (3, 16, 16) and global_.shape == (3, 16)
    layers = [m for m in infomax.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 6 and all(torch.nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
