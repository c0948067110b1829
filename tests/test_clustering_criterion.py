"""The a-priori efficiency criterion of a ROM-net dictionary (nirom's definition, docs/clustering.md)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from io_adapters.errors import InputError
from clustering.criterion import (
    choose_k_n,
    efficiency_ratio,
    expected_error,
    pod_modes,
    projection_errors,
    symmetric_confusion,
)

E = np.array([[0.01, 0.5, 0.9],
              [0.4, 0.02, 0.6],
              [0.8, 0.3, 0.05]])
PI = np.array([0.5, 0.3, 0.2])


# ------------------------------------------------------------------ expected error, analytic cases
def test_a_perfect_classifier_gives_the_weighted_cluster_errors():
    assert expected_error(E, PI, np.eye(3)) == pytest.approx(0.5 * 0.01 + 0.3 * 0.02 + 0.2 * 0.05)


def test_uniform_routing_gives_the_weighted_average_over_local_roms():
    expected = 0.5 * (0.01 + 0.5 + 0.9) / 3 + 0.3 * (0.4 + 0.02 + 0.6) / 3 + 0.2 * (0.8 + 0.3 + 0.05) / 3
    assert expected_error(E, PI, np.full((3, 3), 1 / 3)) == pytest.approx(expected)


def test_confusion_counts_are_row_normalised_and_probabilities_normalised():
    counts = np.array([[45, 5, 0], [3, 27, 0], [0, 2, 18]])
    routed = counts / counts.sum(axis=1, keepdims=True)
    by_hand = sum(PI[i] * sum(routed[i, j] * E[i, j] for j in range(3)) for i in range(3))
    assert expected_error(E, PI, counts) == pytest.approx(by_hand)
    assert expected_error(E, 10 * PI, counts) == pytest.approx(by_hand)
    # misclassification costs: the imperfect classifier is worse than the perfect one
    assert expected_error(E, PI, counts) > expected_error(E, PI, np.eye(3))


def test_symmetric_confusion_model():
    C = symmetric_confusion(4, 0.7)
    assert np.allclose(C.sum(axis=1), 1) and np.allclose(np.diag(C), 0.7) and C[0, 1] == pytest.approx(0.1)
    assert expected_error(E, PI, symmetric_confusion(3, 1.0)) == expected_error(E, PI, np.eye(3))


def test_criterion_input_errors():
    with pytest.raises(InputError, match=r"row\(s\) \[1\] are empty"):
        expected_error(E, PI, np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1]]))
    with pytest.raises(InputError, match="shape"):
        expected_error(E, PI, np.eye(2))
    with pytest.raises(InputError, match="cluster_probabilities"):
        expected_error(E, PI[:2], np.eye(3))
    with pytest.raises(InputError, match="non-negative"):
        expected_error(-E, PI, np.eye(3))


# ------------------------------------------------------------------ projection errors
def test_projection_errors_by_hand_and_in_an_inner_product():
    e1, e2, e3 = np.eye(3)
    snapshot = (e1 + e2)[None, :]
    assert projection_errors([snapshot], [e1[None, :]])[0, 0] == pytest.approx(np.sqrt(0.5))
    assert projection_errors([snapshot], [5 * e1[None, :] + 0.0])[0, 0] == pytest.approx(np.sqrt(0.5))  # not unit
    M = sp.diags([3.0, 1.0, 1.0])
    assert projection_errors([snapshot], [e1[None, :] / np.sqrt(3)], inner_product=M)[0, 0] == \
        pytest.approx(np.sqrt(1 / 4))
    # a cluster given per simulation: the mean of the simulations' errors
    sims = [np.array([e1 + e2]), np.array([e1])]
    assert projection_errors([sims], [e1[None, :]])[0, 0] == pytest.approx(np.sqrt(0.5) / 2)
    modes = pod_modes(np.array([e1, 2 * e1 + e3, e3]), 2, inner_product=M)
    assert np.allclose(modes @ (M @ modes.T), np.eye(2))


def subspace_clusters(rng, *, n_clusters=3, dim=2, n_dofs=200, per=12, shared=False):
    """Each cluster's snapshots in its own random dim-dimensional subspace (or one shared)."""
    common = np.linalg.qr(rng.normal(size=(n_dofs, dim)))[0]
    clusters = []
    for _ in range(n_clusters):
        Q = common if shared else np.linalg.qr(rng.normal(size=(n_dofs, dim)))[0]
        clusters.append(rng.normal(size=(per, dim)) @ Q.T + 1e-4 * rng.normal(size=(per, n_dofs)))
    return clusters


