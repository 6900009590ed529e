"""Matrix factorization family trained with BPR: MF, SNMF, NMF, and Pop.

The score of item ``i`` for user ``u`` (book/papers.md §1, P1 §4)::

    mf    x_ui = <w_u, h_i> + b_i
    snmf  x_ui = <w_u, sigmoid(h_i)> + b_i                  # h >= 0
    nmf   x_ui = <sigmoid(w_u), sigmoid(h_i)> + sigmoid(b_i)  # all >= 0

Training follows the original (Spotlight-derived) code: every epoch shuffles the
positive (user, item) pairs, draws one uniformly sampled negative item per pair,
and runs Adam over minibatches of (user, positive, negative) triples.  The
shuffle is a numpy permutation on the host (cheap; XLA's sort-based
permutation dominated an epoch on CPU); the rest of the epoch -- negative
sampling and all minibatch updates -- is one jit-compiled function
(``jax.lax.scan`` over the minibatches).  The last,
incomplete minibatch is padded with masked rows of weight 0, so every pair is
used exactly once per epoch.

Losses (``d = x_ui - x_uj``, averaged over the minibatch):

``"bpr"`` (default)
    Rendle's ``-log sigmoid(d)``, computed stably as ``softplus(-d)``.
``"bpr-spotlight"``
    ``1 - sigmoid(d)``, Spotlight's "BPR" and the loss behind P1's published
    numbers.

Negatives (``neg_sampling``):

``"exclude"`` (default)
    uniform over the items the user has *not* interacted with in ``train``.
    Exact and loop-free: draw ``r ~ U{0, ..., I - n_u - 1}`` and map it to the
    ``r``-th non-positive item ``j = r + #{k : p_k - k <= r}`` where ``p_0 < p_1
    < ...`` are the user's sorted positives (a vectorised binary search).
    Pairs of a user who has interacted with *every* item have no negative;
    they are dropped from training (weight 0) instead of hanging the sampler.
``"uniform"``
    uniform over all items, positives included: the original's unchecked
    sampling.

Duplicate (user, item) pairs in ``train`` are merged: each distinct pair is one
positive per epoch.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from .data import Interactions
from .utils import atomic_save_npz, atomic_write_json, atomic_write_text

__all__ = [
    "MODELS",
    "LOSSES",
    "NEG_SAMPLING",
    "Popularity",
    "MFModel",
    "fit_mf",
    "bpr_loss",
    "bpr_spotlight_loss",
    "sample_negatives",
    "loss_slope_converged",
    "OPTIMIZERS",
]

MODELS = ("mf", "snmf", "nmf")
LOSSES = ("bpr", "bpr-spotlight")
NEG_SAMPLING = ("exclude", "uniform")
EARLY_STOPPING = (None, "valid", "loss-slope")
OPTIMIZERS = ("adam", "lazy-adam", "sgd")
_EVAL_METRICS = ("prec", "recall", "mrr", "ndcg", "hitrate", "mrr_full")


# --------------------------------------------------------------------------- Pop
class Popularity:
    """Item popularity baseline: score = number of training interactions.

    ``Popularity(train)`` or ``Popularity().fit(train)``.  The score of an item
    is the same for every user; ties are left to the metric (stable by item
    index in `lda4rec.metrics`).
    """

    def __init__(self, train: Interactions | None = None):
        self.item_counts_: np.ndarray | None = None
        self.n_users: int | None = None
        self.n_items: int | None = None
        if train is not None:
            self.fit(train)

    def fit(self, train: Interactions) -> "Popularity":
        if not isinstance(train, Interactions):
            raise ValueError(f"train must be an Interactions, got {type(train).__name__}")
        self.item_counts_ = train.item_counts().astype(np.float64)
        self.n_users, self.n_items = train.n_users, train.n_items
        return self

    def scores(self, user_ids=None) -> np.ndarray:
        """(len(user_ids), n_items) matrix; every row is the item counts."""
        if self.item_counts_ is None:
            raise ValueError("Popularity is not fitted: call .fit(train) first")
        user_ids = np.arange(self.n_users) if user_ids is None else np.asarray(user_ids)
        return np.broadcast_to(self.item_counts_, (user_ids.size, self.n_items)).copy()

    def __repr__(self) -> str:
        return f"<Popularity n_items={self.n_items}>"


# ------------------------------------------------------------------- scoring
def _effective(params: dict, model: str, xp=jnp):
    """(w, h, b) after the model's sigmoids, so that score = w h^T + b."""
    sig = jax.nn.sigmoid if xp is jnp else _np_sigmoid
    w, h, b = params["w"], params["h"], params["b"]
    if model == "mf":
        return w, h, b
    if model == "snmf":
        return w, sig(h), b
    if model == "nmf":
        return sig(w), sig(h), sig(b)
    raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")


