"""P2's four interpretability experiments on LDAext parameters.

An MF model turned into LDAext (`lda4rec.adjoint.mf_to_ldaext`) has cohort
affiliations ``theta`` (U, K), cohort item distributions ``phi`` (K, I), an item
popularity distribution ``delta`` (I,) and user conformities ``lam`` (U,).  P2
asks whether these can be *read* as what their names say, with four tests:

1. `cohort_allocation` -- does the user's strongest cohort explain their items
   better than a cohort the user has no share in?  (paired t-test, d_av)
2. `popularity_ranking` -- does ``delta`` rank items like the number of users
   who interacted with them?  (Kendall tau_c)
3. `conformity_ranking` -- does ``lam`` rank users like the mean popularity of
   the items they interacted with?  (Kendall tau_c)
4. `twins` -- is the user whose ``theta`` overlaps most with mine more similar
   to me in what we interacted with than the one that overlaps least, or a
   random one?  (paired t-tests on Jaccard coefficients, d_av)

Every experiment returns a tidy `pandas.DataFrame` with one row per data set
(``split``) and the columns of `COLUMNS`: the test statistic, its p-value, the
effect size, the number of paired observations ``n`` and what was left out and
why (``skipped``, ``skipped_reason``).  `run_all` stacks them; `write_tables`
stores the result atomically.

Conventions (stated once, used everywhere)
------------------------------------------
* Interactions are sets: a (user, item) pair that occurs twice counts once.
* Empirical popularity of an item = number of distinct users who interacted with
  it in the stated split (items without any interaction count 0 and take part).
* Effect size of a paired t-test = ``d_av`` (`cohen_d_paired`), the value
  pingouin's ``ttest(x, y, paired=True)`` reports and P2 quotes.
* ``argmax``/``argmin`` ties: the cohort ``k_max`` is the first maximal entry of
  ``theta_u``; twins break ties uniformly at random (seeded).
* Randomness comes from ``numpy.random.SeedSequence(seed)`` children, one per
  experiment: the same ``seed`` gives the same table.

The original (Wilhelm et al.) evaluation code looped over users in Python; here
everything is vectorised: per-interaction gathers with ``bincount`` for
experiment 1, sparse row products for the Jaccard coefficients and a chunked
overlap kernel for the twins (`theta_overlap_extremes`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from .data import Interactions
from .utils import atomic_path, atomic_write_json

__all__ = [
    "COLUMNS",
    "cohen_d_paired",
    "kendall_tau_c",
    "as_ldaext_arrays",
    "item_popularity",
    "cohort_allocation",
    "low_cohort",
    "lda_model_view",
    "popularity_ranking",
    "conformity_ranking",
    "theta_overlap",
    "theta_overlap_extremes",
    "find_twins",
    "jaccard_pairs",
    "twins",
    "theta_entropy",
    "top_items_per_cohort",
    "run_all",
    "write_tables",
]

#: Columns of every experiment table (in this order).
COLUMNS = [
    "experiment",
    "split",
    "other",
    "test",
    "statistic",
    "pvalue",
    "effect_name",
    "effect",
    "n",
    "mean_x",
    "mean_y",
    "skipped",
    "skipped_reason",
]


# --------------------------------------------------------------------- stats
def cohen_d_paired(x, y) -> float:
    """Cohen's d for paired samples, the ``d_av`` variant.

    ``d_av = mean(x - y) / sqrt((sd_x**2 + sd_y**2) / 2)`` with sample standard
    deviations (``ddof=1``).  This is what ``pingouin.ttest(x, y, paired=True)``
    reports as ``cohen-d`` (pingouin >= 0.3, without its sign flip for
    ``alternative="less"``) and hence what P2 reports.  Note that it divides by
    the average spread of ``x`` and ``y``, not by the spread of the differences
    (that would be ``d_z``).

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Paired observations, ``n >= 2``, finite.

    Returns
    -------
    float
        ``d_av``; ``nan`` when both samples are constant and the mean
        difference is 0, ``+-inf`` when both are constant and differ.

    Raises
    ------
    ValueError
        If the shapes differ, ``n < 2`` or a value is not finite.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-d of equal length, got {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError(f"need at least 2 pairs for cohen_d_paired, got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x and y must be finite for cohen_d_paired")
    diff = float(np.mean(x - y))
    pooled = np.sqrt((np.var(x, ddof=1) + np.var(y, ddof=1)) / 2.0)
    if pooled == 0.0:
        return float("nan") if diff == 0.0 else float(np.sign(diff) * np.inf)
    return float(diff / pooled)


def kendall_tau_c(x, y) -> tuple[float, float]:
    """Kendall's tau_c (Stuart's tau) between ``x`` and ``y`` and its p-value.

    ``tau_c = 2 (P - Q) / (n**2 (m - 1) / m)`` with ``P``/``Q`` the numbers of
    concordant/discordant pairs and ``m = min(#distinct x, #distinct y)``;
    tied pairs count neither way.  Computed by
    ``scipy.stats.kendalltau(x, y, variant="c")`` (two-sided p-value).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-d of equal length, got {x.shape} and {y.shape}")
    res = stats.kendalltau(x, y, variant="c")
    return float(res.statistic), float(res.pvalue)


def _empty_row(test: str, effect_name: str, x: np.ndarray, y: np.ndarray) -> dict:
    """The fields every test row has; statistic, p-value and effect still nan."""
    return dict(
        test=test,
        effect_name=effect_name,
        n=int(x.size),
        mean_x=float(np.mean(x)) if x.size else np.nan,
        mean_y=float(np.mean(y)) if y.size else np.nan,
        statistic=np.nan,
        pvalue=np.nan,
        effect=np.nan,
    )


def _paired_ttest_row(x, y) -> dict:
    """One-sided paired t-test ``mean(x - y) > 0`` with d_av; nan when n < 2."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    row = _empty_row("paired t-test (x > y)", "d_av", x, y)
    if x.size >= 2:
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            # constant differences: scipy warns about precision loss, t is +-inf/nan
            warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
            res = stats.ttest_rel(x, y, alternative="greater")
        row.update(statistic=float(res.statistic), pvalue=float(res.pvalue))
        row["effect"] = cohen_d_paired(x, y)
    return row


def _tau_row(x, y) -> dict:
    """Kendall tau_c of ``x`` and ``y`` (effect = statistic); nan when n < 2."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    row = _empty_row("Kendall tau_c", "tau_c", x, y)
    if x.size >= 2:
        tau, p = kendall_tau_c(x, y)
        row.update(statistic=tau, pvalue=p, effect=tau)
    return row


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in COLUMNS:
        if col not in df:
            df[col] = "" if col in ("other", "skipped_reason") else np.nan
    extra = [c for c in df.columns if c not in COLUMNS]
    df = df[COLUMNS + extra]
    df["n"] = df["n"].astype(int)
    df["skipped"] = df["skipped"].astype(int)
    return df


def _reasons(counts: Mapping[str, int]) -> tuple[int, str]:
    parts = [f"{n} {what}" for what, n in counts.items() if n]
    return int(sum(counts.values())), "; ".join(parts)


# -------------------------------------------------------------------- inputs
def _get(params: Any, name: str):
    if isinstance(params, Mapping):
        if name in params:
            return params[name]
    try:
        return params[name]
    except (KeyError, TypeError, IndexError):
        pass
    if hasattr(params, name):
        return getattr(params, name)
    raise ValueError(f"params has no {name!r} (need theta, phi, delta, lam)")


def as_ldaext_arrays(params: Any, n_users: int | None = None, n_items: int | None = None):
    """Validated ``(theta, phi, delta, lam)`` float64 arrays from LDAext params.

    ``params`` may be `lda4rec.adjoint.LDAextParams`, a mapping or any object
    with attributes ``theta`` (U, K), ``phi`` (K, I), ``delta`` (I,) and
    ``lam`` (U,).  ``theta``, ``phi`` and ``delta`` must be finite and
    non-negative; ``lam`` may hold ``inf``/``nan`` (a user whose MF vector is 0
    has infinite conformity) -- the experiments that use it skip such users.

    Raises
    ------
    ValueError
        Naming the offending parameter on a wrong shape, a negative or a
        non-finite entry, or a mismatch with ``n_users``/``n_items``.
    """
    theta = np.asarray(_get(params, "theta"), dtype=np.float64)
    phi = np.asarray(_get(params, "phi"), dtype=np.float64)
    delta = np.asarray(_get(params, "delta"), dtype=np.float64)
    lam = np.asarray(_get(params, "lam"), dtype=np.float64)
    if theta.ndim != 2:
        raise ValueError(f"theta must be (n_users, n_cohorts), got shape {theta.shape}")
    if phi.ndim != 2 or phi.shape[0] != theta.shape[1]:
        raise ValueError(
            f"phi must be (n_cohorts={theta.shape[1]}, n_items), got shape {phi.shape}"
        )
    if delta.shape != (phi.shape[1],):
        raise ValueError(f"delta must have shape ({phi.shape[1]},), got {delta.shape}")
    if lam.shape != (theta.shape[0],):
        raise ValueError(f"lam must have shape ({theta.shape[0]},), got {lam.shape}")
    for name, arr in (("theta", theta), ("phi", phi), ("delta", delta)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinite values")
        if arr.size and arr.min() < 0:
            raise ValueError(f"{name} must be non-negative, min is {arr.min():g}")
    if n_users is not None and theta.shape[0] != n_users:
        raise ValueError(f"theta has {theta.shape[0]} users, data has n_users={n_users}")
    if n_items is not None and phi.shape[1] != n_items:
        raise ValueError(f"phi has {phi.shape[1]} items, data has n_items={n_items}")
    return theta, phi, delta, lam


def _check_inter(inter: Interactions, name: str, n_users: int, n_items: int):
    if not isinstance(inter, Interactions):
        raise ValueError(f"{name} must be lda4rec.data.Interactions, got {type(inter).__name__}")
    if inter.shape != (n_users, n_items):
        raise ValueError(
            f"{name} has shape {inter.shape}, parameters have ({n_users}, {n_items})"
        )


def _binary_csr(inter: Interactions) -> sp.csr_matrix:
    return inter.tocsr(binary=True)


def item_popularity(inter: Interactions) -> np.ndarray:
    """Number of distinct users per item, shape (n_items,), int64."""
    return np.diff(_binary_csr(inter).tocsc().indptr).astype(np.int64)


def _concat(a: Interactions, b: Interactions) -> Interactions:
    return Interactions(
        np.concatenate([a.user_ids, b.user_ids]),
        np.concatenate([a.item_ids, b.item_ids]),
        n_users=a.n_users,
        n_items=a.n_items,
        user_map=a.user_map,
        item_map=a.item_map,
        name=a.name,
    )


# ------------------------------------------------------ experiment 1: cohorts
def _random_zero_cohort(theta: np.ndarray, gen: np.random.Generator, chunk: int = 8192):
    """Per user a uniformly random k with theta_uk == 0 (-1 if there is none)."""
    n_users = theta.shape[0]
    u_draw = gen.random(n_users)  # one draw per user, whatever is skipped later
    out = np.full(n_users, -1, dtype=np.int64)
    for start in range(0, n_users, chunk):
        zero = theta[start : start + chunk] == 0.0  # (c, K)
        n_zero = zero.sum(axis=1)
        pick = np.floor(u_draw[start : start + chunk] * n_zero).astype(np.int64)
        cum = np.cumsum(zero, axis=1)  # (c, K)
        k = np.argmax(cum > pick[:, None], axis=1)
        out[start : start + chunk] = np.where(n_zero > 0, k, -1)
    return out


def cohort_allocation(
    params: Any,
    inter: Interactions,
    *,
    split: str = "train",
    seed: int | np.random.Generator = 0,
    neg_inf: str = "drop",
    k_min: np.ndarray | None = None,
    return_users: bool = False,
):
    """Experiment 1: the user's top cohort explains their items better.

    For each user ``u`` with items ``I_u`` in ``inter``: ``k_max = argmax_k
    theta_uk`` (first maximum), ``k_min`` = a uniformly random ``k`` with
    ``theta_uk == 0`` (seeded), ``s_uk = sum_{i in I_u} log phi_ki``.  One-sided
    paired t-test ``s_{u,k_max} > s_{u,k_min}`` (`scipy.stats.ttest_rel`),
    effect size `cohen_d_paired` (d_av).

    Skipped users (counted in ``skipped``/``skipped_reason``): users without
    items in ``inter``; users whose ``theta_u`` has no exact zero (no
    ``k_min``) and, with ``neg_inf="drop"``, users whose ``s_{k_max}`` or
    ``s_{k_min}`` is ``-inf``.

    ``phi_ki = 0`` happens: the MF -> NMF shift makes one item per cohort
    exactly 0, so ``log phi_ki = -inf`` for users who have that item.
    Conventions for such a sum:

    * ``neg_inf="drop"`` (default): leave the user out and count them.  The
      test then compares finite log-likelihoods only.
    * ``neg_inf="original"``: replace a ``-inf`` sum by ``-1e16``, as the
      original P2 evaluation code did.  A handful of such users then dominate
      mean and standard deviation.

    Parameters
    ----------
    params : LDAextParams or mapping
        ``theta`` (U, K) and ``phi`` (K, I) are used.
    inter : Interactions
        The items ``I_u`` (the train or the test split).
    split : str
        Label written to the ``split`` column.
    seed : int or Generator
        Draws ``k_min``.  Ignored when ``k_min`` is given.
    neg_inf : {"drop", "original"}
    k_min : array of int, shape (U,), optional
        Pre-drawn zero cohorts (``-1`` = none), so that train and test use the
        same ``k_min`` per user (`run_all` does this).  Any other choice of the
        "low" cohort (e.g. ``argmin theta_u`` for a model without exact zeros,
        see `low_cohort`) can be passed here.
    return_users : bool
        Also return the per-user table (``user, k_max, k_min, s_max, s_min,
        used``).

    Returns
    -------
    pandas.DataFrame, or (DataFrame, per-user DataFrame) with ``return_users``
        One row; ``mean_x``/``mean_y`` are the mean ``s_{k_max}``/``s_{k_min}``
        and the extra columns ``n_no_zero`` and ``n_neg_inf`` count the two
        kinds of problematic users.
    """
    if neg_inf not in ("drop", "original"):
        raise ValueError(f"neg_inf must be 'drop' or 'original', got {neg_inf!r}")
    theta, phi, _, _ = as_ldaext_arrays(params)
    _check_inter(inter, "inter", theta.shape[0], phi.shape[1])
    n_users = theta.shape[0]
    if k_min is None:
        gen = np.random.default_rng(seed)
        k_min = _random_zero_cohort(theta, gen)
    else:
        k_min = np.asarray(k_min, dtype=np.int64)
        if k_min.shape != (n_users,):
            raise ValueError(f"k_min must have shape ({n_users},), got {k_min.shape}")
    k_max = np.argmax(theta, axis=1)

    csr = _binary_csr(inter)
    n_items_u = np.diff(csr.indptr)
    rows = np.repeat(np.arange(n_users), n_items_u)  # user of each (u, i)
    cols = csr.indices
    with np.errstate(divide="ignore"):
        log_phi = np.log(phi)  # (K, I), -inf where phi == 0
    has_zero = k_min >= 0
    k_lo = np.where(has_zero, k_min, 0)
    s_max = np.bincount(rows, weights=log_phi[k_max[rows], cols], minlength=n_users)
    s_min = np.bincount(rows, weights=log_phi[k_lo[rows], cols], minlength=n_users)

    active = n_items_u > 0
    no_items = int((~active).sum())
    no_zero = int((active & ~has_zero).sum())
    use = active & has_zero
    bad = use & ~(np.isfinite(s_max) & np.isfinite(s_min))
    n_bad = int(bad.sum())
    if neg_inf == "drop":
        use = use & ~bad
        s_hi, s_lo = s_max[use], s_min[use]
        inf_label = "users with log phi = -inf in s_kmax or s_kmin (dropped)"
    else:
        s_hi = np.where(np.isneginf(s_max[use]), -1e16, s_max[use])
        s_lo = np.where(np.isneginf(s_min[use]), -1e16, s_min[use])
        inf_label = ""
    counts = {
        "users without items in split": no_items,
        "users without a zero cohort": no_zero,
    }
    if inf_label:
        counts[inf_label] = n_bad
    skipped, reason = _reasons(counts)
    row = dict(experiment="cohort_allocation", split=split, other=neg_inf)
    row.update(_paired_ttest_row(s_hi, s_lo))
    row.update(skipped=skipped, skipped_reason=reason, n_no_zero=no_zero, n_neg_inf=n_bad)
    out = _frame([row])
    if return_users:
        users = pd.DataFrame(
            dict(
                user=np.arange(n_users),
                n_items=n_items_u,
                k_max=k_max,
                k_min=k_min,
                s_max=s_max,
                s_min=np.where(has_zero, s_min, np.nan),
                used=use,
            )
        )
        return out, users
    return out


def low_cohort(theta: np.ndarray, rule: str = "zero", seed: int | np.random.Generator = 0):
    """The "low" cohort per user for experiment 1 (``-1`` = none).

    ``rule="zero"`` (P2): a uniformly random ``k`` with ``theta_uk == 0``.
    ``rule="argmin"``: ``argmin_k theta_uk`` (first minimum) -- for directly
    fitted models whose ``theta`` has no exact zeros (a softmax is never 0).
    """
    theta = np.asarray(theta, dtype=np.float64)
    if rule == "zero":
        return _random_zero_cohort(theta, np.random.default_rng(seed))
    if rule == "argmin":
        return np.argmin(theta, axis=1).astype(np.int64)
    raise ValueError(f"rule must be 'zero' or 'argmin', got {rule!r}")


# -------------------------------------------------- experiment 2: popularity
def popularity_ranking(params: Any, inter: Interactions, *, split: str = "train") -> pd.DataFrame:
    """Experiment 2: Kendall tau_c between ``delta`` and empirical popularity.

    Empirical popularity = number of distinct users per item in ``inter``; all
    items take part (those without interactions count 0), as in P2's code.
    ``mean_x``/``mean_y`` are the means of ``delta`` and of the counts.
    """
    theta, phi, delta, _ = as_ldaext_arrays(params)
    _check_inter(inter, "inter", theta.shape[0], phi.shape[1])
    pop = item_popularity(inter)
    row = dict(experiment="popularity", split=split, other="")
    row.update(_tau_row(delta, pop))
    row.update(skipped=0, skipped_reason="")
    return _frame([row])


# -------------------------------------------------- experiment 3: conformity
def conformity_ranking(
    params: Any, inter: Interactions, *, split: str = "train", pop: str = "delta"
) -> pd.DataFrame:
    """Experiment 3: Kendall tau_c between ``lam_u`` and the popularity of I_u.

    ``lam'_u`` = mean over the user's items ``I_u`` (in ``inter``) of
    ``delta_i`` (``pop="delta"``, P2's definition) or of the empirical
    popularity of ``inter`` (``pop="empirical"``, the second variant in P2's
    code).  Users without items in ``inter`` and users whose ``lam_u`` is not
    finite (a zero MF user vector gives ``lam_u = inf``) are skipped and
    counted.
    """
    if pop not in ("delta", "empirical"):
        raise ValueError(f"pop must be 'delta' or 'empirical', got {pop!r}")
    theta, phi, delta, lam = as_ldaext_arrays(params)
    _check_inter(inter, "inter", theta.shape[0], phi.shape[1])
    csr = _binary_csr(inter)
    n_items_u = np.diff(csr.indptr)
    values = delta if pop == "delta" else item_popularity(inter).astype(np.float64)
    sums = csr @ values  # (U,)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam_prime = sums / n_items_u
    active = n_items_u > 0
    finite = np.isfinite(lam)
    use = active & finite
    skipped, reason = _reasons(
        {
            "users without items in split": int((~active).sum()),
            "users with non-finite lam": int((active & ~finite).sum()),
        }
    )
    row = dict(experiment="conformity", split=split, other=pop)
    row.update(_tau_row(lam[use], lam_prime[use]))
    row.update(skipped=skipped, skipped_reason=reason)
    return _frame([row])


# ------------------------------------------------------- experiment 4: twins
def theta_overlap(theta_a: np.ndarray, theta_b: np.ndarray) -> np.ndarray:
    """Dense overlap ``O[a, b] = sum_k min(theta_ak, theta_bk)``, shape (A, B).

    Reference implementation for small inputs (memory ``A * B * K``); use
    `theta_overlap_extremes` for all-users searches.
    """
    a = np.asarray(theta_a, dtype=np.float64)
    b = np.asarray(theta_b, dtype=np.float64)
    return np.minimum(a[:, None, :], b[None, :, :]).sum(axis=2)


def theta_overlap_extremes(
    theta: np.ndarray,
    query: np.ndarray,
    *,
    seed: int | np.random.Generator = 0,
    chunk_size: int = 32,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Most and least overlapping other user for each query user.

    ``O(u, v) = sum_k min(theta_uk, theta_vk)`` against all users ``v != u``,
    vectorised: for a block of ``chunk_size`` query users an (chunk, U)
    accumulator sums ``np.minimum`` over the K cohorts (a loop over K, not over
    users).  Small blocks keep the accumulator in cache; memory is
    ``O(chunk_size * U + U * K)``.  Ties are broken uniformly at random: the
    candidate users are visited in a seeded random order and the first extreme
    in that order wins.

    Parameters
    ----------
    theta : (U, K) array
    query : (Q,) int array
        Query users (distinct or not).
    seed : int or Generator
        For the tie-breaking order.
    chunk_size : int

    Returns
    -------
    good, bad : (Q,) int64
        ``argmax_v O(u, v)`` and ``argmin_v O(u, v)``, ``v != u``.
    good_overlap, bad_overlap : (Q,) float64
    """
    theta = np.asarray(theta, dtype=np.float64)
    query = np.asarray(query, dtype=np.int64)
    n_users = theta.shape[0]
    if n_users < 2:
        raise ValueError("need at least 2 users to find twins")
    if query.ndim != 1 or (query.size and (query.min() < 0 or query.max() >= n_users)):
        raise ValueError(f"query must be 1-d user ids in [0, {n_users})")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    gen = np.random.default_rng(seed)
    perm = gen.permutation(n_users)  # candidate order for tie-breaking
    inv = np.empty_like(perm)
    inv[perm] = np.arange(n_users)
    cand_t = np.ascontiguousarray(theta[perm].T)  # (K, U), candidates permuted
    n_k = theta.shape[1]
    good = np.empty(query.size, dtype=np.int64)
    bad = np.empty(query.size, dtype=np.int64)
    good_o = np.empty(query.size)
    bad_o = np.empty(query.size)
    acc = np.empty((chunk_size, n_users))
    tmp = np.empty((chunk_size, n_users))
    for start in range(0, query.size, chunk_size):
        q = query[start : start + chunk_size]
        c = q.size
        a, t = acc[:c], tmp[:c]
        qt = theta[q]  # (c, K)
        a.fill(0.0)
        for k in range(n_k):
            np.minimum(qt[:, k : k + 1], cand_t[k], out=t)
            a += t
        rows = np.arange(c)
        self_pos = inv[q]
        a[rows, self_pos] = -np.inf
        g = np.argmax(a, axis=1)
        good_o[start : start + c] = a[rows, g]
        a[rows, self_pos] = np.inf
        b = np.argmin(a, axis=1)
        bad_o[start : start + c] = a[rows, b]
        good[start : start + c] = perm[g]
        bad[start : start + c] = perm[b]
    return good, bad, good_o, bad_o


def find_twins(
    theta: np.ndarray,
    n_twins: int = 2000,
    *,
    seed: int = 0,
    chunk_size: int = 32,
) -> pd.DataFrame:
    """Sample query users and find their good, bad and random twins.

    ``n_twins`` distinct users are drawn uniformly (all users, in random order,
    if there are fewer).  Good/bad twin: `theta_overlap_extremes`; random twin:
    a uniformly random other user.  Three independent generators are derived
    from ``seed`` (sample, tie-breaking, random twin).

    Returns
    -------
    pandas.DataFrame
        Columns ``user``, ``good``, ``bad``, ``rnd``, ``good_overlap``,
        ``bad_overlap``, ``rnd_overlap``.
    """
    theta = np.asarray(theta, dtype=np.float64)
    n_users = theta.shape[0]
    if n_twins < 1:
        raise ValueError(f"n_twins must be >= 1, got {n_twins}")
    ss = np.random.SeedSequence(int(seed)).spawn(3)
    g_sample, g_tie, g_rnd = (np.random.default_rng(s) for s in ss)
    users = g_sample.choice(n_users, size=min(n_twins, n_users), replace=False)
    good, bad, good_o, bad_o = theta_overlap_extremes(
        theta, users, seed=g_tie, chunk_size=chunk_size
    )
    rnd = g_rnd.integers(0, n_users - 1, size=users.size)
    rnd = rnd + (rnd >= users)  # uniform over the other users
    rnd_o = np.minimum(theta[users], theta[rnd]).sum(axis=1)
    return pd.DataFrame(
        dict(
            user=users,
            good=good,
            bad=bad,
            rnd=rnd,
            good_overlap=good_o,
            bad_overlap=bad_o,
            rnd_overlap=rnd_o,
        )
    )


def jaccard_pairs(csr: sp.csr_matrix, a, b) -> np.ndarray:
    """Jaccard coefficients ``|A ∩ B| / |A ∪ B|`` of the item sets of rows a, b.

    ``csr`` is a binary (U, I) matrix.  Vectorised: ``|A ∩ B|`` is the row sum
    of the elementwise product of the two row selections.  Pairs whose union is
    empty get ``nan``.
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    csr = sp.csr_matrix(csr)
    sizes = np.diff(csr.indptr)
    inter = np.asarray(csr[a].multiply(csr[b]).sum(axis=1)).ravel()
    union = sizes[a] + sizes[b] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def twins(
    params: Any,
    splits: Mapping[str, Interactions],
    *,
    seed: int = 0,
    n_twins: int = 2000,
    chunk_size: int = 32,
    return_pairs: bool = False,
):
    """Experiment 4: cohort twins share more items than bad or random twins.

    `find_twins` picks ``n_twins`` users and their good/bad/random twins from
    ``theta``; for every split in ``splits`` (e.g. ``{"train": train, "test":
    test}``) the Jaccard coefficients of the item sets are compared with
    one-sided paired t-tests good > bad and good > random (``other`` = "bad" /
    "rnd"), effect size d_av.  Pairs whose union of items is empty in a split
    are skipped and counted.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, pairs DataFrame) with ``return_pairs``
        The pairs table adds ``jac_good_<split>`` etc.
    """
    theta, phi, _, _ = as_ldaext_arrays(params)
    pairs = find_twins(theta, n_twins, seed=seed, chunk_size=chunk_size)
    rows = []
    for split, inter in splits.items():
        _check_inter(inter, f"splits[{split!r}]", theta.shape[0], phi.shape[1])
        csr = _binary_csr(inter)
        jac = {
            kind: jaccard_pairs(csr, pairs["user"].to_numpy(), pairs[kind].to_numpy())
            for kind in ("good", "bad", "rnd")
        }
        for kind, j in jac.items():
            pairs[f"jac_{kind}_{split}"] = j
        for other in ("bad", "rnd"):
            ok = np.isfinite(jac["good"]) & np.isfinite(jac[other])
            skipped, reason = _reasons({"pairs with no items in split": int((~ok).sum())})
            row = dict(experiment="twins", split=split, other=other)
            row.update(_paired_ttest_row(jac["good"][ok], jac[other][ok]))
            row.update(skipped=skipped, skipped_reason=reason)
            rows.append(row)
    out = _frame(rows)
    return (out, pairs) if return_pairs else out


# ------------------------------------------------------------------- helpers
def theta_entropy(theta: np.ndarray, normalized: bool = True) -> np.ndarray:
    """Shannon entropy of each row of ``theta`` (nats), 0 log 0 = 0.

    With ``normalized`` divided by ``log K`` (1 = uniform over all cohorts).
    Rows are renormalised to sum 1 first.
    """
    theta = np.asarray(theta, dtype=np.float64)
    p = theta / theta.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1)
    return h / np.log(theta.shape[1]) if normalized else h


def top_items_per_cohort(params: Any, n: int = 10, cohorts=None) -> pd.DataFrame:
    """The ``n`` most probable items of each cohort's ``phi_k`` (long format).

    Columns ``cohort``, ``rank`` (0 = top), ``item`` (compact id), ``phi``.
    """
    _, phi, _, _ = as_ldaext_arrays(params)
    ks = np.arange(phi.shape[0]) if cohorts is None else np.asarray(cohorts)
    top = np.argsort(-phi[ks], axis=1, kind="stable")[:, :n]
    return pd.DataFrame(
        dict(
            cohort=np.repeat(ks, top.shape[1]),
            rank=np.tile(np.arange(top.shape[1]), ks.size),
            item=top.ravel(),
            phi=np.take_along_axis(phi[ks], top, axis=1).ravel(),
        )
    )


# ------------------------------------------------------------------- run all
def run_all(
    params: Any,
    train: Interactions,
    test: Interactions,
    seed: int = 0,
    n_twins: int = 2000,
    *,
    neg_inf: str | tuple = "drop",
    chunk_size: int = 32,
    low: str = "zero",
) -> pd.DataFrame:
    """All four P2 experiments on one set of LDAext parameters.

    Rows (``experiment``/``split``/``other``):

    * ``cohort_allocation`` on train and test items (one ``k_min`` draw per
      user shared by both), ``other`` = the ``neg_inf`` convention;
    * ``popularity`` on train, test and all (= train + test) -- P2's code uses
      train;
    * ``conformity`` with ``other="delta"`` (P2's lam') and
      ``other="empirical"`` on train, test and all -- P2's code uses train;
    * ``twins`` on train and test with ``other`` = "bad" and "rnd".

    Seeds: ``SeedSequence(seed)`` spawns one child for the cohort draw and one
    for the twins; the same ``seed`` gives the same table.

    Parameters
    ----------
    params : LDAextParams or mapping
        Output of `lda4rec.adjoint.mf_to_ldaext` (or anything with theta, phi,
        delta, lam).
    train, test : Interactions
        The P2 split the MF was trained (train) and evaluated (test) on.
    seed : int
    n_twins : int
    neg_inf : {"drop", "original"} or a sequence of them
        See `cohort_allocation`; with several conventions experiment 1 gets
        one row per convention and split (same ``k_min`` draw).
    chunk_size : int
        Query users per block in the twins overlap.
    low : {"zero", "argmin"}
        How experiment 1 picks the low cohort (`low_cohort`); P2: "zero".

    Returns
    -------
    pandas.DataFrame
        Columns `COLUMNS` plus ``n_no_zero`` and ``n_neg_inf`` (experiment 1).
    """
    theta, phi, _, _ = as_ldaext_arrays(params, train.n_users, train.n_items)
    n_users, n_items = theta.shape[0], phi.shape[1]
    _check_inter(train, "train", n_users, n_items)
    _check_inter(test, "test", n_users, n_items)
    ss_cohort, ss_twins = np.random.SeedSequence(int(seed)).spawn(2)
    k_min = low_cohort(theta, low, np.random.default_rng(ss_cohort))
    both = _concat(train, test)
    conventions = (neg_inf,) if isinstance(neg_inf, str) else tuple(neg_inf)
    tables = []
    for conv in conventions:
        for split, inter in (("train", train), ("test", test)):
            tables.append(
                cohort_allocation(params, inter, split=split, k_min=k_min, neg_inf=conv)
            )
    for split, inter in (("train", train), ("test", test), ("all", both)):
        tables.append(popularity_ranking(params, inter, split=split))
    for pop in ("delta", "empirical"):
        for split, inter in (("train", train), ("test", test), ("all", both)):
            tables.append(conformity_ranking(params, inter, split=split, pop=pop))
    twin_seed = int(ss_twins.generate_state(1, dtype=np.uint32)[0])
    tables.append(
        twins(
            params,
            {"train": train, "test": test},
            seed=twin_seed,
            n_twins=n_twins,
            chunk_size=chunk_size,
        )
    )
    df = pd.concat(tables, ignore_index=True)
    return df


def write_tables(df: pd.DataFrame, out_dir: str | os.PathLike, name: str = "interpretation") -> dict:
    """Write an experiment table atomically as ``<name>.csv`` and ``<name>.json``.

    Returns a dict ``{"csv": Path, "json": Path}``.  The JSON holds a list of
    records (NaN -> null).
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas.DataFrame, got {type(df).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{name}.csv"
    json_path = out_dir / f"{name}.json"
    with atomic_path(csv_path) as tmp:
        df.to_csv(tmp, index=False)
    records = df.astype(object).where(pd.notna(df), None).to_dict(orient="records")
    atomic_write_json(json_path, records)
    return {"csv": csv_path, "json": json_path}


def lda_model_view(model: Any) -> dict:
    """LDAext-shaped arrays from a directly fitted `lda4rec.lda.LDAModel`.

    * LDAext fitted directly (``fit_ldaext``): ``theta``, ``phi``, ``delta``,
      ``lam`` are already LDAext's parameters; returned as they are.
    * LDA4Rec (P1, ``fit_lda4rec``): ``phi`` and ``delta`` are *logits*; the
      item distribution of cohort k for user u is
      ``softmax(phi_k + lam_u delta)``.  What can be read as "cohort k's item
      distribution" is the user-free part ``softmax(phi_k)`` (lam_u = 0), and
      as "popularity distribution" ``softmax(delta)``; both are returned in
      place of the logits.  Rank statistics of delta (experiment 2) are
      unchanged by the softmax; experiment 3's mean over I_u uses the
      probabilities, as for LDAext.  ``lam`` is P1's conformity (a weight on
      logits, not a mixture weight: magnitudes are not comparable with
      LDAext's lam).

    ``theta`` of a fitted model is a softmax of logits and has no exact zeros,
    so experiment 1 needs ``low="argmin"`` (`run_all`).
    """
    theta = np.asarray(_get(model, "theta"), dtype=np.float64)
    phi = np.asarray(_get(model, "phi"), dtype=np.float64)
    delta = np.asarray(_get(model, "delta"), dtype=np.float64)
    lam = np.asarray(_get(model, "lam"), dtype=np.float64)
    variant = str(getattr(model, "variant", "ldaext"))
    if variant.startswith("lda4rec"):

        def softmax(x):
            e = np.exp(x - x.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)

        phi, delta = softmax(phi), softmax(delta)
    return dict(theta=theta, phi=phi, delta=delta, lam=lam)
