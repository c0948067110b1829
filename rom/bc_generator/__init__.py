"""Generative models of submodel boundary conditions (stochastic imposed displacements).

A submodel's boundary conditions are displacement histories on its boundary nodes,
taken from a global structure under random fast dynamics; they are *traces* of shape
``(n_times, n_nodes, 3)``. This package learns their distribution from training traces
and draws new ones for Monte Carlo uncertainty quantification in the submodel
(Boukraichi, Akkari, Casenave, Ryckelynck: a Wasserstein GAN with gradient penalty).

Typical use::

    from rom.bc_generator import WGANGenerator, WGANConfig, GaussianGenerator, compare

    wgan = WGANGenerator(WGANConfig(n_iterations=5000)).fit(traces, node_ids=ids, times=t, seed=0,
                                                            checkpoint="wgan.h5")
    new = wgan.sample(1000, seed=1)           # (1000, n_times, n_nodes, 3), on wgan.layout's nodes and times
    gauss = GaussianGenerator(compression=wgan.compression).fit(traces)
    report = compare(new, held_out, traces, compression=wgan.compression)

Modules: :mod:`~rom.bc_generator.layout` (axes of a trace, input checks),
:mod:`~rom.bc_generator.compression` (space–time POD), :mod:`~rom.bc_generator.base`
(the :class:`BoundaryGenerator` protocol, the Gaussian and bootstrap baselines,
:func:`load_generator`), :mod:`~rom.bc_generator.wgan` (WGAN-GP: jax and optax are
imported when a WGAN is trained, loaded or sampled, never at import),
:mod:`~rom.bc_generator.metrics` (validation against held-out traces),
:mod:`~rom.bc_generator.plots` (loss curves, marginals), :mod:`~rom.bc_generator.synthetic`
(impact-like synthetic traces for tests and benchmarks).
"""

from rom.bc_generator.base import BootstrapGenerator, BoundaryGenerator, GaussianGenerator, load_generator
from rom.bc_generator.compression import SpaceTimePOD
from rom.bc_generator.layout import TraceLayout, check_samples
from rom.bc_generator.metrics import compare, energy_distance, nearest_neighbour_ratio, sliced_wasserstein
from rom.bc_generator.wgan import WGANConfig, WGANGenerator

__all__ = ["BootstrapGenerator", "BoundaryGenerator", "GaussianGenerator", "SpaceTimePOD", "TraceLayout",
           "WGANConfig", "WGANGenerator", "check_samples", "compare", "energy_distance", "load_generator",
           "nearest_neighbour_ratio", "sliced_wasserstein"]
