"""Tests for lda4rec.interpret: statistics by hand, experiments on synthetic LDAext data."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from lda4rec.data import Interactions
from lda4rec import interpret as it


# ----------------------------------------------------------------- helpers
def tau_c_bruteforce(x, y):
    """tau_c = 2 (P - Q) / (n^2 (m - 1) / m), O(n^2) over all pairs."""
    x, y = list(x), list(y)
    n = len(x)
    conc = disc = 0
    for i, j in itertools.combinations(range(n), 2):
        s = np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])
        conc += s > 0
        disc += s < 0
    m = min(len(set(x)), len(set(y)))
    return 2.0 * (conc - disc) / (n**2 * (m - 1) / m)


def make_ldaext(n_users=300, n_cohorts=6, n_items=150, n_per_user=30, seed=0):
    """LDAext parameters and interactions sampled from them (the generative story).

    theta_u ~ Dir(0.5) on a random half of the cohorts (the rest exactly 0, as
    the MF -> LDAext split produces), phi_k ~ Dir(0.1), delta ~ Dir(0.3),
    lam_u ~ LogNormal(0, 0.7); I_u = n_per_user distinct draws from
    p(u) = sum_k theta_uk (phi_k + lam_u delta) / (1 + lam_u).
    """
    g = np.random.default_rng(seed)
    theta = np.zeros((n_users, n_cohorts))
    for u in range(n_users):
        support = g.choice(n_cohorts, size=n_cohorts // 2, replace=False)
        theta[u, support] = g.dirichlet(np.full(support.size, 0.5))
    phi = g.dirichlet(np.full(n_items, 0.1), size=n_cohorts)
    phi = (phi + 1e-12) / (phi + 1e-12).sum(axis=1, keepdims=True)  # no exact zeros
    delta = g.dirichlet(np.full(n_items, 0.3))
    lam = g.lognormal(0.0, 0.7, size=n_users)
    users, items = [], []
    for u in range(n_users):
        p = theta[u] @ ((phi + lam[u] * delta) / (1.0 + lam[u]))
        chosen = g.choice(n_items, size=n_per_user, replace=False, p=p / p.sum())
        users.extend([u] * n_per_user)
        items.extend(chosen)
    inter = Interactions(np.array(users), np.array(items), n_users=n_users, n_items=n_items)
    params = dict(theta=theta, phi=phi, delta=delta, lam=lam)
    return params, inter


def split_inter(inter, n_test, seed):
    g = np.random.default_rng(seed)
    is_test = np.zeros(len(inter), dtype=bool)
    for u in range(inter.n_users):
        idx = np.flatnonzero(inter.user_ids == u)
        is_test[g.choice(idx, size=min(n_test, idx.size), replace=False)] = True
    return inter.subset(~is_test), inter.subset(is_test)


@pytest.fixture(scope="module")
def synthetic():
    params, inter = make_ldaext()
    train, test = split_inter(inter, n_test=10, seed=1)
    return params, train, test


# ----------------------------------------------------- statistics by hand
def test_cohen_d_paired_by_hand_with_ties():
    x = [1.0, 2.0, 2.0, 3.0]
    y = [1.0, 1.0, 2.0, 2.0]
    # mean(x - y) = 0.5; var_x = 2/3, var_y = 1/3 (ddof=1); pooled = sqrt(1/2)
    assert it.cohen_d_paired(x, y) == pytest.approx(0.5 / math.sqrt(0.5), rel=1e-12)
    # d_av is antisymmetric and not d_z (= 0.5 / sd(diff) = 0.5 / sqrt(1/3))
    assert it.cohen_d_paired(y, x) == pytest.approx(-0.5 / math.sqrt(0.5), rel=1e-12)
    assert it.cohen_d_paired(x, y) != pytest.approx(0.5 / math.sqrt(1 / 3))


def test_cohen_d_paired_degenerate_and_bad_input():
    assert math.isnan(it.cohen_d_paired([1, 1, 1], [1, 1, 1]))
    assert it.cohen_d_paired([2, 2], [1, 1]) == math.inf
    with pytest.raises(ValueError, match="at least 2"):
        it.cohen_d_paired([1.0], [2.0])
    with pytest.raises(ValueError, match="equal length"):
        it.cohen_d_paired([1.0, 2.0], [2.0])
    with pytest.raises(ValueError, match="finite"):
        it.cohen_d_paired([1.0, np.inf], [2.0, 1.0])


def test_kendall_tau_c_by_hand_with_ties():
    # pairs: (0,1) tie in y, (0,2) C, (0,3) C, (1,2) tie in x, (1,3) C, (2,3) tie in y
    # P = 3, Q = 0, n = 4, m = min(3, 2) = 2 -> tau_c = 2*3 / (16 * 1/2) = 0.75
    tau, p = it.kendall_tau_c([1, 2, 2, 3], [1, 1, 2, 2])
    assert tau == pytest.approx(0.75, rel=1e-12)
    assert 0 < p < 1
    # one discordant pair: x = [1,2,3,3,4], y = [2,1,3,3,5]
    # pairs: (0,1) D; (2,3) tie; all other 8 pairs concordant -> P=8, Q=1
    # n = 5, m = min(4, 4) = 4 -> tau_c = 2*7 / (25 * 3/4) = 14 / 18.75
    tau, _ = it.kendall_tau_c([1, 2, 3, 3, 4], [2, 1, 3, 3, 5])
    assert tau == pytest.approx(14 / 18.75, rel=1e-12)


def test_kendall_tau_c_matches_bruteforce_on_tied_data():
    g = np.random.default_rng(7)
    for _ in range(5):
        n = int(g.integers(5, 40))
        x = g.integers(0, 4, size=n)
        y = x + g.integers(-2, 3, size=n)
        tau, _ = it.kendall_tau_c(x, y)
        assert tau == pytest.approx(tau_c_bruteforce(x, y), rel=1e-10, abs=1e-12)


# -------------------------------------------------- experiment 1 by hand
def test_cohort_allocation_by_hand_and_skips():
    # K = 3 cohorts, I = 4 items
    phi = np.array(
        [
            [0.4, 0.3, 0.2, 0.1],
            [0.1, 0.2, 0.3, 0.4],
            [0.5, 0.5, 0.0, 0.0],  # zeros -> log phi = -inf
        ]
    )
    theta = np.array(
        [
            [0.9, 0.1, 0.0],  # k_max 0, zero cohort 2 only: s_min = -inf (has item 2)
            [0.0, 1.0, 0.0],  # k_max 1, zero cohorts {0, 2}
            [0.2, 0.3, 0.5],  # no zero cohort -> skipped
            [0.0, 0.6, 0.4],  # k_max 1, zero cohort 0 only
            [0.7, 0.0, 0.3],  # k_max 0, zero cohort 1 only
            [0.6, 0.0, 0.4],  # no items -> skipped
        ]
    )
    params = dict(theta=theta, phi=phi, delta=np.full(4, 0.25), lam=np.ones(6))
    users = [0, 0, 1, 1, 2, 3, 3, 4, 4]
    items = [0, 2, 2, 3, 0, 3, 1, 0, 1]
    inter = Interactions(users, items, n_users=6, n_items=4)
    # user 1 draws k_min from {0, 2}; fix it to 0 so the numbers are known
    k_min = np.array([2, 0, -1, 0, 1, 1])
    df = it.cohort_allocation(params, inter, k_min=k_min, split="train")
    row = df.iloc[0]
    # user 1: s_max = log .3 + log .4, s_min = log .2 + log .1
    # user 3: s_max = log .4 + log .2, s_min = log .1 + log .3
    # user 4: s_max = log .4 + log .3, s_min = log .1 + log .2
    s_max = np.log([0.3 * 0.4, 0.4 * 0.2, 0.4 * 0.3])
    s_min = np.log([0.2 * 0.1, 0.1 * 0.3, 0.1 * 0.2])
    diff = s_max - s_min
    t_hand = diff.mean() / (diff.std(ddof=1) / math.sqrt(3))
    assert row["n"] == 3
    assert row["statistic"] == pytest.approx(t_hand, rel=1e-10)
    assert row["pvalue"] == pytest.approx(stats.t.sf(t_hand, df=2), rel=1e-10)
    d_hand = diff.mean() / math.sqrt((s_max.var(ddof=1) + s_min.var(ddof=1)) / 2)
    assert row["effect"] == pytest.approx(d_hand, rel=1e-10)
    assert row["mean_x"] == pytest.approx(s_max.mean())
    # skips: user 5 (no items), user 2 (no zero cohort), user 0 (-inf)
    assert row["skipped"] == 3
    assert row["n_no_zero"] == 1 and row["n_neg_inf"] == 1
    assert "1 users without a zero cohort" in row["skipped_reason"]
    assert "1 users without items in split" in row["skipped_reason"]

    # the original code's convention keeps user 0 with s_min = -1e16
    orig = it.cohort_allocation(params, inter, k_min=k_min, neg_inf="original").iloc[0]
    assert orig["n"] == 4 and orig["skipped"] == 2
    x = np.append(s_max, np.log(0.4 * 0.2))
    y = np.append(s_min, -1e16)
    assert orig["effect"] == pytest.approx(it.cohen_d_paired(x, y), rel=1e-9)


def test_random_zero_cohort_is_uniform_among_zeros():
    theta = np.tile([0.0, 0.5, 0.0, 0.5, 0.0], (6000, 1))
    k = it._random_zero_cohort(theta, np.random.default_rng(3), chunk=1000)
    assert set(np.unique(k)) == {0, 2, 4}
    freq = np.bincount(k, minlength=5)[[0, 2, 4]] / k.size
    assert np.all(np.abs(freq - 1 / 3) < 0.03)
    assert it._random_zero_cohort(np.array([[0.5, 0.5]]), np.random.default_rng(0))[0] == -1


# ----------------------------------------------- experiments on synthetic
def test_cohort_allocation_positive_on_generated_data(synthetic):
    params, train, test = synthetic
    for split, inter in (("train", train), ("test", test)):
        row = it.cohort_allocation(params, inter, seed=0, split=split).iloc[0]
        assert row["n"] == 300 and row["skipped"] == 0
        assert row["effect"] > 0.5, row
        assert row["pvalue"] < 1e-10


def test_cohort_allocation_near_zero_for_unrelated_theta(synthetic):
    params, train, _ = synthetic
    g = np.random.default_rng(11)
    fake = dict(params)
    fake["theta"] = g.permutation(params["theta"])  # theta of other users
    row = it.cohort_allocation(fake, train, seed=0).iloc[0]
    assert abs(row["effect"]) < 0.2


def test_popularity_ranking_positive_when_items_follow_delta(synthetic):
    params, train, test = synthetic
    row = it.popularity_ranking(params, train).iloc[0]
    pop = np.bincount(train.item_ids, minlength=train.n_items)
    assert row["n"] == train.n_items
    assert row["statistic"] == pytest.approx(tau_c_bruteforce(params["delta"], pop), rel=1e-9)
    assert row["statistic"] > 0.3 and row["pvalue"] < 1e-6
    # a delta unrelated to the data gives tau_c near 0
    fake = dict(params, delta=np.random.default_rng(5).permutation(params["delta"]))
    assert abs(it.popularity_ranking(fake, train).iloc[0]["statistic"]) < 0.15


def test_item_popularity_counts_distinct_users():
    inter = Interactions([0, 0, 1, 2, 2], [1, 1, 1, 0, 1], n_users=3, n_items=3)
    assert it.item_popularity(inter).tolist() == [1, 3, 0]


def test_conformity_ranking_positive_and_by_hand(synthetic):
    params, train, _ = synthetic
    row = it.conformity_ranking(params, train).iloc[0]
    assert row["n"] == 300 and row["skipped"] == 0
    assert row["statistic"] > 0.2 and row["pvalue"] < 1e-6
    # lam' by hand for the tau_c cross-check
    lam_prime = [
        params["delta"][np.unique(train.item_ids[train.user_ids == u])].mean()
        for u in range(train.n_users)
    ]
    assert row["statistic"] == pytest.approx(
        tau_c_bruteforce(params["lam"], lam_prime), rel=1e-9
    )


def test_conformity_skips_infinite_lam_and_users_without_items():
    delta = np.array([0.5, 0.3, 0.2])
    lam = np.array([1.0, np.inf, 2.0, 3.0, 0.5])
    params = dict(theta=np.full((5, 2), 0.5), phi=np.full((2, 3), 1 / 3), delta=delta, lam=lam)
    inter = Interactions([0, 1, 2, 2, 3], [0, 0, 1, 2, 2], n_users=5, n_items=3)
    row = it.conformity_ranking(params, inter).iloc[0]
    # user 1: lam = inf; user 4: no items -> skipped; users 0, 2, 3 remain
    assert row["n"] == 3 and row["skipped"] == 2
    assert "1 users with non-finite lam" in row["skipped_reason"]
    # lam = [1, 2, 3]; lam' = [0.5, 0.25, 0.2]: all 3 pairs discordant, m = 3
    assert row["statistic"] == pytest.approx(2 * (0 - 3) / (9 * 2 / 3))


def test_overlap_extremes_match_bruteforce_and_never_self():
    g = np.random.default_rng(2)
    theta = g.dirichlet(np.full(8, 0.4), size=120)
    theta[:, :4][g.random((120, 4)) < 0.5] = 0.0
    theta /= theta.sum(axis=1, keepdims=True)
    theta[60] = theta[10]  # an exact twin
    query = np.array([10, 60, 0, 5, 119, 33])
    good, bad, good_o, bad_o = it.theta_overlap_extremes(theta, query, seed=0, chunk_size=4)
    for j, u in enumerate(query):
        o = np.array(
            [sum(min(a, b) for a, b in zip(theta[u], theta[v])) for v in range(120)]
        )
        o[u] = np.nan
        assert good[j] != u and bad[j] != u
        assert good_o[j] == pytest.approx(np.nanmax(o)) and o[good[j]] == pytest.approx(np.nanmax(o))
        assert bad_o[j] == pytest.approx(np.nanmin(o)) and o[bad[j]] == pytest.approx(np.nanmin(o))
    assert good[0] == 60 and good[1] == 10 and good_o[0] == pytest.approx(1.0)


def test_overlap_ties_broken_at_random():
    theta = np.zeros((50, 2))
    theta[0] = [1.0, 0.0]
    theta[1:] = [0.0, 1.0]  # every other user has overlap 0 with user 0
    picks = {
        int(it.theta_overlap_extremes(theta, np.array([0]), seed=s)[1][0]) for s in range(30)
    }
    assert len(picks) > 10 and 0 not in picks


def test_jaccard_pairs_against_sets():
    g = np.random.default_rng(4)
    inter = Interactions(g.integers(0, 20, 150), g.integers(0, 30, 150), n_users=21, n_items=30)
    csr = inter.tocsr()
    a = g.integers(0, 21, 40)
    b = g.integers(0, 21, 40)
    got = it.jaccard_pairs(csr, a, b)
    sets = [set(inter.item_ids[inter.user_ids == u]) for u in range(21)]
    for j, (u, v) in enumerate(zip(a, b)):
        union = sets[u] | sets[v]
        if union:
            assert got[j] == pytest.approx(len(sets[u] & sets[v]) / len(union))
        else:
            assert np.isnan(got[j])
    assert np.isnan(got[a == 20]).all() if (a == 20).any() and (b[a == 20] == 20).any() else True


def test_twins_positive_for_true_theta_and_null_for_random(synthetic):
    params, train, test = synthetic
    df = it.twins(params, {"train": train, "test": test}, seed=0, n_twins=300)
    assert len(df) == 4
    assert set(zip(df["split"], df["other"])) == {
        ("train", "bad"), ("train", "rnd"), ("test", "bad"), ("test", "rnd")
    }
    tr = df["split"] == "train"
    # 20 train items per user carry more signal than 10 test items (as in P2)
    assert (df.loc[tr, "effect"] > 0.5).all() and (df.loc[~tr, "effect"] > 0.1).all(), df
    assert (df.loc[tr, "pvalue"] < 1e-6).all() and (df.loc[~tr, "pvalue"] < 0.05).all()

    # theta unrelated to the data: good twins are no better than random ones
    g = np.random.default_rng(8)
    fake = dict(params)
    fake["theta"] = g.dirichlet(np.full(6, 0.5), size=300)
    df0, pairs = it.twins(fake, {"train": train}, seed=1, n_twins=300, return_pairs=True)
    assert (df0["effect"].abs() < 0.2).all(), df0
    assert len(pairs) == 300 and (pairs["user"] != pairs["rnd"]).all()
    assert pairs["user"].is_unique


def test_twins_skip_pairs_with_empty_union():
    theta = np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0], [0.6, 0.4]])
    params = dict(theta=theta, phi=np.full((2, 3), 1 / 3), delta=np.full(3, 1 / 3), lam=np.ones(4))
    # only users 0 and 3 have items: pairs of users 1-2 have an empty union
    inter = Interactions([0, 0, 3], [0, 1, 1], n_users=4, n_items=3)
    df = it.twins(params, {"train": inter}, seed=0, n_twins=4)
    bad = df[df["other"] == "bad"].iloc[0]
    # good twins: 0->3, 3->0, 1->3, 2->0 (all unions non-empty);
    # bad twins: 0->1|2, 3->2, 1->2, 2->1: the pairs (1,2) and (2,1) are empty
    assert bad["skipped"] == 2 and bad["n"] == 2
    assert "2 pairs with no items in split" in bad["skipped_reason"]


# ------------------------------------------------------------- run_all
def test_run_all_shape_and_determinism(synthetic):
    params, train, test = synthetic
    df = it.run_all(params, train, test, seed=3, n_twins=100)
    assert list(df.columns[: len(it.COLUMNS)]) == it.COLUMNS
    for col in ("experiment", "split", "statistic", "pvalue", "effect", "n"):
        assert col in df
    assert len(df) == 2 + 3 + 6 + 4
    assert set(df["experiment"]) == {"cohort_allocation", "popularity", "conformity", "twins"}
    assert set(df.loc[df["experiment"] == "popularity", "split"]) == {"train", "test", "all"}
    again = it.run_all(params, train, test, seed=3, n_twins=100)
    pd.testing.assert_frame_equal(df, again)
    other = it.run_all(params, train, test, seed=4, n_twins=100)
    tw = df["experiment"] == "twins"
    assert not np.allclose(df.loc[tw, "statistic"], other.loc[tw, "statistic"])


def test_run_all_accepts_attribute_params(synthetic):
    params, train, test = synthetic

    class P:
        pass

    obj = P()
    for k, v in params.items():
        setattr(obj, k, v)
    a = it.run_all(obj, train, test, seed=0, n_twins=50)
    b = it.run_all(params, train, test, seed=0, n_twins=50)
    pd.testing.assert_frame_equal(a, b)


def test_bad_input_raises(synthetic):
    params, train, test = synthetic
    with pytest.raises(ValueError, match="theta"):
        it.run_all(dict(params, theta=params["theta"][:10], lam=params["lam"][:10]), train, test)
    with pytest.raises(ValueError, match="phi"):
        it.run_all(dict(params, phi=-params["phi"]), train, test)
    with pytest.raises(ValueError, match="delta"):
        it.run_all(dict(params, delta=params["delta"][:-1]), train, test)
    with pytest.raises(ValueError, match="lam"):
        it.as_ldaext_arrays({k: v for k, v in params.items() if k != "lam"})
    small = Interactions([0], [0], n_users=2, n_items=2)
    with pytest.raises(ValueError, match="n_users=2"):
        it.run_all(params, small, test)
    with pytest.raises(ValueError, match="neg_inf"):
        it.cohort_allocation(params, train, neg_inf="clip")


def test_write_tables_roundtrip(tmp_path, synthetic):
    params, train, test = synthetic
    df = it.run_all(params, train, test, seed=0, n_twins=30)
    paths = it.write_tables(df, tmp_path / "out")
    back = pd.read_csv(paths["csv"], keep_default_na=False, na_values=[""])
    assert len(back) == len(df)
    np.testing.assert_allclose(back["effect"], df["effect"], rtol=1e-12)
    records = json.loads(paths["json"].read_text())
    assert records[0]["experiment"] == "cohort_allocation"
    assert not list((tmp_path / "out").glob("*.tmp"))


def test_theta_entropy_and_top_items():
    theta = np.array([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25], [1.0, 0, 0, 0]])
    h = it.theta_entropy(theta)
    np.testing.assert_allclose(h, [math.log(2) / math.log(4), 1.0, 0.0])
    phi = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    params = dict(theta=theta[:, :2] / theta[:, :2].sum(1, keepdims=True), phi=phi,
                  delta=np.full(3, 1 / 3), lam=np.ones(3))
    top = it.top_items_per_cohort(params, n=2)
    assert top["item"].tolist() == [1, 2, 0, 2]
    assert top["phi"].tolist() == [0.6, 0.3, 0.5, 0.3]


def test_low_cohort_argmin_and_return_users(synthetic):
    params, train, test = synthetic
    theta = params["theta"] + 0.01  # no exact zeros, like a softmax
    theta /= theta.sum(axis=1, keepdims=True)
    fitted = dict(params, theta=theta)
    assert it.cohort_allocation(fitted, train).iloc[0]["n"] == 0  # P2's rule skips everyone
    k_low = it.low_cohort(theta, "argmin")
    np.testing.assert_array_equal(k_low, theta.argmin(axis=1))
    df, users = it.cohort_allocation(fitted, train, k_min=k_low, return_users=True)
    assert df.iloc[0]["n"] == 300 and df.iloc[0]["effect"] > 0.5
    u = 7
    items = np.unique(train.item_ids[train.user_ids == u])
    assert users.loc[u, "s_max"] == pytest.approx(np.log(params["phi"][theta[u].argmax(), items]).sum())
    assert users.loc[u, "s_min"] == pytest.approx(np.log(params["phi"][k_low[u], items]).sum())
    rows = it.run_all(fitted, train, test, n_twins=20, low="argmin")
    assert (rows.loc[rows.experiment == "cohort_allocation", "n"] == 300).all()
    with pytest.raises(ValueError, match="rule"):
        it.low_cohort(theta, "max")


def test_lda_model_view_softmaxes_p1_logits():
    class Fitted:
        variant = "lda4rec"
        theta = np.array([[0.3, 0.7]])
        phi = np.array([[0.0, np.log(3.0)], [1.0, 1.0]])
        delta = np.array([np.log(2.0), 0.0])
        lam = np.array([0.5])

    view = it.lda_model_view(Fitted())
    np.testing.assert_allclose(view["phi"], [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(view["delta"], [2 / 3, 1 / 3])
    Fitted.variant = "ldaext"
    assert it.lda_model_view(Fitted())["phi"] is not None
    np.testing.assert_allclose(it.lda_model_view(Fitted())["phi"], Fitted.phi)
