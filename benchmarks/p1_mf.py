"""P1 Table 2, MF family rows: Pop, MF, SNMF, NMF on ML-100K with the P1 protocol.

Writes ``<out>/results.csv`` (one row per model, K, loss, seed: test metrics at
the best validation epoch, best epoch, epochs run, wall time) and
``<out>/histories.csv`` (per-epoch loss and validation metrics), rewritten
atomically after every fit so an interrupted run keeps what it finished.

Protocol: `lda4rec.data.p1_protocol(dataset, seed=1729)` (implicit, cap 200 per
user, 90 % train, the rest halved into test and valid); Adam, lr 1e-3, batch
128, up to ``--n-epochs`` epochs, validation Prec@10 every epoch (train items
excluded), parameters of the best validation epoch kept, stop after
``--patience`` epochs without improvement; the test metrics of those
parameters are reported (`lda4rec.metrics.evaluate`, k=10, train excluded).

Usage::

    LDA4REC_DATA=/work/shared/data python benchmarks/p1_mf.py --out results/mf_p1
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lda4rec.data import p1_protocol
from lda4rec.metrics import evaluate
from lda4rec.mf import Popularity, fit_mf
from lda4rec.utils import atomic_write_text, derive_seeds


def _fingerprint(*parts) -> str:
    """Short digest of the split, so rows of different splits are never mixed."""
    h = hashlib.sha256()
    for p in parts:
        h.update(np.stack([p.user_ids, p.item_ids]).astype(np.int64).tobytes())
    return h.hexdigest()[:12]


def run(
    out: Path,
    dataset: str = "movielens-100k",
    data_seed: int = 1729,
    Ks=(2, 4, 8, 16, 32),
    models=("mf", "snmf", "nmf"),
    losses=("bpr-spotlight", "bpr"),
    n_seeds: int = 3,
    n_epochs: int = 200,
    patience: int = 25,
    lr: float = 1e-3,
    batch_size: int = 128,
    data_dir=None,
    verbose: bool = True,
    resume: bool = False,
) -> pd.DataFrame:
    train, valid, test = p1_protocol(dataset, seed=data_seed, data_dir=data_dir)
    split_id = _fingerprint(train, valid, test)
    seeds = derive_seeds(data_seed, n_seeds)
    rows, hists = [], []
    done = set()
    if resume and (out / "results.csv").is_file():
        old = pd.read_csv(out / "results.csv", keep_default_na=False)
        if "split" in old and (old["split"] != split_id).any():
            raise SystemExit(f"{out / 'results.csv'} holds rows of another split than {split_id}: "
                             "the data protocol changed; start a fresh --out")
        rows = old.to_dict("records")
        done = {(r["model"], int(r["K"]), r["loss"], int(r["seed"])) for r in rows}
        if (out / "histories.csv").is_file():
            hists = [pd.read_csv(out / "histories.csv")]
        print(f"resuming: {len(done)} rows in {out / 'results.csv'}")

    def flush():
        atomic_write_text(out / "results.csv", pd.DataFrame(rows).to_csv(index=False))
        if hists:
            atomic_write_text(out / "histories.csv", pd.concat(hists).to_csv(index=False))

    t0 = time.perf_counter()
    pop = Popularity(train)
    if ("pop", 0, "", 0) not in done:
        rows.append(
            {"dataset": dataset, "split": split_id, "model": "pop", "K": 0, "loss": "", "seed": 0, "best_epoch": 0,
             "epochs_run": 0, "wall_s": time.perf_counter() - t0,
             **{f"test_{k}": v for k, v in evaluate(pop, test, exclude=train, k=10).items()},
             **{f"valid_{k}": v for k, v in evaluate(pop, valid, exclude=train, k=10).items()}}
        )
        flush()
    # priority order: the published loss first, MF first
    for loss in losses:
        for model in models:
            for K in Ks:
                for s_idx, seed in enumerate(seeds):
                    if (model, K, loss, seed) in done:
                        continue
                    t0 = time.perf_counter()
                    m = fit_mf(
                        train, K, model=model, loss=loss, lr=lr, batch_size=batch_size,
                        n_epochs=n_epochs, seed=seed, valid=valid, early_stopping="valid",
                        patience=patience, eval_k=10, eval_metric="prec",
                    )
                    wall = time.perf_counter() - t0
                    te = evaluate(m, test, exclude=train, k=10)
                    va = evaluate(m, valid, exclude=train, k=10)
                    row = {"dataset": dataset, "split": split_id, "model": model, "K": K, "loss": loss, "seed": seed,
                           "best_epoch": m.best_epoch, "epochs_run": len(m.history), "wall_s": wall,
                           **{f"test_{k}": v for k, v in te.items()},
                           **{f"valid_{k}": v for k, v in va.items()}}
                    rows.append(row)
                    h = m.history.copy()
                    h.insert(0, "seed", seed)
                    h.insert(0, "loss_fn", loss)
                    h.insert(0, "K", K)
                    h.insert(0, "model", model)
                    hists.append(h)
                    flush()
                    if verbose:
                        print(f"{loss:13s} {model:4s} K={K:2d} seed#{s_idx} best={m.best_epoch:3d} "
                              f"run={len(m.history):3d} {wall:6.1f}s prec={te['prec']:.4f} "
                              f"rec={te['recall']:.4f} mrr_full={te['mrr_full']:.4f}", flush=True)
    return pd.DataFrame(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("results/mf_p1"))
    p.add_argument("--dataset", default="movielens-100k")
    p.add_argument("--Ks", type=int, nargs="+", default=[2, 4, 8, 16, 32])
    p.add_argument("--models", nargs="+", default=["mf", "snmf", "nmf"])
    p.add_argument("--losses", nargs="+", default=["bpr-spotlight", "bpr"])
    p.add_argument("--n-seeds", type=int, default=3)
    p.add_argument("--n-epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=25)
    p.add_argument("--data-dir", default=None)
    p.add_argument("--resume", action="store_true", help="keep the rows already in <out>/results.csv and skip them")
    a = p.parse_args(argv)
    run(a.out, a.dataset, Ks=a.Ks, models=a.models, losses=a.losses, n_seeds=a.n_seeds,
        n_epochs=a.n_epochs, patience=a.patience, data_dir=a.data_dir, resume=a.resume)


if __name__ == "__main__":
    main()
