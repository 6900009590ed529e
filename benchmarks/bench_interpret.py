#!/usr/bin/env python
"""Time experiment 4's overlap search (P2 twins) and the other experiments.

    .venv/bin/python benchmarks/bench_interpret.py [--users 6040] [--cohorts 128]
        [--queries 2000] [--items 3706] [--repeat 3]

Synthetic LDAext parameters of ML-1M size (6,040 users, 2K = 128 cohorts with
half of each theta_u exactly 0, as the MF -> LDAext split gives; 3,706 items,
~150 items per user).  Target (issue 4): the overlap of 2,000 query users
against all users in < 10 s on 2 cores.  Prints one row per measured step
(best of ``--repeat``: wall time and the CPU time of the process; on a
shared machine the CPU time is the figure to compare) with chunk sizes for the overlap kernel.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lda4rec import interpret as it  # noqa: E402
from lda4rec.data import Interactions  # noqa: E402


def best_of(fn, repeat):
    """Best wall time and the CPU time of that run (CPU time is robust to a busy machine)."""
    best = (np.inf, np.inf)
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=6040)
    ap.add_argument("--cohorts", type=int, default=128)
    ap.add_argument("--items", type=int, default=3706)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--per-user", type=int, default=150)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    g = np.random.default_rng(0)
    U, K, I = args.users, args.cohorts, args.items
    theta = g.dirichlet(np.full(K, 0.3), size=U)
    theta[:, : K // 2][g.random((U, K // 2)) < 0.5] = 0.0
    theta[:, K // 2 :][theta[:, : K // 2] > 0] = 0.0  # split-like zeros
    theta /= theta.sum(axis=1, keepdims=True)
    phi = g.dirichlet(np.full(I, 0.2), size=K)
    delta = g.dirichlet(np.ones(I))
    lam = g.lognormal(-4, 1, size=U)
    users = np.repeat(np.arange(U), args.per_user)
    items = g.integers(0, I, size=users.size)
    train = Interactions(users, items, n_users=U, n_items=I)
    test = Interactions(np.repeat(np.arange(U), 10), g.integers(0, I, 10 * U), n_users=U, n_items=I)
    params = dict(theta=theta, phi=phi, delta=delta, lam=lam)
    query = g.choice(U, size=min(args.queries, U), replace=False)

    rows = []
    for cs in (8, 16, 32, 64, 128):
        t = best_of(lambda: it.theta_overlap_extremes(theta, query, seed=0, chunk_size=cs), args.repeat)
        rows.append(dict(step=f"twins overlap {query.size}x{U}, K={K}", chunk_size=cs, wall_s=t[0], cpu_s=t[1]))
    t = best_of(lambda: it.find_twins(theta, args.queries, seed=0), args.repeat)
    rows.append(dict(step="find_twins (default chunk)", chunk_size=32, wall_s=t[0], cpu_s=t[1]))
    t = best_of(lambda: it.twins(params, {"train": train, "test": test}, seed=0, n_twins=args.queries), 1)
    rows.append(dict(step="twins experiment (train+test)", chunk_size=32, wall_s=t[0], cpu_s=t[1]))
    t = best_of(lambda: it.run_all(params, train, test, seed=0, n_twins=args.queries), 1)
    rows.append(dict(step="run_all", chunk_size=32, wall_s=t[0], cpu_s=t[1]))
    df = pd.DataFrame(rows)
    print(f"cpus available: {len(os.sched_getaffinity(0))}; numpy {np.__version__}")
    print(df.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
