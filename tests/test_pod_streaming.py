"""rom.pod streaming: block-by-block Gram accumulation equals the in-memory POD; checkpoints."""

from __future__ import annotations

import weakref

import h5py
import numpy as np
import pytest

from io_adapters.errors import ConfigError, InputError
from rom.pod import GramAccumulator, pod, pod_streaming
from test_pod import METRICS, N_FE, known_svd

SIZES = (3, 7, 1, 5, 4)          # 20 snapshots in blocks of unequal sizes


def blocks_of(S, sizes=SIZES):
    edges = np.cumsum((0,) + tuple(sizes))
    return [S[a:b] for a, b in zip(edges[:-1], edges[1:])]


class Store:
    """``read_block`` that returns fresh copies and records how many earlier reads are still alive."""

    def __init__(self, blocks):
        self.blocks = blocks
        self.alive = []
        self.max_alive_at_read = 0
        self.reads = 0

    def __call__(self, b):
        self.alive = [r for r in self.alive if r() is not None]
        self.max_alive_at_read = max(self.max_alive_at_read, len(self.alive))
        self.reads += 1
        block = self.blocks[b].copy()
        self.alive.append(weakref.ref(block))
        return block


@pytest.fixture(params=list(METRICS))
def case(request):
    M = METRICS[request.param](N_FE)
    S, _, _ = known_svd(np.logspace(0, -1, sum(SIZES)), N_FE, M, seed=4)
    return S, M


def test_streaming_equals_in_memory(case):
    S, M = case
    store = Store(blocks_of(S))
    for criterion in ({"tol": 0.03}, {"n_modes": 20}):
        streamed = pod_streaming(store, len(SIZES), inner_product=M, **criterion)
        direct = pod(S, inner_product=M, **criterion)
        assert streamed.n_modes == direct.n_modes and streamed.inner_product == direct.inner_product
        assert streamed.n_snapshots == 20 and streamed.tolerance == direct.tolerance
        np.testing.assert_allclose(streamed.singular_values, direct.singular_values, rtol=1e-12)
        assert np.abs(streamed.modes - direct.modes).max() <= 1e-12 * np.abs(direct.modes).max()
    assert store.max_alive_at_read <= 1          # never more than two blocks in memory
    n = len(SIZES)
    assert store.reads == 2 * (n * (n + 1) // 2 + n)


def test_gram_equals_the_full_gram(case):
    S, M = case
    accumulator = GramAccumulator(inner_product=M)
    blocks = blocks_of(S)
    for block in blocks:
        accumulator.add_block(block, blocks.__getitem__)
    from rom.pod.inner_product import as_inner_product

    full = as_inner_product(M, N_FE).gram(S)
    assert accumulator.n_blocks == 5 and accumulator.n_snapshots == 20 and accumulator.block_sizes == SIZES
    np.testing.assert_allclose(accumulator.gram, full, atol=1e-14 * np.abs(full).max())
    np.testing.assert_array_equal(accumulator.gram, accumulator.gram.T)


def test_checkpoint_state_round_trip_through_hdf5(tmp_path, case):
    S, M = case
    blocks = blocks_of(S)
    reference = pod_streaming(blocks.__getitem__, len(blocks), inner_product=M, tol=0.03)
    first = GramAccumulator(inner_product=M)
    for b in range(3):
        first.add_block(blocks[b], blocks.__getitem__)
    with h5py.File(tmp_path / "checkpoint.h5", "w") as f:
        group = f.create_group("pod_U")
        for name, array in first.state().items():
            group.create_dataset(name, data=array)
    del first
    with h5py.File(tmp_path / "checkpoint.h5", "r") as f:
        resumed = GramAccumulator.from_state(f["pod_U"], inner_product=M)
    assert resumed.n_blocks == 3 and resumed.block_sizes == SIZES[:3]
    store = Store(blocks)
    basis = pod_streaming(store, len(blocks), inner_product=M, tol=0.03, accumulator=resumed)
    np.testing.assert_array_equal(basis.singular_values, reference.singular_values)
    np.testing.assert_array_equal(basis.modes, reference.modes)
    assert store.reads == (3 + 1 + 4 + 1) + len(blocks)        # blocks 3 and 4 against ≤ themselves, then the modes


def test_state_is_plain_arrays_and_validated():
    S, _, _ = known_svd(np.logspace(0, -2, 6), 50)
    accumulator = GramAccumulator(inner_product=np.ones(50))
    accumulator.add_block(S[:2])
    state = accumulator.state()
    assert set(state) == {"gram", "block_sizes", "inner_product", "version"}
    assert all(isinstance(v, np.ndarray) and v.dtype.kind in "fi" for v in state.values())
    assert int(state["inner_product"]) == 1                      # "weighted"
    # resuming with another kind of inner product is refused when the next block arrives
    resumed = GramAccumulator.from_state(state)
    with pytest.raises(ConfigError, match="accumulated with the 'weighted' inner product, this run gives a 'identity'"):
        resumed.add_block(S[2:4], lambda b: S[:2])
    with pytest.raises(InputError, match="not a Gram accumulator state"):
        GramAccumulator.from_state({"gram": state["gram"]})
    with pytest.raises(InputError, match="state version 99"):
        GramAccumulator.from_state({**state, "version": np.asarray(99)})
    with pytest.raises(InputError, match="does not match block sizes"):
        GramAccumulator.from_state({**state, "block_sizes": np.asarray([3])})
    empty = GramAccumulator().state()
    assert int(empty["inner_product"]) == -1 and empty["gram"].shape == (0, 0)


def test_streaming_errors():
    S, _, _ = known_svd(np.logspace(0, -2, 8), 60)
    blocks = blocks_of(S, (3, 3, 2))
    with pytest.raises(ConfigError, match="read_block is needed to re-read the earlier blocks"):
        accumulator = GramAccumulator()
        accumulator.add_block(blocks[0])
        accumulator.add_block(blocks[1])
    bad = [b.copy() for b in blocks]
    bad[2][1, 5] = np.nan
    with pytest.raises(InputError, match="block 2: snapshot 7 holds NaN"):
        pod_streaming(bad.__getitem__, 3, tol=0.1)
    changing = {"calls": 0}

    def shrinking(b):
        changing["calls"] += 1
        return blocks[b] if changing["calls"] < 3 else blocks[b][:1]

    with pytest.raises(InputError, match="block 0 now holds 1 snapshots, it held 3"):
        pod_streaming(shrinking, 3, tol=0.1)
    with pytest.raises(InputError, match="block 1 has 59 local dofs"):
        pod_streaming(lambda b: blocks[b][:, :59] if b == 1 else blocks[b], 3, tol=0.1)
    for n in (0, 1.5):
        with pytest.raises(ConfigError, match="n_blocks must be a positive integer"):
            pod_streaming(blocks.__getitem__, n, tol=0.1)
    with pytest.raises(ConfigError, match="not both"):
        pod_streaming(blocks.__getitem__, 3, tol=0.1, n_modes=2)
    with pytest.raises(InputError, match="no block was added"):
        GramAccumulator().finish(blocks.__getitem__, tol=0.1)
    full = GramAccumulator()
    for block in blocks:
        full.add_block(block, blocks.__getitem__)
    with pytest.raises(ConfigError, match="already holds 3 blocks, more than n_blocks=2"):
        pod_streaming(blocks.__getitem__, 2, tol=0.1, accumulator=full)
