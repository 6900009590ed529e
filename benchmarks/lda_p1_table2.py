"""Full-scale LDA4Rec runs for P1 Table 2 (ML-100K) and ML-1M, results under results/.

Run by hand (long): ``python benchmarks/lda_p1_table2.py --dataset movielens-100k
--ks 2 4 8 16 32 --n-steps 10000 --out results/lda_p1``.  One JSON per (dataset, K,
seed) is written atomically as soon as that run finishes, plus the ELBO history
(.npz), so an interrupted batch keeps what finished.  Settings as P1: P1 protocol
split (seed 1729), batch 128, Adam lr 1e-3, 10,000 SVI steps, test metrics at
k=10 with the training items excluded (both MRR conventions, see
lda4rec.metrics).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from lda4rec.data import p1_protocol
from lda4rec.lda import fit_lda4rec
from lda4rec.metrics import evaluate
from lda4rec.utils import atomic_save_npz, atomic_write_json


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except Exception:  # not a checkout
        return "unknown"


def run_one(name, train, valid, test, k, seed, n_steps, batch_size, lr, out: Path, methods):
    tag = f"{name}_K{k}_seed{seed}"
    t0 = time.perf_counter()
    model = fit_lda4rec(train, k, n_steps=n_steps, batch_size=batch_size, lr=lr, seed=seed)
    fit_s = time.perf_counter() - t0
    row = dict(
        dataset=name, model="LDA4Rec", n_topics=k, seed=seed, n_steps=n_steps,
        batch_size=batch_size, lr=lr, fit_seconds=fit_s,
        final_loss_mean_last100=float(np.mean(model.history[-100:])),
        n_users=train.n_users, n_items=train.n_items, n_train=len(train),
        host=platform.node(), cpu_count=os.cpu_count(), git_commit=_commit(),
    )
    for method in methods:
        t1 = time.perf_counter()
        scorer = lambda users, m=method: model.scores(users, method=m, seed=seed)
        row[f"test_{method}"] = evaluate(scorer, test, exclude=train, k=10)
        row[f"valid_{method}"] = evaluate(scorer, valid, exclude=train, k=10)
        row[f"eval_seconds_{method}"] = time.perf_counter() - t1
    atomic_save_npz(out / f"{tag}_history.npz", loss=model.history.astype(np.float32))
    atomic_write_json(out / f"{tag}.json", row)
    print(tag, f"fit {fit_s:.0f}s", {m: row[f"test_{m}"] for m in methods}, flush=True)
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dataset", default="movielens-100k")
    ap.add_argument("--ks", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--n-steps", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--methods", nargs="+", default=["rao-blackwell", "plugin"])
    ap.add_argument("--out", default="results/lda_p1")
    ap.add_argument("--skip-existing", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train, valid, test = p1_protocol(args.dataset, seed=1729)
    print(args.dataset, train, valid, test, flush=True)
    for seed in args.seeds:
        for k in args.ks:
            if args.skip_existing and (out / f"{args.dataset}_K{k}_seed{seed}.json").exists():
                continue
            run_one(args.dataset, train, valid, test, k, seed, args.n_steps,
                    args.batch_size, args.lr, out, args.methods)


if __name__ == "__main__":
    main()
