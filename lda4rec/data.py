"""Data layer: the `Interactions` container, data set loaders, preprocessing, splits.

`Interactions` holds parallel arrays of user ids, item ids (contiguous, 0-based),
optional ratings and timestamps, and the maps back to the original ids.  Splits
of one data set share ``n_users``/``n_items`` and the id maps, so a model trained
on ``train`` scores the same item columns that ``test`` refers to.

Loading
    `DATASETS` (name → `DatasetSpec`: URL, archive layout, digest) and
    `load_dataset(name, data_dir=None, download=True)`.  Files are looked up in
    ``data_dir``, ``$LDA4REC_DATA``, the user cache (`cache_dir`), and for
    ``movielens-100k`` (= ml-latest-small, the papers' "MovieLens-100K") in the
    copy shipped with the package.  Each directory may hold the archive or its
    extracted folder.  `load_item_metadata` / `load_user_metadata` give
    MovieLens titles, genres and demographics.

Preprocessing (seeded, returning new objects)
    `to_implicit`, `cap_user_interactions`, `filter_min_interactions`,
    `merge_duplicates`, `compact`.

Splits
    `random_split`, `leave_n_out_split`, and the papers' protocols
    `p1_protocol` (→ train, valid, test) and `p2_protocol` (→ train, test).
"""

from __future__ import annotations

import hashlib
import io
import os
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .utils import atomic_path, derive_seeds, rng

__all__ = [
    "Interactions",
    "DatasetSpec",
    "DATASETS",
    "DatasetNotFoundError",
    "load_dataset",
    "locate_dataset",
    "verify_dataset",
    "file_digest",
    "cache_dir",
    "to_implicit",
    "cap_user_interactions",
    "filter_min_interactions",
    "merge_duplicates",
    "compact",
    "random_split",
    "leave_n_out_split",
    "p1_protocol",
    "p2_protocol",
    "load_item_metadata",
    "load_user_metadata",
]


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


# ============================================================================
# Dataset registry
# ============================================================================

_GROUPLENS = "https://files.grouplens.org/datasets/movielens/"
_PACKAGE_DATA = Path(__file__).resolve().parent / "datasets"

#: sha256 of the copy of ml-latest-small shipped inside the package (values from
#: ``shared/data/PROVENANCE.md``; GroupLens publishes no digest for this archive).
SHIPPED_SHA256: dict[str, str] = {
    "README.txt": "caa1eb1d1d113578e9dbb36b37398404e00f379492b7aa31df0b30c855017095",
    "ratings.csv": "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646",
    "movies.csv": "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07",
    "links.csv": "97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31",
    "tags.csv": "92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d",
}


@dataclass(frozen=True)
class DatasetSpec:
    """Where a data set comes from and how its files are laid out.

    Attributes
    ----------
    name
        Registry name (``DATASETS`` key).
    description
        One line: what the data set is.
    url
        Official download URL of ``download_as``.
    download_as
        File name the download is stored under (relative to a data directory),
        e.g. ``"ml-1m.zip"``.
    archive
        True when ``download_as`` is a zip archive whose members are listed in
        ``members``; False when the download *is* the ratings file.
    members
        Role (``"ratings"``, ``"items"``, ``"users"``) → path of the file inside
        the archive (for archives) or relative to an accepted folder.
    folders
        Accepted extracted-folder names relative to a data directory; the file
        of a role is looked up as ``<dir>/<folder>/<basename(member)>``.  An
        empty string means "directly in ``<dir>``".
    fmt
        Ratings format: ``"csv"`` (comma, one header row), ``"tsv"`` (tab, no
        header), ``"dat"`` (``::``, no header) or ``"hdf5"``.
    columns
        Number of fields per ratings line (3: user, item, rating; 4: plus
        timestamp).
    digest
        ``"<kind>:<hex>"`` of the downloaded file (kinds: ``md5``, ``sha256``,
        ``gitblob``) or None when no digest is published.
    digest_note
        Where the digest comes from, or why there is none.
    counts
        Published (interactions, users, items) of the raw ratings, or None.
    license
        Licence summary.
    """

    name: str
    description: str
    url: str
    download_as: str
    archive: bool
    members: Mapping[str, str]
    folders: tuple[str, ...]
    fmt: str
    columns: int
    digest: str | None
    digest_note: str
    counts: tuple[int, int, int] | None
    license: str
    encoding: Mapping[str, str] = field(default_factory=dict)

    def accepted_paths(self, role: str = "ratings") -> list[str]:
        """Paths (relative to a data directory) where this file is accepted."""
        member = self.members[role]
        paths = []
        if self.archive:
            paths.append(f"{self.download_as} (zip archive containing {member})")
        base = member.rsplit("/", 1)[-1]
        for folder in self.folders:
            paths.append(f"{folder}/{base}" if folder else base)
        return paths


