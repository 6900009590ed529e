"""Our JAX BPR (`lda4rec.mf.fit_mf`) against `implicit`'s CPU BPR, same run, same data.

For each data set both libraries train on the same train CSR with the same K;
after every epoch the validation Prec@10 is computed (training items excluded,
`lda4rec.metrics.evaluate`, evaluation time NOT counted as training time).
Reported per configuration:

* ``s/epoch``: median wall time of one training epoch (epochs 2..n, i.e.
  without our one-off JIT compilation);
* ``best ep``: the epoch with the best validation Prec@10 (training runs up to
  ``--n-epochs``, stopping ``--patience`` epochs after the best);
* ``t_conv``: training time up to and including that epoch (first epoch with
  compilation included) -- "time to convergence"; NaN when the run ended
  (epoch cap) before ``--patience`` epochs without improvement;
* ``cpu ...``: the same in process CPU seconds (all threads): less sensitive
  to other processes on a shared machine than wall time;
* ``slope ep`` / ``t_slope``: the original code's stop rule (mean of the last
  10 loss differences >= -1e-4; ours only, implicit reports no loss);
* ``test P@10`` / ``test R@10``: test metrics of the parameters of the best
  validation epoch.

Data: ML-100K = ml-latest-small with the P1 protocol (`p1_protocol`, seed
1729: cap 200 per user, 90/5/5 random split); ML-1M = all 1,000,209 ratings,
the same 90/5/5 random split without the per-user cap
(`p1_protocol("movielens-1m", max_user_interactions=10**9)`).

Usage::

    LDA4REC_DATA=/work/shared/data python benchmarks/bench_mf.py [--datasets movielens-100k movielens-1m]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from lda4rec.data import p1_protocol
from lda4rec.metrics import evaluate
from lda4rec.mf import fit_mf, loss_slope_converged


class _ImplicitScores:
    def __init__(self, model):
        self.uf = np.asarray(model.user_factors)
        self.itf = np.asarray(model.item_factors)

    def scores(self, user_ids):
        # implicit appends a constant-1 user column and an item-bias column
        return self.uf[np.asarray(user_ids)] @ self.itf.T


def bench_implicit(train, valid, test, K, n_epochs, patience, threads=2, seed=0, lr=0.01, reg=0.01):
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    csr = train.tocsr()
    model = BayesianPersonalizedRanking(
        factors=K, learning_rate=lr, regularization=reg, iterations=n_epochs,
        num_threads=threads, random_state=seed,
    )
    state = {"last": None, "clast": None, "eval_s": 0.0, "eval_c": 0.0, "rows": [], "best": (-1.0, 0, None)}

    class _Stop(Exception):
        pass

    def callback(epoch, *args):
        now, cnow = time.perf_counter(), time.process_time()
        dt = now - state["last"] - state["eval_s"]
        dc = cnow - state["clast"] - state["eval_c"]
        t_eval, c_eval = time.perf_counter(), time.process_time()
        snap = _ImplicitScores(model)
        prec = evaluate(snap, valid, exclude=train, k=10)["prec"]
        ep = epoch + 1
        state["rows"].append({"epoch": ep, "time_s": dt, "cpu_s": dc, "valid_prec": prec})
        if prec > state["best"][0]:
            state["best"] = (prec, ep, (snap.uf.copy(), snap.itf.copy()))
        state["eval_s"] = time.perf_counter() - t_eval
        state["eval_c"] = time.process_time() - c_eval
        state["last"], state["clast"] = now, cnow
        if ep - state["best"][1] >= patience:
            raise _Stop

    state["last"], state["clast"] = time.perf_counter(), time.process_time()
    try:
        model.fit(csr, show_progress=False, callback=callback)
    except _Stop:
        pass
    hist = pd.DataFrame(state["rows"])
    best_prec, best_ep, (uf, itf) = state["best"]
    best = _ImplicitScores(model)
    best.uf, best.itf = uf, itf
    te = evaluate(best, test, exclude=train, k=10)
    return hist, best_ep, te


def summarise(name, hist, best_ep, te, losses=None, patience=10):
    t = hist["time_s"].to_numpy()
    c = hist["cpu_s"].to_numpy() if "cpu_s" in hist else np.full(t.size, np.nan)
    row = {
        "config": name,
        "s/epoch": float(np.median(t[1:])) if t.size > 1 else float(t[0]),
        "cpu s/epoch": float(np.median(c[1:])) if c.size > 1 else float(c[0]),
        "epochs": len(hist),
        "best ep": best_ep,
        "t_conv s": float(t[:best_ep].sum()) if len(hist) - best_ep >= patience else np.nan,
        "cpu t_conv s": float(c[:best_ep].sum()) if len(hist) - best_ep >= patience else np.nan,
        "slope ep": np.nan,
        "t_slope s": np.nan,
        "test P@10": te["prec"],
        "test R@10": te["recall"],
    }
    if losses is not None:
        for e in range(1, len(losses) + 1):
            if loss_slope_converged(losses[:e]):
                row["slope ep"], row["t_slope s"] = e, float(t[:e].sum())
                break
    return row


def bench_dataset(dataset, K, n_epochs, patience, data_dir, configs, threads):
    cap = 200 if dataset == "movielens-100k" else 10**9
    train, valid, test = p1_protocol(dataset, seed=1729, data_dir=data_dir, max_user_interactions=cap)
    print(f"\n{dataset}: train {len(train)}, valid {len(valid)}, test {len(test)}; "
          f"{train.n_users} users x {train.n_items} items; K={K}", flush=True)
    rows = []
    hist, best_ep, te = bench_implicit(train, valid, test, K, n_epochs, patience, threads)
    rows.append(summarise(f"implicit BPR (SGD lr .01, reg .01, {threads} threads)", hist, best_ep, te,
                          patience=patience))
    print(rows[-1], flush=True)
    for label, kw in configs:
        kw = dict(kw)
        cap = kw.pop("max_epochs", {}).get(dataset, n_epochs)
        if cap < n_epochs:
            label += f" [capped at {cap} epochs]"
        m = fit_mf(train, K, n_epochs=min(cap, n_epochs), seed=0, valid=valid, early_stopping="valid",
                   patience=patience, eval_k=10, **kw)
        te = evaluate(m, test, exclude=train, k=10)
        rows.append(summarise(label, m.history, m.best_epoch, te, m.history["loss"].tolist(), patience))
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    df.insert(0, "dataset", dataset)
    df.insert(1, "K", K)
    return df


# (label, fit_mf keywords); "max_epochs" caps a configuration on a data set
# (the P1 configuration needs ~7,000 dense Adam steps per ML-1M epoch: we only
# time a few epochs there, its time to convergence is then not reached).
CONFIGS = [
    ("ours bpr, Adam lr 1e-3, batch 128 (P1)",
     dict(loss="bpr", lr=1e-3, batch_size=128, max_epochs={"movielens-1m": 5})),
    ("ours bpr, lazy Adam lr 1e-3, batch 128",
     dict(loss="bpr", lr=1e-3, batch_size=128, optimizer="lazy-adam", max_epochs={"movielens-1m": 5})),
    ("ours bpr, Adam lr 1e-2, batch 1024", dict(loss="bpr", lr=1e-2, batch_size=1024)),
    ("ours bpr, row-sparse SGD lr .05, batch 1024", dict(loss="bpr", lr=0.05, batch_size=1024, optimizer="sgd")),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["movielens-100k", "movielens-1m"])
    p.add_argument("--K", type=int, nargs="+", default=None, help="one K per dataset (default 32 for ML-100K, 64 otherwise)")
    p.add_argument("--n-epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--csv", default=None, help="also write the table to this CSV")
    p.add_argument("--configs", nargs="+", default=None,
                   help="only the configurations whose label contains one of these strings (implicit always runs)")
    a = p.parse_args(argv)
    configs = [c for c in CONFIGS if a.configs is None or any(s in c[0] for s in a.configs)]
    Ks = a.K or [32 if d == "movielens-100k" else 64 for d in a.datasets]
    out = pd.concat(
        [bench_dataset(d, k, a.n_epochs, a.patience, a.data_dir, configs, a.threads) for d, k in zip(a.datasets, Ks)]
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 4):
        print("\n" + out.to_string(index=False))
    if a.csv:
        from lda4rec.utils import atomic_write_text

        atomic_write_text(a.csv, out.to_csv(index=False))


if __name__ == "__main__":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    main()
