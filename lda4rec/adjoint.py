"""The adjoint formulation: every MF model is an (extended) LDA model in disguise.

All computations are NumPy float64 (inputs of other dtypes, also JAX arrays,
are converted).  Notation follows the papers (see book/papers.md §3): users u,
items i, latent dimensions ("cohorts") k; an MF model scores
``x_ui = <w_u, h_i> + b_i`` with ``w`` (U, K), ``h`` (I, K), ``b`` (I,).

Lemma (MF -> NMF), `mf_to_nmf`
    ``w'_u = [w_u^+, w_u^-]`` (positive part, negated negative part),
    ``h'_i = [h_i + s, -h_i + s]`` with a shift ``s`` over the latent
    dimensions that is the *same for every item*; we use the smallest one that
    makes both halves non-negative, ``s_k = max_i |h_ik|``; and
    ``b'_i = b_i + max_j |b_j|``.  Then ``<w'_u, h'_i> + b'_i = x_ui + c_u``
    with ``c_u = <|w_u|, s> + max_j |b_j|`` constant per user: same ranking.
    (The printed P1 writes an item-dependent ``s_i = max_k |h_ik|``; that adds
    ``s_i * ||w_u||_1`` to item i's score and breaks the ranking.  The tests show
    an example.)

Theorem P2 (NMF -> LDAext), `nmf_to_ldaext`
    For ``w, h, b >= 0``: ``phi_k = h_{*k} / ||h_{*k}||_1``,
    ``delta = b / ||b||_1``, ``what_uk = ||h_{*k}||_1 w_uk``,
    ``lam_u = ||b||_1 / ||what_u||_1``, ``n_uk = 1 + lam_u``,
    ``theta_uk = what_uk n_uk / <what_u, n_u>`` and
    ``p_k(u) = (phi_k + lam_u delta) / n_uk``.  Then
    ``<theta_u, p_{*i}(u)> = x_ui / <what_u, n_u>`` where
    ``<what_u, n_u> = ||what_u||_1 + ||b||_1`` (stored as ``norm``): the
    item probabilities rank like the NMF scores.

Degenerate cases (explicit choices, the theorem leaves them open)
    * an all-zero column k of ``h`` (``||h_{*k}||_1 = 0``) contributes nothing
      to any score and has no ``phi_k``: it is dropped; ``kept`` records the
      indices of the columns that remain (K' <= K of them).
    * ``||b||_1 = 0``: ``delta`` is undefined; we store the uniform
      distribution and ``lam_u = 0`` for users with ``||what_u||_1 > 0`` (delta
      then has weight 0, so its value does not matter).
    * ``||what_u||_1 = 0`` (a zero user vector, or a user whose only non-zero
      weights sit on dropped columns): the scores are ``b_i``, the ranking is by
      ``delta`` alone.  We store ``lam_u = inf`` and a uniform ``theta_u``
      (the limit lam -> inf of ``p_k(u)`` is ``delta`` for every k, so
      ``theta_u`` does not matter); `ldaext_scores` returns ``delta`` for such a
      user.  ``norm_u = ||b||_1`` so the identity above still holds.  If also
      ``||b||_1 = 0`` all scores are 0 and ``norm_u = 0``; the uniform delta
      reproduces the all-tie ranking.
    * with K' = 0 (every column dropped) ``theta`` has shape (U, 0) and every
      user is ranked by ``delta``.

Theorem P1 (the same construction in P1's notation), `nmf_to_p1`
    ``t_u = ||w_u||_1``, ``v_u = w_u / t_u``,
    ``n_uk = ||h_{*k}||_1 + ||b||_1 / t_u``,
    ``g_i(u) = (h_i + b_i / t_u) ⊘ n_u`` (each ``g_{*k}(u)`` sums to 1 over
    items), ``theta_u = v_u ⊙ n_u / <v_u, n_u>``.  Then
    ``<theta_u, g_i(u)> = x_ui / (t_u <v_u, n_u>)`` and
    ``t_u <v_u, n_u> = ||what_u||_1 + ||b||_1``: the same item probabilities as
    LDAext (P1 folds the popularity share into each cohort's item
    distribution, P2 keeps it apart as ``lam_u delta``).

Float ties
    The transformed scores are computed along a different path than
    ``w @ h.T + b`` and are rounded differently: items whose MF scores differ
    by a few ulps of the score *scale* may swap places.  `count_inversions`
    counts the swapped pairs and separates those near-ties from real
    inversions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Iterator

import numpy as np

from lda4rec.utils import atomic_save_npz

__all__ = [
    "LDAextParams",
    "P1Params",
    "InversionCounts",
    "mf_to_nmf",
    "nmf_to_ldaext",
    "mf_to_ldaext",
    "ldaext_scores",
    "nmf_to_p1",
    "mf_to_p1",
    "p1_scores",
    "mf_scores",
    "score_scale",
    "count_inversions",
]


# ---------------------------------------------------------------- validation
def _as_f64(x: Any, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(x, dtype=np.float64)  # copy: never alias the caller's array
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array: {exc}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _factors(w, h, b, nonneg: bool = False):
    w = _as_f64(w, "w", 2)
    h = _as_f64(h, "h", 2)
    b = _as_f64(b, "b", 1)
    if w.shape[1] != h.shape[1]:
        raise ValueError(
            f"w has {w.shape[1]} latent dimensions but h has {h.shape[1]} "
            f"(w: {w.shape}, h: {h.shape})"
        )
    if b.shape[0] != h.shape[0]:
        raise ValueError(f"b has {b.shape[0]} entries but h has {h.shape[0]} items")
    if nonneg:
        for name, arr in (("w", w), ("h", h), ("b", b)):
            if (arr < 0).any():
                raise ValueError(
                    f"{name} must be non-negative (min {arr.min():.3g}); "
                    "use mf_to_nmf / mf_to_ldaext for unconstrained factors"
                )
    return w, h, b


def mf_scores(w, h, b, user_ids=None) -> np.ndarray:
    """MF scores ``w @ h.T + b`` in float64, shape (U, I) (or the given users)."""
    w, h, b = _factors(w, h, b)
    if user_ids is not None:
        w = w[np.asarray(user_ids)]
    return w @ h.T + b[None, :]


def score_scale(w, h, b) -> np.ndarray:
    """Per-user magnitude ``c_u = <|w_u|, max_i |h_i|> + max_i |b_i|``, shape (U,).

    Bounds ``|x_ui|`` and is the constant the lemma adds to user u's scores,
    so it is the scale of the rounding errors of every transformed score.
    Pass it as ``scale`` to `count_inversions` when comparing MF scores with
    their LDAext/NMF versions.
    """
    w, h, b = _factors(w, h, b)
    hmax = np.abs(h).max(axis=0) if h.shape[0] else np.zeros(h.shape[1])
    bmax = np.abs(b).max() if b.size else 0.0
    return np.abs(w) @ hmax + bmax


# ---------------------------------------------------------------- lemma
def mf_to_nmf(w, h, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lemma: unconstrained MF factors -> non-negative factors, same rankings.

    Parameters
    ----------
    w : (U, K) array
    h : (I, K) array
    b : (I,) array

    Returns
    -------
    w2 : (U, 2K) array
        ``[max(w, 0), max(-w, 0)]``.
    h2 : (I, 2K) array
        ``[h + s, -h + s]`` with the item-independent ``s_k = max_i |h_ik|``.
    b2 : (I,) array
        ``b + max_j |b_j|``.

    Notes
    -----
    ``w2 @ h2.T + b2 = w @ h.T + b + c[:, None]`` with ``c = score_scale(w, h, b)``.
    """
    w, h, b = _factors(w, h, b)
    s = np.abs(h).max(axis=0) if h.shape[0] else np.zeros(h.shape[1])  # (K,)
    w2 = np.concatenate([np.maximum(w, 0.0), np.maximum(-w, 0.0)], axis=1)
    h2 = np.concatenate([h + s, -h + s], axis=1)
    # exact non-negativity (h + s >= 0 holds in exact arithmetic; guard -0.0)
    np.maximum(h2, 0.0, out=h2)
    b2 = b + (np.abs(b).max() if b.size else 0.0)
    np.maximum(b2, 0.0, out=b2)
    return w2, h2, b2


