"""Tests for lda4rec.mf: losses, negative sampler, training, persistence."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from lda4rec.data import Interactions
from lda4rec.mf import (
    MFModel,
    Popularity,
    bpr_loss,
    bpr_spotlight_loss,
    fit_mf,
    loss_slope_converged,
    sample_negatives,
)


# ---------------------------------------------------------------- helpers
def planted(n_users=60, n_items=50, n_groups=3, per_user=8, seed=0):
    """Users in groups; each group interacts with its own block of items.

    Every user draws ``per_user`` items from the group's block; the held-out
    test set draws 2 more items from the same block.  A model that learns the
    block structure ranks the test items high; Pop cannot (block sizes equal).
    """
    gen = np.random.default_rng(seed)
    block = n_items // n_groups
    tr_u, tr_i, te_u, te_i = [], [], [], []
    for u in range(n_users):
        g = u % n_groups
        items = gen.choice(np.arange(g * block, (g + 1) * block), per_user + 2, replace=False)
        tr_u += [u] * per_user
        tr_i += items[:per_user].tolist()
        te_u += [u] * 2
        te_i += items[per_user:].tolist()
    train = Interactions(np.array(tr_u), np.array(tr_i), n_users=n_users, n_items=n_items)
    test = Interactions(np.array(te_u), np.array(te_i), n_users=n_users, n_items=n_items)
    return train, test


def prec_at_k(scores, train, test, k=5):
    """Independent Prec@k: per user, top-k of train-excluded scores."""
    s = np.array(scores, dtype=float)
    s[train.user_ids, train.item_ids] = -np.inf
    hits = []
    for u in np.unique(test.user_ids):
        top = np.argsort(-s[u], kind="stable")[:k]
        hits.append(np.isin(top, test.item_ids[test.user_ids == u]).sum() / k)
    return float(np.mean(hits))


# ------------------------------------------------------------------ losses
def test_losses_match_hand_values():
    d = jnp.array([0.0, 1.0, -2.0, 50.0, -50.0])
    # -log sigmoid(d) = log(1 + exp(-d))
    expect_bpr = [math.log(2.0), math.log(1 + math.exp(-1)), math.log(1 + math.exp(2)), 0.0, 50.0]
    np.testing.assert_allclose(np.asarray(bpr_loss(d)), expect_bpr, rtol=1e-6, atol=1e-6)
    # 1 - sigmoid(d) = 1 / (1 + exp(d))
    expect_sp = [0.5, 1 / (1 + math.e), 1 / (1 + math.exp(-2)), 0.0, 1.0]
    np.testing.assert_allclose(np.asarray(bpr_spotlight_loss(d)), expect_sp, rtol=1e-6, atol=1e-7)
    # stability: large negative differences stay finite in gradients too
    g = jax.grad(lambda x: bpr_loss(x).sum())(jnp.array([-1e4, 1e4]))
    np.testing.assert_allclose(np.asarray(g), [-1.0, 0.0], atol=1e-6)


def test_loss_slope_rule():
    assert not loss_slope_converged([1.0] * 9)
    assert loss_slope_converged([1.0] * 10)
    # decreasing by 1e-3 per epoch: mean diff = -1e-3 < -1e-4, keep going
    assert not loss_slope_converged(list(1.0 - 1e-3 * np.arange(12)))
    # decreasing by 5e-5 per epoch: converged
    assert loss_slope_converged(list(1.0 - 5e-5 * np.arange(12)))


# ----------------------------------------------------------------- sampler
def test_sampler_excludes_positives_and_matches_bruteforce(small_interactions):
    tr = small_interactions
    users = np.repeat(np.arange(tr.n_users), 200)
    items, ok = sample_negatives(tr, users, jax.random.PRNGKey(3))
    assert ok.all()
    pos = set(zip(tr.user_ids.tolist(), tr.item_ids.tolist()))
    assert not any((u, i) in pos for u, i in zip(users.tolist(), items.tolist()))
    assert items.min() >= 0 and items.max() < tr.n_items
    # every non-positive item of user 0 is reachable
    got0 = set(items[users == 0].tolist())
    free0 = set(range(tr.n_items)) - {i for u, i in pos if u == 0}
    assert got0 == free0


def test_sampler_is_uniform_over_complement():
    # user 0 has items {1, 2, 5, 6, 7}; complement of size 5 in 10 items
    tr = Interactions([0, 0, 0, 0, 0, 1], [7, 1, 5, 2, 6, 0], n_users=2, n_items=10)
    n = 20000
    items, ok = sample_negatives(tr, np.zeros(n, int), jax.random.PRNGKey(11))
    assert ok.all()
    counts = np.bincount(items, minlength=10)
    assert counts[[1, 2, 5, 6, 7]].sum() == 0
    free = counts[[0, 3, 4, 8, 9]]
    _, p = stats.chisquare(free)
    assert p > 1e-3, (free, p)


def test_sampler_user_with_all_items_does_not_hang():
    n_items = 6
    users = [0] * n_items + [1, 1]
    items = list(range(n_items)) + [0, 3]
    tr = Interactions(users, items, n_users=2, n_items=n_items)
    got, ok = sample_negatives(tr, np.array([0, 0, 1, 1, 1]), 0)
    assert ok.tolist() == [False, False, True, True, True]
    assert set(got[2:].tolist()) <= {1, 2, 4, 5}
    # training drops the full user's pairs instead of hanging
    m = fit_mf(tr, 2, n_epochs=3, batch_size=4, seed=1)
    assert np.isfinite(m.history["loss"]).all()
    assert len(m.history) == 3


def test_uniform_sampling_includes_positives():
    tr = Interactions([0] * 5, [0, 1, 2, 3, 4], n_users=1, n_items=6)
    got, ok = sample_negatives(tr, np.zeros(3000, int), 5, neg_sampling="uniform")
    assert ok.all()
    assert set(got.tolist()) == set(range(6))


# ----------------------------------------------------------------- training
@pytest.mark.parametrize("model", ["mf", "snmf", "nmf"])
def test_training_reduces_loss_and_beats_pop(model):
    train, test = planted()
    lr = 0.05
    m = fit_mf(train, 4, model=model, lr=lr, n_epochs=40, batch_size=32, seed=0)
    loss = m.history["loss"].to_numpy()
    assert loss[-1] < 0.7 * loss[0]
    p_model = prec_at_k(m.scores(), train, test)
    p_pop = prec_at_k(Popularity(train).scores(np.arange(train.n_users)), train, test)
    # chance level: 2 test items among 42 candidates -> Prec@5 ~ 0.048
    assert p_model > max(p_pop, 0.048) + 0.1, (p_model, p_pop)


def test_bpr_spotlight_and_uniform_train():
    train, test = planted(seed=4)
    m = fit_mf(train, 4, loss="bpr-spotlight", neg_sampling="uniform", lr=0.05, n_epochs=40, batch_size=32)
    assert m.history["loss"].iloc[-1] < m.history["loss"].iloc[0]
    assert prec_at_k(m.scores(), train, test) > 0.15


def test_popularity_counts():
    tr = Interactions([0, 1, 1, 2], [2, 2, 0, 2], n_users=3, n_items=4)
    pop = Popularity().fit(tr)
    s = pop.scores([0, 2])
    np.testing.assert_array_equal(s, [[1, 0, 3, 0], [1, 0, 3, 0]])
    np.testing.assert_array_equal(Popularity(tr).scores([1]), [[1, 0, 3, 0]])


def test_seed_reproducible_and_different_seeds_differ(small_interactions):
    kw = dict(n_epochs=3, batch_size=16, lr=0.01)
    a = fit_mf(small_interactions, 3, seed=7, **kw)
    b = fit_mf(small_interactions, 3, seed=7, **kw)
    c = fit_mf(small_interactions, 3, seed=8, **kw)
    for name in ("w", "h", "b"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.allclose(a.w, c.w)


def test_init_scale_and_shapes(small_interactions):
    m = fit_mf(small_interactions, 8, n_epochs=1, lr=1e-8, seed=0)
    assert m.w.shape == (30, 8) and m.h.shape == (40, 8) and m.b.shape == (40,)
    # lr=1e-8: params are still the N(0, 1/K) init, biases ~0
    assert abs(np.std(np.concatenate([m.w.ravel(), m.h.ravel()])) - 1 / 8) < 0.02
    assert np.abs(m.b).max() < 1e-5


def test_factors_reproduce_scores_and_constraints(small_interactions):
    for model in ("mf", "snmf", "nmf"):
        m = fit_mf(small_interactions, 3, model=model, n_epochs=1, lr=0.05, seed=2)
        w, h, b = m.factors()
        assert w.dtype == np.float64
        users = np.array([0, 5, 29])
        np.testing.assert_allclose(m.scores(users), w[users] @ h.T + b, rtol=1e-12)
        # direct formula from the raw parameters
        sig = lambda x: 1 / (1 + np.exp(-x.astype(float)))
        if model == "mf":
            ref = m.w @ m.h.T + m.b
        elif model == "snmf":
            ref = m.w @ sig(m.h).T + m.b
        else:
            ref = sig(m.w) @ sig(m.h).T + sig(m.b)
            assert (w >= 0).all() and (h >= 0).all() and (b >= 0).all()
        if model == "snmf":
            assert (h >= 0).all()
        np.testing.assert_allclose(m.scores(), ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(m.scores(np.arange(30), chunk_size=7), m.scores(), rtol=0)


def test_save_load_round_trip(tmp_path, small_interactions):
    m = fit_mf(small_interactions, 3, model="snmf", n_epochs=2, seed=1)
    m.save(tmp_path / "model")
    back = MFModel.load(tmp_path / "model")
    for name in ("w", "h", "b"):
        np.testing.assert_array_equal(getattr(back, name), getattr(m, name))
    assert back.model == "snmf" and back.loss == "bpr" and back.best_epoch == m.best_epoch
    assert back.config == m.config
    np.testing.assert_allclose(back.history["loss"], m.history["loss"])
    np.testing.assert_array_equal(back.scores([1, 2]), m.scores([1, 2]))
    with pytest.raises(FileNotFoundError, match="params.npz"):
        MFModel.load(tmp_path / "nothing")


def test_early_stopping_keeps_best_epoch():
    train, valid = planted(seed=2)
    m = fit_mf(
        train, 4, lr=0.05, n_epochs=60, batch_size=32, seed=0, valid=valid,
        early_stopping="valid", patience=5, eval_k=5,
    )
    hist = m.history
    best_row = hist["valid_prec"].idxmax()
    assert m.best_epoch == int(hist.loc[best_row, "epoch"])
    # stopped patience epochs after the best (or at n_epochs)
    assert len(hist) == min(60, m.best_epoch + 5)
    # the returned parameters are those of the best epoch: recompute the metric
    assert prec_at_k(m.scores(), train, valid) == pytest.approx(hist["valid_prec"].max(), abs=1e-12)


def test_loss_slope_early_stopping(small_interactions):
    m = fit_mf(small_interactions, 2, lr=0.05, n_epochs=300, batch_size=64, early_stopping="loss-slope")
    losses = m.history["loss"].tolist()
    assert len(losses) < 300
    assert loss_slope_converged(losses) and not loss_slope_converged(losses[:-1])
    assert m.best_epoch == len(losses)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_factors": 0}, "n_factors"),
        ({"lr": 0.0}, "lr"),
        ({"lr": -1.0}, "lr"),
        ({"model": "svd"}, "model"),
        ({"loss": "hinge"}, "loss"),
        ({"neg_sampling": "popular"}, "neg_sampling"),
        ({"batch_size": 0}, "batch_size"),
        ({"early_stopping": "valid"}, "valid"),
        ({"early_stopping": "soon"}, "early_stopping"),
    ],
)
def test_bad_parameters(small_interactions, kwargs, name):
    args = {"n_factors": 2, **kwargs}
    k = args.pop("n_factors")
    with pytest.raises(ValueError, match=name):
        fit_mf(small_interactions, k, **args)


def test_fast_validator_matches_metrics_module():
    metrics = pytest.importorskip("lda4rec.metrics")
    from lda4rec.mf import _TopkValidator

    train, valid = planted(n_users=45, n_items=60, seed=5)
    m = fit_mf(train, 3, lr=0.02, n_epochs=3, batch_size=32, seed=3)
    params = {"w": jnp.asarray(m.w), "h": jnp.asarray(m.h), "b": jnp.asarray(m.b)}
    for k in (1, 5, 10):
        fast = _TopkValidator(valid, train, k, chunk_size=16)(params, "mf")
        ref = metrics.evaluate(m, valid, exclude=train, k=k)
        for name in ("prec", "recall", "mrr", "ndcg", "hitrate"):
            assert fast[name] == pytest.approx(ref[name], abs=1e-9), (k, name)
    # mrr_full selects through lda4rec.metrics.evaluate
    m2 = fit_mf(train, 3, n_epochs=2, valid=valid, eval_metric="mrr_full")
    assert "valid_mrr_full" in m2.history
    with pytest.raises(ValueError, match="eval_metric"):
        fit_mf(train, 3, n_epochs=1, valid=valid, eval_metric="auc")


def test_lazy_adam_equals_dense_when_every_row_is_touched():
    # 4 users x 4 items, every item is a positive of someone, one minibatch
    # holds every pair: each step touches every row -> lazy == dense Adam
    u = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    i = np.array([0, 1, 1, 2, 2, 3, 3, 0])
    tr = Interactions(u, i, n_users=4, n_items=4)
    kw = dict(n_epochs=3, batch_size=8, lr=0.05, seed=4)
    for model in ("nmf",):  # nmf: the sigmoid path through every parameter
        dense = fit_mf(tr, 2, model=model, optimizer="adam", **kw)
        lazy = fit_mf(tr, 2, model=model, optimizer="lazy-adam", **kw)
        for name in ("w", "h", "b"):
            np.testing.assert_allclose(getattr(lazy, name), getattr(dense, name), rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(lazy.history["loss"], dense.history["loss"], rtol=1e-5)


def test_lazy_adam_learns_planted_structure():
    train, test = planted(seed=6)
    m = fit_mf(train, 4, n_epochs=40, lr=0.05, batch_size=32, optimizer="lazy-adam", seed=0)
    assert m.config["optimizer"] == "lazy-adam"
    assert m.history["loss"].iloc[-1] < 0.7 * m.history["loss"].iloc[0]
    assert prec_at_k(m.scores(), train, test) > 0.2


def test_sgd_epoch_equals_hand_computed_per_pair_updates():
    # 2 users x 3 items, each user has 2 positives -> the excluded-negative
    # sampler has a single choice; one minibatch holds all 4 pairs, so the
    # second epoch is one SGD step from the first epoch's parameters:
    #   row -= lr * sum_pairs (d loss_pair / d row + reg * row)
    u = np.array([0, 0, 1, 1])
    i = np.array([0, 1, 1, 2])
    tr = Interactions(u, i, n_users=2, n_items=3)
    neg = {0: 2, 1: 0}
    lr, reg = 0.3, 0.05
    kw = dict(model="mf", loss="bpr", optimizer="sgd", lr=lr, reg=reg, batch_size=4, seed=2)
    one = fit_mf(tr, 2, n_epochs=1, **kw)
    two = fit_mf(tr, 2, n_epochs=2, **kw)
    w, h, b = one.w.astype(np.float64), one.h.astype(np.float64), one.b.astype(np.float64)
    dw, dh, db = np.zeros_like(w), np.zeros_like(h), np.zeros_like(b)
    for uu, ii in zip(u, i):
        jj = neg[uu]
        x = w[uu] @ (h[ii] - h[jj]) + b[ii] - b[jj]
        g = -1.0 / (1.0 + np.exp(x))  # d softplus(-x) / dx
        dw[uu] += g * (h[ii] - h[jj]) + reg * w[uu]
        dh[ii] += g * w[uu] + reg * h[ii]
        dh[jj] += -g * w[uu] + reg * h[jj]
        db[ii] += g + reg * b[ii]
        db[jj] += -g + reg * b[jj]
    np.testing.assert_allclose(two.w, w - lr * dw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(two.h, h - lr * dh, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(two.b, b - lr * db, rtol=1e-5, atol=1e-6)


def test_sgd_learns_planted_structure_and_checks_reg():
    train, test = planted(seed=7)
    m = fit_mf(train, 4, n_epochs=40, lr=0.05, batch_size=64, optimizer="sgd", reg=0.01, seed=0)
    assert m.config["optimizer"] == "sgd" and m.config["reg"] == 0.01
    assert m.history["loss"].iloc[-1] < 0.7 * m.history["loss"].iloc[0]
    assert prec_at_k(m.scores(), train, test) > 0.2
    with pytest.raises(ValueError, match="reg"):
        fit_mf(train, 4, n_epochs=1, reg=0.01)  # Adam has no reg
    with pytest.raises(ValueError, match="reg"):
        fit_mf(train, 4, n_epochs=1, optimizer="sgd", reg=-1.0)