_ML_LICENSE = (
    "GroupLens research licence (README in the archive): research use, "
    "acknowledgement required, no commercial use"
)

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            name="movielens-100k",
            description=(
                "MovieLens latest-small (generated 2018-09-26), the papers' "
                "'MovieLens-100K'; shipped inside the package"
            ),
            url=_GROUPLENS + "ml-latest-small.zip",
            download_as="ml-latest-small.zip",
            archive=True,
            members={
                "ratings": "ml-latest-small/ratings.csv",
                "items": "ml-latest-small/movies.csv",
            },
            folders=("ml-latest-small",),
            fmt="csv",
            columns=4,
            digest=None,
            digest_note=(
                "GroupLens publishes no checksum for ml-latest-small.zip (the archive "
                "is regenerated from time to time); the copy shipped in the package "
                "is checked against the sha256 values in SHIPPED_SHA256"
            ),
            counts=(100_836, 610, 9_724),
            license=_ML_LICENSE + "; redistribution allowed under the same terms",
        ),
        DatasetSpec(
            name="movielens-100k-old",
            description="MovieLens 100K (1998), u.data tab-separated without header",
            url=_GROUPLENS + "ml-100k.zip",
            download_as="ml-100k.zip",
            archive=True,
            members={
                "ratings": "ml-100k/u.data",
                "items": "ml-100k/u.item",
                "users": "ml-100k/u.user",
            },
            folders=("ml-100k",),
            fmt="tsv",
            columns=4,
            digest="md5:0e33842e24a9c977be4e0107933c0723",
            digest_note="MD5 published by GroupLens (ml-100k.zip.md5)",
            counts=(100_000, 943, 1_682),
            license=_ML_LICENSE + "; no redistribution without permission",
            encoding={"items": "latin-1", "users": "latin-1"},
        ),
        DatasetSpec(
            name="movielens-1m",
            description="MovieLens 1M (2003), '::'-separated without header",
            url=_GROUPLENS + "ml-1m.zip",
            download_as="ml-1m.zip",
            archive=True,
            members={
                "ratings": "ml-1m/ratings.dat",
                "items": "ml-1m/movies.dat",
                "users": "ml-1m/users.dat",
            },
            folders=("ml-1m",),
            fmt="dat",
            columns=4,
            digest="md5:c4d9eecfca2ab87c1945afe126590906",
            digest_note="MD5 published by GroupLens (ml-1m.zip.md5)",
            counts=(1_000_209, 6_040, 3_706),
            license=_ML_LICENSE + "; no redistribution without permission",
            encoding={"items": "latin-1", "users": "latin-1"},
        ),
        DatasetSpec(
            name="movielens-10m",
            description="MovieLens 10M (2009), '::'-separated without header",
            url=_GROUPLENS + "ml-10m.zip",
            download_as="ml-10m.zip",
            archive=True,
            members={
                "ratings": "ml-10M100K/ratings.dat",
                "items": "ml-10M100K/movies.dat",
            },
            folders=("ml-10M100K", "ml-10m"),
            fmt="dat",
            columns=4,
            digest="md5:ce571fd55effeba0271552578f2648bd",
            digest_note="MD5 published by GroupLens (ml-10m.zip.md5)",
            counts=(10_000_054, 69_878, 10_677),
            license=_ML_LICENSE + "; no redistribution without permission",
            encoding={"items": "utf-8|latin-1"},
        ),
        DatasetSpec(
            name="movielens-20m",
            description="MovieLens 20M (2015), CSV with header",
            url=_GROUPLENS + "ml-20m.zip",
            download_as="ml-20m.zip",
            archive=True,
            members={
                "ratings": "ml-20m/ratings.csv",
                "items": "ml-20m/movies.csv",
            },
            folders=("ml-20m",),
            fmt="csv",
            columns=4,
            digest="md5:cd245b17a1ae2cc31bb14903e1204af3",
            digest_note="MD5 published by GroupLens (ml-20m.zip.md5)",
            counts=(20_000_263, 138_493, 26_744),
            license=_ML_LICENSE + "; no redistribution without permission",
        ),
        DatasetSpec(
            name="goodbooks",
            description=(
                "goodbooks-10k ratings.csv (header user_id,book_id,rating; no "
                "timestamps)"
            ),
            url="https://raw.githubusercontent.com/zygmuntz/goodbooks-10k/master/ratings.csv",
            download_as="goodbooks-10k/ratings.csv",
            archive=False,
            members={"ratings": "ratings.csv"},
            folders=("goodbooks-10k",),
            fmt="csv",
            columns=3,
            digest="gitblob:0d245a10acfe3c89b2e4004cdbc805b99771ac5d",
            digest_note=(
                "git blob id of ratings.csv in zygmuntz/goodbooks-10k "
                "(`git hash-object ratings.csv`)"
            ),
            counts=(5_976_479, 53_424, 10_000),
            license="CC BY-SA 4.0",
        ),
        DatasetSpec(
            name="amazon",
            description=(
                "Spotlight's amazon_co_purchasing.hdf5 (built from SNAP amazon-meta): "
                "1-D datasets /user_id, /item_id, /rating, /timestamp of equal "
                "length (the /features_* datasets are ignored); no pruning applied"
            ),
            url=(
                "https://github.com/maciejkula/recommender_datasets/releases/download/"
                "0.1.0/amazon_co_purchasing.hdf5"
            ),
            download_as="amazon_co_purchasing.hdf5",
            archive=False,
            members={"ratings": "amazon_co_purchasing.hdf5"},
            folders=("", "amazon"),
            fmt="hdf5",
            columns=4,
            digest=None,
            digest_note=(
                "no digest is published for this GitHub release asset; the file is "
                "used unverified"
            ),
            counts=None,
            license="SNAP Amazon product co-purchasing network metadata (research use)",
        ),
    ]
}


def _spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(DATASETS))
        raise ValueError(f"unknown dataset {name!r}; known names: {known}") from None


# ============================================================================
# Digests, cache directory, download
# ============================================================================


