"""Training objectives: hand-computed values on one-hot toys, label masking, gradients, and a tiny training run each."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainer.losses import (
    OBJECTIVES,
    HardestNegativeTriplet,
    PrototypeContrastive,
    SeedPairwiseDistance,
    SharedClassifierCE,
    SupervisedContrastive,
    SymmetricInfoNCE,
    make_objective,
)
from trainer.losses.paired import with_missing_sides


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tensors are tiny: extra intra-op threads only add synchronisation, which stalls on a busy CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


E = torch.eye(3)  # one-hot unit vectors e0, e1, e2 as rows
e0, e1, e2 = E


def rows(*vectors: torch.Tensor) -> torch.Tensor:
    return torch.stack(vectors)


def labels(*values: int) -> torch.Tensor:
    return torch.tensor(values)


# --- SymmetricInfoNCE -------------------------------------------------------------------------


@pytest.mark.parametrize("batch", [2, 3])
def test_infonce_on_aligned_one_hot_pairs_is_log_one_plus_negatives(batch):
    t = 0.5
    pairs = torch.eye(batch)
    # each row: logits 1/t on the diagonal, 0 elsewhere -> -log(e^{1/t} / (e^{1/t} + B - 1))
    expected = math.log(1 + (batch - 1) * math.exp(-1 / t))
    assert SymmetricInfoNCE(temperature=t)(pairs, pairs).item() == pytest.approx(expected, rel=1e-6)


def test_infonce_with_shared_labels_spreads_the_target_over_classmates():
    t = 0.5
    loss = SymmetricInfoNCE(temperature=t)
    z = math.exp(1 / t) + 2  # every row's partition sum: one logit 1/t, two logits 0
    # rows 0 and 1 (label 0): target 1/2 on each -> log Z - (1/t)/2; row 2 (label 1): log Z - 1/t
    labelled = (2 * (math.log(z) - 1 / (2 * t)) + (math.log(z) - 1 / t)) / 3
    unlabelled = math.log(z) - 1 / t
    assert loss(E, E, labels(0, 0, 1)).item() == pytest.approx(labelled, rel=1e-6)
    assert loss(E, E).item() == pytest.approx(unlabelled, rel=1e-6)


def test_infonce_with_distinct_labels_is_the_plain_clip_loss():
    torch.manual_seed(0)
    image, text = F.normalize(torch.randn(5, 4), dim=1), F.normalize(torch.randn(5, 4), dim=1)
    loss = SymmetricInfoNCE()
    assert loss(image, text, labels(3, 1, 4, 0, 2)).item() == pytest.approx(loss(image, text).item(), rel=1e-6)


def test_infonce_does_not_care_which_classmate_text_an_image_is_paired_with():
    torch.manual_seed(0)
    image, text = F.normalize(torch.randn(4, 5), dim=1), F.normalize(torch.randn(4, 5), dim=1)
    swapped = text[[1, 0, 2, 3]]  # rows 0 and 1 share a label
    loss, classes = SymmetricInfoNCE(), labels(7, 7, 1, 2)
    assert loss(image, swapped, classes).item() == pytest.approx(loss(image, text, classes).item(), rel=1e-6)
    assert loss(image, swapped).item() != pytest.approx(loss(image, text).item(), rel=1e-3)


def test_a_learnable_temperature_starts_at_the_given_value_and_receives_a_gradient():
    loss = SymmetricInfoNCE(temperature=0.5, learnable=True)
    assert loss.scale.item() == pytest.approx(2.0)
    value = loss(E, E)
    assert value.item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)
    value.backward()
    assert loss.log_scale.grad is not None and loss.log_scale.grad.item() < 0  # sharper is better here
    assert list(SymmetricInfoNCE().parameters()) == []


# --- HardestNegativeTriplet ---------------------------------------------------------------------


def test_triplet_is_zero_when_every_pair_beats_its_negatives_by_the_margin():
    assert HardestNegativeTriplet(margin=0.2)(E, E).item() == 0.0


def test_triplet_takes_the_hardest_negative_in_both_directions_and_labels_mask_classmates():
    m = 0.2
    loss = HardestNegativeTriplet(margin=m)
    image, text = E, rows(e0, e0, e2)  # text 1 is wrong: it says what image 0 shows
    # S = image @ text.T = [[1, 1, 0], [0, 0, 0], [0, 0, 1]]
    # image queries: row 0 hinge m + 1 - 1, row 1 m + 0 - 0, row 2 max(0, m + 0 - 1) = 0
    # text queries:  col 0 max(0, m + 0 - 1) = 0, col 1 m + 1 - 0, col 2 0
    assert loss(image, text).item() == pytest.approx((m + m + (m + 1)) / 3)
    # with labels (0, 0, 1) rows 0 and 1 are not negatives of each other; only the 0 similarities to
    # the other class remain: row 1 m + 0 - 0, col 1 m + 0 - 0, the rest below the margin
    assert loss(image, text, labels(0, 0, 1)).item() == pytest.approx((m + m) / 3)


def test_triplet_anchors_without_negatives_contribute_zero_and_a_finite_gradient():
    image = F.normalize(torch.randn(3, 4), dim=1).requires_grad_()
    value = HardestNegativeTriplet()(image, E[:, [0, 1, 2, 0]], labels(5, 5, 5))
    value.backward()
    assert value.item() == 0.0
    assert torch.isfinite(image.grad).all()


# --- PrototypeContrastive ---------------------------------------------------------------------


def test_prototype_loss_on_embeddings_at_their_prototypes_matches_the_formula():
    t = 0.5
    loss = PrototypeContrastive(3, 3, temperature=t, prototypes=torch.eye(3))
    # ||f - p_y||^2 = 0, ||f - p_c||^2 = 2 for the two others -> log(1 + 2 e^{-2/t}) per modality
    per_modality = math.log(1 + 2 * math.exp(-2 / t))
    classes = labels(0, 1, 2)
    assert loss(E, classes).item() == pytest.approx(per_modality, rel=1e-6)
    assert loss(E, classes, E, classes).item() == pytest.approx(2 * per_modality, rel=1e-6)


def test_prototype_loss_penalises_the_wrong_class():
    loss = PrototypeContrastive(3, 3, temperature=1.0, prototypes=torch.eye(3))
    # f = e0 labelled 1: logits (0, -2, -2) -> -log(e^{-2} / (1 + 2 e^{-2}))
    assert loss(rows(e0), labels(1)).item() == pytest.approx(math.log(1 + 2 * math.exp(-2)) + 2, rel=1e-6)


def test_cosine_prototypes_equal_squared_distance_at_half_the_temperature():
    torch.manual_seed(0)
    emb, classes = F.normalize(torch.randn(6, 8), dim=1), labels(0, 1, 2, 3, 0, 1)
    squared = PrototypeContrastive(4, 8, temperature=1.0)
    cosine = PrototypeContrastive(4, 8, temperature=0.5, metric="cosine")
    assert cosine(emb, classes).item() == pytest.approx(squared(emb, classes).item(), rel=1e-5)


def test_default_prototypes_are_fixed_orthonormal_and_reproducible():
    loss = PrototypeContrastive(5, 16)
    assert torch.allclose(loss.prototypes @ loss.prototypes.T, torch.eye(5), atol=1e-5)
    assert list(loss.parameters()) == []
    assert "prototypes" in loss.state_dict()
    assert torch.equal(PrototypeContrastive(5, 16).prototypes, loss.prototypes)


def test_given_prototypes_are_normalised_and_checked():
    loss = PrototypeContrastive(2, 3, prototypes=torch.tensor([[3.0, 0, 0], [0, 0, 2.0]]))
    assert torch.allclose(loss.prototypes.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match=r"prototypes must be \(2, 4\)"):
        PrototypeContrastive(2, 4, prototypes=torch.eye(3)[:2])


def test_prototype_loss_accepts_fewer_texts_than_images():
    loss = PrototypeContrastive(3, 3, prototypes=torch.eye(3))
    assert torch.isfinite(loss(E, labels(0, 1, 2), E[:1], labels(0)))


# --- SharedClassifierCE -----------------------------------------------------------------------


def test_shared_classifier_with_identity_weights_matches_the_formula():
    loss = SharedClassifierCE(3, 3)
    with torch.no_grad():
        loss.classifier.weight.copy_(torch.eye(3))
        loss.classifier.bias.zero_()
    classes = labels(0, 1, 2)
    per_modality = math.log(1 + 2 * math.exp(-1))  # logits 1 for the class, 0 for the two others
    assert loss(E, classes).item() == pytest.approx(per_modality, rel=1e-6)
    assert loss(E, classes, E, classes).item() == pytest.approx(2 * per_modality, rel=1e-6)


def test_shared_classifier_normalises_its_weight_rows():
    loss = SharedClassifierCE(3, 3)
    with torch.no_grad():
        loss.classifier.weight.copy_(5 * torch.eye(3))
        loss.classifier.bias.zero_()
    assert loss(E, labels(0, 1, 2)).item() == pytest.approx(math.log(1 + 2 * math.exp(-1)), rel=1e-6)
    assert len(list(loss.parameters())) == 2


# --- SupervisedContrastive --------------------------------------------------------------------


def test_supcon_on_a_toy_batch_matches_the_formula_and_ignores_anchors_without_positives():
    t = 0.5
    # anchors 0 and 1: positive logit 1/t, other logit 0 -> log(1 + e^{-1/t}); anchor 2 has no positive
    expected = math.log(1 + math.exp(-1 / t))
    assert SupervisedContrastive(temperature=t)(rows(e0, e0, e1), labels(0, 0, 1)).item() == pytest.approx(expected, rel=1e-6)


def test_supcon_averages_over_several_positives():
    t = 0.5
    # anchor 0: positives 1 and 2 (logit 1/t each), negative 3 (logit 0) -> log(2 + e^{-1/t})
    value = SupervisedContrastive(temperature=t)(rows(e0, e0, e0, e1), labels(0, 0, 0, 1))
    assert value.item() == pytest.approx(math.log(2 + math.exp(-1 / t)), rel=1e-6)


def test_supcon_without_any_positive_is_zero_and_still_differentiable():
    emb = F.normalize(torch.randn(3, 4), dim=1).requires_grad_()
    value = SupervisedContrastive()(emb, labels(0, 1, 2))
    value.backward()
    assert value.item() == 0.0
    assert torch.equal(emb.grad, torch.zeros(3, 4))


def test_paired_supcon_is_supcon_on_the_concatenated_modalities():
    torch.manual_seed(0)
    image, text = F.normalize(torch.randn(4, 5), dim=1), F.normalize(torch.randn(4, 5), dim=1)
    classes = labels(0, 1, 0, 2)
    paired = make_objective("supcon", dim=5, num_classes=3)(image, text, classes)
    direct = SupervisedContrastive()(torch.cat([image, text]), torch.cat([classes, classes]))
    assert paired.item() == pytest.approx(direct.item(), rel=1e-5)


# --- SeedPairwiseDistance ---------------------------------------------------------------------


def test_seed_loss_sums_distance_and_dot_over_consecutive_positives():
    # pairs (row 0, row 1) and (row 2, row 3): orthogonal, so distance sqrt(2) and dot 0 each
    value = SeedPairwiseDistance()(rows(e0, e1, e2, e0), labels(0, 0, 1, 1))
    assert value.item() == pytest.approx(math.sqrt(2), rel=1e-6)


def test_seed_loss_pairs_rows_of_one_label_in_batch_order():
    # label 0: rows 0 and 2 (identical -> distance 0 + dot 1); label 1 has a single row, no pair
    assert SeedPairwiseDistance()(rows(e0, e1, e0), labels(0, 1, 0)).item() == pytest.approx(1.0)


def test_seed_loss_as_written_cannot_tell_a_pair_from_its_opposite():
    identical = SeedPairwiseDistance()(rows(e0, e0), labels(0, 0))  # distance 0, dot 1
    opposite = SeedPairwiseDistance()(rows(e0, -e0), labels(0, 0))  # distance 2, dot -1
    assert identical.item() == pytest.approx(opposite.item()) == pytest.approx(1.0)


def test_seed_loss_on_identical_rows_has_a_finite_gradient():
    emb = rows(e0, e0).requires_grad_()
    SeedPairwiseDistance()(emb, labels(0, 0)).backward()
    assert torch.isfinite(emb.grad).all()


def test_paired_seed_loss_compares_each_image_with_its_text():
    # interleaved rows image_0, text_0, image_1, text_1: each pair identical -> 1 per consecutive pair
    assert make_objective("seed", dim=3, num_classes=3)(E, E).item() == pytest.approx(1.0)


# --- the registry and the uniform call --------------------------------------------------------


def test_the_registry_names_the_six_objectives():
    assert set(OBJECTIVES) == {"infonce", "triplet", "prototype", "ce", "supcon", "seed"}


def test_make_objective_rejects_an_unknown_name_and_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown objective 'clip'.*infonce.*seed"):
        make_objective("clip", dim=4, num_classes=2)


def test_make_objective_passes_options_to_the_loss():
    objective = make_objective("infonce", dim=3, num_classes=3, temperature=0.5)
    assert objective(E, E).item() == pytest.approx(math.log(1 + 2 * math.exp(-2)), rel=1e-6)


@pytest.mark.parametrize("name", ["prototype", "ce"])
def test_class_wise_objectives_refuse_to_run_without_labels(name):
    with pytest.raises(ValueError, match="needs class labels"):
        make_objective(name, dim=3, num_classes=3)(E, E)


def test_unpaired_shapes_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="differ in shape"):
        make_objective("infonce", dim=3, num_classes=3)(E, E[:2])
    with pytest.raises(ValueError, match=r"labels must be a \(3,\) integer tensor"):
        make_objective("triplet", dim=3, num_classes=3)(E, E, labels(0, 1))


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_gradients_reach_both_modalities_without_nan(name):
    torch.manual_seed(0)
    image = torch.randn(6, 4, requires_grad=True)
    text = torch.randn(6, 4, requires_grad=True)
    objective = make_objective(name, dim=4, num_classes=3)
    loss = objective(F.normalize(image, dim=1), F.normalize(text, dim=1), labels(0, 0, 1, 1, 2, 2))
    loss.backward()
    assert torch.isfinite(loss)
    for grad in (image.grad, text.grad):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_each_objective_trains_a_tiny_random_problem(name):
    torch.manual_seed(0)
    image = torch.randn(8, 6, requires_grad=True)
    text = torch.randn(8, 6, requires_grad=True)
    classes = labels(0, 0, 1, 1, 2, 2, 3, 3)
    objective = make_objective(name, dim=6, num_classes=4)
    optimiser = torch.optim.Adam([image, text, *objective.parameters()], lr=0.05)

    def step() -> float:
        optimiser.zero_grad()
        loss = objective(F.normalize(image, dim=1), F.normalize(text, dim=1), classes)
        loss.backward()
        optimiser.step()
        return loss.item()

    first = step()
    for _ in range(48):
        step()
    assert step() < first


# --- modality imbalance: items that lost one side ------------------------------------------------------

def _one_sided_batch():
    torch.manual_seed(0)
    image, text = F.normalize(torch.randn(8, 6), dim=1), F.normalize(torch.randn(8, 6), dim=1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    has_image = torch.tensor([1, 1, 1, 0, 1, 0, 1, 1], dtype=torch.bool)
    has_text = torch.tensor([1, 0, 1, 1, 1, 1, 0, 1], dtype=torch.bool)
    return image, text, labels, has_image, has_text


def test_class_wise_objectives_learn_from_every_surviving_row_of_each_side():
    image, text, labels, has_image, has_text = _one_sided_batch()
    loss = make_objective("prototype", dim=6, num_classes=3)
    expected = loss.loss(image[has_image], labels[has_image], text[has_text], labels[has_text])
    assert with_missing_sides(loss, image, text, labels, has_image, has_text) == pytest.approx(float(expected))
    only_texts = with_missing_sides(loss, image, text, labels, torch.zeros(8, dtype=torch.bool), has_text)
    assert float(only_texts) == pytest.approx(float(loss.loss(text[has_text], labels[has_text])))


def test_supcon_takes_all_surviving_rows_and_pairwise_objectives_complete_pairs_only():
    image, text, labels, has_image, has_text = _one_sided_batch()
    supcon = make_objective("supcon", dim=6, num_classes=3)
    expected = supcon.loss(torch.cat([image[has_image], text[has_text]]), torch.cat([labels[has_image], labels[has_text]]))
    assert float(with_missing_sides(supcon, image, text, labels, has_image, has_text)) == pytest.approx(float(expected))
    infonce = make_objective("infonce", dim=6, num_classes=3)
    both = has_image & has_text
    got = with_missing_sides(infonce, image, text, labels, has_image, has_text)
    assert float(got) == pytest.approx(float(infonce(image[both], text[both], labels[both])))


def test_a_batch_without_two_complete_pairs_gives_a_zero_loss_that_still_backpropagates():
    image, text, labels, _, _ = _one_sided_batch()
    image.requires_grad_(True)
    alone = torch.zeros(8, dtype=torch.bool)
    alone[0] = True
    loss = with_missing_sides(make_objective("triplet", dim=6, num_classes=3), image, text, labels, alone, torch.ones(8, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.isfinite(image.grad).all()
