"""Load times of the data sets found locally, and the P1/P2 split sizes.

Run by hand:  LDA4REC_DATA=../shared/data .venv/bin/python benchmarks/data_load.py
Prints one table row per data set that is present (nothing is downloaded).
"""

from __future__ import annotations

import time

from lda4rec.data import DATASETS, load_dataset, locate_dataset, p1_protocol, p2_protocol


def main() -> None:
    print(f"{'dataset':20s} {'load_s':>7s} {'ratings':>10s} {'users':>7s} {'items':>7s}  source")
    for name in DATASETS:
        where = locate_dataset(name)
        if where is None:
            print(f"{name:20s} {'-':>7s}  (not present)")
            continue
        t0 = time.perf_counter()
        inter = load_dataset(name, download=False)
        dt = time.perf_counter() - t0
        print(f"{name:20s} {dt:7.2f} {len(inter):10,d} {inter.n_users:7,d} {inter.n_items:7,d}  {where}")
    t0 = time.perf_counter()
    train, valid, test = p1_protocol("movielens-100k", seed=1729, download=False)
    dt = time.perf_counter() - t0
    print(f"\nP1 movielens-100k seed 1729: train {len(train):,d} / valid {len(valid):,d} / "
          f"test {len(test):,d}  ({dt:.2f} s)")
    if locate_dataset("movielens-1m") is not None:
        t0 = time.perf_counter()
        tr, te = p2_protocol("movielens-1m", seed=1729, download=False)
        dt = time.perf_counter() - t0
        print(f"P2 movielens-1m seed 1729: train {len(tr):,d} / test {len(te):,d}, "
              f"{tr.n_users:,d} users x {tr.n_items:,d} items  ({dt:.2f} s)")


if __name__ == "__main__":
    main()
