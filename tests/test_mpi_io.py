"""Reading under MPI: each rank reads only its subdomain (``make test-mpi`` runs these on 2 ranks)."""

from __future__ import annotations

import numpy as np
import pytest

import io_adapters
from io_adapters import store, zset

pytestmark = pytest.mark.mpi


def test_each_rank_reads_its_zset_subdomain_and_its_rows_of_the_store(comm, shared_tmp_path, data_dir):
    folder = data_dir / "zset/UtParExample"
    path = shared_tmp_path / "merged.h5"
    if comm.rank == 0:
        io_adapters.save(io_adapters.read(folder / "cube.cut"), path)
    comm.Barrier()

    mine = zset.read_subdomains(folder / "cube.cut")[comm.rank]    # this rank's Zset subdomain
    merged = store.read(path)
    # the store's cells of this subdomain, by global element index
    cells = np.searchsorted(merged.mesh.cell_ids, np.sort(mine.mesh.cell_ids + 1))
    assert np.array_equal(merged.mesh.cell_ids[cells], np.sort(mine.mesh.cell_ids + 1))
    part = store.read(path, cells=cells)
    assert part.mesh.n_cells == mine.mesh.n_cells

    # nodal values agree node by node (global ids), integration points cell by cell
    store_nodes = merged.mesh.point_ids[part.mesh.point_ids]
    order = np.argsort(store_nodes)
    mine_order = np.argsort(mine.mesh.point_ids)
    assert np.array_equal(store_nodes[order], mine.mesh.point_ids[mine_order] + 1)
    np.testing.assert_array_equal(part.fields["U"].values[:, order], mine.fields["U"].values[:, mine_order])
    cell_order = np.argsort(mine.mesh.cell_ids)
    ip = mine.fields["sig"].values.reshape(mine.n_times, mine.mesh.n_cells, 8, 6)[:, cell_order]
    np.testing.assert_array_equal(part.fields["sig"].values.reshape(ip.shape), ip)

    # the two ranks together cover the whole mesh once
    counts = comm.allgather(len(cells))
    assert sum(counts) == merged.mesh.n_cells


def test_ranks_reading_disjoint_rows_rebuild_the_whole_field(comm, shared_tmp_path, data_dir):
    path = shared_tmp_path / "cube.h5"
    if comm.rank == 0:
        io_adapters.save(io_adapters.read(data_dir / "zset/UtExample/cube.ut"), path)
    comm.Barrier()
    sim = store.read(path)
    n = sim.fields["eto"].shape[1]
    rows = np.array_split(np.arange(n), comm.size)[comm.rank]
    mine = sim.fields["eto"].read(steps=[1, 3], rows=rows)
    whole = np.concatenate(comm.allgather(mine), axis=1)
    np.testing.assert_array_equal(whole, sim.fields["eto"].read(steps=[1, 3]))


def test_the_drivers_share_the_cores_among_the_ranks_reader_threads(comm, monkeypatch):
    import os

    from io_adapters import threads
    from mpi_drivers.collective import run_collectively

    monkeypatch.delenv("NIROM_IO_THREADS", raising=False)
    seen = {}

    def stage(c):
        seen["threads"] = threads.io_threads()
        return 0

    try:
        assert run_collectively(stage, "test") == 0
    finally:
        threads.set_io_threads(None)
    cores = len(os.sched_getaffinity(0))
    assert seen["threads"] == max(1, cores // comm.size)     # both ranks run on this node
