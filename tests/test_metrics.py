"""Tests for lda4rec.metrics: hand-computed cases and slow reference implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from lda4rec.data import Interactions
from lda4rec.metrics import METRIC_NAMES, evaluate, topk_metrics


def _inter(pairs, n_users, n_items):
    u, i = zip(*pairs)
    return Interactions(np.array(u), np.array(i), n_users=n_users, n_items=n_items)


# ---------------------------------------------------------------- references
def reference_metrics(scores, test, exclude=None, k=10):
    """Slow per-user reference: stable argsort for top-k, rankdata for mrr_full."""
    scores = np.asarray(scores, dtype=np.float64)
    test_sets = [set() for _ in range(test.n_users)]
    for u, i in zip(test.user_ids, test.item_ids):
        test_sets[u].add(int(i))
    excl_sets = [set() for _ in range(test.n_users)]
    if exclude is not None:
        for u, i in zip(exclude.user_ids, exclude.item_ids):
            excl_sets[u].add(int(i))
    rows = {name: [] for name in METRIC_NAMES}
    for u in range(test.n_users):
        if not test_sets[u]:
            continue
        rankable = np.array(
            [i for i in range(test.n_items) if i not in excl_sets[u]], dtype=np.int64
        )
        s = scores[u, rankable]
        ranking = rankable[np.argsort(-s, kind="stable")]
        top = list(ranking[:k])
        hit_ranks = [r + 1 for r, i in enumerate(top) if i in test_sets[u]]
        n_test = len(test_sets[u])
        rows["prec"].append(len(hit_ranks) / k)
        rows["recall"].append(len(hit_ranks) / n_test)
        rows["hitrate"].append(float(bool(hit_ranks)))
        rows["mrr"].append(1.0 / hit_ranks[0] if hit_ranks else 0.0)
        dcg = sum(1.0 / math.log2(r + 1) for r in hit_ranks)
        idcg = sum(1.0 / math.log2(r + 1) for r in range(1, min(n_test, k) + 1))
        rows["ndcg"].append(dcg / idcg)
        avg_ranks = st.rankdata(-s, method="average")
        where = {int(i): r for i, r in zip(rankable, avg_ranks)}
        rows["mrr_full"].append(
            sum(1.0 / where[i] if i in where else 0.0 for i in test_sets[u]) / n_test
        )
    out = {name: float(np.mean(v)) for name, v in rows.items()}
    out["n_users"] = len(rows["prec"])
    return out


def spotlight_style(scores, test, train, k=10):
    """Brute force in the style of Spotlight's precision_recall_score/mrr_score."""
    float_max = np.finfo(np.float64).max
    test_csr, train_csr = test.tocsr(), train.tocsr()
    prec, rec, mrr_k, mrr_full = [], [], [], []
    for u in range(test.n_users):
        targets = test_csr[u].indices
        if not len(targets):
            continue
        pred = -np.asarray(scores[u], dtype=np.float64).copy()
        pred[train_csr[u].indices] = float_max
        top = pred.argsort(kind="stable")[:k]
        hits = np.isin(top, targets)
        prec.append(hits.sum() / k)
        rec.append(hits.sum() / len(targets))
        mrr_k.append(1.0 / (np.flatnonzero(hits)[0] + 1) if hits.any() else 0.0)
        mrr_full.append((1.0 / st.rankdata(pred)[targets]).mean())
    return dict(
        prec=np.mean(prec), recall=np.mean(rec), mrr=np.mean(mrr_k), mrr_full=np.mean(mrr_full)
    )


def random_case(seed, n_users=23, n_items=17, ties=False):
    gen = np.random.default_rng(seed)
    scores = gen.normal(size=(n_users, n_items))
    if ties:
        scores = np.round(scores, 0)  # many exact ties
    mask = gen.random((n_users, n_items))
    train_pairs = np.argwhere(mask < 0.3)
    test_pairs = np.argwhere(mask > 0.85)
    train = Interactions(train_pairs[:, 0], train_pairs[:, 1], n_users=n_users, n_items=n_items)
    test = Interactions(test_pairs[:, 0], test_pairs[:, 1], n_users=n_users, n_items=n_items)
    return scores, train, test