# ---------------------------------------------------------------- LDAext
_LDAEXT_ARRAYS = ("theta", "phi", "delta", "lam", "norm", "kept")


@dataclass
class LDAextParams:
    """LDAext parameters obtained from a (non-negative) factorisation.

    Attributes
    ----------
    theta : (U, K') array
        Cohort preferences per user, rows sum to 1.
    phi : (K', I) array
        Item distribution per cohort, rows sum to 1.
    delta : (I,) array
        Item popularity distribution, sums to 1.
    lam : (U,) array
        Conformity per user, ``>= 0``; ``inf`` for users ranked by ``delta`` alone.
    norm : (U,) array
        ``<what_u, n_u> = ||what_u||_1 + ||b||_1``: the NMF scores divided by it
        are the item probabilities.
    kept : (K',) int array
        Indices of the NMF columns kept (all-zero columns are dropped).
    n_dims_in : int
        Number of NMF columns before dropping.

    Mapping access works too: ``params["theta"]``, ``list(params)``.
    """

    theta: np.ndarray
    phi: np.ndarray
    delta: np.ndarray
    lam: np.ndarray
    norm: np.ndarray
    kept: np.ndarray
    n_dims_in: int = field(default=0)

    # mapping protocol ------------------------------------------------------
    def __getitem__(self, key: str):
        if key not in self.keys():
            raise KeyError(key)
        return getattr(self, key)

    def keys(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def items(self):
        return [(k, getattr(self, k)) for k in self.keys()]

    @property
    def n_topics(self) -> int:
        """K', the number of cohorts kept."""
        return int(self.phi.shape[0])

    @property
    def n_cohort(self) -> np.ndarray:
        """``n_uk = 1 + lam_u`` (the same for every k), shape (U,)."""
        return 1.0 + self.lam

    @property
    def dropped(self) -> np.ndarray:
        """Indices of the all-zero NMF columns that were dropped."""
        return np.setdiff1d(np.arange(self.n_dims_in), self.kept)

    # persistence -------------------------------------------------------------
    def save(self, path) -> Any:
        """Write all arrays to an ``.npz`` file atomically; returns the path."""
        return atomic_save_npz(
            path, n_dims_in=np.array(self.n_dims_in), **{k: getattr(self, k) for k in _LDAEXT_ARRAYS}
        )

    @classmethod
    def load(cls, path) -> "LDAextParams":
        with np.load(path) as data:
            missing = [k for k in (*_LDAEXT_ARRAYS, "n_dims_in") if k not in data]
            if missing:
                raise ValueError(f"{path}: not an LDAextParams file, missing {missing}")
            arrays = {k: data[k] for k in _LDAEXT_ARRAYS}
            return cls(**arrays, n_dims_in=int(data["n_dims_in"]))


def nmf_to_ldaext(w, h, b) -> LDAextParams:
    """Theorem P2: non-negative factors -> LDAext parameters (same rankings).

    Parameters
    ----------
    w : (U, K) array, >= 0
    h : (I, K) array, >= 0
    b : (I,) array, >= 0

    Returns
    -------
    LDAextParams
        See the module docstring for the formulas and the degenerate cases.

    Raises
    ------
    ValueError
        On wrong shapes, non-finite or negative values (naming the argument).
    """
    w, h, b = _factors(w, h, b, nonneg=True)
    n_users, n_dims = w.shape
    n_items = h.shape[0]
    col = h.sum(axis=0)  # ||h_{*k}||_1, (K,)
    kept = np.flatnonzero(col > 0)
    phi = (h[:, kept] / col[kept]).T  # (K', I)
    what = w[:, kept] * col[kept]  # (U, K')
    b_norm = float(b.sum())
    if b_norm > 0:
        delta = b / b_norm
    else:
        delta = np.full(n_items, 1.0 / n_items) if n_items else np.zeros(0)
    w_norm = what.sum(axis=1)  # ||what_u||_1, (U,)
    zero = ~(w_norm > 0)
    lam = np.full(n_users, np.inf)
    lam[~zero] = b_norm / w_norm[~zero]
    n_u = 1.0 + lam  # n_uk, the same for every k
    k_kept = kept.size
    theta = np.empty((n_users, k_kept))
    if k_kept:
        # theta_uk = what_uk n_uk / <what_u, n_u>  (n_uk constant over k)
        live = ~zero
        inner = (what[live] * n_u[live, None]).sum(axis=1)
        theta[live] = what[live] * n_u[live, None] / inner[:, None]
        theta[zero] = 1.0 / k_kept
    norm = w_norm + b_norm
    return LDAextParams(
        theta=theta, phi=phi, delta=delta, lam=lam, norm=norm, kept=kept, n_dims_in=n_dims
    )


def mf_to_ldaext(w, h, b) -> LDAextParams:
    """Lemma then Theorem P2: MF factors -> LDAext with (at most) 2K cohorts.

    Cohort ``k < K`` of the result stems from the positive part of MF
    dimension k, cohort ``K + k`` from its negative part (see ``kept`` for the
    columns that survived).
    """
    return nmf_to_ldaext(*mf_to_nmf(w, h, b))


def _user_rows(n_users: int, user_ids) -> np.ndarray:
    if user_ids is None:
        return np.arange(n_users)
    ids = np.asarray(user_ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError("user_ids must be a 1-d integer array")
    if ids.size and (ids.min() < 0 or ids.max() >= n_users):
        raise ValueError(f"user_ids out of range for {n_users} users")
    return ids


def ldaext_scores(params: LDAextParams | dict, user_ids=None) -> np.ndarray:
    """Item probabilities ``<theta_u, p_{*i}(u)>``, shape (len(user_ids), I).

    ``p_k(u) = (phi_k + lam_u delta) / n_uk`` with ``n_uk = 1 + lam_u``; users
    with ``lam_u = inf`` get ``delta``.  Each row sums to 1.
    """
    theta = np.asarray(params["theta"], dtype=np.float64)
    phi = np.asarray(params["phi"], dtype=np.float64)
    delta = np.asarray(params["delta"], dtype=np.float64)
    lam = np.asarray(params["lam"], dtype=np.float64)
    rows = _user_rows(theta.shape[0], user_ids)
    theta, lam = theta[rows], lam[rows]
    finite = np.isfinite(lam)
    out = np.empty((rows.size, delta.size))
    t, l_ = theta[finite], lam[finite]
    n = (1.0 + l_)[:, None]  # n_uk, (n, 1) broadcast over k
    # sum_k theta_uk (phi_ki + lam_u delta_i) / n_uk
    out[finite] = (t / n) @ phi + (t * l_[:, None] / n).sum(axis=1)[:, None] * delta[None, :]
    out[~finite] = delta[None, :]
    return out


# ---------------------------------------------------------------- P1 form
@dataclass
class P1Params:
    """Theorem P1's form of an NMF: ``t``, ``v``, ``n``, ``theta`` and the factors.

    Attributes
    ----------
    t : (U,) array
        ``||w_u||_1`` (0 for a zero user).
    v : (U, K) array
        ``w_u / t_u`` (uniform for a zero user).
    n : (U, K) array
        ``n_uk = ||h_{*k}||_1 + ||b||_1 / t_u`` (``inf`` for a zero user).
    theta : (U, K) array
        ``v_u ⊙ n_u / <v_u, n_u>`` (uniform for a zero user).
    h : (I, K) array
    b : (I,) array
        The non-negative factors; ``g_i(u) = (h_i + b_i / t_u) ⊘ n_u``.
    norm : (U,) array
        ``t_u <v_u, n_u> = ||what_u||_1 + ||b||_1`` (``||b||_1`` for a zero
        user); the NMF scores divided by it are the item probabilities.  Users
        with ``norm_u = 0`` have all scores 0 and get uniform probabilities.

    Columns of ``h`` that are all zero are kept here (their ``g_{*k}`` is only
    defined when ``||b||_1 > 0``; with ``||b||_1 = 0`` they get ``theta = 0``).
    """

    t: np.ndarray
    v: np.ndarray
    n: np.ndarray
    theta: np.ndarray
    h: np.ndarray
    b: np.ndarray
    norm: np.ndarray

    def __getitem__(self, key: str):
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)

    def g(self, u: int) -> np.ndarray:
        """``g_i(u)`` for all items, shape (I, K); columns with ``n_uk > 0`` sum to 1."""
        t = self.t[u]
        if t > 0:
            with np.errstate(invalid="ignore", divide="ignore"):
                return (self.h + self.b[:, None] / t) / self.n[u][None, :]
        bn = self.b.sum()
        base = self.b / bn if bn > 0 else np.full(self.b.size, 1.0 / self.b.size)
        return np.repeat(base[:, None], self.h.shape[1], axis=1)


def nmf_to_p1(w, h, b) -> P1Params:
    """Theorem P1 (``v``, ``t``, ``g``) for non-negative factors; see the module docstring."""
    w, h, b = _factors(w, h, b, nonneg=True)
    n_users, n_dims = w.shape
    t = w.sum(axis=1)
    live = t > 0
    b_norm = b.sum()
    col = h.sum(axis=0)
    v = np.full((n_users, n_dims), 1.0 / max(n_dims, 1))
    v[live] = w[live] / t[live, None]
    n = np.full((n_users, n_dims), np.inf)
    n[live] = col[None, :] + b_norm / t[live, None]
    theta = v.copy()
    if live.any():
        vn = v[live] * n[live]
        # a column with n_uk = 0 (all-zero h column and ||b||_1 = 0) gets theta 0;
        # if that leaves nothing (all scores of the user are 0) theta stays uniform
        tot = vn.sum(axis=1, keepdims=True)
        ok = tot[:, 0] > 0
        idx = np.flatnonzero(live)[ok]
        theta[idx] = vn[ok] / tot[ok]
    norm = np.full(n_users, float(b_norm))
    norm[live] = t[live] * (v[live] * np.where(np.isfinite(n[live]), n[live], 0.0)).sum(axis=1)
    return P1Params(t=t, v=v, n=n, theta=theta, h=h, b=b, norm=norm)


def mf_to_p1(w, h, b) -> P1Params:
    """Lemma then Theorem P1."""
    return nmf_to_p1(*mf_to_nmf(w, h, b))


def p1_scores(params: P1Params, user_ids=None) -> np.ndarray:
    """``<theta_u, g_i(u)>`` for all items, shape (len(user_ids), I).

    Equals `ldaext_scores` of the same NMF up to rounding.  Zero users
    (``t_u = 0``) get ``b / ||b||_1``; users whose scores are all 0
    (``norm_u = 0``) get uniform probabilities.
    """
    rows = _user_rows(params.t.shape[0], user_ids)
    h, b = params.h, params.b
    out = np.empty((rows.size, b.size))
    t = params.t[rows]
    live = (t > 0) & (params.norm[rows] > 0)
    th, n = params.theta[rows][live], params.n[rows][live]
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.where(th > 0, th / n, 0.0)  # theta_uk / n_uk, 0 where theta is 0
    # sum_k theta_uk (h_ik + b_i / t_u) / n_uk
    out[live] = a @ h.T + (a.sum(axis=1) / t[live])[:, None] * b[None, :]
    bn = b.sum()
    out[~live] = (b / bn) if bn > 0 else 1.0 / max(b.size, 1)
    return out


# ---------------------------------------------------------------- inversions
@dataclass
class InversionCounts:
    """Pairwise order inversions between two rankings, per user and in total.

    ``total`` = ``float_ties`` + ``real``.  A pair counts as inverted when the
    two rankings (descending score, ties by item index) order it differently;
    it is a float tie when its reference scores differ by at most the user's
    tolerance, real otherwise.
    """

    total: int
    float_ties: int
    real: int
    per_user_total: np.ndarray
    per_user_real: np.ndarray
    tol: np.ndarray

    @property
    def per_user_float_ties(self) -> np.ndarray:
        return self.per_user_total - self.per_user_real

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "float_ties": self.float_ties, "real": self.real}


