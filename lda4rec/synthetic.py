"""Synthetic data from LDA4Rec and LDAext with known parameters, and recovery checks.

`sample_lda4rec` follows P1's model as fitted by the v1.0 code (logit space, see
`lda4rec.lda`); `sample_ldaext` follows P2's LDAext.  Items are drawn *with*
replacement, exactly as the generative story says, so a user may hold an item
twice; `Interactions` keeps such duplicates and the fitted models treat every
row as one interaction.

`recovery` compares a fitted `lda4rec.lda.LDAModel` with the truth: cohorts are
matched by the Hungarian assignment (`scipy.optimize.linear_sum_assignment`) on
the correlation of the cohort-item parameters, then it reports Spearman
correlations of delta and lam, the correlation of phi over matched cohorts and
the agreement of theta.  In logit space the LDA4Rec likelihood is invariant
under ``phi_k -> phi_k + c_k`` and ``delta -> delta + c`` and (jointly)
``delta -> a delta, lam -> lam / a``; rank and Pearson correlations of centred
rows are invariant to all of these.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats
from scipy.optimize import linear_sum_assignment

from lda4rec.data import Interactions
from lda4rec.utils import derive_seeds

__all__ = ["sample_lda4rec", "sample_ldaext", "match_cohorts", "recovery"]


def _check(n_users, n_items, n_topics, n_per_user):
    for name, v in (("n_users", n_users), ("n_items", n_items), ("n_topics", n_topics)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    n = np.broadcast_to(np.asarray(n_per_user), (int(n_users),)).astype(np.int64)
    if (n < 1).any():
        raise ValueError("n_per_user must be >= 1 for every user")
    return n


def _softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _draw_items(gen, theta, item_probs_fn, n):
    """z ~ Cat(theta_u), i ~ Cat(p_z(u)) for n[u] interactions of each user."""
    users, items, zs = [], [], []
    for u in range(theta.shape[0]):
        z = gen.choice(theta.shape[1], size=n[u], p=theta[u])
        p = item_probs_fn(u)  # (K, I)
        cdf = np.cumsum(p, axis=1)
        cdf /= cdf[:, -1:]
        r = gen.random(n[u])
        i = np.array([np.searchsorted(cdf[k], x, side="right") for k, x in zip(z, r)])
        users.append(np.full(n[u], u))
        items.append(np.minimum(i, p.shape[1] - 1))
        zs.append(z)
    return np.concatenate(users), np.concatenate(items), np.concatenate(zs)


def sample_lda4rec(
    n_users: int,
    n_items: int,
    n_topics: int,
    n_per_user,
    seed: int = 0,
    *,
    alpha: float | None = None,
    delta_scale: float = 2.0,
    phi_scale: float = 1.0,
    lam_loc: float = -0.5,
    lam_scale: float = 0.5,
) -> tuple[Interactions, dict[str, np.ndarray]]:
    """Sample interactions from P1's LDA4Rec (logit space, as v1.0 fits it).

    ``delta ~ Normal(0, delta_scale)^I``, ``phi_k ~ Normal(0, phi_scale)^I``,
    ``theta_u ~ Dir(alpha)`` (default ``1/K``), ``lam_u ~ LogNormal(lam_loc,
    lam_scale)``, then ``n_per_user`` (int or per-user array) interactions
    ``z ~ Cat(theta_u)``, ``i ~ Cat(softmax(phi_z + lam_u delta))``.

    Returns
    -------
    (Interactions, dict)
        The data and the true ``theta`` (U, K), ``phi`` (K, I), ``delta`` (I,),
        ``lam`` (U,), ``z`` (one cohort per interaction row).
    """
    n = _check(n_users, n_items, n_topics, n_per_user)
    alpha = 1.0 / n_topics if alpha is None else float(alpha)
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha!r}")
    gen = np.random.default_rng(derive_seeds(seed, 1)[0])
    delta = gen.normal(0.0, delta_scale, n_items)
    phi = gen.normal(0.0, phi_scale, (n_topics, n_items))
    theta = gen.dirichlet(np.full(n_topics, alpha), n_users)
    lam = gen.lognormal(lam_loc, lam_scale, n_users)
    users, items, z = _draw_items(
        gen, theta, lambda u: _softmax(phi + lam[u] * delta), n
    )
    data = Interactions(users, items, n_users=n_users, n_items=n_items, name="synthetic-lda4rec")
    return data, dict(theta=theta, phi=phi, delta=delta, lam=lam, z=z)


def sample_ldaext(
    n_users: int,
    n_items: int,
    n_topics: int,
    n_per_user,
    seed: int = 0,
    *,
    alpha: float | None = None,
    beta: float = 0.1,
    gamma: float = 0.5,
    lam_loc: float = -0.5,
    lam_scale: float = 0.5,
) -> tuple[Interactions, dict[str, np.ndarray]]:
    """Sample interactions from P2's LDAext.

    ``theta_u ~ Dir(alpha)`` (default ``1/K``), ``phi_k ~ Dir(beta)``,
    ``delta ~ Dir(gamma)``, ``lam_u ~ LogNormal(lam_loc, lam_scale)``,
    ``z ~ Cat(theta_u)``, ``i ~ Cat((phi_z + lam_u delta) / (1 + lam_u))``.
    Returns the data and the true parameters as `sample_lda4rec` does
    (``phi`` and ``delta`` are probability vectors here).
    """
    n = _check(n_users, n_items, n_topics, n_per_user)
    alpha = 1.0 / n_topics if alpha is None else float(alpha)
    for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not float(v) > 0:
            raise ValueError(f"{name} must be positive, got {v!r}")
    gen = np.random.default_rng(derive_seeds(seed, 1)[0])
    delta = gen.dirichlet(np.full(n_items, gamma))
    phi = gen.dirichlet(np.full(n_items, beta), n_topics)
    theta = gen.dirichlet(np.full(n_topics, alpha), n_users)
    lam = gen.lognormal(lam_loc, lam_scale, n_users)
    users, items, z = _draw_items(
        gen, theta, lambda u: (phi + lam[u] * delta) / (1.0 + lam[u]), n
    )
    data = Interactions(users, items, n_users=n_users, n_items=n_items, name="synthetic-ldaext")
    return data, dict(theta=theta, phi=phi, delta=delta, lam=lam, z=z)


def _centred(x):
    return x - x.mean(axis=-1, keepdims=True)


def match_cohorts(phi_true: np.ndarray, phi_fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of fitted to true cohorts on the Pearson correlation
    of (row-centred) phi.  Returns ``(perm, corr)``: fitted cohort ``perm[k]``
    is matched to true cohort ``k``; ``corr[k]`` its correlation."""
    a, b = _centred(np.asarray(phi_true, float)), _centred(np.asarray(phi_fit, float))
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"phi_true has {a.shape[1]} items, phi_fit {b.shape[1]}")
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    corr = a @ b.T  # (K_true, K_fit)
    rows, cols = linear_sum_assignment(-corr)
    perm = np.full(a.shape[0], -1)
    perm[rows] = cols
    return perm, corr[rows, cols]


