"""LDA4Rec (P1) and LDAext (P2) as NumPyro models, fitted by fast SVI.

Models
------
Every model is a short NumPyro function that reads like the generative story of
book/papers.md §2; the shape of each site is given in a comment (``B`` users in the
minibatch, ``L`` padded interactions per user, ``K`` cohorts, ``I`` items).

* `lda4rec_model` -- P1's model exactly as the v1.0 code fits it, in *logit
  space*: ``delta ~ Normal(0, 2)^I``, ``phi_k ~ Normal(0, 1)^I``,
  ``theta_u ~ Dir(alpha 1_K)`` with ``alpha = 1/K``,
  ``lam_u ~ LogNormal(-0.5, 0.5)``, ``z ~ Cat(theta_u)`` (enumerated in
  parallel by `TraceEnum_ELBO`), ``i ~ Cat(softmax(phi_z + lam_u delta))``.
* `lda4rec_marginal_model` -- the same likelihood with the cohort summed out
  analytically, ``log sum_k theta_uk softmax(phi_k + lam_u delta)_i``; no
  enumeration machinery, fitted with plain `Trace_ELBO`.  Same ELBO (tested).
* `lda4rec_hier_model` -- hierarchical variant: the Dirichlet concentration
  ``alpha ~ Beta(1, K)`` (a Beta topic prior) and hyperpriors
  ``mu_lam ~ Normal(-0.5, 1)``, ``sigma_lam ~ HalfNormal(1)`` on the
  conformity's location and scale.  (book/papers.md only names these families; the
  parameters above are ours.)
* `ldaext_model` -- P2's LDAext fitted directly (neither paper does this):
  ``phi_k ~ Dir(beta)``, ``delta ~ Dir(gamma)``, item distribution
  ``(phi_z + lam_u delta) / (1 + lam_u)``.

Guides: the v1.0 guide for LDA4Rec (Normal delta and phi, LogNormal lam per
user, point mass for theta via softmax logits); LDAext uses point masses (MAP)
for phi, delta and theta and LogNormal lam.

Users are subsampled: each step draws ``B`` distinct users with its own derived
key, outside the model, and the user plate is scaled by ``U / B`` (so every
ELBO implementation sees the same minibatch in model and guide).  Interactions
are stored as per-user padded arrays ``items (U, L)`` with a boolean
``mask (U, L)``; for ML-1M (6,040 users, cap 200) that is 1.2 M int32, a few
MB.  The per-(user, cohort) normaliser ``log sum_i exp(phi_ki + lam_u delta_i)``
is computed as a ``(B, I) @ (I, K)`` product of exponentials
(`log_normalizer`), so the analytic model never builds a ``B x K x I`` tensor;
the enumerated model builds it, as P1's code does.

Inference
---------
`fit_lda4rec` / `fit_ldaext` run `numpyro.infer.SVI` with Adam; the whole
update is jitted and ``jax.lax.scan`` runs chunks of steps on device, so the
only Python overhead is one call per chunk.  The user minibatch of each step is
drawn on device from its own key (split from a per-chunk key); SVI splits its
own key afresh every step for the guide draws.

Predictions (`LDAModel.scores`)
-------------------------------
``"plugin"``
    ``p(i|u)`` at the variational posterior means.
``"rao-blackwell"`` (default)
    exact ``p(i|u) = sum_k theta_uk p_k(i|u)`` averaged over ``n_samples``
    (default 32) guide draws.
``"sample"``
    P1's count-based estimate: ``n_draws`` (default 10,000) items drawn per
    user from the posterior predictive (a fresh guide draw, a cohort, then an
    item, per draw), counted, ties broken by uniform noise.  Slow; kept only for
    comparison.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
from numpyro.infer import SVI, Trace_ELBO, TraceEnum_ELBO
from numpyro.ops.indexing import Vindex

from lda4rec.data import Interactions
from lda4rec.utils import atomic_save_npz, derive_seeds

__all__ = [
    "PaddedInteractions",
    "pad_interactions",
    "lda4rec_model",
    "lda4rec_marginal_model",
    "lda4rec_guide",
    "lda4rec_hier_model",
    "lda4rec_hier_guide",
    "ldaext_model",
    "ldaext_guide",
    "LDAModel",
    "fit_lda4rec",
    "fit_ldaext",
    "elbo_loss",
    "subsample_rows",
    "load_lda",
]

VARIANTS = ("lda4rec", "lda4rec-hier", "ldaext")


# --------------------------------------------------------------------- data
@dataclass(frozen=True)
class PaddedInteractions:
    """Per-user padded item ids and mask.

    ``items[u, :n_u]`` are user ``u``'s training items, the rest padding (0);
    ``mask[u, l]`` is True for real interactions.
    """

    items: np.ndarray  # (U, L) int32
    mask: np.ndarray  # (U, L) bool
    n_items: int

    @property
    def n_users(self) -> int:
        return int(self.items.shape[0])


def pad_interactions(train: Interactions) -> PaddedInteractions:
    """Pad each user's items into a ``(U, max_len)`` array with a mask.

    Raises
    ------
    ValueError
        If a user has no interaction (LDA needs at least one item per user).
    """
    counts = train.user_counts()
    if (counts == 0).any():
        empty = np.flatnonzero(counts == 0)
        raise ValueError(
            f"train: user {int(empty[0])} has no interactions "
            f"({empty.size} empty users in total); drop them or re-index users"
        )
    order = np.argsort(train.user_ids, kind="stable")
    users = train.user_ids[order]
    items = train.item_ids[order]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(users.size) - starts[users]
    max_len = int(counts.max())
    padded = np.zeros((train.n_users, max_len), dtype=np.int32)
    mask = np.zeros((train.n_users, max_len), dtype=bool)
    padded[users, pos] = items
    mask[users, pos] = True
    return PaddedInteractions(padded, mask, int(train.n_items))


# ----------------------------------------------------- small distributions
class _ObservedItem(dist.Distribution):
    """Categorical over items given per-row log-probabilities ``(..., I)``.

    Unlike `dist.Categorical`, `log_prob` gathers the observed item without
    broadcasting the ``I`` axis against the interaction plate, so the log-prob
    table stays ``(..., B, 1, I)`` instead of ``(..., B, L, I)``.
    """

    arg_constraints = {"log_probs": constraints.real_vector}
    pytree_data_fields = ("log_probs",)

    def __init__(self, log_probs, validate_args=None):
        self.log_probs = log_probs
        super().__init__(batch_shape=jnp.shape(log_probs)[:-1], validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, jnp.shape(self.log_probs)[-1] - 1)

    def sample(self, key, sample_shape=()):
        return jax.random.categorical(key, self.log_probs, shape=sample_shape + self.batch_shape)

    def log_prob(self, value):
        shape = jax.lax.broadcast_shapes(jnp.shape(value), self.batch_shape)
        lp = self.log_probs
        lp = lp.reshape((1,) * (len(shape) + 1 - lp.ndim) + lp.shape)
        idx = jnp.broadcast_to(value, shape)[..., None]
        return jnp.take_along_axis(lp, idx, axis=-1)[..., 0]


def log_normalizer(phi, lam, delta):
    """``log sum_i exp(phi_ki + lam_u delta_i)`` for every (u, k): (K, I), (B,), (I,) -> (B, K).

    Uses ``exp(phi_ki + lam_u delta_i) = exp(phi_ki) exp(lam_u delta_i)``: ``B x I + K x I``
    exponentials and one ``(B, I) @ (I, K)`` product instead of ``B x K x I`` exponentials.
    Row maxima are subtracted first, so nothing overflows.
    """
    ld = lam[:, None] * delta  # (B, I)
    m_ld = jax.lax.stop_gradient(ld.max(axis=-1, keepdims=True))  # (B, 1)
    m_phi = jax.lax.stop_gradient(phi.max(axis=-1, keepdims=True))  # (K, 1)
    s = jnp.exp(ld - m_ld) @ jnp.exp(phi - m_phi).T  # (B, K)
    return jnp.log(s) + m_ld + m_phi.T


class _LDA4RecItems(dist.Distribution):
    """``Cat(sum_k theta_k softmax(phi_k + lam delta))`` with the cohort summed out.

    ``theta`` (B, 1, K), ``phi`` (K, I), ``lam`` (B, 1), ``delta`` (I,); batch shape
    (B, 1), broadcasting against the interaction plate.  `log_prob` gathers the
    observed items only; the per-(user, cohort) normaliser is `log_normalizer`.
    """

    arg_constraints = {"theta": constraints.simplex, "phi": constraints.real, "lam": constraints.positive, "delta": constraints.real_vector}
    pytree_data_fields = ("theta", "phi", "lam", "delta")

    def __init__(self, theta, phi, lam, delta, validate_args=None):
        self.theta, self.phi, self.lam, self.delta = theta, phi, lam, delta
        super().__init__(batch_shape=jnp.shape(lam), validate_args=validate_args)

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, jnp.shape(self.phi)[-1] - 1)

    def item_log_probs(self):
        """(B, 1, I) log p(i) over all items."""
        log_p = jax.nn.log_softmax(self.phi + self.lam[..., None] * self.delta, axis=-1)  # (B, K, I)
        return jax.nn.logsumexp(jnp.log(self.theta[..., 0, :, None]) + log_p, axis=-2)[..., None, :]

    def sample(self, key, sample_shape=()):
        return jax.random.categorical(key, self.item_log_probs(), shape=sample_shape + self.batch_shape)

    def log_prob(self, value):
        lam = self.lam[..., 0]  # (B,)
        lse = log_normalizer(self.phi, lam, self.delta)  # (B, K)
        per_topic = self.phi.T[value] - lse[:, None, :]  # (B, L, K)
        log_mix = jax.nn.logsumexp(jnp.log(self.theta) + per_topic, axis=-1)  # (B, L)
        return log_mix + lam[:, None] * self.delta[value]


def _check_sizes(n_topics: int, alpha: float | None) -> float:
    if int(n_topics) != n_topics or n_topics < 1:
        raise ValueError(f"n_topics must be an integer >= 1, got {n_topics!r}")
    alpha = 1.0 / n_topics if alpha is None else float(alpha)
    if not alpha > 0 or not math.isfinite(alpha):
        raise ValueError(f"alpha must be a positive finite number, got {alpha!r}")
    return alpha


# ----------------------------------------------------------------- models
def _user_plate(n_users, batch_size):
    """Plate over the ``B`` minibatch users, scaled by ``U / B`` (unbiased ELBO).

    The minibatch is drawn outside the model (one derived key per step) and passed
    in, so model and guide see the same users under every ELBO implementation.
    """
    return _Scaled(numpyro.plate("users", batch_size, dim=-2), n_users / batch_size)


def _interaction_plate(max_len, weight):
    """Plate over the ``L`` interaction slots of each minibatch row.

    ``weight`` (B,), when given, scales each row's log-likelihood: a row that holds
    a uniform subsample of ``m`` of the user's ``n`` interactions gets ``n / m``,
    so the summed log-likelihood stays unbiased (see `subsample_rows`).
    """
    plate = numpyro.plate("interactions", max_len, dim=-1)
    if weight is None:
        return plate
    return _Scaled(plate, weight[:, None])


class _Scaled:
    def __init__(self, plate, scale):
        self.plate, self.scale = plate, numpyro.handlers.scale(scale=scale)

    def __enter__(self):
        self.scale.__enter__()
        return self.plate.__enter__()

    def __exit__(self, *exc):
        self.plate.__exit__(*exc)
        return self.scale.__exit__(*exc)


def lda4rec_model(users, items, mask, weight=None, *, n_users, n_items, n_topics, alpha=None):
    """P1's LDA4Rec as the v1.0 code fits it; z enumerated (use `TraceEnum_ELBO`)."""
    batch_size, max_len = items.shape  # (B, L): the minibatch rows
    alpha = 1.0 / n_topics if alpha is None else alpha
    delta = numpyro.sample("delta", dist.Normal(0.0, 2.0).expand([n_items]).to_event(1))  # (I,)
    phi = numpyro.sample(
        "phi", dist.Normal(0.0, 1.0).expand([n_topics, n_items]).to_event(2)
    )  # (K, I)
    with _user_plate(n_users, batch_size):
        theta = numpyro.sample("theta", dist.Dirichlet(jnp.full(n_topics, alpha)))  # (B, 1, K)
        lam = numpyro.sample("lam", dist.LogNormal(-0.5, 0.5))  # (B, 1)
        log_p = jax.nn.log_softmax(phi + lam[..., None] * delta, axis=-1)  # (B, K, I)
        rows = jnp.arange(batch_size)[:, None]  # (B, 1)
        with _interaction_plate(max_len, weight):
            z = numpyro.sample(
                "z", dist.Categorical(theta), infer={"enumerate": "parallel"}
            )  # (B, L), enumerated: (K, 1, 1)
            numpyro.sample(
                "i", _ObservedItem(Vindex(log_p)[rows, z]).mask(mask), obs=items
            )  # (B, L)