def _np_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _pair_scores(params, u, i, model):
    return _score_rows(params["w"][u], params["h"][i], params["b"][i], model)


def bpr_loss(diff):
    """Rendle's BPR loss ``-log sigmoid(diff)`` per pair, computed stably."""
    return jax.nn.softplus(-diff)


def bpr_spotlight_loss(diff):
    """Spotlight's "BPR" loss ``1 - sigmoid(diff)`` per pair."""
    return 1.0 - jax.nn.sigmoid(diff)


_LOSS_FNS = {"bpr": bpr_loss, "bpr-spotlight": bpr_spotlight_loss}


# -------------------------------------------------------- negative sampling
def _sampler_arrays(csr) -> tuple[np.ndarray, np.ndarray, int]:
    """indptr, shifted sorted positives ``q = p_k - k`` per user, n bisection steps."""
    indptr = csr.indptr.astype(np.int32)
    counts = np.diff(indptr)
    rank = np.arange(csr.indices.size, dtype=np.int64) - np.repeat(indptr[:-1], counts)
    q = (csr.indices.astype(np.int64) - rank).astype(np.int32)
    # one sentinel so that a clipped index is always valid
    q = np.concatenate([q, np.zeros(1, np.int32)])
    n_steps = int(math.ceil(math.log2(int(counts.max(initial=0)) + 1))) + 1
    return indptr, q, n_steps


def _sample_exclude(key, users, indptr, q, n_items: int, n_steps: int):
    """Uniform non-positive item per user in ``users`` (complement-rank trick).

    Returns ``(items, ok)``; ``ok`` is False for users without any non-positive
    item (their ``items`` entry is 0 and must be ignored).
    """
    lo = indptr[users]
    hi = indptr[users + 1]
    n_free = n_items - (hi - lo)
    ok = n_free > 0
    r = jax.random.randint(key, users.shape, 0, jnp.maximum(n_free, 1))

    # count #{k in [lo, hi): q_k <= r} by bisection (q is sorted within a user)
    def body(_, lohi):
        lo_, hi_ = lohi
        mid = (lo_ + hi_) // 2
        go_right = (lo_ < hi_) & (q[jnp.minimum(mid, q.shape[0] - 1)] <= r)
        return (jnp.where(go_right, mid + 1, lo_), jnp.where(go_right | (lo_ >= hi_), hi_, mid))

    end, _ = jax.lax.fori_loop(0, n_steps, body, (lo, hi))
    items = jnp.where(ok, r + (end - lo), 0)
    return items, ok


def sample_negatives(
    train: Interactions, user_ids, key, neg_sampling: str = "exclude"
) -> tuple[np.ndarray, np.ndarray]:
    """One negative item per entry of ``user_ids`` (the sampler `fit_mf` uses).

    Parameters
    ----------
    train
        Interactions whose pairs count as positives.
    user_ids
        (n,) user ids.
    key
        A JAX PRNG key, or an int seed.
    neg_sampling
        ``"exclude"``: uniform over items the user has not interacted with;
        ``"uniform"``: uniform over all items.

    Returns
    -------
    items : (n,) int array
    ok : (n,) bool array -- False where the user has interacted with every
        item (no negative exists; ``items`` is 0 there).
    """
    if neg_sampling not in NEG_SAMPLING:
        raise ValueError(f"unknown neg_sampling {neg_sampling!r}; expected one of {NEG_SAMPLING}")
    if isinstance(key, (int, np.integer)):
        key = jax.random.PRNGKey(int(key))
    users = jnp.asarray(np.asarray(user_ids), dtype=jnp.int32)
    if neg_sampling == "uniform":
        items = jax.random.randint(key, users.shape, 0, train.n_items)
        return np.asarray(items), np.ones(users.shape, bool)
    indptr, q, n_steps = _sampler_arrays(train.tocsr())
    items, ok = jax.jit(_sample_exclude, static_argnums=(4, 5))(
        key, users, jnp.asarray(indptr), jnp.asarray(q), train.n_items, n_steps
    )
    return np.asarray(items), np.asarray(ok)