def file_digest(path: str | os.PathLike, kind: str = "sha256") -> str:
    """Hex digest of a file.

    ``kind`` is ``"md5"``, ``"sha256"``, ``"sha1"`` or ``"gitblob"`` (the git
    object id of the file's content: ``sha1(b"blob <size>\\0" + content)``, what
    ``git hash-object`` prints).
    """
    path = Path(path)
    if kind == "gitblob":
        h = hashlib.sha1()
        h.update(b"blob %d\0" % path.stat().st_size)
    elif kind in ("md5", "sha256", "sha1"):
        h = hashlib.new(kind)
    else:
        raise ValueError(f"unknown digest kind {kind!r}; use md5, sha256, sha1 or gitblob")
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_digest(path: Path, expected: str | None, what: str) -> None:
    if expected is None:
        return
    kind, _, want = expected.partition(":")
    got = file_digest(path, kind)
    if got.lower() != want.lower():
        raise ValueError(
            f"digest mismatch for {what}: expected {kind} {want}, got {kind} {got}"
        )


def cache_dir() -> Path:
    """The user cache directory for downloads.

    ``LDA4REC_CACHE`` if set, else ``platformdirs.user_cache_dir("lda4rec")``.
    """
    env = os.environ.get("LDA4REC_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("lda4rec"))


def _fetch(url: str, dest: Path, desc: str | None = None) -> None:
    """Stream ``url`` into ``dest`` with a tqdm progress bar (any urllib scheme)."""
    from tqdm.auto import tqdm

    with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as out:
        total = resp.headers.get("Content-Length") if hasattr(resp, "headers") else None
        with tqdm(
            total=int(total) if total else None,
            unit="B",
            unit_scale=True,
            desc=desc or url.rsplit("/", 1)[-1],
            leave=False,
        ) as bar:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))


def _download(spec: DatasetSpec) -> Path:
    """Download ``spec.url`` into the cache dir: temp file, digest check, rename."""
    dest = cache_dir() / spec.download_as
    with atomic_path(dest) as tmp:
        _fetch(spec.url, tmp, desc=f"{spec.name}: {spec.download_as}")
        _check_digest(tmp, spec.digest, f"{spec.url} (would be saved as {dest}; nothing was saved)")
    return dest


# ============================================================================
# Locating files
# ============================================================================


class DatasetNotFoundError(FileNotFoundError):
    """A data set file is missing everywhere and could not be downloaded."""


@dataclass(frozen=True)
class _Source:
    """One readable file: plain path, or member of a zip archive."""

    path: Path
    member: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    def read_bytes(self) -> bytes:
        if self.member is None:
            return self.path.read_bytes()
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(self.member)


def _roots(data_dir) -> list[tuple[Path, str]]:
    roots: list[tuple[Path, str]] = []
    if data_dir is not None:
        roots.append((Path(data_dir), "data_dir argument"))
    env = os.environ.get("LDA4REC_DATA")
    if env:
        roots.append((Path(env), "LDA4REC_DATA"))
    roots.append((cache_dir(), "user cache"))
    return roots


def _find_in(root: Path, spec: DatasetSpec, role: str) -> _Source | None:
    member = spec.members[role]
    base = member.rsplit("/", 1)[-1]
    for folder in spec.folders:
        cand = root / folder / base if folder else root / base
        if cand.is_file():
            return _Source(cand)
    if spec.archive:
        arch = root / spec.download_as
        if arch.is_file():
            try:
                with zipfile.ZipFile(arch) as zf:
                    names = set(zf.namelist())
            except zipfile.BadZipFile as exc:
                raise ValueError(f"{arch} is not a valid zip archive: {exc}") from None
            if member not in names:
                raise ValueError(
                    f"{arch} has no member {member!r} (expected the official "
                    f"{spec.download_as} layout from {spec.url})"
                )
            return _Source(arch, member)
    return None


def _shipped(spec: DatasetSpec, role: str) -> _Source | None:
    if spec.name != "movielens-100k":
        return None
    cand = _PACKAGE_DATA / "ml-latest-small" / spec.members[role].rsplit("/", 1)[-1]
    return _Source(cand) if cand.is_file() else None


def _not_found(spec: DatasetSpec, role: str, roots, reason: str) -> DatasetNotFoundError:
    where = "\n".join(f"    {r}  ({why})" for r, why in roots)
    paths = "\n".join(f"    <dir>/{p}" for p in spec.accepted_paths(role))
    digest = f" ({spec.digest})" if spec.digest else " (no published digest)"
    return DatasetNotFoundError(
        f"dataset {spec.name!r}: file {spec.members[role]!r} not found.\n"
        f"Put one of\n{paths}\n"
        f"into one of these directories <dir> (searched in this order):\n{where}\n"
        f"The file is available from {spec.url}{digest}.\n{reason}"
    )


def _resolve(spec: DatasetSpec, role: str, data_dir=None, download: bool = True) -> _Source:
    roots = _roots(data_dir)
    for root, _ in roots:
        src = _find_in(root, spec, role)
        if src is not None:
            return src
    shipped = _shipped(spec, role)
    if shipped is not None:
        return shipped
    if not download:
        raise _not_found(spec, role, roots, "Automatic download is off (download=False).")
    if role != "ratings" and not spec.archive:
        raise _not_found(spec, role, roots, "This file is not downloaded automatically.")
    try:
        _download(spec)
    except (urllib.error.URLError, OSError) as exc:
        raise _not_found(spec, role, roots, f"Automatic download failed: {exc}") from exc
    src = _find_in(cache_dir(), spec, role)
    if src is None:  # pragma: no cover - _find_in raises on a bad archive
        raise _not_found(spec, role, roots, "The downloaded file lacks it.")
    return src