def lda4rec_marginal_model(users, items, mask, weight=None, *, n_users, n_items, n_topics, alpha=None):
    """P1's LDA4Rec with z summed out analytically (use `Trace_ELBO`)."""
    batch_size, max_len = items.shape  # (B, L): the minibatch rows
    alpha = 1.0 / n_topics if alpha is None else alpha
    delta = numpyro.sample("delta", dist.Normal(0.0, 2.0).expand([n_items]).to_event(1))  # (I,)
    phi = numpyro.sample(
        "phi", dist.Normal(0.0, 1.0).expand([n_topics, n_items]).to_event(2)
    )  # (K, I)
    with _user_plate(n_users, batch_size):
        theta = numpyro.sample("theta", dist.Dirichlet(jnp.full(n_topics, alpha)))  # (B, 1, K)
        lam = numpyro.sample("lam", dist.LogNormal(-0.5, 0.5))  # (B, 1)
        with _interaction_plate(max_len, weight):
            numpyro.sample(
                "i", _LDA4RecItems(theta, phi, lam, delta).mask(mask), obs=items
            )  # (B, L)


def lda4rec_guide(users, items, mask, weight=None, *, n_users, n_items, n_topics, alpha=None, init=None):
    """v1.0 guide: Normal delta, phi; LogNormal lam per user; Delta theta."""
    init = init or {}
    delta_loc = numpyro.param("delta_loc", init.get("delta_loc", jnp.zeros(n_items)))
    delta_scale = numpyro.param(
        "delta_scale", jnp.full(n_items, 0.1), constraint=constraints.positive
    )
    numpyro.sample("delta", dist.Normal(delta_loc, delta_scale).to_event(1))  # (I,)
    phi_loc = numpyro.param("phi_loc", init.get("phi_loc", jnp.zeros((n_topics, n_items))))
    phi_scale = numpyro.param(
        "phi_scale", jnp.full((n_topics, n_items), 0.1), constraint=constraints.positive
    )
    numpyro.sample("phi", dist.Normal(phi_loc, phi_scale).to_event(2))  # (K, I)
    theta_logits = numpyro.param("theta_logits", jnp.zeros((n_users, n_topics)))
    lam_loc = numpyro.param("lam_loc", jnp.full(n_users, -0.5))
    lam_scale = numpyro.param("lam_scale", jnp.full(n_users, 0.1), constraint=constraints.positive)
    with _user_plate(n_users, users.shape[0]):
        theta = jax.nn.softmax(theta_logits[users], axis=-1)[:, None, :]  # (B, 1, K)
        numpyro.sample("theta", dist.Delta(theta, event_dim=1))
        numpyro.sample("lam", dist.LogNormal(lam_loc[users][:, None], lam_scale[users][:, None]))  # (B, 1)


