"""The ``nirom`` command line: convert and info, and its one-line errors."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

import io_adapters


def nirom(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mpi_drivers.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def test_convert_zset_run_and_info(tmp_path, data_dir):
    out = tmp_path / "cube.h5"
    done = nirom("convert", data_dir / "zset/UtExample/cube.ut", "-o", out)
    assert done.returncode == 0, done.stderr
    assert "4 time steps, 343 nodes, 216 cells" in done.stdout
    assert out.exists() and out.with_suffix(".xdmf").exists()
    source = io_adapters.read(data_dir / "zset/UtExample/cube.ut")
    stored = io_adapters.read(out)
    for name in ("U", "sig", "evgeq"):
        np.testing.assert_array_equal(stored.fields[name].values, source.fields[name].values)
    info = nirom("info", out)
    assert info.returncode == 0, info.stderr
    assert "mesh: 343 nodes, 216 cells 216 hexahedron (dim 3)" in info.stdout
    assert "field sig: integration_point, rule zset, shape (4, 1728, 6)" in info.stdout


def test_convert_merges_zset_subdomains(tmp_path, data_dir):
    folder = data_dir / "zset/UtParExample"
    out = tmp_path / "merged.h5"
    done = nirom("convert", folder / "cube-001.ut", folder / "cube-002.ut", "-o", out, "--dtype", "float64")
    assert done.returncode == 0, done.stderr
    merged = io_adapters.read(out)
    whole = io_adapters.read(folder / "cube.ut")
    assert merged.mesh.n_nodes == whole.mesh.n_nodes == 343
    a = np.argsort(merged.mesh.point_ids)
    b = np.argsort(whole.mesh.point_ids)
    np.testing.assert_array_equal(merged.fields["U"].values[:, a], whole.fields["U"].values[:, b])


@pytest.mark.parametrize("relative", ["ansys/file.rst", "zset/cube2.geof", "zset/cube.geo"])
def test_info_reads_other_formats(data_dir, relative):
    done = nirom("info", data_dir / relative)
    assert done.returncode == 0, done.stderr
    assert "mesh:" in done.stdout


def test_errors_are_one_line_with_exit_code_2(tmp_path, data_dir):
    done = nirom("info", tmp_path / "missing.ut")
    assert done.returncode == 2                    # bad input (a missing or corrupt file)
    assert done.stderr.strip().count("\n") == 0
    assert "missing.ut: no such file" in done.stderr

    copy = tmp_path / "run"
    shutil.copytree(data_dir / "zset/UtExample", copy)
    integ = copy / "cube.integ"
    integ.write_bytes(integ.read_bytes()[:-400])
    done = nirom("convert", copy / "cube.ut", "-o", tmp_path / "out.h5")
    assert done.returncode == 2                    # bad input (a missing or corrupt file)
    assert done.stderr.strip().count("\n") == 0
    assert "cube.integ" in done.stderr and "1907312" in done.stderr
    assert not (tmp_path / "out.h5").exists()

    done = nirom("convert", data_dir / "zset/UtExample/cube.ut", "-o", tmp_path / "out.vtu")
    assert done.returncode == 2 and "must be a nirom store ending in .h5" in done.stderr


def test_console_script_is_installed():
    exe = shutil.which("nirom", path=str(__import__("pathlib").Path(sys.executable).parent))
    assert exe is not None
    done = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "convert" in done.stdout and "info" in done.stdout
