"""LDA4Rec speed and memory on the P1 ML-100K split (run by hand, prints a table).

    LDA4REC_DATA=/work/shared/data python benchmarks/bench_lda.py [--quick]

Rows: ms per SVI step (median over chunks, compile excluded) and memory for the
enumerated (TraceEnum_ELBO) and analytic (z summed out, Trace_ELBO) model at
K=4, batch 128; step time as K and the batch grow; Rao-Blackwell ranking of all
users (S=32); step time on ML-1M in P2's uncapped split (128 cohorts, LDA4Rec
and LDAext, all interactions vs ``max_interactions=256``); ML-1M 10,000 steps (extrapolated from a measured shorter run, or
the committed full run's wall time when results/lda_ml1m has it).  Memory is
XLA's compiled-step estimate (arguments + outputs + temporaries of one jitted
SVI update) and the process peak RSS.  Targets (issue 3): <= 50 ms and <= 500 MB
per step, <= 5 s for ranking, <= 15 min for ML-1M.  The machine load is printed:
on a shared machine the times are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from lda4rec.data import p1_protocol, p2_protocol
from lda4rec.lda import fit_lda4rec, fit_ldaext


def step_ms(train, k, batch, marginal, n_steps, chunk, fit=fit_lda4rec, **kw):
    stamps = []
    if fit is fit_lda4rec:
        kw["marginal"] = marginal
    fit(train, k, n_steps=n_steps, batch_size=batch, chunk_size=chunk,
        callback=lambda d, l: stamps.append(time.perf_counter()), **kw)
    per_chunk = np.diff(stamps) / chunk * 1e3  # first chunk (compile) dropped
    return float(np.median(per_chunk))


def compiled_step_mb(train, k, batch, marginal):
    """XLA memory estimate of one jitted SVI update (args + outputs + temps)."""
    import numpyro
    from numpyro.infer import SVI

    from lda4rec.lda import _bind, _init_values, _minibatch, _spec, pad_interactions

    data = pad_interactions(train)
    model, guide, loss = _spec("lda4rec", marginal)
    kw = dict(n_users=data.n_users, n_items=data.n_items, n_topics=k, alpha=1.0 / k)
    svi = SVI(model, _bind(guide, _init_values("lda4rec", k, data.n_items, 0)),
              numpyro.optim.Adam(1e-3), loss, **kw)
    items, mask = jnp.asarray(data.items), jnp.asarray(data.mask)
    u0 = _minibatch(jax.random.PRNGKey(0), data.n_users, batch)
    state = svi.init(jax.random.PRNGKey(1), u0, items[u0], mask[u0])

    def one(state, key):
        users = _minibatch(key, data.n_users, batch)
        return svi.update(state, users, items[users], mask[users])

    compiled = jax.jit(one).lower(state, jax.random.PRNGKey(2)).compile()
    m = compiled.memory_analysis()
    if m is None:
        return float("nan")
    total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
    return total / 2**20


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps, fewer rows")
    ap.add_argument("--ml1m-steps", type=int, default=500)
    args = ap.parse_args(argv)
    n_steps, chunk = (300, 100) if args.quick else (600, 100)
    rows = []
    train, _, _ = p1_protocol("movielens-100k", seed=1729)
    print(f"# load average at start: {os.getloadavg()}, cpus: {os.cpu_count()}", flush=True)
    for marginal in (False, True):
        name = "analytic" if marginal else "enumerated"
        ms = step_ms(train, 4, 128, marginal, n_steps, chunk)
        mb = compiled_step_mb(train, 4, 128, marginal)
        rows.append((f"ML-100K step, {name}, K=4, B=128", f"{ms:.1f} ms", f"{mb:.0f} MB (XLA)"))
        print(rows[-1], flush=True)
    grid = [(16, 128), (32, 128), (4, 512)] if args.quick else [(8, 128), (16, 128), (32, 128), (64, 128), (4, 256), (4, 512)]
    for k, b in grid:
        ms = step_ms(train, k, b, True, n_steps, chunk)
        mb = compiled_step_mb(train, k, b, True)
        rows.append((f"ML-100K step, analytic, K={k}, B={b}", f"{ms:.1f} ms", f"{mb:.0f} MB (XLA)"))
        print(rows[-1], flush=True)
    model = fit_lda4rec(train, 4, n_steps=200, chunk_size=100)
    model.scores(np.arange(8))  # compile
    t = time.perf_counter()
    model.scores(None, method="rao-blackwell", n_samples=32)
    rows.append(("RB ranking, all 610 users, K=4, S=32", f"{time.perf_counter() - t:.2f} s", ""))
    print(rows[-1], flush=True)
    t = time.perf_counter()
    model.scores(np.arange(5), method="sample", n_draws=10_000)
    per_user = (time.perf_counter() - t) / 5
    rows.append(("P1 count sampling (10,000 draws), per user", f"{per_user:.2f} s", f"x610 = {per_user * 610:.0f} s"))
    print(rows[-1], flush=True)
    if not args.quick:
        tr_p2, _ = p2_protocol("movielens-1m", seed=1729)
        longest = int(tr_p2.user_counts().max())
        for name, fit in (("LDA4Rec", fit_lda4rec), ("LDAext", fit_ldaext)):
            for m in (None, 256):
                ms = step_ms(tr_p2, 128, 128, True, 300, 100, fit=fit, max_interactions=m)
                what = f"all (up to {longest})" if m is None else f"max_interactions={m}"
                rows.append((f"ML-1M P2 split step, {name}, 128 cohorts, B=128, {what}", f"{ms:.1f} ms", ""))
                print(rows[-1], flush=True)
    full = Path("results/lda_ml1m/movielens-1m_K4_seed0.json")
    if full.exists():
        r = json.loads(full.read_text())
        rows.append(("ML-1M 10,000 steps, K=4 (committed full run, measured)", f"{r['fit_seconds'] / 60:.1f} min", ""))
    else:
        tr1m, _, _ = p1_protocol("movielens-1m", seed=1729)
        t = time.perf_counter()
        fit_lda4rec(tr1m, 4, n_steps=args.ml1m_steps, chunk_size=100)
        s = time.perf_counter() - t
        rows.append((f"ML-1M 10,000 steps, K=4 (extrapolated from {args.ml1m_steps} steps incl. compile)",
                     f"{s * 10_000 / args.ml1m_steps / 60:.1f} min", ""))
    print(rows[-1], flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n# process peak RSS {peak:.0f} MB; load average at end: {os.getloadavg()}")
    w = max(len(r[0]) for r in rows)
    print(f"\n{'benchmark':<{w}} | {'time':>10} | memory / note")
    for r in rows:
        print(f"{r[0]:<{w}} | {r[1]:>10} | {r[2]}")


if __name__ == "__main__":
    main()