def lda4rec_hier_model(users, items, mask, weight=None, *, n_users, n_items, n_topics, alpha=None):
    """Hierarchical LDA4Rec (logit space, z summed out): Beta topic prior and
    hyperpriors on the conformity's location and scale."""
    batch_size, max_len = items.shape  # (B, L): the minibatch rows
    alpha = numpyro.sample("alpha", dist.Beta(1.0, float(n_topics)))  # () topic prior
    mu_lam = numpyro.sample("mu_lam", dist.Normal(-0.5, 1.0))  # ()
    sigma_lam = numpyro.sample("sigma_lam", dist.HalfNormal(1.0))  # ()
    delta = numpyro.sample("delta", dist.Normal(0.0, 2.0).expand([n_items]).to_event(1))  # (I,)
    phi = numpyro.sample(
        "phi", dist.Normal(0.0, 1.0).expand([n_topics, n_items]).to_event(2)
    )  # (K, I)
    with _user_plate(n_users, batch_size):
        theta = numpyro.sample(
            "theta", dist.Dirichlet(jnp.broadcast_to(alpha, (n_topics,)))
        )  # (B, 1, K)
        lam = numpyro.sample("lam", dist.LogNormal(mu_lam, sigma_lam))  # (B, 1)
        with _interaction_plate(max_len, weight):
            numpyro.sample(
                "i", _LDA4RecItems(theta, phi, lam, delta).mask(mask), obs=items
            )  # (B, L)


def lda4rec_hier_guide(users, items, mask, weight=None, *, n_users, n_items, n_topics, alpha=None, init=None):
    """v1.0 guide plus Beta / Normal / LogNormal factors for the hyperparameters."""
    a = numpyro.param("alpha_a", jnp.asarray(1.0), constraint=constraints.positive)
    b = numpyro.param("alpha_b", jnp.asarray(float(n_topics)), constraint=constraints.positive)
    numpyro.sample("alpha", dist.Beta(a, b))
    mu_loc = numpyro.param("mu_lam_loc", jnp.asarray(-0.5))
    mu_scale = numpyro.param("mu_lam_scale", jnp.asarray(0.1), constraint=constraints.positive)
    numpyro.sample("mu_lam", dist.Normal(mu_loc, mu_scale))
    s_loc = numpyro.param("sigma_lam_loc", jnp.asarray(math.log(0.5)))
    s_scale = numpyro.param("sigma_lam_scale", jnp.asarray(0.1), constraint=constraints.positive)
    numpyro.sample("sigma_lam", dist.LogNormal(s_loc, s_scale))
    lda4rec_guide(
        users, items, mask, n_users=n_users, n_items=n_items, n_topics=n_topics, init=init
    )


