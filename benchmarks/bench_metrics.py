"""Speed and memory of lda4rec.metrics.evaluate and lda4rec.adjoint.count_inversions.

Run by hand: ``.venv/bin/python benchmarks/bench_metrics.py [--users N]``.
Prints a table; nothing is asserted.  Synthetic data of Goodbooks size
(53,424 users x 10,000 items, a rank-32 MF score function, 10 test and ~100
excluded items per user) and of ML-100K size for the inversion count.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from lda4rec.adjoint import count_inversions, ldaext_scores, mf_scores, mf_to_ldaext, score_scale
from lda4rec.data import Interactions
from lda4rec.metrics import evaluate


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthetic(n_users: int, n_items: int, n_test: int, n_excl: int, seed: int = 0):
    gen = np.random.default_rng(seed)
    # distinct items per user: a random offset walk modulo n_items
    start = gen.integers(0, n_items, size=(n_users, 1))
    steps = np.cumsum(gen.integers(1, max(2, n_items // (n_test + n_excl)), size=(n_users, n_test + n_excl)), axis=1)
    items = (start + steps) % n_items
    users = np.repeat(np.arange(n_users), n_test + n_excl).reshape(n_users, -1)
    test = Interactions(users[:, :n_test].ravel(), items[:, :n_test].ravel(), n_users=n_users, n_items=n_items)
    excl = Interactions(users[:, n_test:].ravel(), items[:, n_test:].ravel(), n_users=n_users, n_items=n_items)
    w = gen.normal(size=(n_users, 32)) / np.sqrt(32)
    h = gen.normal(size=(n_items, 32)) / np.sqrt(32)
    b = gen.normal(size=n_items)
    return test, excl, w, h, b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=53_424)
    ap.add_argument("--items", type=int, default=10_000)
    args = ap.parse_args()

    rows = []
    test, excl, w, h, b = synthetic(args.users, args.items, 10, 100)
    for chunk, method in ((256, None), (1024, None), (256, "sort")):
        t0, c0 = time.perf_counter(), time.process_time()
        m = evaluate(lambda ids: w[ids] @ h.T + b, test, excl, k=10, chunk_size=chunk, method=method)
        rows.append((f"evaluate {args.users}x{args.items}, chunk {chunk}, {method or 'auto'}",
                     time.perf_counter() - t0, time.process_time() - c0, peak_rss_mb(), f"prec {m['prec']:.4f}"))

    test, excl, w, h, b = synthetic(610, 9724, 5, 90, seed=1)
    x = mf_scores(w, h, b)
    s = ldaext_scores(mf_to_ldaext(w, h, b))
    t0, c0 = time.perf_counter(), time.process_time()
    r = count_inversions(x, s, scale=score_scale(w, h, b))
    rows.append(("count_inversions 610x9724, MF vs LDAext", time.perf_counter() - t0,
                 time.process_time() - c0, peak_rss_mb(), str(r.as_dict())))
    noisy = x + np.random.default_rng(2).normal(size=x.shape) * 0.1
    t0, c0 = time.perf_counter(), time.process_time()
    r = count_inversions(x[:64], noisy[:64])
    rows.append(("count_inversions 64x9724, every row perturbed", time.perf_counter() - t0,
                 time.process_time() - c0, peak_rss_mb(), f"total {r.total}"))

    print(f"{'case':52s} {'wall_s':>8s} {'cpu_s':>8s} {'peak_rss_MB':>12s}  result")
    for name, sec, cpu, mb, res in rows:
        print(f"{name:52s} {sec:8.2f} {cpu:8.2f} {mb:12.0f}  {res}")


if __name__ == "__main__":
    main()
