#!/usr/bin/env python
"""P2's interpretation experiments, several MF seeds: the committed full-scale run.

    LDA4REC_DATA=/work/shared/data .venv/bin/python benchmarks/p2_interpretation.py \
        --dataset movielens-1m --n-factors 64 --seeds 0 1 2 3 4 --out results/p2_ml1m

For every model seed: P2 protocol split (users with < 20 interactions pruned,
10 random test items per user; data seed fixed), MF with BPR, test metrics
(train items excluded), `lda4rec.adjoint.mf_to_ldaext`, then
`lda4rec.interpret.run_all`.  Trained models are cached under ``--cache``
(default ``out/p2_<dataset>/models``, git-ignored) so a rerun only redoes the
interpretation.  Written atomically to ``--out``:

* ``interpretation.csv/.json`` -- all `run_all` rows, column ``seed`` added;
* ``summary.csv`` -- mean, std (ddof=1) and max p-value over seeds per
  (experiment, split, other);
* ``metrics.csv`` -- Prec/Recall/MRR@10 on test per seed;
* ``ldaext_summary.csv`` -- per seed: cohorts kept, median/mean lam, share of
  users with a zero cohort, users with lam = inf, median normalised entropy of
  theta, number of -inf log phi users (experiment 1);
* ``config.json`` -- every setting, library versions and wall times.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lda4rec import __version__  # noqa: E402
from lda4rec.adjoint import mf_to_ldaext  # noqa: E402
from lda4rec.data import p2_protocol  # noqa: E402
from lda4rec.interpret import run_all, theta_entropy, write_tables  # noqa: E402
from lda4rec.metrics import evaluate  # noqa: E402
from lda4rec.mf import MFModel, fit_mf  # noqa: E402
from lda4rec.utils import atomic_path, atomic_write_json  # noqa: E402


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean/std over seeds of statistic and effect per (experiment, split, other)."""
    keys = ["experiment", "split", "other"]
    g = df.groupby(keys, sort=False)
    out = g.agg(
        effect_mean=("effect", "mean"),
        effect_std=("effect", lambda s: s.std(ddof=1) if len(s) > 1 else np.nan),
        statistic_mean=("statistic", "mean"),
        pvalue_max=("pvalue", "max"),
        n_mean=("n", "mean"),
        skipped_mean=("skipped", "mean"),
        n_seeds=("seed", "nunique"),
    )
    return out.reset_index()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="movielens-1m")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--data-seed", type=int, default=1729)
    ap.add_argument("--n-factors", type=int, default=64)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--loss", default="bpr-spotlight")
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--n-epochs", type=int, default=40)
    ap.add_argument("--n-twins", type=int, default=2000)
    ap.add_argument("--interpret-seed", type=int, default=0)
    ap.add_argument("--min-item-interactions", type=int, default=0)
    ap.add_argument("--out", default=None)
    ap.add_argument("--cache", default=None)
    ap.add_argument("--train-only", action="store_true")
    args = ap.parse_args(argv)

    short = args.dataset.replace("movielens-", "ml").replace("-", "")
    out = Path(args.out or ROOT / "results" / f"p2_{short}")
    cache = Path(args.cache or ROOT / "out" / f"p2_{short}" / "models")
    t_start = time.perf_counter()
    train, test = p2_protocol(
        args.dataset,
        seed=args.data_seed,
        data_dir=args.data_dir,
        min_item_interactions=args.min_item_interactions,
    )
    print(f"data: {train!r}, {test!r}", flush=True)

    tables, metrics, extras, times = [], [], [], {}
    for seed in args.seeds:
        mdir = cache / f"K{args.n_factors}_{args.loss}_bs{args.batch_size}_lr{args.lr}_e{args.n_epochs}_seed{seed}"
        t0 = time.perf_counter()
        if (mdir / "params.npz").is_file():
            model = MFModel.load(mdir)
            print(f"seed {seed}: loaded {mdir}", flush=True)
        else:
            model = fit_mf(
                train,
                args.n_factors,
                model="mf",
                loss=args.loss,
                lr=args.lr,
                batch_size=args.batch_size,
                n_epochs=args.n_epochs,
                seed=seed,
            )
            model.save(mdir)
            print(f"seed {seed}: trained in {time.perf_counter() - t0:.0f} s, "
                  f"final loss {model.history['loss'].iloc[-1]:.4f}", flush=True)
        times[f"train_seed{seed}_s"] = time.perf_counter() - t0
        if args.train_only:
            continue
        m = evaluate(model, test, exclude=train, k=10)
        metrics.append({"seed": seed, **{k: v for k, v in m.items() if np.isscalar(v)}})
        params = mf_to_ldaext(*model.factors())
        t0 = time.perf_counter()
        df = run_all(
            params, train, test, seed=args.interpret_seed, n_twins=args.n_twins,
            neg_inf=("drop", "original"),
        )
        times[f"interpret_seed{seed}_s"] = time.perf_counter() - t0
        df.insert(0, "seed", seed)
        tables.append(df)
        theta, lam = params.theta, params.lam
        c1 = df[(df.experiment == "cohort_allocation") & (df.split == "train")].iloc[0]
        c1t = df[(df.experiment == "cohort_allocation") & (df.split == "test")].iloc[0]
        extras.append(
            {
                "seed": seed,
                "n_cohorts": int(theta.shape[1]),
                "lam_median": float(np.median(lam[np.isfinite(lam)])),
                "lam_mean": float(np.mean(lam[np.isfinite(lam)])),
                "users_lam_inf": int((~np.isfinite(lam)).sum()),
                "share_users_with_zero_cohort": float((theta == 0).any(axis=1).mean()),
                "theta_entropy_median": float(np.median(theta_entropy(theta))),
                "exp1_train_neg_inf_users": int(c1["n_neg_inf"]),
                "exp1_test_neg_inf_users": int(c1t["n_neg_inf"]),
            }
        )
        print(df[["experiment", "split", "other", "statistic", "pvalue", "effect", "n", "skipped"]]
              .to_string(index=False), flush=True)
    if args.train_only:
        return 0
    all_df = pd.concat(tables, ignore_index=True)
    write_tables(all_df, out, name="interpretation")
    for name, frame in (
        ("summary", summarise(all_df)),
        ("metrics", pd.DataFrame(metrics)),
        ("ldaext_summary", pd.DataFrame(extras)),
    ):
        with atomic_path(out / f"{name}.csv") as tmp:
            frame.to_csv(tmp, index=False)
    cfg = dict(vars(args))
    cfg.update(
        lda4rec_version=__version__,
        python=platform.python_version(),
        numpy=np.__version__,
        pandas=pd.__version__,
        n_users=train.n_users,
        n_items=train.n_items,
        n_train=len(train),
        n_test=len(test),
        wall_s=time.perf_counter() - t_start,
        times=times,
    )
    atomic_write_json(out / "config.json", cfg)
    print(summarise(all_df).to_string(index=False))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
