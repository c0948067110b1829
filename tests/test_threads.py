"""io_adapters.threads: ranges, thread counts and errors of the readers' worker threads."""

from __future__ import annotations

import threading

import pytest

from io_adapters import threads


@pytest.fixture(autouse=True)
def default_threads(monkeypatch):
    for name in ("NIROM_IO_THREADS", "OMP_NUM_THREADS", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE",
                 "SLURM_NTASKS_PER_NODE"):
        monkeypatch.delenv(name, raising=False)
    threads.set_io_threads(None)
    yield
    threads.set_io_threads(None)


@pytest.mark.parametrize("n, parts", [(10, 3), (3, 5), (0, 2), (7, 1), (1000, 4)])
def test_split_covers_the_range_in_near_equal_parts(n, parts):
    ranges = threads.split(n, parts)
    assert ranges[0][0] == 0 and ranges[-1][1] == n
    assert all(b0 == a1 for (_, b0), (a1, _) in zip(ranges[:-1], ranges[1:]))
    sizes = [b - a for a, b in ranges]
    assert max(sizes) - min(sizes) <= 1
    assert len(ranges) == max(1, min(parts, n))


def test_run_parts_gives_every_item_to_exactly_one_thread():
    threads.set_io_threads(3)
    seen, ranges = [], []
    lock = threading.Lock()

    def work(a, b):
        with lock:
            seen.extend(range(a, b))
            ranges.append((a, b, threading.current_thread().name))

    threads.run_parts(work, 100, min_part=10)
    assert sorted(seen) == list(range(100))
    assert len(ranges) == 3
    assert (0, 34, threading.current_thread().name) in ranges   # the caller takes the first range
    assert {name for *_, name in ranges} - {threading.current_thread().name} <= {"nirom-io_0", "nirom-io_1"}


def test_small_work_stays_on_the_calling_thread():
    threads.set_io_threads(4)
    calls = []
    threads.run_parts(lambda a, b: calls.append((a, b, threading.current_thread().name)), 15, min_part=10)
    assert calls == [(0, 15, threading.current_thread().name)]


def test_an_error_in_a_worker_is_raised_after_every_range_ended():
    threads.set_io_threads(2)
    finished = []

    def work(a, b):
        if a > 0:
            raise ValueError(f"bad range {a}:{b}")
        finished.append((a, b))

    with pytest.raises(ValueError, match="bad range 50:100"):
        threads.run_parts(work, 100)
    assert finished == [(0, 50)]


def test_nested_calls_run_serially_instead_of_waiting_on_the_pool():
    threads.set_io_threads(2)
    inner = []

    def outer(a, b):
        threads.run_parts(lambda c, d: inner.append((c, d, threading.current_thread().name)), 10)

    threads.run_parts(outer, 2)
    on_workers = [(c, d) for c, d, name in inner if name.startswith("nirom-io")]
    assert len(inner) == 3 and (0, 10) in on_workers   # a worker's inner call is not split again


def test_thread_count_precedence(monkeypatch):
    assert 1 <= threads.io_threads() <= threads.MAX_DEFAULT_THREADS
    alone = threads.io_threads()
    monkeypatch.setenv("MPI_LOCALNRANKS", "64")          # under mpiexec: the node's cores are shared
    assert threads.io_threads() == 1
    monkeypatch.setenv("MPI_LOCALNRANKS", "1")
    assert threads.io_threads() == alone
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.io_threads() == 3
    monkeypatch.setenv("NIROM_IO_THREADS", "5")
    assert threads.io_threads() == 5
    threads.set_io_threads(1)
    assert threads.io_threads() == 1


@pytest.mark.parametrize("value", ["zero", "0", "-2"])
def test_a_bad_thread_count_is_refused_with_its_variable(monkeypatch, value):
    monkeypatch.setenv("NIROM_IO_THREADS", value)
    with pytest.raises(ValueError, match=f"NIROM_IO_THREADS='{value}': expected a positive integer"):
        threads.io_threads()
    with pytest.raises(ValueError, match="at least 1"):
        threads.set_io_threads(0)


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_gets_a_pool_of_its_own():
    import multiprocessing
    import os

    threads.set_io_threads(2)
    threads.run_parts(lambda a, b: None, 10)            # the parent's pool exists

    def child(queue):
        seen = []
        threads.run_parts(lambda a, b: seen.append((a, b)), 10)   # would wait forever on the parent's dead threads
        queue.put(sorted(seen))

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=child, args=(queue,))
    process.start()
    process.join(timeout=60)
    if process.is_alive():          # the hang this guards against
        process.kill()
    assert process.exitcode == 0 and os.getpid() != process.pid
    assert queue.get(timeout=5) == [(0, 5), (5, 10)]