def locate_dataset(name: str, data_dir=None, role: str = "ratings") -> str | None:
    """Where ``load_dataset`` would read ``role`` from, without downloading.

    Returns a path (``archive.zip:member`` for archive members) or None.
    """
    spec = _spec(name)
    if role not in spec.members:
        raise ValueError(f"dataset {name!r} has no {role!r} file; it has {sorted(spec.members)}")
    try:
        return _resolve(spec, role, data_dir, download=False).label
    except DatasetNotFoundError:
        return None


def verify_dataset(name: str, data_dir=None) -> bool:
    """Check the digest of a data set's downloaded file where one can be checked.

    Checks ``<dir>/<download_as>`` (the archive, or goodbooks' ratings.csv)
    against ``spec.digest``, and the files of an extracted ml-latest-small
    folder (such as the copy shipped in the package) against `SHIPPED_SHA256`
    (the 2018-09-26 release the papers used).  Returns True when something was checked and matched,
    False when there was nothing checkable (extracted folder of an archive, or
    no published digest); raises ``ValueError`` on a mismatch.
    """
    spec = _spec(name)
    src = _resolve(spec, "ratings", data_dir, download=False)
    if spec.name == "movielens-100k" and src.member is None:
        # an extracted ml-latest-small folder (shipped or not): the 2018-09-26 files
        for fname, want in SHIPPED_SHA256.items():
            path = src.path.parent / fname
            if path.is_file():
                _check_digest(path, f"sha256:{want}", str(path))
        return True
    if spec.digest is None:
        return False
    target = src.path
    if not spec.archive and target.name != spec.download_as.rsplit("/", 1)[-1]:
        return False
    if spec.archive and src.member is None:
        return False
    _check_digest(target, spec.digest, str(target))
    return True


# ============================================================================
# Parsing
# ============================================================================

_SEPS = {"csv": ",", "tsv": "\t", "dat": "::"}
_FIELD_NAMES = ("user id", "item id", "rating", "timestamp")


def _diagnose(data: bytes, label: str, sep: str, header: bool, n_fields: int) -> None:
    """Find the first malformed line of a ratings file and raise naming it."""
    text = data.decode("utf-8", errors="replace")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if header and lineno == 1:
            continue
        if not line.strip():
            continue
        parts = line.split(sep)
        if len(parts) != n_fields:
            raise ValueError(
                f"{label}, line {lineno}: expected {n_fields} fields separated by "
                f"{sep!r}, got {len(parts)}: {line[:80]!r}"
            )
        for j, part in enumerate(parts):
            kind = _FIELD_NAMES[j]
            try:
                if j == 2:
                    val = float(part)
                    if val != val:
                        raise ValueError
                else:
                    int(part)
            except ValueError:
                what = "numeric" if j == 2 else "an integer"
                raise ValueError(
                    f"{label}, line {lineno}: {kind} must be {what}, got {part!r}"
                    + (" (this file has no header row)" if lineno == 1 and not header else "")
                ) from None
    raise ValueError(f"{label}: could not parse the ratings (no malformed line found)")


def _parse_ratings(data: bytes, label: str, fmt: str, n_fields: int):
    sep = _SEPS[fmt]
    header = fmt == "csv"
    buf = data.replace(b"::", b"\t") if sep == "::" else data
    pd_sep = "\t" if sep == "::" else sep
    if not data.strip():
        raise ValueError(f"{label}: file is empty")
    try:
        df = pd.read_csv(
            io.BytesIO(buf), sep=pd_sep, header=0 if header else None, index_col=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError):
        _diagnose(data, label, sep, header, n_fields)
    if df.shape[1] != n_fields or len(df) == 0:
        _diagnose(data, label, sep, header, n_fields)
    if header and str(df.columns[0]).strip().lstrip("-").isdigit():
        first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
        raise ValueError(
            f"{label}, line 1: expected a header row, got data {first[:80]!r}"
        )
    cols = [df.iloc[:, j] for j in range(n_fields)]
    ok = all(pd.api.types.is_integer_dtype(cols[j]) for j in (0, 1))
    ok = ok and pd.api.types.is_numeric_dtype(cols[2]) and not cols[2].isna().any()
    if n_fields > 3:
        ok = ok and pd.api.types.is_integer_dtype(cols[3])
    if not ok:
        _diagnose(data, label, sep, header, n_fields)
    users = cols[0].to_numpy(np.int64)
    items = cols[1].to_numpy(np.int64)
    ratings = cols[2].to_numpy(np.float32)
    stamps = cols[3].to_numpy(np.int64) if n_fields > 3 else None
    return users, items, ratings, stamps


def _read_hdf5(path: Path):
    import h5py

    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in ("user_id", "item_id") if k not in f]
            if missing:
                raise ValueError(
                    f"{path}: missing HDF5 dataset(s) {missing}; expected Spotlight's "
                    "layout with 1-D /user_id, /item_id, /rating, /timestamp"
                )
            users = np.asarray(f["user_id"][:], dtype=np.int64)
            items = np.asarray(f["item_id"][:], dtype=np.int64)
            ratings = (
                np.asarray(f["rating"][:], dtype=np.float32) if "rating" in f else None
            )
            stamps = (
                np.asarray(f["timestamp"][:], dtype=np.int64) if "timestamp" in f else None
            )
    except OSError as exc:
        raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from None
    for arr, key in ((items, "item_id"), (ratings, "rating"), (stamps, "timestamp")):
        if arr is not None and arr.shape != users.shape:
            raise ValueError(
                f"{path}: /{key} has shape {arr.shape}, /user_id has {users.shape}"
            )
    return users, items, ratings, stamps


