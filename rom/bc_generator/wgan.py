"""WGAN-GP on the POD coefficients of boundary traces (Gulrajani et al. 2017, as in Boukraichi et al.).

The generator ``G`` maps a latent ``z ~ N(0, I)`` to standardised POD coefficients; the
critic ``D`` scores coefficient vectors. Both are MLPs (no batch normalisation
anywhere: the gradient penalty is per sample). One *iteration* is ``n_critic`` critic
updates followed by one generator update:

- critic loss ``L_D = E[D(G(z))] - E[D(x)] + λ E[(‖∇D(x̂)‖ - 1)²]``, ``x̂ = εx + (1-ε)G(z)``,
  ``ε ~ U(0, 1)`` per sample;
- generator loss ``L_G = -E[D(G(z))]``;
- recorded per iteration: the critic loss and the Wasserstein estimate
  ``E[D(x)] - E[D(G(z))]`` and the gradient penalty (means over the ``n_critic``
  steps), and the generator loss.

Defaults are Gulrajani et al.'s: λ = 10, n_critic = 5, Adam(1e-4, β1 = 0, β2 = 0.9),
batch 64. Choices of ours (:class:`WGANConfig`), and why:

- **standardised coefficients** (``standardise=True``): the POD coefficients'
  variances decay like the eigenvalues (several decades); each is centred and divided
  by its training standard deviation, so that every coefficient matters to the MLPs
  and the unit-gradient constraint of the penalty is isotropic. Samples are
  de-standardised before the POD rebuilds the traces;
- **latent dimension** = the number of coefficients unless given (the generator's
  image can fill the coefficient space);
- **widths** 3 × 128 for both networks (Gulrajani's toy experiments: 3 × 512; the
  coefficient vectors here have 10–30 entries, and 128 keeps a few thousand iterations
  within a minute on 2 CPU cores);
- **ReLU** hidden activations (``leaky_relu`` and ``tanh`` available), linear outputs;
  weights ``N(0, 2/fan_in)`` (``1/fan_in`` for tanh and the output layers), zero biases;
- float32 (JAX's default), the batch drawn uniformly with replacement at each critic step.

**Randomness.** ``fit(seed=s)`` starts from ``jax.random.PRNGKey(s)``: one split for the
initial weights, the rest is the training key carried in the state and split at every
iteration. ``sample(n, seed)`` draws the latent from ``PRNGKey(seed)``.

**Training program.** Iterations run in blocks through one jit-compiled function that
scans :data:`BLOCK` iterations and applies only the first ``n_active`` (a traced
argument): every block, however it is cut by checkpoints, runs the same compiled
program on the same state, so a training resumed from a checkpoint reproduces the
uninterrupted one bit for bit (same machine and JAX version). After each block the
losses come to the host: the progress bar (tqdm: on a TTY, or when asked) and the
non-finite check.

**Checkpoints** (``fit(..., checkpoint=path)``) are generator files (format
``nirom-bc-generator``, kind ``wgan-gp``) that also hold the training state: the
critic, both optimiser states, the RNG key, the iteration count, the loss history,
every pytree leaf a dataset named by its path (``model/state/opt_critic/0/mu/layer_1/w``).
They are written every ``checkpoint_every`` iterations and at the end, atomically. When
``path`` exists, ``fit`` resumes from it — after checking that it was made with the same
configuration (every field but ``n_iterations`` and ``checkpoint_every``), the same seed,
the same traces (SHA-256 of the samples and the layout) and the same POD settings;
anything else is refused with an :class:`InputError` listing the differences. The POD
stored in the checkpoint is reused, so the coefficients are those of the interrupted run.

**Non-finite losses.** Decision: training stops with a :class:`ConvergenceError` that
names the first iteration whose losses (or the parameters after it) are not finite;
the generator object keeps the last state found finite (the start of the failing
block), and the checkpoint file, never written with a non-finite state, still holds
the last good checkpoint — the message names both iterations. An error rather than a
warning: a training that diverged does not answer the question it was run for, and
continuing from the last good state with the same settings diverges again.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from io_adapters.errors import ConfigError, ConvergenceError, InputError, require
from rom.bc_generator import _h5
from rom.bc_generator.base import PODGenerator, _check_count
from rom.bc_generator.compression import SpaceTimePOD
from rom.bc_generator.layout import TraceLayout, check_samples

__all__ = ["BLOCK", "LOSS_NAMES", "WGANConfig", "WGANGenerator"]

log = logging.getLogger(__name__)

#: Iterations per call of the compiled training program (the granularity of the
#: progress display and of the non-finite check).
BLOCK = 50

#: Per-iteration records of the loss history, in order.
LOSS_NAMES = ("critic_loss", "generator_loss", "wasserstein", "gradient_penalty")

ACTIVATIONS = ("relu", "leaky_relu", "tanh")
LEAKY_SLOPE = 0.2


def _jax():
    """``(jax, jax.numpy, optax)``, or MissingDependencyError naming the ``gan`` extra."""
    feature = "the WGAN-GP boundary-condition generator (rom.bc_generator.wgan)"
    jax = require("jax", "gan", feature)
    optax = require("optax", "gan", feature)
    return jax, jax.numpy, optax


# ================================================================ configuration
@dataclass(frozen=True)
class WGANConfig:
    """Architecture and training settings of the WGAN-GP (defaults: Gulrajani et al.).

    Parameters
    ----------
    latent_dim : int, optional
        Dimension of the latent ``z``; the number of POD coefficients when omitted.
    generator_widths, critic_widths : tuple of int
        Hidden layer widths.
    activation : str
        Hidden activation of both networks: ``relu``, ``leaky_relu`` (slope 0.2), ``tanh``.
    gradient_penalty : float
        λ.
    n_critic : int
        Critic updates per generator update.
    learning_rate, beta1, beta2 : float
        Adam, for both networks.
    batch_size : int
        Samples per batch (real and generated alike).
    standardise : bool
        Centre the POD coefficients and divide them by their training standard deviation.
    n_iterations : int
        Generator updates in all (a resumed training goes on to this count).
    checkpoint_every : int
        Iterations between checkpoints (when ``fit`` is given a checkpoint path).

    ``n_iterations`` and ``checkpoint_every`` may change between a checkpoint and its
    resumption; every other field must be the same.
    """

    latent_dim: int | None = None
    generator_widths: tuple[int, ...] = (128, 128, 128)
    critic_widths: tuple[int, ...] = (128, 128, 128)
    activation: str = "relu"
    gradient_penalty: float = 10.0
    n_critic: int = 5
    learning_rate: float = 1e-4
    beta1: float = 0.0
    beta2: float = 0.9
    batch_size: int = 64
    standardise: bool = True
    n_iterations: int = 5000
    checkpoint_every: int = 500

    #: fields that may differ when a training is resumed
    RUN_FIELDS = ("n_iterations", "checkpoint_every")

    def __post_init__(self):
        problems = []

        def positive_int(name, value):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                problems.append(f"{name} must be a positive integer, found {value!r}")

        def positive_float(name, value, upper=None):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                    or not np.isfinite(value) or value <= 0 or (upper is not None and value >= upper):
                bound = f" and < {upper}" if upper is not None else ""
                problems.append(f"{name} must be a finite number > 0{bound}, found {value!r}")

        if self.latent_dim is not None:
            positive_int("latent_dim", self.latent_dim)
        for name in ("generator_widths", "critic_widths"):
            widths = getattr(self, name)
            if not isinstance(widths, (tuple, list)) or not widths:
                problems.append(f"{name} must be a non-empty tuple of positive integers, found {widths!r}")
            else:
                for w in widths:
                    positive_int(name, w)
                object.__setattr__(self, name, tuple(int(w) for w in widths))
        if self.activation not in ACTIVATIONS:
            problems.append(f"activation must be one of {list(ACTIVATIONS)}, found {self.activation!r}")
        positive_float("gradient_penalty", self.gradient_penalty)
        positive_float("learning_rate", self.learning_rate)
        if isinstance(self.beta1, bool) or not isinstance(self.beta1, (int, float)) or not 0 <= self.beta1 < 1:
            problems.append(f"beta1 must be in [0, 1), found {self.beta1!r}")
        positive_float("beta2", self.beta2, upper=1)
        for name in ("n_critic", "batch_size", "n_iterations", "checkpoint_every"):
            positive_int(name, getattr(self, name))
        if not isinstance(self.standardise, bool):
            problems.append(f"standardise must be True or False, found {self.standardise!r}")
        if problems:
            raise ConfigError("WGANConfig: " + "; ".join(problems))

    def identity(self) -> dict:
        """The fields a resumed training must share, as JSON-ready values."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()
                if k not in self.RUN_FIELDS}

    def to_json(self) -> str:
        return json.dumps({k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str) -> "WGANConfig":
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: configuration is not valid JSON ({exc})") from exc
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(fields, dict) or set(fields) - known:
            extra = sorted(set(fields) - known) if isinstance(fields, dict) else fields
            raise InputError(f"{where}: unknown configuration fields {extra}")
        for name in ("generator_widths", "critic_widths"):
            if isinstance(fields.get(name), list):
                fields[name] = tuple(fields[name])
        try:
            return cls(**fields)
        except ConfigError as exc:
            raise InputError(f"{where}: {exc}") from exc


class _Architecture(NamedTuple):
    """What the compiled programs depend on (hashable: the cache key)."""

    latent_dim: int
    n_coefficients: int
    generator_widths: tuple
    critic_widths: tuple
    activation: str
    gradient_penalty: float
    n_critic: int
    learning_rate: float
    beta1: float
    beta2: float
    batch_size: int


# ================================================================ the networks and the compiled programs
def _activation(jnp, jax, name: str):
    if name == "relu":
        return jax.nn.relu
    if name == "leaky_relu":
        return lambda x: jax.nn.leaky_relu(x, negative_slope=LEAKY_SLOPE)
    return jnp.tanh


def _init_mlp(jax, jnp, key, sizes: list[int], activation: str) -> dict:
    """``{"layer_i": {"w": (n_in, n_out), "b": (n_out,)}}``, weights ``N(0, gain / n_in)``."""
    params = {}
    keys = jax.random.split(key, len(sizes) - 1)
    last = len(sizes) - 2
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        gain = 2.0 if activation != "tanh" and i != last else 1.0
        params[f"layer_{i}"] = {"w": jax.random.normal(keys[i], (n_in, n_out)) * np.sqrt(gain / n_in),
                                "b": jnp.zeros(n_out)}
    return params


def _mlp(params: dict, x, act):
    n = len(params)
    for i in range(n):
        layer = params[f"layer_{i}"]
        x = x @ layer["w"] + layer["b"]
        if i < n - 1:
            x = act(x)
    return x


class _Programs(NamedTuple):
    init: object       # key -> state
    block: object      # (state, data, n_active) -> (state, losses (BLOCK, 4), finite)
    generate: object   # (generator params, z) -> standardised coefficients


@functools.lru_cache(maxsize=8)
def _programs(arch: _Architecture) -> _Programs:
    """The jit-compiled functions of one architecture (compiled once per data shape, then cached)."""
    jax, jnp, optax = _jax()
    act = _activation(jnp, jax, arch.activation)
    optimiser = optax.adam(arch.learning_rate, b1=arch.beta1, b2=arch.beta2)
    B, L, lam = arch.batch_size, arch.latent_dim, arch.gradient_penalty

    def init(key):
        k_gen, k_critic, k_train = jax.random.split(key, 3)
        generator = _init_mlp(jax, jnp, k_gen, [L, *arch.generator_widths, arch.n_coefficients], arch.activation)
        critic = _init_mlp(jax, jnp, k_critic, [arch.n_coefficients, *arch.critic_widths, 1], arch.activation)
        return {"generator": generator, "critic": critic, "opt_generator": optimiser.init(generator),
                "opt_critic": optimiser.init(critic), "key": k_train}

    def critic_score(params, x):
        return _mlp(params, x, act)[:, 0]

    def critic_loss(critic, generator, real, z, eps):
        fake = _mlp(generator, z, act)
        mixed = eps * real + (1.0 - eps) * fake
        # samples are independent (no batch normalisation), so the gradient of the sum is per sample
        grad = jax.grad(lambda x: jnp.sum(critic_score(critic, x)))(mixed)
        penalty = jnp.mean((jnp.sqrt(jnp.sum(grad * grad, axis=1) + 1e-12) - 1.0) ** 2)
        wasserstein = jnp.mean(critic_score(critic, real)) - jnp.mean(critic_score(critic, fake))
        return -wasserstein + lam * penalty, (wasserstein, penalty)

    def generator_loss(generator, critic, z):
        return -jnp.mean(critic_score(critic, _mlp(generator, z, act)))

    def iteration(state, data):
        key, k_critic, k_gen = jax.random.split(state["key"], 3)

        def critic_step(carry, k):
            critic, opt_critic = carry
            k_batch, k_z, k_eps = jax.random.split(k, 3)
            real = data[jax.random.randint(k_batch, (B,), 0, data.shape[0])]
            z = jax.random.normal(k_z, (B, L))
            eps = jax.random.uniform(k_eps, (B, 1))
            (loss, (w, penalty)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
                critic, state["generator"], real, z, eps)
            updates, opt_critic = optimiser.update(grads, opt_critic, critic)
            return (optax.apply_updates(critic, updates), opt_critic), jnp.stack([loss, w, penalty])

        (critic, opt_critic), records = jax.lax.scan(critic_step, (state["critic"], state["opt_critic"]),
                                                     jax.random.split(k_critic, arch.n_critic))
        z = jax.random.normal(k_gen, (B, L))
        g_loss, grads = jax.value_and_grad(generator_loss)(state["generator"], critic, z)
        updates, opt_generator = optimiser.update(grads, state["opt_generator"], state["generator"])
        generator = optax.apply_updates(state["generator"], updates)
        mean = records.mean(axis=0)
        new = {"generator": generator, "critic": critic, "opt_generator": opt_generator, "opt_critic": opt_critic,
               "key": key}
        return new, jnp.stack([mean[0], g_loss, mean[1], mean[2]])

    def block(state, data, n_active):
        def body(state, i):
            return jax.lax.cond(i < n_active, lambda s: iteration(s, data),
                                lambda s: (s, jnp.zeros(len(LOSS_NAMES), jnp.float32)), state)

        state, losses = jax.lax.scan(body, state, jnp.arange(BLOCK))
        leaves = jax.tree_util.tree_leaves({k: v for k, v in state.items() if k != "key"})
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))
        return state, losses, finite

    def generate(generator, z):
        return _mlp(generator, z, act)

    return _Programs(jax.jit(init), jax.jit(block), jax.jit(generate))