def ldaext_model(
    users, items, mask, weight=None, *, n_users, n_items, n_topics, alpha=None, beta=1.0, gamma=1.0
):
    """P2's LDAext fitted directly (z summed out): Dirichlet phi and delta,
    item distribution ``(phi_z + lam_u delta) / (1 + lam_u)``."""
    batch_size, max_len = items.shape  # (B, L): the minibatch rows
    alpha = 1.0 / n_topics if alpha is None else alpha
    delta = numpyro.sample("delta", dist.Dirichlet(jnp.full(n_items, gamma)))  # (I,)
    with numpyro.plate("topics", n_topics, dim=-1):
        phi = numpyro.sample("phi", dist.Dirichlet(jnp.full(n_items, beta)))  # (K, I)
    with _user_plate(n_users, batch_size):
        theta = numpyro.sample("theta", dist.Dirichlet(jnp.full(n_topics, alpha)))  # (B, 1, K)
        lam = numpyro.sample("lam", dist.LogNormal(-0.5, 0.5))  # (B, 1)
        it = items  # (B, L)
        # p_k(i|u) = (phi_ki + lam_u delta_i) / (1 + lam_u): no sum over items needed
        log_p = jnp.logaddexp(
            jnp.log(phi.T[it]), jnp.log(lam * delta[it])[..., None]
        ) - jnp.log1p(lam)[..., None]  # (B, L, K)
        log_lik = jax.nn.logsumexp(jnp.log(theta) + log_p, axis=-1)  # (B, L)
        with _interaction_plate(max_len, weight):
            numpyro.factor("i", jnp.where(mask, log_lik, 0.0))  # (B, L)


def ldaext_guide(
    users, items, mask, weight=None, *, n_users, n_items, n_topics, alpha=None, beta=1.0, gamma=1.0, init=None
):
    """Point masses (MAP) for delta, phi_k (softmax logits) and theta; LogNormal lam.

    (A logistic-normal factor on the 9,724-simplex underflows in float32 under
    stick-breaking; with beta = gamma = 1 the Dirichlet priors are flat and the
    point masses are MAP estimates.)
    """
    init = init or {}
    d_logits = numpyro.param("delta_logits", jnp.zeros(n_items))
    numpyro.sample("delta", dist.Delta(jax.nn.softmax(d_logits), event_dim=1))  # (I,)
    p_logits = numpyro.param("phi_logits", init.get("phi_logits", jnp.zeros((n_topics, n_items))))
    with numpyro.plate("topics", n_topics, dim=-1):
        numpyro.sample("phi", dist.Delta(jax.nn.softmax(p_logits, axis=-1), event_dim=1))  # (K, I)
    theta_logits = numpyro.param("theta_logits", jnp.zeros((n_users, n_topics)))
    lam_loc = numpyro.param("lam_loc", jnp.full(n_users, -0.5))
    lam_scale = numpyro.param("lam_scale", jnp.full(n_users, 0.1), constraint=constraints.positive)
    with _user_plate(n_users, users.shape[0]):
        theta = jax.nn.softmax(theta_logits[users], axis=-1)[:, None, :]  # (B, 1, K)
        numpyro.sample("theta", dist.Delta(theta, event_dim=1))
        numpyro.sample("lam", dist.LogNormal(lam_loc[users][:, None], lam_scale[users][:, None]))


# ------------------------------------------------------------ the fitting
def _spec(variant: str, marginal: bool):
    if variant == "lda4rec":
        if marginal:
            return lda4rec_marginal_model, lda4rec_guide, Trace_ELBO()
        return lda4rec_model, lda4rec_guide, TraceEnum_ELBO(max_plate_nesting=2)
    if variant == "lda4rec-hier":
        return lda4rec_hier_model, lda4rec_hier_guide, Trace_ELBO()
    if variant == "ldaext":
        return ldaext_model, ldaext_guide, Trace_ELBO()
    raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")


def _init_values(variant: str, n_topics: int, n_items: int, seed: int) -> dict:
    """Random cohort initialisation (breaks the K-fold symmetry)."""
    gen = np.random.default_rng(seed)
    if variant == "ldaext":
        return {"phi_logits": jnp.asarray(0.5 * gen.standard_normal((n_topics, n_items)), jnp.float32)}
    return {"phi_loc": jnp.asarray(0.1 * gen.standard_normal((n_topics, n_items)), jnp.float32)}


def subsample_rows(key, items, mask, length: int):
    """Keep a uniform random subset of at most ``length`` interactions per row.

    ``items``, ``mask`` (B, L) -> ``items``, ``mask`` (B, length) and ``weight`` (B,):
    a row with ``n`` real interactions keeps ``m = min(n, length)`` of them, drawn
    without replacement, and gets ``weight = n / m``.  Each interaction is kept with
    probability ``m / n``, so ``weight * (sum of kept log-likelihoods)`` is an
    unbiased estimate of the row's full log-likelihood; rows with ``n <= length``
    are kept whole (weight 1).  This bounds the work per SVI step when a few users
    have very long histories (ML-1M without P1's cap: max 2,304, mean 156).
    """
    noise = jax.random.uniform(key, items.shape)
    priority = jnp.where(mask, noise, 2.0)  # real interactions first, in random order
    _, idx = jax.lax.top_k(-priority, length)  # (B, length)
    n = mask.sum(axis=1)  # (B,)
    weight = n / jnp.maximum(jnp.minimum(n, length), 1)
    return (
        jnp.take_along_axis(items, idx, axis=1),
        jnp.take_along_axis(mask, idx, axis=1),
        weight.astype(jnp.float32),
    )


def _minibatch(key, n_users: int, batch_size: int):
    """``batch_size`` distinct users drawn uniformly (one derived key per step)."""
    return jax.random.choice(key, n_users, (batch_size,), replace=False)


