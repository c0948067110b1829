"""Proper orthogonal decomposition (POD) of the offline stage, distributed by rows.

Each rank holds its rows of every snapshot (its subdomain's dofs, or integration
points) and its part of the inner product; the functions reduce over ``comm``
(``None``: serial) and return the same reduced quantities on every rank.

Typical use (each rank; ``comm`` may be ``None``)::

    from rom.pod import pod, update
    M = fem.mass_matrix(submesh, rule="high", n_components=3)      # this rank's cells
    basis = pod(U_rows, inner_product=M, tol=1e-6, comm=comm)    # (n_snapshots, n_local_dofs)
    a = basis.project(u_rows)                                    # (n_snapshots, n_modes), same on every rank
    basis.projection_error(U_rows)                               # ≤ 1e-6
    basis = update(basis, new_rows)                              # adaptive enrichment, same tol
    duals = pod(sigma_rows, tol=1e-4, comm=comm)                 # identity product (disjoint rows)

Modules: :mod:`~rom.pod.inner_product` (identity / weights / mass, the reductions),
:mod:`~rom.pod.truncation` (how many modes), :mod:`~rom.pod.snapshots` (``pod``),
:mod:`~rom.pod.randomized`, :mod:`~rom.pod.streaming` (``pod_streaming``,
``GramAccumulator``), :mod:`~rom.pod.incremental` (``update``), :mod:`~rom.pod.basis`
(``ReducedBasis``).
"""

from rom.pod.basis import ReducedBasis
from rom.pod.incremental import update
from rom.pod.inner_product import KINDS, InnerProduct, as_inner_product
from rom.pod.snapshots import pod
from rom.pod.streaming import GramAccumulator, pod_streaming
from rom.pod.truncation import truncation_rank

__all__ = ["KINDS", "GramAccumulator", "InnerProduct", "ReducedBasis", "as_inner_product", "pod", "pod_streaming",
           "truncation_rank", "update"]