def _from_raw(users, items, ratings, stamps, name: str | None, label: str) -> Interactions:
    if users.size == 0:
        raise ValueError(f"{label}: no ratings")
    user_map, u = np.unique(users, return_inverse=True)
    item_map, i = np.unique(items, return_inverse=True)
    if ratings is not None and np.isnan(ratings).any():
        raise ValueError(f"{label}: NaN rating at row {int(np.flatnonzero(np.isnan(ratings))[0])}")
    return Interactions(
        u.reshape(-1), i.reshape(-1), ratings, user_map.size, item_map.size,
        timestamps=stamps, user_map=user_map, item_map=item_map, name=name,
    )


def load_dataset(name: str, data_dir=None, download: bool = True) -> Interactions:
    """Load a registered data set as `Interactions`.

    Parameters
    ----------
    name
        A key of `DATASETS`: ``movielens-100k`` (ml-latest-small, the papers'
        "MovieLens-100K"), ``movielens-100k-old`` (ml-100k), ``movielens-1m``,
        ``movielens-10m``, ``movielens-20m``, ``goodbooks``, ``amazon``.
    data_dir
        Directory searched first.  Then ``$LDA4REC_DATA``, then the user cache
        (`cache_dir`); for ``movielens-100k`` the copy shipped in the package is
        the final fallback, so it never needs the network.  In each directory
        the extracted folder (e.g. ``<dir>/ml-1m/ratings.dat``) and the archive
        (``<dir>/ml-1m.zip``) are accepted; see ``DATASETS[name].accepted_paths()``.
    download
        When the file is found nowhere: download it into the cache dir (progress
        bar, temporary file, digest check, atomic rename).  If False, or if the
        download fails, raise `DatasetNotFoundError` listing where to put which file.

    Returns
    -------
    Interactions
        All ratings of the file, one row per line, in file order.  Ids are
        compacted to ``0..n-1`` in the order of the sorted original ids;
        ``user_map``/``item_map`` give the original ids.  ``ratings`` are
        float32; ``timestamps`` are kept when the file has them (ml-1m copies
        built without timestamps carry zeros).  ``name`` is set to ``name``.
        No filtering is applied (Amazon: the papers' pruning is done by
        `filter_min_interactions`).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known names); malformed file (the
        message names the file and the line); digest mismatch after download.
    DatasetNotFoundError
        File missing everywhere and not downloadable.
    """
    spec = _spec(name)
    src = _resolve(spec, "ratings", data_dir, download)
    if spec.fmt == "hdf5":
        if src.member is not None:  # pragma: no cover - hdf5 specs are not archives
            raise ValueError(f"{src.label}: HDF5 inside an archive is not supported")
        users, items, ratings, stamps = _read_hdf5(src.path)
    else:
        users, items, ratings, stamps = _parse_ratings(
            src.read_bytes(), src.label, spec.fmt, spec.columns
        )
    return _from_raw(users, items, ratings, stamps, spec.name, src.label)


# ============================================================================
# Preprocessing (all return new objects; the input is never modified)
# ============================================================================


def _take(inter: Interactions, idx) -> Interactions:
    return inter.subset(np.asarray(idx))


