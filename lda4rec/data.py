"""Implicit-feedback interactions: the container every other module consumes.

`Interactions` holds parallel arrays of user ids, item ids (contiguous, 0-based),
optional ratings and timestamps, and the maps back to the original ids.  Splits
of one data set share ``n_users``/``n_items`` and the id maps, so a model trained
on ``train`` scores the same item columns that ``test`` refers to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["Interactions"]


def _as_int_ids(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name} contains NaN or infinite values")
            if not np.all(arr == np.floor(arr)):
                raise ValueError(f"{name} must be integers, got non-integral values")
        else:
            raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


class Interactions:
    """A set of (user, item[, rating, timestamp]) interactions.

    Parameters
    ----------
    user_ids, item_ids
        Integer arrays of equal length with contiguous 0-based ids.
    ratings
        Optional float array (explicit rating; every row still counts as an
        implicit interaction).  Must not contain NaN.
    n_users, n_items
        Size of the id spaces; default ``max(id) + 1``.  Ids must lie in
        ``[0, n)``.
    timestamps
        Optional integer array.
    user_map, item_map
        Optional arrays mapping a compact id to the original id
        (``user_map[u]`` is the raw id of user ``u``).

    Raises
    ------
    ValueError
        On empty input, length mismatch, negative or out-of-range ids, NaN
        ratings, or maps of the wrong length.  The message names the problem.
    """

    __slots__ = (
        "user_ids",
        "item_ids",
        "ratings",
        "timestamps",
        "n_users",
        "n_items",
        "user_map",
        "item_map",
        "name",
    )

    def __init__(
        self,
        user_ids,
        item_ids,
        ratings=None,
        n_users: int | None = None,
        n_items: int | None = None,
        *,
        timestamps=None,
        user_map=None,
        item_map=None,
        name: str | None = None,
    ):
        users = _as_int_ids(user_ids, "user_ids")
        items = _as_int_ids(item_ids, "item_ids")
        if users.size == 0:
            raise ValueError("empty input: Interactions needs at least one interaction")
        if users.shape != items.shape:
            raise ValueError(
                f"length mismatch: {users.size} user_ids but {items.size} item_ids"
            )
        if users.min() < 0:
            raise ValueError(f"negative user id {int(users.min())} in user_ids")
        if items.min() < 0:
            raise ValueError(f"negative item id {int(items.min())} in item_ids")
        n_users = int(users.max()) + 1 if n_users is None else int(n_users)
        n_items = int(items.max()) + 1 if n_items is None else int(n_items)
        if users.max() >= n_users:
            raise ValueError(
                f"user id {int(users.max())} out of range for n_users={n_users}"
            )
        if items.max() >= n_items:
            raise ValueError(
                f"item id {int(items.max())} out of range for n_items={n_items}"
            )
        if ratings is not None:
            ratings = np.asarray(ratings, dtype=np.float32)
            if ratings.shape != users.shape:
                raise ValueError(
                    f"length mismatch: {users.size} user_ids but {ratings.size} ratings"
                )
            if np.isnan(ratings).any():
                bad = int(np.flatnonzero(np.isnan(ratings))[0])
                raise ValueError(f"NaN rating at position {bad}")
        if timestamps is not None:
            timestamps = np.asarray(timestamps, dtype=np.int64)
            if timestamps.shape != users.shape:
                raise ValueError(
                    f"length mismatch: {users.size} user_ids but {timestamps.size} timestamps"
                )
        if user_map is not None:
            user_map = np.asarray(user_map)
            if user_map.shape != (n_users,):
                raise ValueError(
                    f"user_map has length {user_map.size}, expected n_users={n_users}"
                )
        if item_map is not None:
            item_map = np.asarray(item_map)
            if item_map.shape != (n_items,):
                raise ValueError(
                    f"item_map has length {item_map.size}, expected n_items={n_items}"
                )
        self.user_ids = users
        self.item_ids = items
        self.ratings = ratings
        self.timestamps = timestamps
        self.n_users = n_users
        self.n_items = n_items
        self.user_map = user_map
        self.item_map = item_map
        self.name = name

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return int(self.user_ids.size)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return (
            f"<Interactions{label}: {len(self)} interactions, "
            f"{self.n_users} users x {self.n_items} items>"
        )

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, self.n_items)

    def subset(self, mask_or_index) -> "Interactions":
        """New `Interactions` with the selected rows; id spaces and maps kept."""
        idx = np.asarray(mask_or_index)
        return Interactions(
            self.user_ids[idx],
            self.item_ids[idx],
            None if self.ratings is None else self.ratings[idx],
            self.n_users,
            self.n_items,
            timestamps=None if self.timestamps is None else self.timestamps[idx],
            user_map=self.user_map,
            item_map=self.item_map,
            name=self.name,
        )

    def tocsr(self, binary: bool = True) -> sp.csr_matrix:
        """(n_users, n_items) CSR matrix; duplicates summed unless ``binary``."""
        data = (
            np.ones(len(self), dtype=np.float32)
            if binary or self.ratings is None
            else self.ratings
        )
        mat = sp.csr_matrix(
            (data, (self.user_ids, self.item_ids)), shape=self.shape, dtype=np.float32
        )
        mat.sum_duplicates()
        if binary:
            mat.data[:] = 1.0
        mat.sort_indices()
        return mat

    def user_counts(self) -> np.ndarray:
        """Number of interactions per user, shape (n_users,)."""
        return np.bincount(self.user_ids, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        """Number of interactions per item, shape (n_items,)."""
        return np.bincount(self.item_ids, minlength=self.n_items)