def elbo_loss(
    params: dict,
    data: PaddedInteractions,
    n_topics: int,
    *,
    batch_size: int,
    key,
    variant: str = "lda4rec",
    marginal: bool = True,
    alpha: float | None = None,
    max_interactions: int | None = None,
) -> float:
    """Negative ELBO estimate from one minibatch and one guide draw at ``params``.

    ``params`` are constrained values as stored in `LDAModel.params`.  ``key``
    fixes both the minibatch and the guide draw, so two models can be compared
    on the same draw (the enumerated and the analytic LDA4Rec must agree).
    ``max_interactions``: as in `fit_lda4rec` (the subsample is drawn from ``key``).
    """
    model, guide, loss = _spec(variant, marginal)
    _check_subsampling(loss, max_interactions)
    k_batch, k_elbo = jax.random.split(key)
    users = _minibatch(k_batch, data.n_users, batch_size)
    kwargs = dict(n_users=data.n_users, n_items=data.n_items, n_topics=n_topics, alpha=alpha)
    rows = _rows(jnp.asarray(data.items), jnp.asarray(data.mask), users,
                 jax.random.fold_in(k_batch, 1), max_interactions)
    return float(
        loss.loss(
            k_elbo,
            {k: jnp.asarray(v) for k, v in params.items()},
            model,
            guide,
            users,
            *rows,
            **kwargs,
        )
    )


def _check_subsampling(loss, max_interactions):
    if max_interactions is not None and isinstance(loss, TraceEnum_ELBO):
        raise ValueError(
            "max_interactions needs marginal=True: numpyro's TraceEnum_ELBO (the "
            "enumerated model) only supports scalar likelihood scales"
        )


def _rows(items, mask, users, key, max_interactions):
    """The minibatch rows: (items, mask) or, subsampled, (items, mask, weight)."""
    it, mk = items[users], mask[users]
    if max_interactions is None or max_interactions >= items.shape[1]:
        return it, mk
    return subsample_rows(key, it, mk, int(max_interactions))


def _fit(
    variant: str,
    train: Interactions,
    n_topics: int,
    *,
    n_steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    marginal: bool,
    alpha: float | None,
    chunk_size: int,
    callback: Callable[[int, float], None] | None,
    extra: dict | None = None,
    max_interactions: int | None = None,
) -> "LDAModel":
    alpha = _check_sizes(n_topics, alpha)
    if max_interactions is not None and (
        int(max_interactions) != max_interactions or max_interactions < 1
    ):
        raise ValueError(
            f"max_interactions must be None or a positive integer, got {max_interactions!r}"
        )
    if int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size > train.n_users:
        raise ValueError(
            f"batch_size={batch_size} is larger than the number of users ({train.n_users})"
        )
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    data = pad_interactions(train)
    model, guide, loss = _spec(variant, marginal)
    _check_subsampling(loss, max_interactions)
    init_seed, svi_seed, batch_seed = derive_seeds(seed, 3)
    n_users, batch_size = data.n_users, int(batch_size)
    kwargs = dict(n_users=n_users, n_items=data.n_items, n_topics=int(n_topics), alpha=alpha)
    kwargs.update(extra or {})
    init = _init_values(variant, int(n_topics), data.n_items, init_seed)
    guide_fn = _bind(guide, init)
    svi = SVI(model, guide_fn, numpyro.optim.Adam(lr), loss, **kwargs)
    items = jnp.asarray(data.items)
    mask = jnp.asarray(data.mask)
    batch_key = jax.random.PRNGKey(batch_seed)
    k0 = jax.random.fold_in(batch_key, 2**31 - 1)
    users0 = _minibatch(k0, n_users, batch_size)
    state = svi.init(jax.random.PRNGKey(svi_seed), users0,
                     *_rows(items, mask, users0, k0, max_interactions))

    def make_runner(length):
        @jax.jit
        def run(state, items, mask, chunk_key):
            def body(s, k):
                users = _minibatch(k, n_users, batch_size)  # (B,)
                rows = _rows(items, mask, users, jax.random.fold_in(k, 1), max_interactions)
                return svi.update(s, users, *rows)

            return jax.lax.scan(body, state, jax.random.split(chunk_key, length))

        return run

    runners: dict[int, Any] = {}
    losses = np.empty(int(n_steps), dtype=np.float64)
    done = 0
    chunk = 0
    last_finite = None
    t0 = time.perf_counter()
    while done < n_steps:
        length = min(chunk_size, n_steps - done)
        if length not in runners:
            runners[length] = make_runner(length)
        state, chunk_losses = runners[length](
            state, items, mask, jax.random.fold_in(batch_key, chunk)
        )
        chunk += 1
        chunk_losses = np.asarray(chunk_losses, dtype=np.float64)
        bad = ~np.isfinite(chunk_losses)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            if j > 0:
                last_finite = float(chunk_losses[j - 1])
            raise FloatingPointError(
                f"non-finite ELBO at step {done + j} (value {chunk_losses[j]}); "
                f"last finite loss (negative ELBO): {last_finite}"
            )
        losses[done : done + length] = chunk_losses
        last_finite = float(chunk_losses[-1])
        done += length
        if callback is not None:
            callback(done, last_finite)
    fit_seconds = time.perf_counter() - t0
    params = {k: np.asarray(v) for k, v in svi.get_params(state).items()}
    meta = dict(
        variant=variant,
        n_topics=int(n_topics),
        n_users=int(train.n_users),
        n_items=int(train.n_items),
        n_steps=int(n_steps),
        batch_size=int(batch_size),
        lr=float(lr),
        seed=int(seed),
        marginal=bool(marginal),
        alpha=float(alpha),
        fit_seconds=float(fit_seconds),
        max_interactions=None if max_interactions is None else int(max_interactions),
    )
    meta.update({k: float(v) for k, v in (extra or {}).items()})
    return LDAModel(params=params, meta=meta, history=losses)


def _bind(guide, init):
    def bound(*args, **kwargs):
        return guide(*args, init=init, **kwargs)

    bound.__name__ = guide.__name__
    return bound