def recovery(truth: dict[str, np.ndarray], model: Any, logit: bool | None = None) -> dict[str, float]:
    """Recovery figures of a fitted model against the generating parameters.

    Parameters
    ----------
    truth
        As returned by `sample_lda4rec` / `sample_ldaext`.
    model
        Anything with ``.theta``, ``.phi``, ``.delta``, ``.lam`` (e.g. `LDAModel`,
        or `lda4rec.adjoint.LDAextParams`).
    logit
        Compare phi in logit space (LDA4Rec) or as log-probabilities (LDAext);
        default: logit space if any true phi is negative.

    Returns
    -------
    dict
        ``spearman_delta``, ``spearman_lam``, ``phi_corr_mean`` (matched
        cohorts), ``theta_corr`` (Pearson over all matched entries),
        ``theta_argmax_agree`` (share of users whose dominant cohort matches),
        ``theta_l1`` (mean L1 distance between theta rows).
    """
    phi_t, phi_f = np.asarray(truth["phi"], float), np.asarray(model.phi, float)
    if logit is None:
        logit = bool((phi_t < 0).any())
    if not logit:
        phi_t, phi_f = np.log(phi_t + 1e-12), np.log(phi_f + 1e-12)
    k_true = phi_t.shape[0]
    if phi_f.shape[0] < k_true:
        raise ValueError(f"model has {phi_f.shape[0]} cohorts, truth {k_true}")
    perm, corr = match_cohorts(phi_t, phi_f)
    theta_t = np.asarray(truth["theta"], float)
    theta_f = np.asarray(model.theta, float)[:, perm]
    return {
        "spearman_delta": float(stats.spearmanr(truth["delta"], model.delta)[0]),
        "spearman_lam": float(stats.spearmanr(truth["lam"], model.lam)[0]),
        "phi_corr_mean": float(np.mean(corr)),
        "theta_corr": float(np.corrcoef(theta_t.ravel(), theta_f.ravel())[0, 1]),
        "theta_argmax_agree": float(np.mean(theta_t.argmax(1) == theta_f.argmax(1))),
        "theta_l1": float(np.mean(np.abs(theta_t - theta_f).sum(1))),
    }