# ------------------------------------------------------------- the epoch
def _lazy_adam_rows(p, st, g_rows_list, idx_list, lr_t, eps_t, b1, b2):
    """Adam on the rows in ``idx_list`` only ("lazy"/row-sparse Adam).

    Gradients of duplicate rows are summed first (``st["g"]`` is a zero
    accumulator that is cleared again on the touched rows only, so no step
    costs O(rows)).  Out-of-range indices (masked pairs) are dropped.
    """
    acc = st["g"]
    for g_rows, idx in zip(g_rows_list, idx_list):
        acc = acc.at[idx].add(g_rows, mode="drop")
    idx = jnp.concatenate(idx_list)
    g = acc.at[idx].get(mode="clip")
    mom = b1 * st["m"].at[idx].get(mode="clip") + (1 - b1) * g
    vel = b2 * st["v"].at[idx].get(mode="clip") + (1 - b2) * g * g
    new = p.at[idx].get(mode="clip") - lr_t * mom / (jnp.sqrt(vel) + eps_t)
    return p.at[idx].set(new, mode="drop"), {
        "m": st["m"].at[idx].set(mom, mode="drop"),
        "v": st["v"].at[idx].set(vel, mode="drop"),
        "g": acc.at[idx].set(0.0, mode="drop"),
    }


def _score_rows(w, h, b, model):
    if model == "mf":
        return jnp.sum(w * h, axis=-1) + b
    if model == "snmf":
        return jnp.sum(w * jax.nn.sigmoid(h), axis=-1) + b
    return jnp.sum(jax.nn.sigmoid(w) * jax.nn.sigmoid(h), axis=-1) + jax.nn.sigmoid(b)


def _init_opt_state(optimizer: str, lr: float, params):
    if optimizer == "adam":
        opt = optax.adam(lr)
        return opt, opt.init(params)
    if optimizer == "sgd":
        return None, {"t": jnp.zeros((), jnp.int32)}
    zeros = lambda x: jnp.zeros_like(x)
    state = {k: {"m": zeros(v), "v": zeros(v), "g": zeros(v)} for k, v in params.items()}
    state["t"] = jnp.zeros((), jnp.int32)
    return None, state