def fit_lda4rec(
    train: Interactions,
    n_topics: int,
    *,
    n_steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    marginal: bool = True,
    hierarchical: bool = False,
    alpha: float | None = None,
    chunk_size: int = 250,
    callback: Callable[[int, float], None] | None = None,
    max_interactions: int | None = None,
) -> "LDAModel":
    """Fit P1's LDA4Rec by SVI (Adam, users subsampled in minibatches).

    Parameters
    ----------
    train
        Training interactions; every user needs at least one.
    n_topics
        Number of cohorts ``K >= 1``.
    n_steps, batch_size, lr
        SVI steps, users per minibatch (``<= n_users``), Adam learning rate.
        P1: 10,000 steps, batch 128, lr 1e-3.
    seed
        Seeds the initialisation and the SVI key (derived via `SeedSequence`).
    marginal
        True: the cohort is summed out analytically (`Trace_ELBO`); False: it is
        enumerated in parallel (`TraceEnum_ELBO`) as in P1's v1.0 code.  Both
        optimise the same ELBO; the marginal form is faster.
    hierarchical
        Fit the hierarchical variant (`lda4rec_hier_model`, always marginal).
    alpha
        Dirichlet concentration of ``theta_u``; default ``1 / K`` (P1).  Ignored
        by the hierarchical variant, which learns it.
    chunk_size
        Steps run per jitted ``lax.scan`` call.
    callback
        Called as ``callback(steps_done, last_loss)`` after each chunk.
    max_interactions
        None (default, as P1): every interaction of a minibatch user enters each
        step.  An integer ``m``: each step uses a uniform random subset of at most
        ``m`` interactions per user, its log-likelihood scaled by ``n_u / m``
        (`subsample_rows`): the same ELBO in expectation, with work per step
        bounded by ``B x m`` instead of ``B x`` (longest history).  Worth it on
        uncapped data with long-tailed histories (ML-1M in P2's protocol).

    Returns
    -------
    LDAModel
        ``.theta`` (U, K), ``.lam`` (U,), ``.delta`` (I,), ``.phi`` (K, I):
        variational posterior means.  **For LDA4Rec, delta and phi are in logit
        space** (item distribution of cohort k for user u is
        ``softmax(phi_k + lam_u delta)``).  ``.history``: loss (negative ELBO
        estimate) per step.

    Raises
    ------
    ValueError
        On ``K < 1``, ``alpha <= 0``, ``batch_size > n_users``, an empty user.
    FloatingPointError
        When the ELBO becomes non-finite; names the step and the last finite value.
    """
    variant = "lda4rec-hier" if hierarchical else "lda4rec"
    return _fit(
        variant,
        train,
        n_topics,
        n_steps=n_steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        marginal=True if hierarchical else marginal,
        alpha=alpha,
        chunk_size=chunk_size,
        callback=callback,
        max_interactions=max_interactions,
    )


def fit_ldaext(
    train: Interactions,
    n_topics: int,
    *,
    n_steps: int,
    batch_size: int = 128,
    lr: float = 1e-2,
    seed: int = 0,
    alpha: float | None = None,
    beta: float = 1.0,
    gamma: float = 1.0,
    chunk_size: int = 250,
    callback: Callable[[int, float], None] | None = None,
    max_interactions: int | None = None,
) -> "LDAModel":
    """Fit P2's LDAext directly by SVI (cohort summed out).

    ``phi_k ~ Dir(beta)``, ``delta ~ Dir(gamma)``, ``theta_u ~ Dir(alpha)``
    (default ``1/K``), ``lam_u ~ LogNormal(-0.5, 0.5)``.  Returned ``.phi`` and
    ``.delta`` are probability vectors (point-mass guides, MAP); ``.theta`` and
    ``.lam`` as in `fit_lda4rec`, and so is ``max_interactions``.  Same errors
    as `fit_lda4rec`; additionally ``beta``/``gamma`` must be positive.
    """
    for name, v in (("beta", beta), ("gamma", gamma)):
        if not float(v) > 0:
            raise ValueError(f"{name} must be positive, got {v!r}")
    return _fit(
        "ldaext",
        train,
        n_topics,
        n_steps=n_steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        marginal=True,
        alpha=alpha,
        chunk_size=chunk_size,
        callback=callback,
        extra=dict(beta=float(beta), gamma=float(gamma)),
        max_interactions=max_interactions,
    )


