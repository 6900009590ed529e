"""Shared fixtures.  Tests never touch the network."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from lda4rec.data import Interactions

os.environ.setdefault("JAX_PLATFORMS", "cpu")

_HERE = Path(__file__).resolve().parent
_SHARED = _HERE.parent.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path | None:
    """Directory holding the public datasets, or None when there is none.

    ``LDA4REC_DATA`` wins; otherwise ``../shared/data`` beside the checkout.
    Tests that need a particular file skip when it is absent.
    """
    env = os.environ.get("LDA4REC_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    if _SHARED.is_dir():
        return _SHARED
    return None


@pytest.fixture
def small_interactions() -> Interactions:
    """30 users x 40 items, 5-15 distinct items per user, fixed seed."""
    gen = np.random.default_rng(1234)
    users, items = [], []
    for u in range(30):
        n = gen.integers(5, 16)
        chosen = gen.choice(40, size=n, replace=False)
        users.extend([u] * n)
        items.extend(chosen.tolist())
    return Interactions(np.array(users), np.array(items), n_users=30, n_items=40)
