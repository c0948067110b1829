"""Run every benchmark of the suite: ``make bench`` (``python -m benchmarks.run_all``)."""

from __future__ import annotations

import sys

from benchmarks import bench_io


def main(argv=None) -> int:
    print("== I/O: conversion memory, .integ read throughput, partial reads")
    bench_io.main(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