# ------------------------------------------------------------ the result
def _softmax_np(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


@jax.jit
def _p1_item_probs(theta, lam, delta, phi):
    """``sum_k theta_uk softmax(phi_k + lam_u delta)``: (C, K), (C,), (I,), (K, I) -> (C, I)."""
    # softmax(phi_k + lam_u delta)_i = exp(phi_ki) exp(lam_u delta_i) / s_uk, so
    # p(i|u) = exp(lam_u delta_i) * sum_k (theta_uk / s_uk) exp(phi_ki): C x I + K x I
    # exponentials and a (C, K) @ (K, I) product instead of C x K x I exponentials.
    ld = lam[:, None] * delta  # (C, I)
    e_ld = jnp.exp(ld - ld.max(axis=-1, keepdims=True))  # (C, I)
    e_phi = jnp.exp(phi - phi.max(axis=-1, keepdims=True))  # (K, I)
    s = e_ld @ e_phi.T  # (C, K)
    return e_ld * ((theta / s) @ e_phi)


@jax.jit
def _ext_item_probs(theta, lam, delta, phi):
    """``(theta_u phi + lam_u delta) / (1 + lam_u)`` -> (C, I)."""
    return (theta @ phi + lam[:, None] * delta) / (1.0 + lam[:, None])


def _draw_globals(key, glob, variant):
    """One guide draw of (delta, phi); LDAext's are point masses."""
    if variant == "ldaext":
        return glob
    d_loc, d_scale, p_loc, p_scale = glob
    kd, kp = jax.random.split(key)
    return d_loc + d_scale * jax.random.normal(kd, d_loc.shape), p_loc + p_scale * jax.random.normal(kp, p_loc.shape)


@partial(jax.jit, static_argnames=("variant", "n_samples"))
def _rb_chunk(theta_c, lam_loc_c, lam_scale_c, key, glob, variant, n_samples):
    """Exact ``p(i|u)`` of a chunk of users averaged over ``n_samples`` guide draws -> (C, I)."""
    f = _ext_item_probs if variant == "ldaext" else _p1_item_probs

    def body(acc, k):
        kg, kl = jax.random.split(k)
        delta, phi = _draw_globals(kg, glob, variant)
        lam = jnp.exp(lam_loc_c + lam_scale_c * jax.random.normal(kl, lam_loc_c.shape))
        return acc + f(theta_c, lam, delta, phi), None

    n_items = glob[0].shape[0]
    acc0 = jnp.zeros((theta_c.shape[0], n_items), jnp.float32)
    acc, _ = jax.lax.scan(body, acc0, jax.random.split(key, n_samples))
    return acc / n_samples


@partial(jax.jit, static_argnames=("variant", "n_draws"))
def _count_chunk(theta_c, lam_loc_c, lam_scale_c, key, glob, variant, n_draws):
    """P1's posterior-predictive counts for a chunk of users: ``n_draws`` items each -> (C, I)."""
    c = theta_c.shape[0]
    n_items = glob[0].shape[0]
    rows = jnp.arange(c)

    def body(counts, k):
        kg, kl, kz, ki = jax.random.split(k, 4)
        delta, phi = _draw_globals(kg, glob, variant)  # one guide draw per item draw
        lam = jnp.exp(lam_loc_c + lam_scale_c * jax.random.normal(kl, (c,)))
        z = jax.random.categorical(kz, jnp.log(theta_c))  # (C,) cohort
        if variant == "ldaext":
            p = (phi[z] + lam[:, None] * delta) / (1.0 + lam[:, None])  # (C, I)
        else:
            p = jax.nn.softmax(phi[z] + lam[:, None] * delta, axis=-1)  # (C, I)
        cdf = jnp.cumsum(p, axis=-1)
        u = jax.random.uniform(ki, (c, 1)) * cdf[:, -1:]
        item = jnp.minimum(jnp.sum(cdf < u, axis=-1), n_items - 1)  # (C,)
        return counts.at[rows, item].add(1.0), None

    counts, _ = jax.lax.scan(body, jnp.zeros((c, n_items), jnp.float32), jax.random.split(key, n_draws))
    return counts


def _by_chunks(fn, n: int, chunk_size: int, n_items: int, pad: bool = False) -> np.ndarray:
    """Concatenate ``fn(slice[, j])`` over chunks of ``n`` rows -> (n, n_items).

    With ``pad`` the last, short chunk is padded to ``chunk_size`` rows (repeating
    its last row; the extra rows are dropped) so that a jitted ``fn`` compiles
    once per chunk size, and ``fn`` also gets the chunk number ``j``.
    """
    if n == 0:
        return np.empty((0, n_items))
    out = []
    for j, s in enumerate(range(0, n, chunk_size)):
        stop = min(s + chunk_size, n)
        if not pad:
            out.append(np.asarray(fn(slice(s, stop))))
            continue
        idx = np.minimum(np.arange(s, s + min(chunk_size, n)), stop - 1)
        block = np.asarray(fn(jnp.asarray(idx), j))
        out.append(block[: stop - s])
    return np.concatenate(out, axis=0)


@dataclass
class LDAModel:
    """A fitted LDA4Rec / LDAext model (variational parameters + metadata).

    Attributes
    ----------
    params : dict of str -> ndarray
        Variational parameters (constrained values, as NumPyro returns them).
    meta : dict
        Variant, sizes, settings, fit time.
    history : ndarray
        Loss (negative ELBO estimate, one minibatch) per SVI step.
    """

    params: dict
    meta: dict
    history: np.ndarray = field(default_factory=lambda: np.empty(0))

    # -- posterior means ---------------------------------------------------
    @property
    def variant(self) -> str:
        return self.meta["variant"]

    @property
    def n_topics(self) -> int:
        return int(self.meta["n_topics"])

    @property
    def elbo_history(self) -> np.ndarray:
        """ELBO estimate per step (= -history)."""
        return -self.history

    @property
    def theta(self) -> np.ndarray:
        """(U, K) cohort weights (the guide is a point mass)."""
        return _softmax_np(self.params["theta_logits"].astype(np.float64))

    @property
    def lam(self) -> np.ndarray:
        """(U,) conformity, LogNormal guide mean ``exp(loc + scale^2 / 2)``."""
        loc, scale = self.params["lam_loc"], self.params["lam_scale"]
        return np.exp(loc + 0.5 * scale**2).astype(np.float64)

    @property
    def delta(self) -> np.ndarray:
        """(I,) item popularity: logits (LDA4Rec) or probabilities (LDAext)."""
        if self.variant == "ldaext":
            return _softmax_np(self.params["delta_logits"].astype(np.float64))
        return self.params["delta_loc"].astype(np.float64)

    @property
    def phi(self) -> np.ndarray:
        """(K, I) cohort-item weights: logits (LDA4Rec) or probabilities (LDAext)."""
        if self.variant == "ldaext":
            return _softmax_np(self.params["phi_logits"].astype(np.float64))
        return self.params["phi_loc"].astype(np.float64)

    @property
    def hyper(self) -> dict:
        """Posterior means of the hierarchical hyperparameters (empty otherwise)."""
        if self.variant != "lda4rec-hier":
            return {}
        p = self.params
        a, b = float(p["alpha_a"]), float(p["alpha_b"])
        return {
            "alpha": a / (a + b),
            "mu_lam": float(p["mu_lam_loc"]),
            "sigma_lam": float(np.exp(p["sigma_lam_loc"] + 0.5 * p["sigma_lam_scale"] ** 2)),
        }

    # -- guide draws ---------------------------------------------------------
    def guide_draws(self, n: int, seed: int = 0, user_ids=None) -> dict:
        """``n`` draws of delta (n, I), phi (n, K, I), lam (n, U') from the guide
        (theta is a point mass; hyperparameters included for the hierarchical model)."""
        key = jax.random.PRNGKey(derive_seeds(seed, 1)[0])
        k_d, k_p, k_l, k_h = jax.random.split(key, 4)
        p = self.params
        users = np.arange(self.meta["n_users"]) if user_ids is None else np.asarray(user_ids)
        out = {}
        if self.variant == "ldaext":  # point masses
            out["delta"] = np.broadcast_to(self.delta, (n,) + self.delta.shape).copy()
            out["phi"] = np.broadcast_to(self.phi, (n,) + self.phi.shape).copy()
        else:
            out["delta"] = np.asarray(
                dist.Normal(p["delta_loc"], p["delta_scale"]).sample(k_d, (n,))
            )
            out["phi"] = np.asarray(dist.Normal(p["phi_loc"], p["phi_scale"]).sample(k_p, (n,)))
        out["lam"] = np.asarray(
            dist.LogNormal(p["lam_loc"][users], p["lam_scale"][users]).sample(k_l, (n,))
        )
        if self.variant == "lda4rec-hier":
            ka, km, ks = jax.random.split(k_h, 3)
            out["alpha"] = np.asarray(dist.Beta(p["alpha_a"], p["alpha_b"]).sample(ka, (n,)))
            out["mu_lam"] = np.asarray(
                dist.Normal(p["mu_lam_loc"], p["mu_lam_scale"]).sample(km, (n,))
            )
            out["sigma_lam"] = np.asarray(
                dist.LogNormal(p["sigma_lam_loc"], p["sigma_lam_scale"]).sample(ks, (n,))
            )
        return out

    # -- predictions ---------------------------------------------------------
    def _probs_fn(self):
        return _ext_item_probs if self.variant == "ldaext" else _p1_item_probs

    def scores(
        self,
        user_ids=None,
        method: str = "rao-blackwell",
        *,
        n_samples: int = 32,
        n_draws: int = 10_000,
        seed: int = 0,
        chunk_size: int = 128,
    ) -> np.ndarray:
        """Scores ``(len(user_ids), n_items)``; higher is better.

        Parameters
        ----------
        user_ids
            Users to score (default all).
        method
            ``"rao-blackwell"``: exact ``p(i|u)`` averaged over ``n_samples``
            guide draws.  ``"plugin"``: ``p(i|u)`` at the posterior means.
            ``"sample"``: P1's estimate, counts of ``n_draws`` posterior
            predictive draws per user plus uniform noise in [0, 1) as random
            tie-break (only for comparison: ``n_draws x I`` work per user).
        """
        n_users = int(self.meta["n_users"])
        users = np.arange(n_users) if user_ids is None else np.asarray(user_ids, dtype=np.int64)
        if users.ndim != 1:
            raise ValueError(f"user_ids must be one-dimensional, got shape {users.shape}")
        if users.size and (users.min() < 0 or users.max() >= n_users):
            raise ValueError(f"user_ids out of range [0, {n_users})")
        if method == "plugin":
            return self._plugin(users, chunk_size)
        if method == "rao-blackwell":
            if n_samples < 1:
                raise ValueError(f"n_samples must be >= 1, got {n_samples}")
            return self._rao_blackwell(users, int(n_samples), seed, chunk_size)
        if method == "sample":
            if n_draws < 1:
                raise ValueError(f"n_draws must be >= 1, got {n_draws}")
            return self._sample_counts(users, int(n_draws), seed, chunk_size)
        raise ValueError(
            f"method must be 'rao-blackwell', 'plugin' or 'sample', got {method!r}"
        )

    def _plugin(self, users, chunk_size):
        f = self._probs_fn()
        theta = jnp.asarray(self.theta[users], jnp.float32)
        lam = jnp.asarray(self.lam[users], jnp.float32)
        delta = jnp.asarray(self.delta, jnp.float32)
        phi = jnp.asarray(self.phi, jnp.float32)
        return _by_chunks(lambda sl: f(theta[sl], lam[sl], delta, phi), users.size, chunk_size,
                          self.meta["n_items"])

    def _sampler_arrays(self, users):
        p = self.params
        theta = jnp.asarray(self.theta[users], jnp.float32)
        lam_loc = jnp.asarray(p["lam_loc"][users])
        lam_scale = jnp.asarray(p["lam_scale"][users])
        if self.variant == "ldaext":
            glob = (jnp.asarray(self.delta, jnp.float32), jnp.asarray(self.phi, jnp.float32))
        else:
            glob = tuple(
                jnp.asarray(p[k]) for k in ("delta_loc", "delta_scale", "phi_loc", "phi_scale")
            )
        return theta, lam_loc, lam_scale, glob

    def _rao_blackwell(self, users, n_samples, seed, chunk_size):
        theta, lam_loc, lam_scale, glob = self._sampler_arrays(users)
        key = jax.random.PRNGKey(derive_seeds(seed, 1)[0])
        # every draw is shared by the users of a chunk; chunks use independent keys
        keys = jax.random.split(key, max(1, math.ceil(users.size / chunk_size)))
        return _by_chunks(
            lambda sl, j: _rb_chunk(theta[sl], lam_loc[sl], lam_scale[sl], keys[j], glob,
                                    self.variant, n_samples),
            users.size, chunk_size, self.meta["n_items"], pad=True,
        )

    def _sample_counts(self, users, n_draws, seed, chunk_size):
        theta, lam_loc, lam_scale, glob = self._sampler_arrays(users)
        n_items = int(self.meta["n_items"])
        key = jax.random.PRNGKey(derive_seeds(seed, 1)[0])
        keys = jax.random.split(key, max(1, math.ceil(users.size / chunk_size)) + 1)
        counts = _by_chunks(
            lambda sl, j: _count_chunk(theta[sl], lam_loc[sl], lam_scale[sl], keys[j], glob,
                                       self.variant, n_draws),
            users.size, chunk_size, n_items, pad=True,
        )
        noise = np.random.default_rng(derive_seeds(seed, 2)[1]).uniform(size=counts.shape)
        return counts + noise  # counts are integers: noise only breaks ties, randomly

    # -- persistence --------------------------------------------------------
    def save(self, path) -> Path:
        """Write params, metadata and history to ``path`` (.npz) atomically."""
        arrays = {f"param__{k}": np.asarray(v) for k, v in self.params.items()}
        arrays["history"] = np.asarray(self.history)
        arrays["meta_json"] = np.asarray(json.dumps(self.meta))
        return atomic_save_npz(path, **arrays)

    @classmethod
    def load(cls, path) -> "LDAModel":
        """Inverse of `save`."""
        with np.load(path, allow_pickle=False) as f:
            if "meta_json" not in f.files:
                raise ValueError(f"{path}: not an LDAModel file (no meta_json)")
            meta = json.loads(str(f["meta_json"]))
            params = {k[len("param__") :]: f[k] for k in f.files if k.startswith("param__")}
            history = f["history"]
        return cls(params=params, meta=meta, history=history)


def load_lda(path) -> LDAModel:
    """Load a model written by `LDAModel.save`."""
    return LDAModel.load(path)
