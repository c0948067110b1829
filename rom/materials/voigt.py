"""Voigt notation used by every nirom constitutive law.

Component order is ``[11, 22, 33, 12, 23, 31]`` for both strains and stresses.

* **Strain-like** vectors (total strain, viscoplastic strain ``evri``, kinematic
  variables ``al1``…) carry **engineering shears**: ``e = [ε11, ε22, ε33, 2ε12, 2ε23, 2ε31]``.
* **Stress-like** vectors (stress, back-stress) carry the plain components
  ``s = [σ11, σ22, σ33, σ12, σ23, σ31]``.

With this pair the work is a plain dot product, ``σ:ε = s·e``, and a tangent
``D = dσ/dε`` is the (6, 6) matrix with ``Δs = D Δe``. Norms differ: for a stress
``a:a = Σ_{i<3} a_i² + 2 Σ_{i≥3} a_i²`` while for a strain
``a:a = Σ_{i<3} a_i² + ½ Σ_{i≥3} a_i²`` (:func:`stress_norm`, :func:`strain_norm`).

Every function here accepts any leading shape ``(..., 6)`` (``(..., 3, 3)`` for tensors).
"""

from __future__ import annotations

import numpy as np

#: Component suffixes in Zset's order, for output names such as ``evri11``.
COMPONENTS: tuple[str, ...] = ("11", "22", "33", "12", "23", "31")

#: (row, column) of each Voigt component in the 3×3 tensor.
PAIRS: tuple[tuple[int, int], ...] = ((0, 0), (1, 1), (2, 2), (0, 1), (1, 2), (2, 0))

#: Second-order identity as a Voigt vector (same in both conventions).
IDENTITY: np.ndarray = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
IDENTITY.flags.writeable = False

#: Weights of the stress inner product ``a:b = Σ w_i a_i b_i``.
STRESS_WEIGHTS: np.ndarray = np.array([1.0, 1.0, 1.0, 2.0, 2.0, 2.0])
STRESS_WEIGHTS.flags.writeable = False

#: Weights of the strain inner product ``a:b = Σ w_i a_i b_i`` (engineering shears).
STRAIN_WEIGHTS: np.ndarray = np.array([1.0, 1.0, 1.0, 0.5, 0.5, 0.5])
STRAIN_WEIGHTS.flags.writeable = False


def deviator(v: np.ndarray) -> np.ndarray:
    """Deviatoric part ``v − (tr v / 3) I`` of a Voigt vector (either convention).

    Parameters
    ----------
    v : (..., 6) array

    Returns
    -------
    (..., 6) array
    """
    v = np.asarray(v, dtype=float)
    out = v.copy()
    out[..., :3] -= v[..., :3].mean(axis=-1, keepdims=True)
    return out


def stress_norm(s: np.ndarray) -> np.ndarray:
    """Frobenius norm ``sqrt(σ:σ)`` of stress-like Voigt vectors, shape (...,)."""
    s = np.asarray(s, dtype=float)
    return np.sqrt(np.einsum("...i,i,...i->...", s, STRESS_WEIGHTS, s))


def strain_norm(e: np.ndarray) -> np.ndarray:
    """Frobenius norm ``sqrt(ε:ε)`` of strain-like Voigt vectors (engineering shears), shape (...,)."""
    e = np.asarray(e, dtype=float)
    return np.sqrt(np.einsum("...i,i,...i->...", e, STRAIN_WEIGHTS, e))


def von_mises(s: np.ndarray) -> np.ndarray:
    """Von Mises equivalent ``J(σ) = sqrt(3/2 dev σ : dev σ)`` of stress vectors, shape (...,)."""
    return np.sqrt(1.5) * stress_norm(deviator(s))


def equivalent_strain(e: np.ndarray) -> np.ndarray:
    """Equivalent strain ``sqrt(2/3 dev ε : dev ε)`` of strain vectors (engineering shears), shape (...,).

    For a plastic strain increment ``Δp N`` with ``J(N)``-normalised direction it returns ``Δp``.
    """
    return np.sqrt(2.0 / 3.0) * strain_norm(deviator(e))


def stress_to_tensor(s: np.ndarray) -> np.ndarray:
    """Symmetric (..., 3, 3) tensor of stress-like Voigt vectors (..., 6)."""
    s = np.asarray(s, dtype=float)
    t = np.empty(s.shape[:-1] + (3, 3))
    for k, (i, j) in enumerate(PAIRS):
        t[..., i, j] = s[..., k]
        t[..., j, i] = s[..., k]
    return t


def strain_to_tensor(e: np.ndarray) -> np.ndarray:
    """Symmetric (..., 3, 3) tensor of strain-like Voigt vectors (..., 6) with engineering shears."""
    return stress_to_tensor(np.asarray(e, dtype=float) / STRESS_WEIGHTS)


def tensor_to_stress(t: np.ndarray) -> np.ndarray:
    """Stress-like Voigt vectors (..., 6) of symmetric tensors (..., 3, 3)."""
    t = np.asarray(t, dtype=float)
    return np.stack([0.5 * (t[..., i, j] + t[..., j, i]) for i, j in PAIRS], axis=-1)


def tensor_to_strain(t: np.ndarray) -> np.ndarray:
    """Strain-like Voigt vectors (..., 6) with engineering shears of symmetric tensors (..., 3, 3)."""
    return tensor_to_stress(t) * STRESS_WEIGHTS


def rotation_matrices(rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voigt transforms of a change of frame ``A' = Q A Qᵀ``.

    Parameters
    ----------
    rotation : (3, 3) array
        Orthogonal matrix Q.

    Returns
    -------
    stress : (6, 6) array
        ``s' = stress @ s`` for stress-like vectors.
    strain : (6, 6) array
        ``e' = strain @ e`` for strain-like vectors (engineering shears). The work is
        invariant, so ``strain = inv(stress).T``.
    """
    q = np.asarray(rotation, dtype=float)
    basis = np.eye(6)
    stress = tensor_to_stress(q @ stress_to_tensor(basis) @ q.T).T
    strain = tensor_to_strain(q @ strain_to_tensor(basis) @ q.T).T
    return stress, strain


def rotate_tangent(tangent: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Tangent ``D'`` in the rotated frame: ``D' = Tσ D Tε⁻¹ = Tσ D Tσᵀ`` (Tσ, Tε of :func:`rotation_matrices`).

    Parameters
    ----------
    tangent : (..., 6, 6) array
    rotation : (3, 3) array

    Returns
    -------
    (..., 6, 6) array
    """
    t_stress, _ = rotation_matrices(rotation)
    return t_stress @ np.asarray(tangent, dtype=float) @ t_stress.T