def test_ratio_below_one_when_local_bases_project_much_better():
    clusters = subspace_clusters(np.random.default_rng(0))
    N = 2
    local = projection_errors(clusters, [pod_modes(c, N) for c in clusters])
    global_errors = projection_errors(clusters, [pod_modes(np.vstack(clusters), N)])[:, 0]
    assert np.all(np.diag(local) < 1e-2) and np.all(global_errors > 0.3)
    ratio = efficiency_ratio(local, np.ones(3), np.eye(3), global_errors)
    assert ratio < 0.01
    # a poor classifier spoils it: routed to the wrong basis, a load keeps all its error
    assert efficiency_ratio(local, np.ones(3), np.full((3, 3), 1 / 3), global_errors) > 0.5


def test_ratio_above_one_when_a_global_basis_of_the_same_size_does_as_well():
    # N = 6 modes hold all three 2-D subspaces: the global basis is exact, ROM-net only risks misrouting
    clusters = subspace_clusters(np.random.default_rng(1))
    N = 6
    local = projection_errors(clusters, [pod_modes(c, N) for c in clusters])
    global_errors = projection_errors(clusters, [pod_modes(np.vstack(clusters), N)])[:, 0]
    counts = np.array([[9, 1, 0], [1, 8, 1], [0, 1, 9]])
    assert efficiency_ratio(local, np.ones(3), counts, global_errors) > 1
    # one shared subspace: local bases are no better than the global one
    shared = subspace_clusters(np.random.default_rng(2), shared=True)
    local = projection_errors(shared, [pod_modes(c, 1) for c in shared])
    global_errors = projection_errors(shared, [pod_modes(np.vstack(shared), 1)])[:, 0]
    assert efficiency_ratio(local, np.ones(3), np.eye(3), global_errors) >= 0.95


# ------------------------------------------------------------------ choosing K and N
@pytest.fixture(scope="module")
def groups():
    """30 simulations in 3 groups; each group's 6 snapshots per simulation span its own 4-D subspace."""
    rng = np.random.default_rng(0)
    n_dofs, dim, per = 300, 4, 10
    bases = [np.linalg.qr(rng.normal(size=(n_dofs, dim)))[0] for _ in range(3)]
    sims, group = [], []
    for g in range(3):
        for _ in range(per):
            sims.append(rng.normal(size=(6, dim)) @ bases[g].T + 1e-3 * rng.normal(size=(6, n_dofs)))
            group.append(g)
    group = np.array(group)

    def clusters(K):
        return {1: np.zeros(30, int), 2: (group >= 2).astype(int), 3: group,
                6: 2 * group + np.arange(30) % 2}[K]

    return sims, clusters


def test_choose_k_n_finds_the_three_groups(groups):
    sims, clusters = groups
    choice = choose_k_n(sims, [1, 2, 3, 6], [2, 4, 8], clusters=clusters, tol=0.05)
    assert (choice.K, choice.N) == (3, 4)
    assert choice.worth_it and choice.ratio[2, 1] < 0.05
    assert np.allclose(choice.expected[0], choice.global_error)          # K = 1 is the global basis
    assert choice.expected[1, 1] > 0.3                                    # merged groups need 8 modes
    # without a target: the best error, ties to fewer modes and clusters
    choice = choose_k_n(sims, [1, 2, 3, 6], [4, 8], clusters=clusters)
    assert (choice.K, choice.N) == (3, 4)


def test_choose_k_n_respects_the_budget(groups):
    sims, clusters = groups
    choice = choose_k_n(sims, [1, 2, 3, 6], [2, 4, 8], clusters=clusters, budget=12, tol=0.05)
    assert choice.feasible.tolist() == [True, False, False, False]      # 12 × 1/3 < 5 per cluster
    assert choice.K == 1 and not choice.worth_it
    assert "tol not reachable" in choice.reason
    choice = choose_k_n(sims, [1, 2, 3, 6], [4], clusters=clusters, budget=30, min_per_cluster=6)
    assert choice.feasible.tolist() == [True, True, True, False]
    assert choice.K == 3


def test_choose_k_n_uses_the_given_confusion(groups):
    sims, clusters = groups
    # a classifier that routes half of the loads of group 0 to group 1's basis
    confusion = {3: np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])}
    perfect = choose_k_n(sims, [3], [4], clusters=clusters)
    confused = choose_k_n(sims, [3], [4], clusters=clusters, confusion=confusion)
    assert confused.expected[0, 0] > perfect.expected[0, 0] + 0.1
    with pytest.raises(InputError, match="no labels for K=5"):
        choose_k_n(sims, [5], [4], clusters={3: clusters(3)})
    with pytest.raises(InputError, match="no candidate K"):
        choose_k_n(sims, [3], [4], clusters=clusters, budget=6)