# ---------------------------------------------------------------- hand-computed
def topk_metrics_m(method, *args, **kwargs):
    return topk_metrics(*args, method=method, **kwargs)


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_hand_computed_with_ties_and_exclusion(method):
    # user 0: item 0 excluded; rankable items 1, 2, 3 with scores 1, 1, 0
    #   -> ranking 1, 2, 3 (tie 1/2 broken by index); test {1, 3} at ranks 1 and 3.
    # user 1: ranking 0, 1, 2, 3; test {0} at rank 1.
    # user 2: no test item -> ignored.
    scores = np.array([[1.0, 1.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    test = _inter([(0, 1), (0, 3), (1, 0)], 3, 4)
    excl = _inter([(0, 0), (2, 3)], 3, 4)

    m1 = topk_metrics_m(method, scores, test, excl, k=1)
    assert m1["n_users"] == 2
    assert m1["prec"] == pytest.approx((1 + 1) / 2)
    assert m1["recall"] == pytest.approx((1 / 2 + 1) / 2)
    assert m1["mrr"] == pytest.approx(1.0)
    assert m1["hitrate"] == pytest.approx(1.0)
    assert m1["ndcg"] == pytest.approx(1.0)  # IDCG over min(2, 1) = 1 position
    # full-rank: user 0 has items 1, 2 tied -> average rank 1.5; item 3 rank 3
    assert m1["mrr_full"] == pytest.approx(((1 / 1.5 + 1 / 3) / 2 + 1.0) / 2)

    m3 = topk_metrics_m(method, scores, test, excl, k=3)
    assert m3["prec"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert m3["recall"] == pytest.approx(1.0)
    ndcg_u0 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert m3["ndcg"] == pytest.approx((ndcg_u0 + 1.0) / 2)
    assert m3["mrr_full"] == pytest.approx(m1["mrr_full"])  # no cutoff


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_doc_example_and_miss(method):
    test = _inter([(0, 1)], 1, 3)
    m = topk_metrics_m(method, np.array([[0.9, 0.5, 0.1]]), test, k=2)
    assert (m["prec"], m["recall"], m["mrr"]) == (0.5, 1.0, 0.5)
    assert m["ndcg"] == pytest.approx(1 / math.log2(3))
    m1 = topk_metrics_m(method, np.array([[0.9, 0.5, 0.1]]), test, k=1)
    assert (m1["prec"], m1["recall"], m1["mrr"], m1["hitrate"], m1["ndcg"]) == (0, 0, 0, 0, 0)
    assert m1["mrr_full"] == pytest.approx(0.5)


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_tie_at_topk_boundary_broken_by_index(method):
    # 6 items, scores tie at the k-th position: items 1, 3, 4 all 0.5.
    # ranking: 0 (0.9), 1, 3, 4 (0.5 ties, by index), 5 (0.2), 2 (0.1)
    scores = np.array([[0.9, 0.5, 0.1, 0.5, 0.5, 0.2]] * 3)
    test = _inter([(0, 3), (1, 4), (2, 1)], 3, 6)
    m = topk_metrics_m(method, scores, test, k=3, per_user=True)
    # item 3 at rank 3 (hit), item 4 at rank 4 (miss), item 1 at rank 2 (hit)
    np.testing.assert_allclose(m["per_user"]["mrr"], [1 / 3, 0.0, 1 / 2])
    np.testing.assert_allclose(m["per_user"]["prec"], [1 / 3, 0.0, 1 / 3])
    # full-rank average rank of the tie group {1, 3, 4} is (2 + 3 + 4) / 3 = 3
    np.testing.assert_allclose(m["per_user"]["mrr_full"], [1 / 3] * 3)
    # reversing the index order of a tie changes which item is in the top k
    rev = scores[:, ::-1].copy()
    test_rev = _inter([(0, 5 - 3), (1, 5 - 4), (2, 5 - 1)], 3, 6)
    m_rev = topk_metrics_m(method, rev, test_rev, k=3, per_user=True)
    # new index j = 5 - old index: the tie group {1, 3, 4} becomes {4, 2, 1},
    # ranked 1, 2, 4 by new index, i.e. old items 4, 3, 1 at ranks 2, 3, 4
    np.testing.assert_allclose(m_rev["per_user"]["mrr"], [1 / 3, 1 / 2, 0.0])


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_excluded_test_item_never_hits(method):
    scores = np.array([[5.0, 4.0, 3.0]])
    test = _inter([(0, 0), (0, 2)], 1, 3)
    excl = _inter([(0, 0)], 1, 3)
    m = topk_metrics_m(method, scores, test, excl, k=2)
    # ranking without item 0: 1, 2 -> item 2 at rank 2 is the only hit
    assert m["prec"] == pytest.approx(1 / 2)
    assert m["recall"] == pytest.approx(1 / 2)  # |test_u| = 2 still
    assert m["mrr"] == pytest.approx(1 / 2)
    assert m["mrr_full"] == pytest.approx((0 + 1 / 2) / 2)


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_k_larger_than_rankable_items(method):
    scores = np.array([[0.1, 0.3, 0.2]])
    test = _inter([(0, 0)], 1, 3)
    excl = _inter([(0, 1)], 1, 3)
    m = topk_metrics_m(method, scores, test, excl, k=50)
    # rankable: 2 (0.2), 0 (0.1) -> item 0 at rank 2
    assert m["prec"] == pytest.approx(1 / 50)
    assert m["recall"] == 1.0
    assert m["mrr"] == pytest.approx(0.5)
    assert m["ndcg"] == pytest.approx(1 / math.log2(3))


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_infinite_scores_and_exclusion_order(method):
    # -inf is a legitimate (lowest) score; excluded items never take positions
    scores = np.array([[-np.inf, np.inf, 0.0, -np.inf]])
    test = _inter([(0, 3)], 1, 4)
    excl = _inter([(0, 1)], 1, 4)
    m = topk_metrics_m(method, scores, test, excl, k=3, per_user=True)
    # ranking: 2 (0), 0 (-inf), 3 (-inf, later index) -> rank 3
    assert m["mrr"] == pytest.approx(1 / 3)
    assert m["mrr_full"] == pytest.approx(1 / 2.5)


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_duplicate_test_pairs_count_once(method):
    scores = np.array([[0.3, 0.2, 0.1]])
    dup = Interactions([0, 0, 0], [1, 1, 2], n_users=1, n_items=3)
    m = topk_metrics_m(method, scores, dup, k=1)
    assert m["recall"] == 0.0
    assert m["mrr_full"] == pytest.approx((1 / 2 + 1 / 3) / 2)


# ---------------------------------------------------------------- random cross-checks
@pytest.mark.parametrize("method", ["sort", "compare", None])
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("k", [1, 3, 10, 40])
def test_against_reference(seed, ties, k, method):
    scores, train, test = random_case(seed, ties=ties)
    got = topk_metrics(scores, test, train, k=k, method=method)
    want = reference_metrics(scores, test, train, k=k)
    assert got["n_users"] == want["n_users"]
    for name in METRIC_NAMES:
        assert got[name] == pytest.approx(want[name], rel=1e-12, abs=1e-15), name


@pytest.mark.parametrize("seed", [3, 4])
def test_against_spotlight_style(seed):
    scores, train, test = random_case(seed, n_users=40, n_items=60)
    got = topk_metrics(scores, test, train, k=10)
    want = spotlight_style(scores, test, train, k=10)
    for name in ("prec", "recall", "mrr", "mrr_full"):
        assert got[name] == pytest.approx(want[name], rel=1e-12), name


def test_users_without_test_items_are_ignored():
    scores, train, test = random_case(5)
    m = topk_metrics(scores, test, train, per_user=True)
    has_test = np.unique(test.user_ids)
    np.testing.assert_array_equal(m["per_user"]["user_ids"], has_test)
    assert m["n_users"] == has_test.size
    # changing the scores of users without test items changes nothing
    others = np.setdiff1d(np.arange(test.n_users), has_test)
    scores2 = scores.copy()
    scores2[others] = -scores2[others]
    assert topk_metrics(scores2, test, train) == topk_metrics(scores, test, train)


@pytest.mark.parametrize("chunk_size", [1, 2, 7, 1000])
def test_chunked_equals_unchunked(chunk_size):
    scores, train, test = random_case(6, n_users=31, n_items=25, ties=True)
    full = topk_metrics(scores, test, train, k=5, chunk_size=10_000)
    calls = []

    class Model:
        def scores(self, user_ids):
            calls.append(len(user_ids))
            return scores[user_ids]

    got = evaluate(Model(), test, train, k=5, chunk_size=chunk_size)
    assert max(calls) <= chunk_size
    assert sum(calls) == full["n_users"]  # only users with test items are scored
    for name in METRIC_NAMES:
        assert got[name] == pytest.approx(full[name], rel=1e-14, abs=0), name
    # a plain callable works too
    got2 = evaluate(lambda ids: scores[ids], test, train, k=5, chunk_size=chunk_size)
    assert got2 == got


def test_jax_scores_accepted():
    jnp = pytest.importorskip("jax.numpy")
    scores, train, test = random_case(7)
    got = topk_metrics(jnp.asarray(scores, dtype=jnp.float32), test, train)
    want = topk_metrics(scores.astype(np.float32), test, train)
    assert got == want


# ---------------------------------------------------------------- validation
def test_bad_inputs_raise():
    scores, train, test = random_case(8)
    with pytest.raises(ValueError, match="scores"):
        topk_metrics(scores[:, :-1], test)
    with pytest.raises(ValueError, match="k must"):
        topk_metrics(scores, test, k=0)
    with pytest.raises(ValueError, match="exclude"):
        topk_metrics(scores, test, Interactions([0], [0], n_users=2, n_items=2))
    with pytest.raises(ValueError, match="test"):
        topk_metrics(scores, "not interactions")
    bad = scores.copy()
    bad[np.unique(test.user_ids)[0], 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        topk_metrics(bad, test)
    with pytest.raises(ValueError, match="shape"):
        evaluate(lambda ids: scores[ids][:, :3], test)
    with pytest.raises(ValueError, match="chunk_size"):
        evaluate(lambda ids: scores[ids], test, chunk_size=0)
    with pytest.raises(ValueError, match="method"):
        topk_metrics(scores, test, method="quick")
    with pytest.raises(ValueError, match="model_or_score_fn"):
        evaluate(42, test)


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_against_reference_with_test_items_excluded(method):
    scores, train, test = random_case(9, ties=True)
    # exclude the training items plus every other test pair
    sel = np.arange(len(test)) % 2 == 0
    excl = Interactions(
        np.concatenate([train.user_ids, test.user_ids[sel]]),
        np.concatenate([train.item_ids, test.item_ids[sel]]),
        n_users=test.n_users,
        n_items=test.n_items,
    )
    for k in (2, 10):
        got = topk_metrics(scores, test, excl, k=k, method=method)
        want = reference_metrics(scores, test, excl, k=k)
        for name in METRIC_NAMES:
            assert got[name] == pytest.approx(want[name], rel=1e-12, abs=1e-15), name


@pytest.mark.parametrize("method", ["sort", "compare"])
def test_exclude_list_is_the_union(method):
    # the hand-computed case above, with its exclusion split into two overlapping
    # parts: a list excludes their union, so the metrics are the same
    scores = np.array([[1.0, 1.0, 1.0, 0.0], [3.0, 2.0, 1.0, 0.0], [0.0, 1.0, 2.0, 3.0]])
    test = _inter([(0, 1), (0, 3), (1, 0)], 3, 4)
    whole = _inter([(0, 0), (2, 3)], 3, 4)
    part_a = _inter([(0, 0)], 3, 4)
    part_b = _inter([(2, 3), (0, 0)], 3, 4)
    for k in (1, 3):
        ref = topk_metrics(scores, test, whole, k=k, method=method)
        assert topk_metrics(scores, test, [part_a, part_b], k=k, method=method) == ref
        assert topk_metrics(scores, test, (whole,), k=k, method=method) == ref
    assert topk_metrics(scores, test, [], k=1) == topk_metrics(scores, test, None, k=1)
    # user 0 loses item 1 as well -> ranking 2, 3; test {1, 3}: item 3 at rank 2
    m = topk_metrics(scores, test, [whole, _inter([(0, 1)], 3, 4)], k=1, method=method)
    assert m["prec"] == pytest.approx((0 + 1) / 2)


def test_exclude_list_bad_parts_named():
    scores, train, test = random_case(8)
    with pytest.raises(ValueError, match=r"exclude\[1\]"):
        topk_metrics(scores, test, [train, Interactions([0], [0], n_users=2, n_items=2)])
    with pytest.raises(ValueError, match="list of them"):
        topk_metrics(scores, test, {"train": train})
