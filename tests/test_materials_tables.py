"""Temperature tables (Coefficient) and Voigt helpers of rom.materials."""

from __future__ import annotations

import numpy as np
import pytest

from io_adapters.errors import ConfigError
from rom.materials import Coefficient
from rom.materials import voigt


def test_constant_coefficient_broadcasts():
    c = Coefficient.from_spec(3.5, "x")
    assert c.is_constant and c.at(np.array([1.0, 2.0])) == 3.5
    np.testing.assert_array_equal(c(np.array([0.0, 100.0, 1e4])), [3.5, 3.5, 3.5])
    assert c.to_spec() == 3.5


def test_table_interpolates_linearly_and_clamps():
    c = Coefficient.from_spec({"temperature": [0.0, 500.0, 1000.0], "value": [1.6e5, 1.5e5, 1.2e5]}, "young")
    t = np.array([-100.0, 0.0, 250.0, 500.0, 750.0, 1000.0, 2000.0])
    np.testing.assert_allclose(c(t), [1.6e5, 1.6e5, 1.55e5, 1.5e5, 1.35e5, 1.2e5, 1.2e5])
    assert not c.is_constant
    assert Coefficient.from_spec(c.to_spec(), "young") == c


def test_single_point_table_is_a_constant():
    assert Coefficient.table([20.0], [7.0]) == Coefficient.constant(7.0)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"temperature": [0.0, 0.0], "value": [1.0, 2.0]}, "increase strictly"),
        ({"temperature": [100.0, 0.0], "value": [1.0, 2.0]}, "increase strictly"),
        ({"temperature": [0.0, 1.0, 2.0], "value": [1.0, 2.0]}, "3 temperatures but 2 values"),
        ({"temperature": [0.0, 1.0]}, "missing ['value']"),
        ({"temperature": [0.0, 1.0], "value": [1.0, 2.0], "unit": "K"}, "unknown ['unit']"),
        ({"temperature": [0.0, 1.0], "value": ["a", 2.0]}, "not numeric"),
        ("12", "expected a number"),
        (True, "expected a number"),
        (float("nan"), "not finite"),
    ],
)
def test_bad_tables_are_refused_with_the_coefficient_name(spec, message):
    with pytest.raises(ConfigError, match="young") as err:
        Coefficient.from_spec(spec, "young")
    assert message in str(err.value)


def test_voigt_tensor_round_trips_and_norms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 3, 3))
    sym = a + np.swapaxes(a, 1, 2)
    s = voigt.tensor_to_stress(sym)
    e = voigt.tensor_to_strain(sym)
    np.testing.assert_allclose(voigt.stress_to_tensor(s), sym)
    np.testing.assert_allclose(voigt.strain_to_tensor(e), sym)
    np.testing.assert_allclose(e[:, 3:], 2.0 * s[:, 3:])                 # engineering shears
    frob = np.sqrt(np.einsum("nij,nij->n", sym, sym))
    np.testing.assert_allclose(voigt.stress_norm(s), frob)
    np.testing.assert_allclose(voigt.strain_norm(e), frob)
    np.testing.assert_allclose(np.einsum("ni,ni->n", s, e), frob**2)      # σ:ε = s·e
    dev = sym - np.trace(sym, axis1=1, axis2=2)[:, None, None] * np.eye(3) / 3.0
    np.testing.assert_allclose(voigt.von_mises(s), np.sqrt(1.5 * np.einsum("nij,nij->n", dev, dev)))


def test_voigt_rotation_matrices_match_tensor_rotation():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    t_stress, t_strain = voigt.rotation_matrices(q)
    a = rng.normal(size=(3, 3))
    sym = a + a.T
    rotated = q @ sym @ q.T
    np.testing.assert_allclose(t_stress @ voigt.tensor_to_stress(sym), voigt.tensor_to_stress(rotated), atol=1e-12)
    np.testing.assert_allclose(t_strain @ voigt.tensor_to_strain(sym), voigt.tensor_to_strain(rotated), atol=1e-12)
    np.testing.assert_allclose(t_strain, np.linalg.inv(t_stress).T, atol=1e-12)