def _rank_within_user(user_ids: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Random rank (0, 1, ...) of each row among the rows of its user."""
    perm = gen.permutation(user_ids.size)
    order = perm[np.argsort(user_ids[perm], kind="stable")]  # by user, random within
    sorted_users = user_ids[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, sorted_users.size]))
    ranks = np.empty(user_ids.size, dtype=np.int64)
    ranks[order] = np.arange(user_ids.size) - run_start
    return ranks


def to_implicit(inter: Interactions, pivot: float | None = None) -> Interactions:
    """Keep the interactions with ``rating >= pivot`` (``pivot=None`` keeps all).

    The kept rows keep their ratings (models treat every row as a positive);
    ids, maps and ``n_users``/``n_items`` are unchanged.
    """
    if pivot is None:
        return _take(inter, np.arange(len(inter)))
    if inter.ratings is None:
        raise ValueError("pivot given but the interactions have no ratings")
    keep = inter.ratings >= float(pivot)
    if not keep.any():
        raise ValueError(
            f"pivot={pivot} removes every interaction (max rating {float(inter.ratings.max())})"
        )
    return _take(inter, np.flatnonzero(keep))


def cap_user_interactions(inter: Interactions, max_n: int, seed=0) -> Interactions:
    """Keep at most ``max_n`` interactions per user, chosen uniformly at random.

    Users with at most ``max_n`` rows are untouched; of the others a random
    subset of exactly ``max_n`` rows (without replacement) is kept.  Rows are
    counted, so merge duplicate (user, item) pairs first if there are any.
    Kept rows stay in input order.  P1 uses ``max_n=200``.
    """
    max_n = int(max_n)
    if max_n < 1:
        raise ValueError(f"max_n must be >= 1, got {max_n}")
    ranks = _rank_within_user(inter.user_ids, rng(seed))
    return _take(inter, np.flatnonzero(ranks < max_n))


def filter_min_interactions(
    inter: Interactions, min_user: int = 0, min_item: int = 0, *, iterate: bool = False
) -> Interactions:
    """Drop users with fewer than ``min_user`` and items with fewer than ``min_item`` rows.

    By default the filter is applied ONCE: both counts are taken on the input
    and a row is kept when its user and its item both pass (as P2 and Spotlight
    do), so afterwards some users/items may fall below the thresholds again.
    With ``iterate=True`` the filter is repeated until nothing changes (every
    remaining user has >= ``min_user`` and every item >= ``min_item`` rows).
    Id spaces and maps are unchanged (emptied users/items remain as ids with no
    rows); call `compact` to drop them.
    """
    if min_user < 0 or min_item < 0:
        raise ValueError(f"min_user and min_item must be >= 0, got {min_user}, {min_item}")
    idx = np.arange(len(inter))
    while True:
        u, i = inter.user_ids[idx], inter.item_ids[idx]
        uc = np.bincount(u, minlength=inter.n_users)
        ic = np.bincount(i, minlength=inter.n_items)
        keep = (uc[u] >= min_user) & (ic[i] >= min_item)
        if keep.all():
            break
        idx = idx[keep]
        if idx.size == 0:
            raise ValueError(
                f"filter_min_interactions(min_user={min_user}, min_item={min_item}) "
                "removes every interaction"
            )
        if not iterate:
            break
    return _take(inter, idx)


_MERGE_HOW = ("max", "min", "mean", "sum", "first", "last")


def merge_duplicates(inter: Interactions, how: str = "max") -> Interactions:
    """Merge rows with the same (user, item) pair into one.

    ``how`` sets the merged rating: ``"max"``, ``"min"``, ``"mean"``, ``"sum"``
    of the pair's ratings, or ``"first"``/``"last"`` row, where order is by
    timestamp when present (ties and no timestamps: row order).  The merged
    timestamp is that of the chosen row for first/last, else the latest one.
    Output rows are sorted by (user, item).
    """
    if how not in _MERGE_HOW:
        raise ValueError(f"how must be one of {_MERGE_HOW}, got {how!r}")
    n = len(inter)
    stamps = inter.timestamps
    time_key = stamps if stamps is not None else np.zeros(n, dtype=np.int64)
    # sort by user, item, time, row
    order = np.lexsort((np.arange(n), time_key, inter.item_ids, inter.user_ids))
    u, i = inter.user_ids[order], inter.item_ids[order]
    new_group = np.r_[True, (np.diff(u) != 0) | (np.diff(i) != 0)]
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], n]
    first_rows, last_rows = order[starts], order[ends - 1]
    chosen = last_rows if how == "last" else first_rows
    ratings = None if inter.ratings is None else inter.ratings[chosen].copy()
    ts = None if stamps is None else stamps[chosen].copy()
    if inter.ratings is not None and how in ("max", "min", "mean", "sum"):
        r = inter.ratings[order].astype(np.float64)
        op = {"max": np.maximum, "min": np.minimum, "sum": np.add, "mean": np.add}[how]
        agg = op.reduceat(r, starts)
        if how == "mean":
            agg = agg / (ends - starts)
        ratings = agg.astype(np.float32)
    if stamps is not None and how in ("max", "min", "mean", "sum"):
        ts = np.maximum.reduceat(stamps[order], starts)
    return Interactions(
        inter.user_ids[first_rows], inter.item_ids[first_rows], ratings,
        inter.n_users, inter.n_items, timestamps=ts, user_map=inter.user_map,
        item_map=inter.item_map, name=inter.name,
    )


def compact(inter: Interactions) -> Interactions:
    """Drop users and items without interactions and re-index them.

    Remaining ids keep their relative order; ``user_map``/``item_map`` are
    composed so they still give the original ids (without maps, they give the
    ids of the input).
    """
    kept_u = np.flatnonzero(inter.user_counts() > 0)
    kept_i = np.flatnonzero(inter.item_counts() > 0)
    new_u = np.full(inter.n_users, -1, dtype=np.int64)
    new_u[kept_u] = np.arange(kept_u.size)
    new_i = np.full(inter.n_items, -1, dtype=np.int64)
    new_i[kept_i] = np.arange(kept_i.size)
    umap = kept_u if inter.user_map is None else inter.user_map[kept_u]
    imap = kept_i if inter.item_map is None else inter.item_map[kept_i]
    return Interactions(
        new_u[inter.user_ids], new_i[inter.item_ids],
        None if inter.ratings is None else inter.ratings.copy(),
        kept_u.size, kept_i.size,
        timestamps=None if inter.timestamps is None else inter.timestamps.copy(),
        user_map=umap, item_map=imap, name=inter.name,
    )


# ============================================================================
# Splits
# ============================================================================


def random_split(inter: Interactions, test_frac: float, seed=0) -> tuple[Interactions, Interactions]:
    """Random (train, test) split over interactions.

    The rows are shuffled with ``seed``; the first ``int((1 - test_frac) * n)``
    go to train, the rest to test (the rule of Spotlight's
    ``random_train_test_split`` used by the original code).  Both parts keep
    input row order, ``n_users``/``n_items`` and the maps.
    """
    if not 0.0 < float(test_frac) < 1.0:
        raise ValueError(f"test_frac must be in (0, 1), got {test_frac}")
    n = len(inter)
    cutoff = int((1.0 - float(test_frac)) * n)
    if cutoff == 0 or cutoff == n:
        raise ValueError(
            f"test_frac={test_frac} on {n} interactions leaves an empty part"
        )
    perm = rng(seed).permutation(n)
    return _take(inter, np.sort(perm[:cutoff])), _take(inter, np.sort(perm[cutoff:]))


def leave_n_out_split(inter: Interactions, n: int = 10, seed=0) -> tuple[Interactions, Interactions]:
    """Per user, ``n`` random interactions to test and the rest to train.

    Users with at most ``n`` interactions keep all of them in train and get no
    test rows (so they are never evaluated and never lose all their training
    data).  P2 prunes users with < 20 interactions first, so this does not arise
    there.  Both parts keep input row order, id spaces and maps.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    ranks = _rank_within_user(inter.user_ids, rng(seed))
    eligible = inter.user_counts()[inter.user_ids] > n
    is_test = eligible & (ranks < n)
    if not is_test.any():
        raise ValueError(f"no user has more than n={n} interactions; test would be empty")
    return _take(inter, np.flatnonzero(~is_test)), _take(inter, np.flatnonzero(is_test))


def p1_protocol(
    name: str = "movielens-100k",
    seed: int = 1729,
    data_dir=None,
    max_user_interactions: int = 200,
    *,
    download: bool = True,
) -> tuple[Interactions, Interactions, Interactions]:
    """P1's data protocol → (train, valid, test).

    Implicit (all ratings kept), each user capped at ``max_user_interactions``
    by random subsampling, then a random 90 % of the interactions to train;
    the remaining 10 % are shuffled again and halved: the FIRST half
    (``int(0.5 * n_rest)`` rows) is test, the second half valid, as in the
    original code (``test, valid = random_train_test_split(rest, 0.5)``).
    Id spaces are those of the loaded data set (not compacted, as in the
    original).  The three random steps use seeds derived from ``seed`` with
    `lda4rec.utils.derive_seeds`.
    """
    data = load_dataset(name, data_dir=data_dir, download=download)
    s_cap, s_split, s_half = derive_seeds(seed, 3)
    data = to_implicit(data, None)
    data = cap_user_interactions(data, max_user_interactions, seed=s_cap)
    train, rest = random_split(data, 0.10, seed=s_split)
    test, valid = random_split(rest, 0.5, seed=s_half)
    return train, valid, test


def p2_protocol(
    name: str,
    seed: int = 1729,
    data_dir=None,
    min_user_interactions: int = 20,
    min_item_interactions: int = 0,
    n_test: int = 10,
    *,
    download: bool = True,
) -> tuple[Interactions, Interactions]:
    """P2's data protocol → (train, test).

    Implicit (all ratings), duplicate (user, item) pairs merged (none in the
    MovieLens files), users with fewer than ``min_user_interactions`` and items
    with fewer than ``min_item_interactions`` rows removed ONCE (counts on the
    loaded data; P2 uses 20 users, and 50 items for Amazon — pass
    ``min_item_interactions=50`` there), then compacted (emptied users/items
    dropped, maps kept right), then ``n_test`` random items per user to test
    (`leave_n_out_split`).  Seed derived from ``seed`` via `derive_seeds`.
    """
    data = load_dataset(name, data_dir=data_dir, download=download)
    (s_split,) = derive_seeds(seed, 1)
    data = to_implicit(data, None)
    keys = np.sort(data.user_ids * data.n_items + data.item_ids)
    if (np.diff(keys) == 0).any():
        data = merge_duplicates(data, "max")
    data = filter_min_interactions(data, min_user_interactions, min_item_interactions)
    data = compact(data)
    return leave_n_out_split(data, n_test, seed=s_split)


# ============================================================================
# MovieLens metadata
# ============================================================================

_ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
_ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer",
    "homemaker", "K-12 student", "lawyer", "programmer", "retired", "sales/marketing",
    "scientist", "self-employed", "technician/engineer", "tradesman/craftsman",
    "unemployed", "writer",
)
_ML1M_AGES = {1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49",
              50: "50-55", 56: "56+"}