@lru_cache(maxsize=32)
def _make_epoch_fn(model, loss, neg_sampling, n_users, n_items, n_pairs, batch_size, n_steps, optimizer, lr, reg=0.0):
    """The jitted epoch; cached so that fits with the same shapes and settings
    (e.g. several seeds) compile once."""
    if optimizer == "adam":
        optimizer = optax.adam(lr)
    loss_fn = _LOSS_FNS[loss]
    n_batches = -(-n_pairs // batch_size)
    n_pad = n_batches * batch_size - n_pairs

    def batch_loss(params, u, i, j, m):
        diff = _pair_scores(params, u, i, model) - _pair_scores(params, u, j, model)
        return jnp.sum(m * loss_fn(diff)) / jnp.maximum(jnp.sum(m), 1.0)

    grad_fn = jax.value_and_grad(batch_loss)

    def rows_loss(rows, m):
        wu, hi, hj, bi, bj = rows
        xi = _score_rows(wu, hi, bi, model)
        xj = _score_rows(wu, hj, bj, model)
        return jnp.sum(m * loss_fn(xi - xj)) / jnp.maximum(jnp.sum(m), 1.0)

    rows_grad = jax.value_and_grad(rows_loss)
    b1, b2, eps = 0.9, 0.999, 1e-8

    def lazy_step(carry, batch):
        params, state = carry
        u, i, j, m = batch
        rows = (params["w"][u], params["h"][i], params["h"][j], params["b"][i], params["b"][j])
        value, (gwu, ghi, ghj, gbi, gbj) = rows_grad(rows, m)
        t = state["t"] + 1
        # torch/optax Adam: p -= lr * m_hat / (sqrt(v_hat) + eps)
        #   = p -= lr_t * m / (sqrt(v) + eps * sqrt(1 - b2^t)),  lr_t = lr sqrt(1-b2^t)/(1-b1^t)
        c2 = jnp.sqrt(1 - b2**t)
        lr_t = lr * c2 / (1 - b1**t)
        eps_t = eps * c2
        keep = m > 0
        uu = jnp.where(keep, u, n_users)
        ii = jnp.where(keep, i, n_items)
        jj = jnp.where(keep, j, n_items)
        new_params, new_state = {}, {"t": t}
        for name, grads_, idxs in (
            ("w", [gwu], [uu]), ("h", [ghi, ghj], [ii, jj]), ("b", [gbi, gbj], [ii, jj])
        ):
            new_params[name], new_state[name] = _lazy_adam_rows(
                params[name], state[name], grads_, idxs, lr_t, eps_t, b1, b2
            )
        return (new_params, new_state), (value * jnp.sum(m), jnp.sum(m))

    def sgd_step(carry, batch):
        # row-sparse SGD, one step per pair as implicit's BPR does (its updates
        # are applied pair by pair; here the pairs of a minibatch are applied
        # together, duplicate rows accumulate): for every pair,
        #   row -= lr * (d loss_pair / d row + reg * row)
        params, state = carry
        u, i, j, m = batch
        w, h, b = params["w"], params["h"], params["b"]
        rows = (w[u], h[i], h[j], b[i], b[j])
        value, (gwu, ghi, ghj, gbi, gbj) = rows_grad(rows, m)
        n = jnp.maximum(jnp.sum(m), 1.0)  # rows_loss is a mean: back to per-pair gradients
        keep = (m > 0)[:, None]
        step_ = lambda g, r: jnp.where(keep if g.ndim == 2 else keep[:, 0], -lr * (n * g + reg * r), 0.0)
        w = w.at[u].add(step_(gwu, rows[0]))
        h = h.at[i].add(step_(ghi, rows[1])).at[j].add(step_(ghj, rows[2]))
        b = b.at[i].add(step_(gbi, rows[3])).at[j].add(step_(gbj, rows[4]))
        return ({"w": w, "h": h, "b": b}, {"t": state["t"] + 1}), (value * jnp.sum(m), jnp.sum(m))

    def step(carry, batch):
        params, opt_state = carry
        u, i, j, m = batch
        value, grads = grad_fn(params, u, i, j, m)
        updates, opt_state = optimizer.update(grads, opt_state, params)  # optax Adam
        params = optax.apply_updates(params, updates)
        return (params, opt_state), (value * jnp.sum(m), jnp.sum(m))

    def epoch(params, opt_state, key, u, i, indptr, q):
        # (u, i): the epoch's pairs, already shuffled on the host (a device-side
        # jax.random.permutation is sort-based and cost ~80 % of an ML-1M epoch on CPU)
        k_neg = key
        if neg_sampling == "exclude":
            j, ok = _sample_exclude(k_neg, u, indptr, q, n_items, n_steps)
            m = ok.astype(jnp.float32)
        else:
            j = jax.random.randint(k_neg, u.shape, 0, n_items)
            m = jnp.ones(u.shape, jnp.float32)
        pad = lambda x: jnp.concatenate([x, jnp.zeros((n_pad,), x.dtype)]).reshape(
            n_batches, batch_size
        )
        (params, opt_state), (sums, counts) = jax.lax.scan(
            {"lazy-adam": lazy_step, "sgd": sgd_step}.get(optimizer, step), (params, opt_state), (pad(u), pad(i), pad(j), pad(m))
        )
        return params, opt_state, jnp.sum(sums) / jnp.maximum(jnp.sum(counts), 1.0)

    return jax.jit(epoch)


# ----------------------------------------------------------- evaluation
@partial(jax.jit, static_argnames=("model", "k"))
def _topk_chunk(params, users, ex_rows, ex_items, model: str, k: int):
    w, h, b = _effective(params, model)
    s = w[users] @ h.T + b  # (n, I)
    s = s.at[ex_rows, ex_items].set(-jnp.inf)
    return jax.lax.top_k(s, k)[1]  # ties: lower item index first


class _TopkValidator:
    """Fast per-epoch validation: top-k metrics from a jitted ``lax.top_k``.

    Gives ``prec``, ``recall``, ``hitrate``, ``mrr`` (MRR@k) and ``ndcg`` with
    the conventions of `lda4rec.metrics` (training items excluded, users with
    >= 1 validation item, ties broken by item index) from float32 scores; the
    full-rank ``mrr_full`` needs the whole ranking and is left to
    `lda4rec.metrics.evaluate` (used when ``eval_metric`` asks for it).
    """

    def __init__(self, valid: Interactions, exclude: Interactions, k: int, chunk_size: int = 1024):
        self.k = int(min(k, valid.n_items))
        self.n_items = valid.n_items
        vcsr = valid.tocsr()
        self.users = np.flatnonzero(np.diff(vcsr.indptr) > 0).astype(np.int32)
        self.n_test = np.diff(vcsr.indptr)[self.users].astype(np.float64)
        rows = np.repeat(np.arange(valid.n_users), np.diff(vcsr.indptr))
        self.valid_keys = rows.astype(np.int64) * self.n_items + vcsr.indices
        ecsr = exclude.tocsr()
        self.chunks = []
        for s in range(0, self.users.size, chunk_size):
            uu = self.users[s : s + chunk_size]
            sub = ecsr[uu]
            ex_rows = np.repeat(np.arange(uu.size, dtype=np.int32), np.diff(sub.indptr))
            self.chunks.append((jnp.asarray(uu), jnp.asarray(ex_rows), jnp.asarray(sub.indices.astype(np.int32))))

    def __call__(self, params, model: str) -> dict:
        tops = [np.asarray(_topk_chunk(params, u, r, i, model, self.k)) for u, r, i in self.chunks]
        top = np.concatenate(tops).astype(np.int64)  # (n_users, k)
        keys = self.users[:, None].astype(np.int64) * self.n_items + top
        hit = np.isin(keys, self.valid_keys)
        hits = hit.sum(1)
        ranks = np.arange(1, self.k + 1)
        first = np.where(hit.any(1), hit.argmax(1) + 1, 0)
        ideal = np.cumsum(1.0 / np.log2(ranks + 1.0))
        dcg = (hit / np.log2(ranks + 1.0)).sum(1)
        return {
            "prec": float(np.mean(hits / self.k)),
            "recall": float(np.mean(hits / self.n_test)),
            "mrr": float(np.mean(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0))),
            "ndcg": float(np.mean(dcg / ideal[np.minimum(self.n_test, self.k).astype(int) - 1])),
            "hitrate": float(np.mean(hits > 0)),
        }


