"""Tests for lda4rec.adjoint: hand-computed cases, properties, a trained MF."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from lda4rec import adjoint as A
from lda4rec.data import Interactions
from lda4rec.metrics import METRIC_NAMES, topk_metrics


# ---------------------------------------------------------------- helpers
def brute_inversions(a, b, tol):
    """O(I^2) reference: pairs ordered differently by the two index-tie-broken rankings."""
    n = a.size
    ra = np.empty(n, int)
    ra[np.argsort(-a, kind="stable")] = np.arange(n)
    rb = np.empty(n, int)
    rb[np.argsort(-b, kind="stable")] = np.arange(n)
    total = real = 0
    for i in range(n):
        for j in range(n):
            if ra[i] < ra[j] and rb[i] > rb[j]:
                total += 1
                real += abs(a[i] - a[j]) > tol
    return total, real


def paper_literal_nmf(w, h, b):
    """The lemma as printed in P1: item-dependent shift s_i = max_k |h_ik|."""
    s_i = np.abs(h).max(axis=1, keepdims=True)  # (I, 1): depends on the item
    w2 = np.concatenate([np.maximum(w, 0), np.maximum(-w, 0)], axis=1)
    h2 = np.concatenate([h + s_i, -h + s_i], axis=1)
    return w2, h2, b + np.abs(b).max()


# ---------------------------------------------------------------- hand-computed
def test_lemma_hand_computed():
    w = np.array([[1.0, -2.0]])
    h = np.array([[1.0, -1.0], [0.0, 3.0]])
    b = np.array([-1.0, 2.0])
    w2, h2, b2 = A.mf_to_nmf(w, h, b)
    # s = (max|h_*0|, max|h_*1|) = (1, 3)
    np.testing.assert_array_equal(w2, [[1, 0, 0, 2]])
    np.testing.assert_array_equal(h2, [[2, 2, 0, 4], [1, 6, 1, 0]])
    np.testing.assert_array_equal(b2, [1, 4])
    # MF scores (2, -4); NMF scores (11, 5) = MF + c with c = 1*1 + 2*3 + 2 = 9
    np.testing.assert_array_equal(A.mf_scores(w, h, b), [[2, -4]])
    np.testing.assert_array_equal(w2 @ h2.T + b2, [[11, 5]])
    np.testing.assert_array_equal(A.score_scale(w, h, b), [9])


def test_theorem_hand_computed():
    # 2 users (the second a zero user), 3 items, 2 cohorts
    w = np.array([[1.0, 2.0], [0.0, 0.0]])
    h = np.array([[1.0, 0.0], [1.0, 2.0], [2.0, 2.0]])
    b = np.array([1.0, 0.0, 1.0])
    p = A.nmf_to_ldaext(w, h, b)
    # column sums (4, 4)
    np.testing.assert_allclose(p.phi, [[1 / 4, 1 / 4, 2 / 4], [0, 2 / 4, 2 / 4]])
    np.testing.assert_allclose(p.delta, [1 / 2, 0, 1 / 2])
    # what_0 = (4, 8), ||what_0|| = 12, lam_0 = 2 / 12
    np.testing.assert_allclose(p.lam, [1 / 6, np.inf])
    np.testing.assert_allclose(p.theta, [[1 / 3, 2 / 3], [1 / 2, 1 / 2]])
    np.testing.assert_allclose(p.norm, [14, 2])
    np.testing.assert_allclose(p.n_cohort, [7 / 6, np.inf])
    np.testing.assert_array_equal(p.kept, [0, 1])
    # NMF scores (2, 5, 7) / 14 and, for the zero user, (1, 0, 1) / 2 = delta
    np.testing.assert_allclose(
        A.ldaext_scores(p), [[2 / 14, 5 / 14, 7 / 14], [1 / 2, 0, 1 / 2]], rtol=1e-15
    )
    np.testing.assert_allclose(A.ldaext_scores(p, [1]), [[1 / 2, 0, 1 / 2]])
    # P1 form: t = (3, 0), v_0 = (1/3, 2/3), n_0 = (4 + 2/3, 4 + 2/3)
    q = A.nmf_to_p1(w, h, b)
    np.testing.assert_allclose(q.t, [3, 0])
    np.testing.assert_allclose(q.n[0], [14 / 3, 14 / 3])
    np.testing.assert_allclose(q.theta[0], [1 / 3, 2 / 3])
    # g_i(0) = (h_i + b_i / 3) / n_0, each column sums to 1
    g0 = q.g(0)
    np.testing.assert_allclose(g0[:, 0], np.array([1 + 1 / 3, 1, 2 + 1 / 3]) / (14 / 3))
    np.testing.assert_allclose(g0.sum(axis=0), [1, 1])
    np.testing.assert_allclose(A.p1_scores(q), A.ldaext_scores(p), rtol=1e-14)


def test_all_zero_column_is_dropped_and_zero_bias():
    w = np.array([[1.0, 5.0, 2.0]])
    h = np.array([[1.0, 0.0, 1.0], [3.0, 0.0, 1.0]])
    b = np.zeros(2)
    p = A.nmf_to_ldaext(w, h, b)
    np.testing.assert_array_equal(p.kept, [0, 2])
    np.testing.assert_array_equal(p.dropped, [1])
    assert p.n_topics == 2 and p.n_dims_in == 3
    np.testing.assert_allclose(p.delta, [1 / 2, 1 / 2])  # ||b|| = 0: uniform, weight 0
    np.testing.assert_array_equal(p.lam, [0.0])
    # scores (1 + 2, 3 + 2) = (3, 5) over norm 4 * 1 + 2 * 2 = 8
    np.testing.assert_allclose(A.ldaext_scores(p), [[3 / 8, 5 / 8]])


def test_user_with_weights_only_on_dropped_columns_ranks_by_delta():
    w = np.array([[0.0, 3.0]])
    h = np.array([[1.0, 0.0], [2.0, 0.0], [0.5, 0.0]])
    b = np.array([0.2, 0.1, 0.7])
    p = A.nmf_to_ldaext(w, h, b)
    assert np.isinf(p.lam[0])
    np.testing.assert_allclose(A.ldaext_scores(p), [b / b.sum()])


def test_printed_item_dependent_shift_breaks_ranking():
    # MF scores (2, -6): item 0 first.  With s_i = max_k |h_ik| (printed P1)
    # item 1 gets + s_1 * ||w||_1 = 12 instead of item 0's 3 and overtakes it.
    w = np.array([[1.0, -2.0]])
    h = np.array([[1.0, -1.0], [0.0, 4.0]])
    b = np.array([-1.0, 2.0])
    x = A.mf_scores(w, h, b)
    w2, h2, b2 = paper_literal_nmf(w, h, b)
    bad = w2 @ h2.T + b2
    np.testing.assert_array_equal(x, [[2, -6]])
    np.testing.assert_array_equal(bad, [[7, 8]])
    assert A.count_inversions(x, bad).real == 1
    # ours keeps the order
    w3, h3, b3 = A.mf_to_nmf(w, h, b)
    assert A.count_inversions(x, w3 @ h3.T + b3).total == 0
    # and on random factors the printed version inverts many pairs, ours none
    gen = np.random.default_rng(0)
    w, h, b = gen.normal(size=(20, 4)), gen.normal(size=(30, 4)), gen.normal(size=30)
    x = A.mf_scores(w, h, b)
    w2, h2, b2 = paper_literal_nmf(w, h, b)
    assert A.count_inversions(x, w2 @ h2.T + b2).real > 100
    assert A.count_inversions(x, A.ldaext_scores(A.mf_to_ldaext(w, h, b)),
                              scale=A.score_scale(w, h, b)).real == 0


# ---------------------------------------------------------------- property test
@st.composite
def factor_cases(draw):
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 12))
    n_dims = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.default_rng(seed)
    scale_w = 10.0 ** draw(st.integers(-3, 3))
    scale_h = 10.0 ** draw(st.integers(-3, 3))
    scale_b = draw(st.sampled_from([0.0, 1e-3, 1.0, 1e3]))
    integer = draw(st.booleans())  # integer factors -> many exact ties
    w = gen.normal(size=(n_users, n_dims)) * scale_w
    h = gen.normal(size=(n_items, n_dims)) * scale_h
    b = gen.normal(size=n_items) * scale_b
    if integer:
        w, h, b = np.round(w), np.round(h), np.round(b)
    if draw(st.booleans()):
        b = -np.abs(b)  # all biases negative
    w[gen.random(n_users) < draw(st.sampled_from([0.0, 0.3]))] = 0.0  # zero user rows
    h[:, gen.random(n_dims) < draw(st.sampled_from([0.0, 0.3]))] = 0.0  # all-zero columns
    if draw(st.booleans()) and n_items > 1:  # duplicated items -> exact ties
        src = gen.integers(0, n_items, size=n_items // 2)
        dst = gen.integers(0, n_items, size=n_items // 2)
        h[dst], b[dst] = h[src], b[src]
    return w, h, b


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=factor_cases(), test_seed=st.integers(0, 2**16))
def test_properties_on_random_factors(case, test_seed):
    w, h, b = case
    n_users, n_items = w.shape[0], h.shape[0]
    x = A.mf_scores(w, h, b)
    c = A.score_scale(w, h, b)
    p = A.mf_to_ldaext(w, h, b)
    s = A.ldaext_scores(p)

    # shapes
    k2 = p.n_topics
    assert p.theta.shape == (n_users, k2) and p.phi.shape == (k2, n_items)
    assert p.delta.shape == (n_items,) and p.lam.shape == (n_users,)
    assert p.n_dims_in == 2 * w.shape[1] and k2 <= 2 * w.shape[1]

    # (2) distributions
    assert (p.theta >= 0).all() and (p.phi >= 0).all() and (p.delta >= 0).all()
    if k2:
        np.testing.assert_allclose(p.theta.sum(axis=1), 1.0, rtol=1e-12)
        np.testing.assert_allclose(p.phi.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(p.delta.sum(), 1.0, rtol=1e-12)
    assert (p.lam >= 0).all()
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-12)

    # (3) identity <theta_u, p_{*i}(u)> = x'_ui / <what_u, n_u>
    w2, h2, b2 = A.mf_to_nmf(w, h, b)
    x2 = w2 @ h2.T + b2
    np.testing.assert_allclose(x2, x + c[:, None], rtol=0, atol=1e-12 * (2 * c.max() + 1e-300))
    np.testing.assert_allclose(
        s * p.norm[:, None], x2, rtol=0, atol=1e-12 * (2 * c.max() + 1e-300)
    )

    # (1) same ranking up to float ties, for LDAext and P1 form
    inv = A.count_inversions(x, s, scale=c)
    note(f"inversions {inv.as_dict()}")
    assert inv.real == 0
    q = A.mf_to_p1(w, h, b)
    s1 = A.p1_scores(q)
    assert A.count_inversions(x, s1, scale=c).real == 0
    np.testing.assert_allclose(s1, s, rtol=1e-11, atol=1e-300)

    # (4) top-k metrics agree on a random test set.  Index-tie-broken metrics
    # must agree for every user whose two rankings are identical (all users
    # when there is no inversion).  mrr_full uses average ranks of *exactly*
    # tied scores: an exact MF tie (e.g. integer factors) is in general only a
    # near-tie after the transform, so it is compared for users without
    # near-ties in their MF scores.
    srt = -np.sort(-x, axis=1)
    near_tie = (np.diff(-srt, axis=1) <= inv.tol[:, None]).any(axis=1) if n_items > 1 else np.zeros(n_users, bool)
    gen = np.random.default_rng(test_seed)
    mask = gen.random((n_users, n_items))
    tp = np.argwhere(mask < 0.4)
    ep = np.argwhere(mask > 0.8)
    if tp.size:
        test = Interactions(tp[:, 0], tp[:, 1], n_users=n_users, n_items=n_items)
        excl = (
            Interactions(ep[:, 0], ep[:, 1], n_users=n_users, n_items=n_items) if ep.size else None
        )
        for k in (1, 3, 10):
            m_mf = topk_metrics(x, test, excl, k=k, per_user=True)
            m_ld = topk_metrics(s, test, excl, k=k, per_user=True)
            uids = m_mf["per_user"]["user_ids"]
            same = inv.per_user_total[uids] == 0
            for name in METRIC_NAMES:
                a, bb = m_mf["per_user"][name], m_ld["per_user"][name]
                ok = same & ~near_tie[uids] if name == "mrr_full" else same
                np.testing.assert_allclose(a[ok], bb[ok], rtol=0, atol=1e-12, err_msg=name)
                if ok.all():
                    assert abs(m_mf[name] - m_ld[name]) <= 1e-12, name


# ---------------------------------------------------------------- count_inversions
@pytest.mark.parametrize("seed", range(8))
def test_count_inversions_against_brute_force(seed):
    gen = np.random.default_rng(seed)
    n_users, n_items = 4, int(gen.integers(1, 40))
    a = np.round(gen.normal(size=(n_users, n_items)), 1)  # exact ties too
    b = a + gen.normal(size=a.shape) * gen.choice([0.0, 0.01, 0.1, 1.0])
    if seed % 2:
        b = np.round(b, 1)
    for atol in (0.0, 0.05, 0.3):
        got = A.count_inversions(a, b, rtol=0.0, atol=atol, chunk_size=3)
        want = [brute_inversions(a[u], b[u], atol) for u in range(n_users)]
        np.testing.assert_array_equal(got.per_user_total, [t for t, _ in want])
        np.testing.assert_array_equal(got.per_user_real, [r for _, r in want])
        assert got.total == sum(t for t, _ in want)
        assert got.float_ties + got.real == got.total


def test_count_inversions_extremes_and_tolerance():
    x = np.arange(10.0)[None, :]
    assert A.count_inversions(x, x).as_dict() == {"total": 0, "float_ties": 0, "real": 0}
    rev = A.count_inversions(x, -x)
    assert rev.total == rev.real == 45  # every pair
    # near-tie: 1.0 vs 1.0 + 1e-15 swapped -> a float tie at rtol 1e-12
    a = np.array([[1.0, 1.0 + 1e-15, 3.0]])
    b = np.array([[2.0, 1.0, 0.0]])  # ranking 0, 1, 2: reverses ref (2, 1, 0)
    r = A.count_inversions(a, b)
    assert (r.total, r.float_ties, r.real) == (3, 1, 2)
    r0 = A.count_inversions(a, b, rtol=0.0)
    assert (r0.total, r0.real) == (3, 3)


def test_count_inversions_validation():
    with pytest.raises(ValueError, match="other_scores"):
        A.count_inversions(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="reference_scores"):
        A.count_inversions(np.array([[np.nan, 1.0]]), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="scale"):
        A.count_inversions(np.zeros((1, 2)), np.zeros((1, 2)), scale=-1.0)
    with pytest.raises(ValueError, match="chunk_size"):
        A.count_inversions(np.zeros((1, 2)), np.zeros((1, 2)), chunk_size=0)
    with pytest.raises(ValueError, match="rtol"):
        A.count_inversions(np.zeros((1, 2)), np.zeros((1, 2)), rtol=-1.0)


# ---------------------------------------------------------------- API details
def test_mapping_access_and_save_load(tmp_path):
    gen = np.random.default_rng(1)
    w, h, b = gen.normal(size=(5, 3)), gen.normal(size=(7, 3)), gen.normal(size=7)
    w[2] = 0
    p = A.mf_to_ldaext(w, h, b)
    assert p["theta"] is p.theta and set(p) >= {"theta", "phi", "delta", "lam"}
    assert dict(p.items())["lam"] is p.lam
    with pytest.raises(KeyError):
        p["nope"]
    path = p.save(tmp_path / "sub" / "ldaext.npz")
    q = A.LDAextParams.load(path)
    for key in ("theta", "phi", "delta", "lam", "norm", "kept"):
        np.testing.assert_array_equal(q[key], p[key])
    assert q.n_dims_in == 6
    np.testing.assert_array_equal(A.ldaext_scores(q), A.ldaext_scores(p))
    np.savez(tmp_path / "bad.npz", theta=np.zeros(2))
    with pytest.raises(ValueError, match="missing"):
        A.LDAextParams.load(tmp_path / "bad.npz")


def test_inputs_not_modified_and_jax_accepted():
    jnp = pytest.importorskip("jax.numpy")
    gen = np.random.default_rng(2)
    w, h, b = gen.normal(size=(3, 2)), gen.normal(size=(4, 2)), gen.normal(size=4)
    w0, h0, b0 = w.copy(), h.copy(), b.copy()
    p = A.mf_to_ldaext(w, h, b)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(h, h0)
    np.testing.assert_array_equal(b, b0)
    pj = A.mf_to_ldaext(jnp.asarray(w, jnp.float32), jnp.asarray(h, jnp.float32), jnp.asarray(b, jnp.float32))
    assert pj.theta.dtype == np.float64
    np.testing.assert_allclose(pj.theta, p.theta, rtol=1e-5)


def test_validation_names_the_argument():
    ok_w, ok_h, ok_b = np.ones((2, 3)), np.ones((4, 3)), np.ones(4)
    with pytest.raises(ValueError, match="w must be 2-dimensional"):
        A.mf_to_ldaext(np.ones(3), ok_h, ok_b)
    with pytest.raises(ValueError, match="latent dimensions"):
        A.mf_to_nmf(np.ones((2, 2)), ok_h, ok_b)
    with pytest.raises(ValueError, match="b has 3 entries"):
        A.mf_to_ldaext(ok_w, ok_h, np.ones(3))
    with pytest.raises(ValueError, match="h contains NaN"):
        A.mf_to_ldaext(ok_w, np.full((4, 3), np.nan), ok_b)
    with pytest.raises(ValueError, match="b must be non-negative"):
        A.nmf_to_ldaext(ok_w, ok_h, -ok_b)
    with pytest.raises(ValueError, match="w must be non-negative"):
        A.nmf_to_p1(-ok_w, ok_h, ok_b)
    with pytest.raises(ValueError, match="user_ids"):
        A.ldaext_scores(A.nmf_to_ldaext(ok_w, ok_h, ok_b), [5])


def test_all_columns_zero():
    w = np.array([[1.0, -1.0]])
    h = np.zeros((3, 2))
    b = np.array([0.5, -0.5, 0.1])
    p = A.mf_to_ldaext(w, h, b)
    assert p.theta.shape == (1, 0) and p.phi.shape == (0, 3)
    assert np.isinf(p.lam[0])
    x = A.mf_scores(w, h, b)
    assert A.count_inversions(x, A.ldaext_scores(p)).total == 0
    assert A.count_inversions(x, A.p1_scores(A.mf_to_p1(w, h, b))).total == 0


# ---------------------------------------------------------------- trained MF
def test_trained_mf_on_movielens_p1_split(data_dir):
    """The notebook's claim on a (briefly) trained MF: same metrics, no real inversions.

    Runs on the data dir's ml-latest-small, else on the copy shipped in the package.
    """
    from lda4rec.data import p1_protocol
    from lda4rec.mf import fit_mf

    if data_dir is not None and not (data_dir / "ml-latest-small").exists():
        data_dir = None  # falls back to the shipped copy

    train, _, test = p1_protocol("movielens-100k", data_dir=data_dir, download=False)
    model = fit_mf(train, 8, loss="bpr-spotlight", n_epochs=2, seed=0, batch_size=256)
    w, h, b = model.factors()
    x = A.mf_scores(w, h, b)
    params = A.mf_to_ldaext(w, h, b)
    s = A.ldaext_scores(params)
    inv = A.count_inversions(x, s, scale=A.score_scale(w, h, b))
    assert inv.real == 0
    m_mf = topk_metrics(x, test, train)
    m_ld = topk_metrics(s, test, train)
    assert m_mf["n_users"] == m_ld["n_users"] > 500
    assert m_mf["prec"] > 0.0  # a real ranking, not an all-zero one
    for name in METRIC_NAMES:
        assert abs(m_mf[name] - m_ld[name]) <= 1e-12, name