def _lines(src: _Source, encoding: str) -> list[str]:
    raw = src.read_bytes()
    if encoding == "utf-8|latin-1":  # utf-8 when it decodes strictly, else latin-1
        try:
            return raw.decode("utf-8").splitlines()
        except UnicodeDecodeError:
            return raw.decode("latin-1").splitlines()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{src.label}: not {encoding} text ({exc})") from None
    return text.splitlines()


def _split_line(src: _Source, lineno: int, line: str, sep: str, n: int) -> list[str]:
    parts = line.split(sep)
    if len(parts) != n:
        raise ValueError(
            f"{src.label}, line {lineno}: expected {n} fields separated by {sep!r}, "
            f"got {len(parts)}: {line[:80]!r}"
        )
    return parts


def _int_field(src: _Source, lineno: int, value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{src.label}, line {lineno}: {what} must be an integer, got {value!r}") from None


def _read_movies(spec: DatasetSpec, src: _Source) -> pd.DataFrame:
    enc = spec.encoding.get("items", "utf-8")
    rows = []
    if spec.fmt == "csv":  # movieId,title,genres with a header; titles may be quoted
        try:
            df = pd.read_csv(io.BytesIO(src.read_bytes()), encoding=enc, dtype={"title": str})
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"{src.label}: {exc}") from None
        missing = {"movieId", "title", "genres"} - set(df.columns)
        if missing:
            raise ValueError(f"{src.label}: missing column(s) {sorted(missing)}")
        if not pd.api.types.is_integer_dtype(df["movieId"]):
            bad = int(np.flatnonzero(pd.to_numeric(df["movieId"], errors="coerce").isna())[0])
            raise ValueError(f"{src.label}, line {bad + 2}: movieId must be an integer")
        out = pd.DataFrame({
            "movie_id": df["movieId"].to_numpy(np.int64),
            "title": df["title"].astype(str).to_numpy(),
            "genres": [
                [] if g == "(no genres listed)" else g.split("|")
                for g in df["genres"].astype(str)
            ],
        })
        return out
    if spec.fmt == "tsv":  # ml-100k u.item: id|title|release|video release|url|19 flags
        for lineno, line in enumerate(_lines(src, enc), start=1):
            if not line.strip():
                continue
            p = _split_line(src, lineno, line, "|", 5 + len(_ML100K_GENRES))
            flags = p[5:]
            if any(f not in ("0", "1") for f in flags):
                raise ValueError(f"{src.label}, line {lineno}: genre flags must be 0/1")
            rows.append((
                _int_field(src, lineno, p[0], "movie id"), p[1],
                [g for g, f in zip(_ML100K_GENRES, flags) if f == "1"], p[2], p[4],
            ))
        return pd.DataFrame(rows, columns=["movie_id", "title", "genres", "release_date", "imdb_url"])
    # "dat": MovieID::Title::Genres
    for lineno, line in enumerate(_lines(src, enc), start=1):
        if not line.strip():
            continue
        p = _split_line(src, lineno, line, "::", 3)
        rows.append((_int_field(src, lineno, p[0], "movie id"), p[1], p[2].split("|")))
    return pd.DataFrame(rows, columns=["movie_id", "title", "genres"])