# ================================================================ the generator
class WGANGenerator(PODGenerator):
    """WGAN-GP generator of boundary traces, trained on their space–time POD coefficients.

    Parameters
    ----------
    config : WGANConfig, optional
        Architecture and training settings (defaults: Gulrajani et al.).
    energy, n_modes : float, int
        Truncation of the space–time POD fitted on the training traces.
    compression : SpaceTimePOD, optional
        An already fitted POD to use instead.

    Attributes (after fit or load)
    ------------------------------
    layout : TraceLayout
    compression : SpaceTimePOD
    iteration : int
        Generator updates done.
    history : dict of (iteration,) arrays
        ``critic_loss``, ``generator_loss``, ``wasserstein``, ``gradient_penalty``.
    training_seconds : float
        Wall time of the training so far (over all resumptions).
    """

    kind = "wgan-gp"

    def __init__(self, config: WGANConfig | None = None, *, energy: float = 0.999, n_modes: int | None = None,
                 compression: SpaceTimePOD | None = None):
        super().__init__(energy=energy, n_modes=n_modes, compression=compression)
        config = WGANConfig() if config is None else config
        if not isinstance(config, WGANConfig):
            raise ConfigError(f"WGANGenerator: config must be a WGANConfig, found {type(config).__name__}")
        self.config = config
        self.state = None
        self.iteration = 0
        self.history = {name: np.zeros(0, dtype=np.float32) for name in LOSS_NAMES}
        self.seed: int | None = None
        self.latent_dim: int | None = None
        self.scaling_mean: np.ndarray | None = None
        self.scaling_scale: np.ndarray | None = None
        self.data_digest: str | None = None
        self.training_seconds = 0.0

    # ------------------------------------------------------------------ helpers
    def _architecture(self) -> _Architecture:
        c = self.config
        return _Architecture(self.latent_dim, self.compression.n_modes, c.generator_widths, c.critic_widths,
                             c.activation, float(c.gradient_penalty), int(c.n_critic), float(c.learning_rate),
                             float(c.beta1), float(c.beta2), int(c.batch_size))

    def _standardised(self, coefficients: np.ndarray) -> np.ndarray:
        return ((coefficients - self.scaling_mean) / self.scaling_scale).astype(np.float32)

    @staticmethod
    def _digest(samples: np.ndarray, layout: TraceLayout) -> str:
        h = hashlib.sha256()
        h.update(np.asarray(samples.shape, dtype=np.int64).tobytes())
        h.update(np.ascontiguousarray(samples, dtype=np.float64).data)
        h.update(layout.node_ids.tobytes())
        h.update(layout.times.tobytes())
        h.update(" ".join(layout.components).encode())
        return h.hexdigest()

    # ------------------------------------------------------------------ fit
    def fit(self, samples, *, seed: int = 0, node_ids=None, times=None, checkpoint: str | os.PathLike | None = None,
            progress: bool | None = None) -> "WGANGenerator":
        """Train (or resume training) on traces.

        Parameters
        ----------
        samples : (n_samples, n_times, n_nodes, 3) array
            Training traces.
        seed : int
            Seed of the initial weights and of the training's randomness.
        node_ids : (n_nodes,) int array, optional
        times : (n_times,) array, optional
            Layout of the traces (defaults ``0, 1, …``).
        checkpoint : path, optional
            Checkpoint file: resumed from when it exists (same configuration, seed and
            traces, else :class:`InputError`), written every ``checkpoint_every``
            iterations and at the end.
        progress : bool, optional
            Progress bar (tqdm on stderr); default: only when stderr is a terminal.

        Returns
        -------
        WGANGenerator
            ``self``, trained to ``config.n_iterations`` iterations.

        Raises
        ------
        ConvergenceError
            A loss became non-finite (see the module docstring).
        MissingDependencyError
            jax or optax missing.
        """
        jax, jnp, _ = _jax()
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"WGANGenerator.fit: seed must be a non-negative integer, found {seed!r}")
        samples = check_samples(samples, min_samples=2)
        default = TraceLayout.default(samples.shape)
        layout = TraceLayout(default.node_ids if node_ids is None else node_ids,
                             default.times if times is None else times, default.components)
        digest = self._digest(samples, layout)
        if checkpoint is not None and os.path.exists(checkpoint):
            self._resume(checkpoint, samples.shape, layout, digest, int(seed))
            coefficients = self.compression.transform(samples)
        else:
            _, coefficients = self._prepare(samples, node_ids, times)
            self.seed = int(seed)
            self.data_digest = digest
            self.latent_dim = self.config.latent_dim or self.compression.n_modes
            if self.config.standardise:
                self.scaling_mean = coefficients.mean(axis=0)
                self.scaling_scale = np.maximum(coefficients.std(axis=0), 1e-12 * coefficients.std(axis=0).max())
            else:
                self.scaling_mean = np.zeros(self.compression.n_modes)
                self.scaling_scale = np.ones(self.compression.n_modes)
            self.state = _programs(self._architecture()).init(jax.random.PRNGKey(self.seed))
            self.iteration = 0
            self.history = {name: np.zeros(0, dtype=np.float32) for name in LOSS_NAMES}
            self.training_seconds = 0.0
        self._train(jnp.asarray(self._standardised(coefficients)), checkpoint, progress)
        return self

    def _resume(self, path, shape, layout: TraceLayout, digest: str, seed: int) -> None:
        """Load the checkpoint's state after checking that it belongs to this training."""
        stored = WGANGenerator.load(path)
        differences = []
        mine, theirs = self.config.identity(), stored.config.identity()
        for name in mine:
            if mine[name] != theirs[name]:
                differences.append(f"{name} {theirs[name]!r} in the file, {mine[name]!r} requested")
        if stored.seed != seed:
            differences.append(f"seed {stored.seed} in the file, {seed} requested")
        if layout.difference(stored.layout) is not None:
            differences.append(f"boundary layout: {stored.layout.difference(layout)} (file vs samples)")
        elif stored.compression.n_training != shape[0]:
            differences.append(f"{stored.compression.n_training} training traces in the file, {shape[0]} given")
        elif stored.data_digest != digest:
            differences.append("the training traces differ from those of the checkpoint (SHA-256 of the samples)")
        if self._given_compression:
            same = (self.compression.n_modes == stored.compression.n_modes
                    and np.array_equal(self.compression.modes, stored.compression.modes)
                    and np.array_equal(self.compression.mean, stored.compression.mean))
            if not same:
                differences.append("the given compression is not the checkpoint's")
        else:
            requested = (float(self.energy), self.n_modes)
            found = (stored.compression.energy, stored.compression.n_modes_requested)
            if requested != found:
                differences.append(f"POD settings (energy, n_modes) {found} in the file, {requested} requested")
        if differences:
            raise InputError(f"{path}: checkpoint of another training, not resumed: " + "; ".join(differences)
                             + " (remove the file or fit with its configuration)")
        for name in ("layout", "compression", "state", "iteration", "history", "seed", "latent_dim",
                     "scaling_mean", "scaling_scale", "data_digest", "training_seconds"):
            setattr(self, name, getattr(stored, name))
        log.info("WGAN-GP: resuming from %s at iteration %d", path, self.iteration)

    def _train(self, data, checkpoint, progress: bool | None) -> None:
        """Run blocks until ``config.n_iterations``; checkpoints; the non-finite check."""
        program = _programs(self._architecture()).block
        target = self.config.n_iterations
        every = self.config.checkpoint_every
        show = sys.stderr.isatty() if progress is None else bool(progress)
        if self.iteration >= target:
            log.info("WGAN-GP: already at iteration %d (≥ %d), nothing to train", self.iteration, target)
            return
        from tqdm.auto import tqdm

        records = {name: [self.history[name]] for name in LOSS_NAMES}
        last_checkpoint = self.iteration if checkpoint is not None and os.path.exists(checkpoint) else None
        bar = tqdm(total=target, initial=self.iteration, disable=not show, desc="WGAN-GP", unit="it",
                   file=sys.stderr)
        try:
            while self.iteration < target:
                n_active = min(BLOCK, target - self.iteration)
                if checkpoint is not None:
                    n_active = min(n_active, every - self.iteration % every)
                start = time.perf_counter()
                state, losses, finite = program(self.state, data, np.int32(n_active))
                losses = np.asarray(losses)[:n_active]
                finite = bool(finite)
                self.training_seconds += time.perf_counter() - start
                bad = np.flatnonzero(~np.all(np.isfinite(losses), axis=1))
                if bad.size or not finite:
                    self._stop(bad, losses, n_active, checkpoint, last_checkpoint, records)
                self.state = state
                for j, name in enumerate(LOSS_NAMES):
                    records[name].append(losses[:, j])
                self.iteration += n_active
                bar.update(n_active)
                if show:
                    bar.set_postfix(W=f"{losses[-1, 2]:.3g}", GP=f"{losses[-1, 3]:.2g}")
                if checkpoint is not None and (self.iteration % every == 0 or self.iteration == target):
                    self.history = {name: np.concatenate(records[name]) for name in LOSS_NAMES}
                    self.save(checkpoint)
                    last_checkpoint = self.iteration
        finally:
            bar.close()
            self.history = {name: np.concatenate(records[name]) for name in LOSS_NAMES}
        log.info("WGAN-GP: %d iterations, %.1f s of training, Wasserstein estimate %.4g", self.iteration,
                 self.training_seconds, float(np.mean(self.history["wasserstein"][-BLOCK:])))

    def _stop(self, bad, losses, n_active, checkpoint, last_checkpoint, records) -> None:
        """Keep the last finite state, say where the training diverged, raise."""
        if bad.size:
            j = int(bad[0])
            names = [n for k, n in enumerate(LOSS_NAMES) if not np.isfinite(losses[j, k])]
            what = f"non-finite {', '.join(names)} at iteration {self.iteration + j + 1}"
        else:
            what = (f"non-finite network parameters after iterations {self.iteration + 1}–"
                    f"{self.iteration + n_active} (losses finite)")
        self.history = {name: np.concatenate(records[name]) for name in LOSS_NAMES}
        kept = f"the generator keeps the parameters of iteration {self.iteration} (the last finite state)"
        if checkpoint is None:
            saved = "no checkpoint file was asked for"
        elif last_checkpoint is None:
            saved = f"no checkpoint was written to {checkpoint} yet"
        else:
            saved = f"the last good checkpoint, {checkpoint}, holds iteration {last_checkpoint}"
        raise ConvergenceError(f"WGAN-GP training stopped: {what}; {kept}; {saved} (lower the learning rate or "
                               "check the training traces, then start a new training)")

    # ------------------------------------------------------------------ sample
    def sample_coefficients(self, n: int, seed: int = 0) -> np.ndarray:
        """``(n, n_modes)`` POD coefficients of ``n`` generated traces (latent from ``PRNGKey(seed)``)."""
        self._check_fitted("sample_coefficients")
        if self.state is None:
            raise InputError("WGANGenerator.sample_coefficients: fit or load the generator first")
        n = _check_count(n, "WGANGenerator.sample_coefficients")
        jax, _, _ = _jax()
        z = jax.random.normal(jax.random.PRNGKey(seed), (n, self.latent_dim))
        out = np.asarray(_programs(self._architecture()).generate(self.state["generator"], z), dtype=np.float64)
        if not np.all(np.isfinite(out)):
            raise ConvergenceError("WGANGenerator: the generator produced non-finite coefficients")
        return out * self.scaling_scale + self.scaling_mean

    # ------------------------------------------------------------------ files
    def _write_model(self, group) -> None:
        jax, _, _ = _jax()
        group.attrs["config"] = self.config.to_json()
        group.attrs["latent_dim"] = self.latent_dim
        group.attrs["seed"] = self.seed
        group.attrs["iteration"] = self.iteration
        group.attrs["data_digest"] = self.data_digest
        group.attrs["training_seconds"] = self.training_seconds
        scaling = group.create_group("scaling")
        _h5.write_array(scaling, "mean", self.scaling_mean)
        _h5.write_array(scaling, "scale", self.scaling_scale)
        state = group.create_group("state")
        for part in ("generator", "critic", "opt_generator", "opt_critic"):
            _h5.write_tree(state.create_group(part), self.state[part], jax.tree_util)
        _h5.write_array(state, "key", np.asarray(self.state["key"]))
        history = group.create_group("history")
        for name in LOSS_NAMES:
            _h5.write_array(history, name, self.history[name])

    @classmethod
    def _read_model(cls, group, compression: SpaceTimePOD) -> "WGANGenerator":
        jax, jnp, _ = _jax()
        where = _h5.where(group)
        config = WGANConfig.from_json(_h5.read_attr(group, "config", str), where)
        generator = cls(config, energy=compression.energy, n_modes=compression.n_modes_requested)
        generator.compression = compression
        generator.latent_dim = _h5.read_attr(group, "latent_dim", int)
        if generator.latent_dim < 1 or (config.latent_dim is not None and config.latent_dim != generator.latent_dim):
            raise InputError(f"{where}: latent_dim {generator.latent_dim} disagrees with the configuration "
                             f"({config.latent_dim})")
        generator.seed = _h5.read_attr(group, "seed", int)
        generator.iteration = _h5.read_attr(group, "iteration", int)
        generator.data_digest = _h5.read_attr(group, "data_digest", str)
        generator.training_seconds = _h5.read_attr(group, "training_seconds", float)
        r = compression.n_modes
        scaling = _h5.subgroup(group, "scaling")
        generator.scaling_mean = _h5.read_array(scaling, "mean", ndim=1, shape=(r,), dtype=np.float64)
        generator.scaling_scale = _h5.read_array(scaling, "scale", ndim=1, shape=(r,), dtype=np.float64)
        if np.any(generator.scaling_scale <= 0):
            raise InputError(f"{_h5.where(scaling, 'scale')}: expected positive values")
        template = jax.eval_shape(_programs(generator._architecture()).init, jax.random.PRNGKey(0))
        template = jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), template)
        state_group = _h5.subgroup(group, "state")
        state = {part: _h5.read_tree(_h5.subgroup(state_group, part), template[part], jax.tree_util)
                 for part in ("generator", "critic", "opt_generator", "opt_critic")}
        state["key"] = _h5.read_array(state_group, "key", ndim=1, shape=template["key"].shape, integer=True,
                                      dtype=template["key"].dtype)
        generator.state = jax.tree_util.tree_map(jnp.asarray, state)
        history = _h5.subgroup(group, "history")
        generator.history = {name: _h5.read_array(history, name, ndim=1, shape=(generator.iteration,),
                                                  dtype=np.float32) for name in LOSS_NAMES}
        return generator