def _rank_positions(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, pos): stable descending order per row and its inverse."""
    order = np.argsort(-scores, axis=1, kind="stable")
    pos = np.empty_like(order)
    np.put_along_axis(pos, order, np.arange(scores.shape[1])[None, :], axis=1)
    return order, pos


_ROWS_PER_TREE = 16


def _dominance_counts(o: np.ndarray, lim: np.ndarray) -> np.ndarray:
    """``sum_q #{p < lim[r, q] : o[r, p] > o[r, q]}`` for every row r (exact).

    ``o``: (n, I) ints in [0, I); ``lim``: (n, I) ints in [0, I].  A merge-sort
    tree: the prefix [0, lim) splits into at most log2(I) aligned blocks whose
    sorted contents are searched in one vectorised `searchsorted` per level
    (rows and blocks are kept apart by integer offsets).
    """
    n, m = o.shape
    if n == 0 or m < 2:
        return np.zeros(n, dtype=np.int64)
    if n > _ROWS_PER_TREE:  # keep the searched arrays cache-sized
        return np.concatenate(
            [
                _dominance_counts(o[i : i + _ROWS_PER_TREE], lim[i : i + _ROWS_PER_TREE])
                for i in range(0, n, _ROWS_PER_TREE)
            ]
        )
    size = 1 << int(np.ceil(np.log2(m)))
    big = m + 1  # > every value; also the padding value
    pad = np.full((n, size), m, dtype=np.int64)
    pad[:, :m] = o
    rows = np.arange(n, dtype=np.int64)[:, None]
    counts = np.zeros(n, dtype=np.int64)
    level, block = 0, 1
    while block < size:
        nb = size // block
        srt = np.sort(pad.reshape(n, nb, block), axis=2)
        keys = ((rows[:, :, None] * nb + np.arange(nb)[None, :, None]) * big + srt).ravel()
        sel = (lim >> level) & 1 == 1
        if sel.any():
            r, q = np.nonzero(sel)
            j = (lim[r, q] >> level) - 1  # block index at this level
            gid = r * nb + j
            le = np.searchsorted(keys, gid * big + o[r, q], side="right") - gid * block
            counts += np.bincount(r, weights=block - le, minlength=n).astype(np.int64)
        level += 1
        block <<= 1
    return counts


def _real_limits(r_sorted: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """``L[r, q] = #{p : r_sorted[r, p] - r_sorted[r, q] > tol[r]}`` (rows sorted descending).

    The difference is evaluated in floating point exactly as written; it is
    non-increasing in p, so a vectorised binary search over ``p in [0, q]``
    finds the first p where it is ``<= tol`` (``r_p >= r_q`` for ``p <= q``).
    """
    n, m = r_sorted.shape
    q = np.broadcast_to(np.arange(m), (n, m))
    lo = np.zeros((n, m), dtype=np.int64)
    hi = np.array(q, dtype=np.int64)
    rows = np.arange(n)[:, None]
    t = tol[:, None]
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) >> 1
        far = (r_sorted[rows, mid] - r_sorted) > t
        lo = np.where(active & far, mid + 1, lo)
        hi = np.where(active & ~far, mid, hi)


def count_inversions(
    reference_scores,
    other_scores,
    *,
    rtol: float = 1e-12,
    atol: float = 0.0,
    scale=None,
    chunk_size: int = 256,
) -> InversionCounts:
    """Count pairs of items ranked in a different order by two score matrices.

    Both rankings sort items by descending score with ties broken by item index,
    so each is a strict total order and the count per user is the Kendall
    distance between them.  An inverted pair (i, j) is a *float tie* if
    ``|ref_i - ref_j| <= tol_u`` with ``tol_u = rtol * scale_u + atol``, and a
    *real* inversion otherwise.  Both counts are exact (no sampling, no
    neighbour heuristics): with the reference order sorted descending,
    ``real = sum_q #{p < L_q : o_p > o_q}`` where ``o`` are the positions in
    the other ranking and ``L_q = #{p : ref_p - ref_q > tol_u}`` (the
    difference evaluated in float64, as in the definition);
    ``total`` is the same with ``L_q = q``.  Cost ``O(I log^2 I)`` per user,
    vectorised; users whose two rankings are identical cost only the two sorts.

    Parameters
    ----------
    reference_scores, other_scores
        (U, I) arrays (e.g. MF scores and `ldaext_scores`).
    rtol, atol
        Tolerance relative to ``scale`` and absolute.
    scale
        Per-user (U,) or scalar magnitude for ``rtol``; default the largest
        ``|reference score|`` of the user.  For MF vs. transformed scores use
        `score_scale` (the magnitudes entering the rounding).
    chunk_size
        Users processed at once.

    Returns
    -------
    InversionCounts
    """
    ref = _as_f64(reference_scores, "reference_scores", 2)
    other = np.array(other_scores, dtype=np.float64)
    if other.shape != ref.shape:
        raise ValueError(
            f"other_scores has shape {other.shape}, expected {ref.shape} like reference_scores"
        )
    if np.isnan(other).any():
        raise ValueError("other_scores contains NaN")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be >= 0, got rtol={rtol}, atol={atol}")
    n_users, n_items = ref.shape
    if scale is None:
        scale_arr = np.abs(ref).max(axis=1) if n_items else np.zeros(n_users)
    else:
        scale_arr = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n_users,)).copy()
        if not np.all(np.isfinite(scale_arr)) or (scale_arr < 0).any():
            raise ValueError("scale must be finite and non-negative")
    tol = rtol * scale_arr + atol
    tot = np.zeros(n_users, dtype=np.int64)
    real = np.zeros(n_users, dtype=np.int64)
    for start in range(0, n_users, int(chunk_size)):
        sl = slice(start, start + int(chunk_size))
        order_r, _ = _rank_positions(ref[sl])
        _, pos_o = _rank_positions(other[sl])
        o = np.take_along_axis(pos_o, order_r, axis=1)  # other-position, in ref order
        differ = np.flatnonzero((o != np.arange(n_items)[None, :]).any(axis=1))
        if differ.size == 0:
            continue
        o = o[differ]
        r_sorted = np.take_along_axis(ref[sl][differ], order_r[differ], axis=1)
        q_idx = np.broadcast_to(np.arange(n_items), o.shape)
        lim = _real_limits(r_sorted, tol[start + differ])
        t_cnt = _dominance_counts(o, np.ascontiguousarray(q_idx))
        r_cnt = t_cnt.copy()
        near = np.flatnonzero((lim != q_idx).any(axis=1))  # rows with near-ties
        if near.size:
            r_cnt[near] = _dominance_counts(o[near], lim[near])
        tot[start + differ] = t_cnt
        real[start + differ] = r_cnt
    return InversionCounts(
        total=int(tot.sum()),
        float_ties=int((tot - real).sum()),
        real=int(real.sum()),
        per_user_total=tot,
        per_user_real=real,
        tol=tol,
    )