def _read_users(spec: DatasetSpec, src: _Source) -> pd.DataFrame:
    enc = spec.encoding.get("users", "utf-8")
    rows = []
    if spec.fmt == "tsv":  # u.user: id|age|gender|occupation|zip
        for lineno, line in enumerate(_lines(src, enc), start=1):
            if not line.strip():
                continue
            p = _split_line(src, lineno, line, "|", 5)
            rows.append((_int_field(src, lineno, p[0], "user id"),
                         _int_field(src, lineno, p[1], "age"), p[2], p[3], p[4]))
        return pd.DataFrame(rows, columns=["user_id", "age", "gender", "occupation", "zip"])
    # ml-1m users.dat: UserID::Gender::Age::Occupation::Zip-code (age and occupation coded)
    for lineno, line in enumerate(_lines(src, enc), start=1):
        if not line.strip():
            continue
        p = _split_line(src, lineno, line, "::", 5)
        age = _int_field(src, lineno, p[2], "age")
        occ = _int_field(src, lineno, p[3], "occupation")
        if age not in _ML1M_AGES or not 0 <= occ < len(_ML1M_OCCUPATIONS):
            raise ValueError(f"{src.label}, line {lineno}: unknown age code {age} or occupation code {occ}")
        rows.append((_int_field(src, lineno, p[0], "user id"), age, _ML1M_AGES[age], p[1],
                     _ML1M_OCCUPATIONS[occ], occ, p[4]))
    return pd.DataFrame(rows, columns=["user_id", "age", "age_group", "gender", "occupation",
                                       "occupation_code", "zip"])


def _metadata(name, inter, data_dir, role, reader, id_col, map_attr, index_name):
    spec = _spec(name)
    if role not in spec.members:
        have = sorted(n for n, s in DATASETS.items() if role in s.members)
        raise ValueError(f"dataset {name!r} has no {'item' if role == 'items' else 'user'} "
                         f"metadata; available for: {', '.join(have)}")
    if inter is None:
        inter = load_dataset(name, data_dir=data_dir)
    id_map = getattr(inter, map_attr)
    if id_map is None:
        raise ValueError(f"inter has no {map_attr}; cannot match metadata to compact ids")
    src = _resolve(spec, role, data_dir, download=True)
    table = reader(spec, src)
    if table[id_col].duplicated().any():
        dup = int(table[id_col][table[id_col].duplicated()].iloc[0])
        raise ValueError(f"{src.label}: duplicate {id_col} {dup}")
    table = table.set_index(id_col).reindex(np.asarray(id_map))
    table.index.name = id_col
    table = table.reset_index()
    table.index = pd.RangeIndex(len(id_map), name=index_name)
    return table


def load_item_metadata(name: str, inter: Interactions | None = None, data_dir=None) -> pd.DataFrame:
    """MovieLens movie metadata indexed by compact item id.

    Parameters
    ----------
    name
        ``movielens-100k`` (movies.csv), ``movielens-100k-old`` (u.item,
        latin-1, genre flags), ``movielens-1m`` (movies.dat, latin-1),
        ``movielens-10m``, ``movielens-20m``.
    inter
        The interactions whose ``item_map`` defines the compact ids (default:
        ``load_dataset(name, data_dir)``).

    Returns
    -------
    DataFrame
        Index ``item`` = compact id (0..n_items-1, one row each); columns
        ``movie_id`` (original id), ``title``, ``genres`` (list of str; empty
        for "(no genres listed)"), plus ``release_date``, ``imdb_url`` for
        ml-100k.  Items missing from the metadata file have NaN title.
    """
    return _metadata(name, inter, data_dir, "items", _read_movies, "movie_id", "item_map", "item")


def load_user_metadata(name: str, inter: Interactions | None = None, data_dir=None) -> pd.DataFrame:
    """MovieLens user demographics indexed by compact user id.

    Available for ``movielens-100k-old`` (u.user: ``age`` in years, ``gender``,
    ``occupation``, ``zip``) and ``movielens-1m`` (users.dat: ``age`` is the
    coded group's lower bound with ``age_group`` its label, ``occupation`` the
    name of ``occupation_code``, ``gender``, ``zip``).  Column ``user_id`` is
    the original id.
    """
    return _metadata(name, inter, data_dir, "users", _read_users, "user_id", "user_map", "user")