def _evaluate(model, test, exclude, k) -> dict:
    from .metrics import evaluate  # noqa: PLC0415  (metrics imports data only)

    return dict(evaluate(model, test, exclude=exclude, k=k))


# ------------------------------------------------------------------ model
@dataclass
class MFModel:
    """A trained MF/SNMF/NMF model.

    Attributes
    ----------
    w : (n_users, K) ndarray -- raw user embeddings (before any sigmoid)
    h : (n_items, K) ndarray -- raw item embeddings
    b : (n_items,) ndarray   -- raw item biases
    model, loss : str
    config : dict            -- all `fit_mf` arguments
    history : pandas.DataFrame -- per epoch: ``epoch, loss, time_s`` (wall),
        ``cpu_s`` (process CPU time, all threads) and
        ``valid_<metric>`` columns when a validation set was given
    best_epoch : int         -- epoch (1-based) whose parameters these are
    """

    w: np.ndarray
    h: np.ndarray
    b: np.ndarray
    model: str = "mf"
    loss: str = "bpr"
    config: dict = field(default_factory=dict)
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    best_epoch: int = 0

    @property
    def n_users(self) -> int:
        return int(self.w.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.h.shape[0])

    @property
    def n_factors(self) -> int:
        return int(self.w.shape[1])

    def factors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Effective float64 ``(w, h, b)`` with ``scores = w @ h.T + b``.

        The model's sigmoids are applied (``snmf``: ``h``; ``nmf``: ``w``,
        ``h``, ``b``, all >= 0).  This is what the adjoint transform consumes.
        """
        params = {k: np.asarray(getattr(self, k), np.float64) for k in ("w", "h", "b")}
        w, h, b = _effective(params, self.model, xp=np)
        return np.asarray(w, np.float64), np.asarray(h, np.float64), np.asarray(b, np.float64)

    def scores(self, user_ids=None, chunk_size: int = 4096) -> np.ndarray:
        """(len(user_ids), n_items) float64 scores, computed in user chunks."""
        w, h, b = self.factors()
        user_ids = np.arange(self.n_users) if user_ids is None else np.asarray(user_ids)
        if user_ids.ndim != 1:
            raise ValueError(f"user_ids must be one-dimensional, got shape {user_ids.shape}")
        out = np.empty((user_ids.size, self.n_items), np.float64)
        for s in range(0, user_ids.size, chunk_size):
            out[s : s + chunk_size] = w[user_ids[s : s + chunk_size]] @ h.T + b
        return out

    # --------------------------------------------------------- persistence
    def save(self, path) -> Path:
        """Write ``path/params.npz``, ``path/config.json`` and ``path/history.csv``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        atomic_save_npz(path / "params.npz", w=self.w, h=self.h, b=self.b)
        atomic_write_json(
            path / "config.json",
            {"model": self.model, "loss": self.loss, "best_epoch": self.best_epoch, "config": self.config},
        )
        atomic_write_text(path / "history.csv", self.history.to_csv(index=False))
        return path

    @classmethod
    def load(cls, path) -> "MFModel":
        path = Path(path)
        for name in ("params.npz", "config.json"):
            if not (path / name).is_file():
                raise FileNotFoundError(f"{path / name} not found: not a saved MFModel")
        with np.load(path / "params.npz") as f:
            w, h, b = f["w"], f["h"], f["b"]
        meta = json.loads((path / "config.json").read_text())
        hist_path = path / "history.csv"
        history = pd.read_csv(hist_path) if hist_path.is_file() and hist_path.stat().st_size > 1 else pd.DataFrame()
        return cls(
            w=w, h=h, b=b, model=meta["model"], loss=meta["loss"],
            config=meta.get("config", {}), history=history, best_epoch=int(meta.get("best_epoch", 0)),
        )

    def __repr__(self) -> str:
        return (
            f"<MFModel {self.model} K={self.n_factors} loss={self.loss} "
            f"{self.n_users}x{self.n_items} best_epoch={self.best_epoch}>"
        )


