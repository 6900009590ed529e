#!/usr/bin/env python
"""P2's experiments on directly fitted LDAext / LDA4Rec beside the MF-derived LDAext.

    LDA4REC_DATA=/work/shared/data .venv/bin/python benchmarks/p2_direct_fits.py \
        --dataset movielens-1m --n-steps 10000 --max-interactions 256 --out results/p2_ml1m

Same P2 split as `benchmarks/p2_interpretation.py`; the MF model (seed 0) is
loaded from that script's cache (``--mf-dir``) or trained.  The direct fits get
as many cohorts as the MF-derived LDAext (2K).  A fitted theta has no exact
zeros, so experiment 1 uses the user's smallest cohort (``low="argmin"``) for
all models.  ``--max-interactions`` bounds the interactions per user and SVI
step (`lda4rec.lda.subsample_rows`; 0 = all, as P1).  Writes ``direct_fits.csv`` (all rows, column ``model``),
``direct_fits_metrics.csv`` (Prec@10 on test, plug-in scores for the fits) and
``direct_fits_config.json`` atomically.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lda4rec import interpret as it  # noqa: E402
from lda4rec import lda  # noqa: E402
from lda4rec.adjoint import mf_to_ldaext  # noqa: E402
from lda4rec.data import p2_protocol  # noqa: E402
from lda4rec.metrics import evaluate  # noqa: E402
from lda4rec.mf import MFModel, fit_mf  # noqa: E402
from lda4rec.utils import atomic_path, atomic_write_json  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="movielens-1m")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--data-seed", type=int, default=1729)
    ap.add_argument("--n-factors", type=int, default=64)
    ap.add_argument("--mf-dir", default=str(ROOT / "out/p2_ml1m/models/K64_bpr-spotlight_bs1024_lr0.01_e40_seed0"))
    ap.add_argument("--n-steps", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--max-interactions", type=int, default=256,
                    help="interactions per user and SVI step (0: all)")
    ap.add_argument("--n-twins", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "results" / "p2_ml1m"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    t_start = time.perf_counter()
    train, test = p2_protocol(args.dataset, seed=args.data_seed, data_dir=args.data_dir)
    mf_dir = Path(args.mf_dir)
    if (mf_dir / "params.npz").is_file():
        mf = MFModel.load(mf_dir)
    else:
        mf = fit_mf(train, args.n_factors, loss="bpr-spotlight", lr=1e-2, batch_size=1024,
                    n_epochs=40, seed=0)
    params = mf_to_ldaext(*mf.factors())
    n_top = params.theta.shape[1]
    views = {"MF -> LDAext (adjoint)": params}
    prec = {"MF -> LDAext (adjoint)": evaluate(mf, test, exclude=train, k=10)["prec"]}
    times = {}

    def log(steps, loss):
        print(f"  step {steps}: loss {loss:.4g} ({time.perf_counter() - t0:.0f} s)", flush=True)

    for name, fit_fn, kw in (
        ("LDAext (direct)", lda.fit_ldaext, {}),
        ("LDA4Rec (direct)", lda.fit_lda4rec, {"lr": 1e-2}),
    ):
        print(f"fitting {name}, {n_top} cohorts, {args.n_steps} steps", flush=True)
        t0 = time.perf_counter()
        fit = fit_fn(train, n_top, n_steps=args.n_steps, batch_size=args.batch_size,
                     seed=args.seed, callback=log, max_interactions=args.max_interactions or None,
                     **kw)
        times[name] = time.perf_counter() - t0
        views[name] = it.lda_model_view(fit)
        prec[name] = evaluate(lambda u, f=fit: f.scores(u, method="plugin"), test,
                              exclude=train, k=10)["prec"]
    tables = []
    for name, p in views.items():
        df = it.run_all(p, train, test, seed=args.seed, n_twins=args.n_twins, low="argmin")
        df.insert(0, "model", name)
        tables.append(df)
    all_df = pd.concat(tables, ignore_index=True)
    it.write_tables(all_df, out, name="direct_fits")
    with atomic_path(out / "direct_fits_metrics.csv") as tmp:
        pd.Series(prec, name="prec@10").rename_axis("model").reset_index().to_csv(tmp, index=False)
    cfg = dict(vars(args), n_cohorts=n_top, fit_seconds=times, wall_s=time.perf_counter() - t_start,
               low="argmin")
    atomic_write_json(out / "direct_fits_config.json", cfg)
    sel = all_df[(all_df.experiment != "conformity") | (all_df.other == "delta")]
    print(sel.pivot_table(index=["experiment", "split", "other"], columns="model", values="effect"))
    print(prec)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