# -------------------------------------------------------------------- fit
def _check(cond: bool, msg: str):
    if not cond:
        raise ValueError(msg)


def loss_slope_converged(losses: Sequence[float], window: int = 10, tol: float = -1e-4) -> bool:
    """The original's stop rule: mean of the differences of the last ``window``
    epoch losses ``>= tol`` (needs at least ``window`` losses)."""
    if len(losses) < window:
        return False
    return bool(np.mean(np.diff(np.asarray(losses[-window:], np.float64))) >= tol)


def fit_mf(
    train: Interactions,
    n_factors: int,
    *,
    model: str = "mf",
    loss: str = "bpr",
    lr: float = 1e-3,
    batch_size: int = 128,
    n_epochs: int = 100,
    seed: int = 0,
    neg_sampling: str = "exclude",
    valid: Interactions | None = None,
    early_stopping: str | None = None,
    patience: int = 10,
    eval_k: int = 10,
    eval_metric: str = "prec",
    eval_every: int = 1,
    slope_window: int = 10,
    slope_tol: float = -1e-4,
    init_std: float | None = None,
    optimizer: str = "adam",
    reg: float = 0.0,
    verbose: bool = False,
    callback: Callable[[int, dict], Any] | None = None,
) -> MFModel:
    """Fit MF / SNMF / NMF with BPR, Adam and sampled negatives.

    Parameters
    ----------
    train : Interactions
        Positive (user, item) pairs; duplicates are merged.
    n_factors : int
        Number of latent dimensions K (>= 1).
    model : {"mf", "snmf", "nmf"}
    loss : {"bpr", "bpr-spotlight"}
        ``"bpr"`` = ``-log sigmoid(x_ui - x_uj)``; ``"bpr-spotlight"`` =
        ``1 - sigmoid(x_ui - x_uj)`` (P1's published numbers).
    lr : float
        Step size: Adam's learning rate (optax.adam, eps 1e-8 as in PyTorch) or SGD's.
    batch_size : int
        Triples per minibatch.  The last minibatch is padded with masked rows.
    n_epochs : int
        Maximum number of epochs.
    seed : int
        All randomness is derived from it: ``PRNGKey(seed)`` split into an
        init key and a training key (negatives), folded in with the epoch
        number; the shuffle uses a numpy stream from a ``SeedSequence(seed)``
        child.  Same seed, same data -> identical parameters.
    neg_sampling : {"exclude", "uniform"}
        See the module docstring.
    valid : Interactions, optional
        Evaluated (train items excluded) every ``eval_every`` epochs; the
        metrics go to ``history`` as ``valid_<name>``.  Top-k metrics
        (``prec``, ``recall``, ``mrr`` = MRR@k, ``ndcg``, ``hitrate``) come
        from a fast jitted top-k with the conventions of `lda4rec.metrics`
        (checked against it in the tests); ``eval_metric="mrr_full"`` uses
        `lda4rec.metrics.evaluate` itself (slower: full ranking).
    eval_k, eval_metric
        Cutoff and the metric that selects the best epoch (higher is better).
    early_stopping : {None, "valid", "loss-slope"}
        ``"valid"``: keep the parameters of the epoch with the best
        ``valid_<eval_metric>`` at ``eval_k`` and stop after ``patience``
        epochs without improvement (needs ``valid``).  ``"loss-slope"``: the
        original's rule -- stop when the mean of the differences of the last
        ``slope_window`` epoch losses is ``>= slope_tol``; keeps the last
        parameters.  ``None``: run all ``n_epochs``; if ``valid`` is given the
        best-validation parameters are still kept.
    init_std : float, optional
        Std of the normal init of ``w`` and ``h``; default ``1/K`` (Spotlight's
        ScaledEmbedding).  Biases start at 0.
    optimizer : {"adam", "lazy-adam"}
        ``"adam"``: dense Adam (optax; every parameter row moves every step
        through its moments, as PyTorch's Adam in the original code).
        ``"lazy-adam"``: row-sparse Adam -- only the rows of the users and
        items in the minibatch are updated (moments and parameters), with the
        global step count for bias correction (like ``torch.optim.SparseAdam``
        / TF's LazyAdam).  Same result as ``"adam"`` when every row occurs in
        every minibatch; much cheaper per step on large catalogues.
        ``"sgd"``: row-sparse plain SGD with per-pair gradients (the loss is
        summed, not averaged, over the minibatch), as implicit's BPR: each
        pair moves its user and item rows by ``lr`` times its own gradient
        plus ``reg`` times the row.  Use a larger ``lr`` (~0.05) and a large
        ``batch_size`` (~1024); the cheapest epochs.
    reg : float
        L2 penalty applied to the touched rows by ``optimizer="sgd"`` (as
        implicit's ``regularization``); must be 0 for the Adam optimizers.
    verbose : bool
        Print one line per epoch.
    callback : callable, optional
        ``callback(epoch, row)`` after each epoch with the history row.

    Returns
    -------
    MFModel

    Raises
    ------
    ValueError
        On a bad parameter (the message names it).
    """
    _check(isinstance(train, Interactions), f"train must be an Interactions, got {type(train).__name__}")
    _check(isinstance(n_factors, (int, np.integer)) and n_factors >= 1, f"n_factors must be an integer >= 1, got {n_factors!r}")
    _check(model in MODELS, f"unknown model {model!r}; expected one of {MODELS}")
    _check(loss in LOSSES, f"unknown loss {loss!r}; expected one of {LOSSES}")
    _check(neg_sampling in NEG_SAMPLING, f"unknown neg_sampling {neg_sampling!r}; expected one of {NEG_SAMPLING}")
    _check(np.isfinite(lr) and lr > 0, f"lr must be > 0, got {lr!r}")
    _check(isinstance(batch_size, (int, np.integer)) and batch_size >= 1, f"batch_size must be an integer >= 1, got {batch_size!r}")
    _check(isinstance(n_epochs, (int, np.integer)) and n_epochs >= 1, f"n_epochs must be an integer >= 1, got {n_epochs!r}")
    _check(early_stopping in EARLY_STOPPING, f"unknown early_stopping {early_stopping!r}; expected one of {EARLY_STOPPING}")
    _check(early_stopping != "valid" or valid is not None, "early_stopping='valid' needs a valid set (parameter valid)")
    _check(isinstance(patience, (int, np.integer)) and patience >= 1, f"patience must be an integer >= 1, got {patience!r}")
    _check(isinstance(eval_every, (int, np.integer)) and eval_every >= 1, f"eval_every must be an integer >= 1, got {eval_every!r}")
    _check(isinstance(eval_k, (int, np.integer)) and eval_k >= 1, f"eval_k must be an integer >= 1, got {eval_k!r}")
    _check(eval_metric in _EVAL_METRICS, f"unknown eval_metric {eval_metric!r}; expected one of {_EVAL_METRICS}")
    _check(optimizer in OPTIMIZERS, f"unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}")
    _check(np.isfinite(reg) and reg >= 0, f"reg must be >= 0, got {reg!r}")
    _check(reg == 0 or optimizer == "sgd", f"reg={reg!r} is only used by optimizer='sgd' (got optimizer={optimizer!r})")
    _check(init_std is None or init_std > 0, f"init_std must be > 0, got {init_std!r}")
    if valid is not None:
        _check(isinstance(valid, Interactions), "valid must be an Interactions")
        _check(valid.shape == train.shape, f"valid has shape {valid.shape}, train {train.shape}: they must share the id spaces")
    config = dict(
        n_factors=int(n_factors), model=model, loss=loss, lr=float(lr), batch_size=int(batch_size),
        n_epochs=int(n_epochs), seed=int(seed), neg_sampling=neg_sampling,
        early_stopping=early_stopping, patience=int(patience), eval_k=int(eval_k),
        eval_metric=eval_metric, eval_every=int(eval_every), slope_window=int(slope_window),
        slope_tol=float(slope_tol), optimizer=optimizer, reg=float(reg), init_std=None if init_std is None else float(init_std),
    )

    n_users, n_items, K = train.n_users, train.n_items, int(n_factors)
    csr = train.tocsr()
    indptr, q, n_steps = _sampler_arrays(csr)
    pair_u = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(csr.indptr))
    pair_i = csr.indices.astype(np.int32)
    if neg_sampling == "exclude":
        # a user with every item has no negative: drop their pairs
        keep = np.diff(csr.indptr)[pair_u] < n_items
        pair_u, pair_i = pair_u[keep], pair_i[keep]
    _check(pair_u.size > 0, "train has no pair with a possible negative item (every user has every item)")

    key_init, key_train = jax.random.split(jax.random.PRNGKey(int(seed)))
    kw, kh = jax.random.split(key_init)
    std = 1.0 / K if init_std is None else float(init_std)
    params = {
        "w": std * jax.random.normal(kw, (n_users, K), jnp.float32),
        "h": std * jax.random.normal(kh, (n_items, K), jnp.float32),
        "b": jnp.zeros((n_items,), jnp.float32),
    }
    _, opt_state = _init_opt_state(optimizer, float(lr), params)
    epoch_fn = _make_epoch_fn(
        model, loss, neg_sampling, int(n_users), int(n_items), int(pair_u.size), int(batch_size),
        int(n_steps), optimizer, float(lr), float(reg),
    )
    sampler_args = (jnp.asarray(indptr), jnp.asarray(q))
    # the epoch's shuffle: a numpy stream derived from the seed (SeedSequence child)
    shuffle_rng = np.random.default_rng(np.random.SeedSequence(int(seed)).spawn(1)[0])

    fast_eval = eval_metric in ("prec", "recall", "mrr", "ndcg", "hitrate")
    validator = _TopkValidator(valid, train, int(eval_k)) if valid is not None and fast_eval else None
    rows: list[dict] = []
    losses: list[float] = []
    best = {"score": -np.inf, "epoch": 0, "params": params}
    for epoch in range(1, int(n_epochs) + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        perm = shuffle_rng.permutation(pair_u.size)
        params, opt_state, ep_loss = epoch_fn(
            params, opt_state, jax.random.fold_in(key_train, epoch), pair_u[perm], pair_i[perm], *sampler_args
        )
        ep_loss = float(ep_loss)  # blocks until the epoch is done
        row = {"epoch": epoch, "loss": ep_loss, "time_s": time.perf_counter() - t0,
               "cpu_s": time.process_time() - c0}
        losses.append(ep_loss)
        if not np.isfinite(ep_loss):
            raise FloatingPointError(f"loss is {ep_loss} at epoch {epoch}; lower lr")
        stop = False
        if valid is not None and (epoch % eval_every == 0 or epoch == n_epochs):
            if validator is not None:
                metrics = validator(params, model)
            else:
                metrics = _evaluate(_to_model(params, model, loss, config, epoch), valid, train, int(eval_k))
            row.update({f"valid_{k}": v for k, v in metrics.items() if k != "n_users"})
            if eval_metric not in metrics:
                raise ValueError(f"eval_metric {eval_metric!r} not among {sorted(metrics)}")
            if metrics[eval_metric] > best["score"]:
                best = {"score": metrics[eval_metric], "epoch": epoch, "params": params}
            if early_stopping == "valid" and epoch - best["epoch"] >= patience:
                stop = True
        if early_stopping == "loss-slope" and loss_slope_converged(losses, slope_window, slope_tol):
            stop = True
        rows.append(row)
        if verbose:
            print(" ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
        if callback is not None:
            callback(epoch, row)
        if stop:
            break

    if valid is not None and early_stopping != "loss-slope":
        params, best_epoch = best["params"], best["epoch"]
    else:
        best_epoch = rows[-1]["epoch"]
    out = _to_model(params, model, loss, config, best_epoch)
    out.history = pd.DataFrame(rows)
    return out


def _to_model(params, model, loss, config, epoch) -> MFModel:
    return MFModel(
        w=np.asarray(params["w"]), h=np.asarray(params["h"]), b=np.asarray(params["b"]),
        model=model, loss=loss, config=dict(config), best_epoch=int(epoch),
    )
