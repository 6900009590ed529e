"""Tests for lda4rec.data: container, loaders, preprocessing, splits, metadata.

Never touches the network: downloads are tested with ``file://`` URLs, and an
autouse fixture makes any other URL fail the test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lda4rec import data as D
from lda4rec.data import Interactions


# ----------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """Cache dir in tmp; any non-file:// fetch fails the test."""
    monkeypatch.setenv("LDA4REC_CACHE", str(tmp_path / "cache"))
    real_fetch = D._fetch

    def guarded(url, dest, desc=None):
        assert url.startswith("file://"), f"test tried to reach the network: {url}"
        return real_fetch(url, dest, desc)

    monkeypatch.setattr(D, "_fetch", guarded)


@pytest.fixture
def no_env_data(monkeypatch):
    monkeypatch.delenv("LDA4REC_DATA", raising=False)


def _need(data_dir, *rel):
    if data_dir is None or not (Path(data_dir).joinpath(*rel)).is_file():
        pytest.skip(f"{'/'.join(rel)} not in the data dir")
    return Path(data_dir)


ML1M_LINES = [
    "1::1193::5::978300760",
    "1::661::3::978302109",
    "2::1193::4::978298413",
    "10::661::1::978226474",
    "10::914::2::978226475",
]
ML1M_TEXT = ("\n".join(ML1M_LINES) + "\n").encode()


def _pairs(inter):
    return set(zip(inter.user_ids.tolist(), inter.item_ids.tolist()))


def _rows(inter):
    """Multiset of full rows (for union/disjointness checks with duplicates)."""
    cols = [inter.user_ids, inter.item_ids]
    if inter.ratings is not None:
        cols.append(inter.ratings.astype(np.float64))
    if inter.timestamps is not None:
        cols.append(inter.timestamps)
    return sorted(zip(*[c.tolist() for c in cols]))


# ----------------------------------------------------- Interactions validation
@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(user_ids=[0, 1], item_ids=[0]), "length mismatch"),
        (dict(user_ids=[0, -1], item_ids=[0, 1]), "negative user id -1"),
        (dict(user_ids=[0, 1], item_ids=[0, -3]), "negative item id -3"),
        (dict(user_ids=[0, 5], item_ids=[0, 1], n_users=3), r"user id 5 out of range for n_users=3"),
        (dict(user_ids=[0, 1], item_ids=[0, 7], n_items=4), r"item id 7 out of range for n_items=4"),
        (dict(user_ids=[0, 1], item_ids=[0, 1], ratings=[1.0, np.nan]), "NaN rating at position 1"),
        (dict(user_ids=[], item_ids=[]), "empty input"),
        (dict(user_ids=[0, 1], item_ids=[0, 1], ratings=[1.0]), "length mismatch.*ratings"),
    ],
)
def test_constructor_validation(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        Interactions(**kwargs)


def test_tocsr_by_hand():
    inter = Interactions([0, 0, 2, 2], [1, 3, 0, 1], [2.0, 4.0, 1.0, 5.0], n_users=3, n_items=4)
    expected_ratings = np.array([[0, 2, 0, 4], [0, 0, 0, 0], [1, 5, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(inter.tocsr(binary=False).toarray(), expected_ratings)
    np.testing.assert_array_equal(inter.tocsr().toarray(), (expected_ratings > 0).astype(np.float32))
    dup = Interactions([0, 0], [1, 1], [2.0, 3.0], n_users=1, n_items=2)
    assert dup.tocsr(binary=False)[0, 1] == 5.0 and dup.tocsr()[0, 1] == 1.0


# ------------------------------------------------------------- registry
def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*movielens-1m"):
        D.load_dataset("nope")


def test_registry_complete():
    expected = {"movielens-100k", "movielens-100k-old", "movielens-1m", "movielens-10m",
                "movielens-20m", "goodbooks", "amazon"}
    assert set(D.DATASETS) == expected
    for spec in D.DATASETS.values():
        assert spec.url.startswith("https://")
        assert spec.digest_note
        if spec.digest is not None:
            kind, _, hexd = spec.digest.partition(":")
            assert kind in ("md5", "gitblob") and len(hexd) == {"md5": 32, "gitblob": 40}[kind]
    assert D.DATASETS["movielens-1m"].digest == "md5:c4d9eecfca2ab87c1945afe126590906"
    assert D.DATASETS["movielens-100k"].digest is None
    assert D.DATASETS["amazon"].digest is None


def test_file_digest_against_hashlib_and_git(tmp_path):
    f = tmp_path / "x.csv"
    content = b"user_id,book_id,rating\n1,2,3\n"
    f.write_bytes(content)
    assert D.file_digest(f, "md5") == hashlib.md5(content).hexdigest()
    assert D.file_digest(f, "sha256") == hashlib.sha256(content).hexdigest()
    # the git blob id of the empty file is well known
    (tmp_path / "empty").write_bytes(b"")
    assert D.file_digest(tmp_path / "empty", "gitblob") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    git = shutil.which("git")
    if git:
        out = subprocess.run([git, "hash-object", str(f)], capture_output=True, text=True, check=True)
        assert D.file_digest(f, "gitblob") == out.stdout.strip()
    with pytest.raises(ValueError, match="unknown digest kind"):
        D.file_digest(f, "crc")


# ------------------------------------------------------------- loaders
def test_shipped_movielens_100k_counts(tmp_path, no_env_data):
    inter = D.load_dataset("movielens-100k", data_dir=tmp_path / "empty", download=False)
    assert (len(inter), inter.n_users, inter.n_items) == (100_836, 610, 9_724)
    assert inter.name == "movielens-100k"
    assert inter.ratings.dtype == np.float32 and inter.timestamps is not None
    # compact ids are contiguous and follow sorted original ids
    assert np.array_equal(np.unique(inter.user_ids), np.arange(610))
    assert np.array_equal(np.unique(inter.item_ids), np.arange(9_724))
    assert np.all(np.diff(inter.item_map) > 0) and np.all(np.diff(inter.user_map) > 0)
    # first line of ratings.csv: 1,1,4.0,964982703
    assert (inter.user_map[inter.user_ids[0]], inter.item_map[inter.item_ids[0]]) == (1, 1)
    assert inter.ratings[0] == 4.0 and inter.timestamps[0] == 964982703
    assert D.verify_dataset("movielens-100k", data_dir=tmp_path / "empty") is True


def test_verify_detects_a_modified_copy(tmp_path, no_env_data):
    folder = tmp_path / "ml-latest-small"
    shutil.copytree(D._PACKAGE_DATA / "ml-latest-small", folder)
    assert D.verify_dataset("movielens-100k", data_dir=tmp_path) is True
    with open(folder / "ratings.csv", "a") as fh:
        fh.write("1,2,3.0,4\n")
    with pytest.raises(ValueError, match=r"digest mismatch for .*ratings\.csv: expected sha256 aa289ca8"):
        D.verify_dataset("movielens-100k", data_dir=tmp_path)
    assert len(D.load_dataset("movielens-100k", data_dir=tmp_path)) == 100_837  # folder wins


def test_movielens_100k_old_counts(data_dir):
    root = _need(data_dir, "ml-100k", "u.data")
    inter = D.load_dataset("movielens-100k-old", data_dir=root, download=False)
    assert (len(inter), inter.n_users, inter.n_items) == (100_000, 943, 1_682)
    # first line of u.data: 196 242 3 881250949
    assert (inter.user_map[inter.user_ids[0]], inter.item_map[inter.item_ids[0]]) == (196, 242)
    assert inter.ratings[0] == 3.0 and inter.timestamps[0] == 881250949
    hist = np.bincount(inter.ratings.astype(int), minlength=6)[1:]
    assert hist.tolist() == [6_110, 11_370, 27_145, 34_174, 21_201]  # PROVENANCE.md


def test_movielens_1m_counts_and_first_rating(data_dir):
    root = _need(data_dir, "ml-1m", "ratings.dat")
    inter = D.load_dataset("movielens-1m", data_dir=root, download=False)
    assert (len(inter), inter.n_users, inter.n_items) == (1_000_209, 6_040, 3_706)
    # the no-header trap: the very first line 1::1193::5::... is a rating
    assert inter.user_map[inter.user_ids[0]] == 1
    assert inter.item_map[inter.item_ids[0]] == 1193
    assert inter.ratings[0] == 5.0


def test_lookup_order_data_dir_then_env(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    for root, n in ((a, 2), (b, 5)):
        (root / "ml-1m").mkdir(parents=True)
        (root / "ml-1m" / "ratings.dat").write_bytes(("\n".join(ML1M_LINES[:n]) + "\n").encode())
    monkeypatch.setenv("LDA4REC_DATA", str(b))
    assert len(D.load_dataset("movielens-1m", data_dir=a, download=False)) == 2
    assert len(D.load_dataset("movielens-1m", download=False)) == 5
    assert len(D.load_dataset("movielens-1m", data_dir=tmp_path / "none", download=False)) == 5


def test_archive_and_folder_give_same_data(tmp_path, no_env_data):
    zdir, fdir = tmp_path / "z", tmp_path / "f"
    zdir.mkdir()
    with zipfile.ZipFile(zdir / "ml-1m.zip", "w") as zf:
        zf.writestr("ml-1m/ratings.dat", ML1M_TEXT)
        zf.writestr("ml-1m/movies.dat", "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
                    "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
                    "914::My Fair Lady (1964)::Musical|Romance\n")
    (fdir / "ml-1m").mkdir(parents=True)
    (fdir / "ml-1m" / "ratings.dat").write_bytes(ML1M_TEXT)
    from_zip = D.load_dataset("movielens-1m", data_dir=zdir, download=False)
    from_dir = D.load_dataset("movielens-1m", data_dir=fdir, download=False)
    assert D.locate_dataset("movielens-1m", zdir).endswith("ml-1m.zip:ml-1m/ratings.dat")
    for inter in (from_zip, from_dir):
        assert (len(inter), inter.n_users, inter.n_items) == (5, 3, 3)
        assert inter.user_map.tolist() == [1, 2, 10]
        assert inter.item_map.tolist() == [661, 914, 1193]
        assert inter.user_ids.tolist() == [0, 0, 1, 2, 2]
        assert inter.item_ids.tolist() == [2, 0, 2, 0, 1]
        assert inter.ratings.tolist() == [5, 3, 4, 1, 2]
        assert inter.timestamps[0] == 978300760
    meta = D.load_item_metadata("movielens-1m", from_zip, data_dir=zdir)
    assert meta.loc[2, "title"] == "One Flew Over the Cuckoo's Nest (1975)"
    assert meta.loc[0, "genres"] == ["Animation", "Children's", "Musical"]


def test_archive_without_member_is_an_error(tmp_path):
    with zipfile.ZipFile(tmp_path / "ml-1m.zip", "w") as zf:
        zf.writestr("other/ratings.dat", ML1M_TEXT)
    with pytest.raises(ValueError, match=r"ml-1m\.zip has no member 'ml-1m/ratings\.dat'"):
        D.load_dataset("movielens-1m", data_dir=tmp_path, download=False)


def test_missing_file_error_says_what_to_put_where(tmp_path, no_env_data):
    with pytest.raises(D.DatasetNotFoundError) as err:
        D.load_dataset("movielens-1m", data_dir=tmp_path, download=False)
    msg = str(err.value)
    assert "<dir>/ml-1m.zip" in msg and "<dir>/ml-1m/ratings.dat" in msg
    assert str(tmp_path) in msg and "data_dir argument" in msg and "user cache" in msg
    assert "https://files.grouplens.org/datasets/movielens/ml-1m.zip" in msg
    assert "download=False" in msg


def _patched_spec(monkeypatch, name, **changes):
    spec = dataclasses.replace(D.DATASETS[name], **changes)
    monkeypatch.setitem(D.DATASETS, name, spec)
    return spec


def test_download_from_file_url(tmp_path, monkeypatch, no_env_data):
    src = tmp_path / "server" / "ml-1m.zip"
    src.parent.mkdir()
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", ML1M_TEXT)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    _patched_spec(monkeypatch, "movielens-1m", url=src.as_uri(), digest=f"md5:{md5}")
    inter = D.load_dataset("movielens-1m", data_dir=tmp_path / "empty")
    assert len(inter) == 5
    cache = tmp_path / "cache"
    assert sorted(p.name for p in cache.iterdir()) == ["ml-1m.zip"]  # no temp left
    assert D.verify_dataset("movielens-1m") is True
    # second call finds the cached archive; fetching again would fail
    monkeypatch.setattr(D, "_fetch", lambda *a, **k: pytest.fail("downloaded twice"))
    assert len(D.load_dataset("movielens-1m")) == 5


def test_download_digest_mismatch_leaves_nothing(tmp_path, monkeypatch, no_env_data):
    src = tmp_path / "server" / "ratings.csv"
    src.parent.mkdir()
    src.write_bytes(b"user_id,book_id,rating\n1,2,5\n")
    wrong = "0" * 40
    _patched_spec(monkeypatch, "goodbooks", url=src.as_uri(), digest=f"gitblob:{wrong}")
    with pytest.raises(ValueError) as err:
        D.load_dataset("goodbooks", data_dir=tmp_path / "empty")
    msg = str(err.value)
    assert "digest mismatch" in msg and src.as_uri() in msg
    assert wrong in msg and D.file_digest(src, "gitblob") in msg
    cache = tmp_path / "cache"
    assert not cache.exists() or not [p for p in cache.rglob("*") if p.is_file()]


def test_download_failure_is_one_clear_error(tmp_path, monkeypatch, no_env_data):
    _patched_spec(monkeypatch, "movielens-1m", url=(tmp_path / "absent.zip").as_uri())
    with pytest.raises(D.DatasetNotFoundError, match=r"(?s)<dir>/ml-1m/ratings\.dat.*download failed"):
        D.load_dataset("movielens-1m", data_dir=tmp_path / "empty")


@pytest.mark.parametrize(
    "text, pattern",
    [
        ("1::1193::5::978300760\n1::661::3\n", r"ratings\.dat, line 2: expected 4 fields.*got 3"),
        ("1::1193::5::978300760\n1::661::3::1::9\n", r"ratings\.dat, line 2: expected 4 fields.*got 5"),
        ("1::1193::5::978300760\n1::x661::3::978302109\n", r"ratings\.dat, line 2: item id must be an integer, got 'x661'"),
        ("UserID::MovieID::Rating::Timestamp\n1::1193::5::978300760\n", r"line 1: user id must be an integer.*no header row"),
        ("1::1193::five::978300760\n", r"line 1: rating must be numeric, got 'five'"),
        ("\n", "empty"),
    ],
)
def test_malformed_file_names_file_and_line(tmp_path, text, pattern):
    (tmp_path / "ml-1m").mkdir()
    (tmp_path / "ml-1m" / "ratings.dat").write_text(text)
    with pytest.raises(ValueError, match=pattern):
        D.load_dataset("movielens-1m", data_dir=tmp_path, download=False)


def test_csv_without_header_is_an_error(tmp_path):
    (tmp_path / "goodbooks-10k").mkdir()
    (tmp_path / "goodbooks-10k" / "ratings.csv").write_text("1,258,5\n2,4081,4\n")
    with pytest.raises(ValueError, match=r"ratings\.csv, line 1: expected a header row"):
        D.load_dataset("goodbooks", data_dir=tmp_path, download=False)


def test_goodbooks_csv_and_amazon_hdf5(tmp_path):
    (tmp_path / "goodbooks-10k").mkdir()
    (tmp_path / "goodbooks-10k" / "ratings.csv").write_text(
        "user_id,book_id,rating\n1,258,5\n2,4081,4\n2,260,5\n"
    )
    gb = D.load_dataset("goodbooks", data_dir=tmp_path, download=False)
    assert (len(gb), gb.n_users, gb.n_items, gb.timestamps) == (3, 2, 3, None)
    assert gb.item_map.tolist() == [258, 260, 4081]
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "amazon_co_purchasing.hdf5", "w") as f:
        f["user_id"] = np.array([7, 7, 3], dtype=np.int32)
        f["item_id"] = np.array([100, 5, 5], dtype=np.int32)
        f["rating"] = np.ones(3, dtype=np.float32)
        f["timestamp"] = np.arange(3)
        f["features_item_id"] = np.array([0])
    am = D.load_dataset("amazon", data_dir=tmp_path, download=False)
    assert am.user_map.tolist() == [3, 7] and am.item_map.tolist() == [5, 100]
    assert am.user_ids.tolist() == [1, 1, 0] and am.item_ids.tolist() == [1, 0, 0]
    with h5py.File(tmp_path / "amazon_co_purchasing.hdf5", "w") as f:
        f["users"] = np.arange(3)
    with pytest.raises(ValueError, match=r"missing HDF5 dataset.*user_id"):
        D.load_dataset("amazon", data_dir=tmp_path, download=False)


# ------------------------------------------------------------- metadata
def test_item_metadata_movielens_100k(no_env_data, tmp_path):
    inter = D.load_dataset("movielens-100k", data_dir=tmp_path, download=False)
    meta = D.load_item_metadata("movielens-100k", inter)
    assert len(meta) == inter.n_items and meta.index.name == "item"
    assert meta.loc[0, "movie_id"] == 1 and meta.loc[0, "title"] == "Toy Story (1995)"
    assert meta.loc[0, "genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert not meta["title"].isna().any()  # every rated movie is in movies.csv
    np.testing.assert_array_equal(meta["movie_id"].to_numpy(), inter.item_map)


def test_item_and_user_metadata_ml100k(data_dir):
    root = _need(data_dir, "ml-100k", "u.item")
    meta = D.load_item_metadata("movielens-100k-old", data_dir=root)
    assert len(meta) == 1_682
    assert meta.loc[0, "title"] == "Toy Story (1995)"
    # genre names in u.genre, read independently
    genres = [ln.split("|")[0] for ln in (root / "ml-100k" / "u.genre").read_text().splitlines() if ln]
    assert tuple(genres) == D._ML100K_GENRES
    assert meta.loc[0, "genres"] == ["Animation", "Children's", "Comedy"]
    users = D.load_user_metadata("movielens-100k-old", data_dir=root)
    assert len(users) == 943
    assert users.loc[0, ["user_id", "age", "gender", "occupation"]].tolist() == [1, 24, "M", "technician"]


def test_item_and_user_metadata_ml1m(data_dir):
    root = _need(data_dir, "ml-1m", "ratings.dat")
    _need(data_dir, "ml-1m", "users.dat")
    inter = D.load_dataset("movielens-1m", data_dir=root, download=False)
    meta = D.load_item_metadata("movielens-1m", inter, data_dir=root)
    assert len(meta) == 3_706 and not meta["title"].isna().any()
    row = meta[meta["movie_id"] == 1193].iloc[0]
    assert row["title"] == "One Flew Over the Cuckoo's Nest (1975)" and row["genres"] == ["Drama"]
    # latin-1 titles decode (e.g. accented characters exist in movies.dat)
    assert meta["title"].str.contains("é").any()
    users = D.load_user_metadata("movielens-1m", inter, data_dir=root)
    # users.dat line 1: 1::F::1::10::48067
    assert users.loc[0, ["user_id", "gender", "age", "age_group", "occupation"]].tolist() == [
        1, "F", 1, "Under 18", "K-12 student"]


def test_metadata_unavailable_is_clear():
    with pytest.raises(ValueError, match="'movielens-100k' has no user metadata.*movielens-1m"):
        D.load_user_metadata("movielens-100k")
    with pytest.raises(ValueError, match="'goodbooks' has no item metadata"):
        D.load_item_metadata("goodbooks")


# ------------------------------------------------------------- preprocessing
def _frozen_copy(inter):
    return {k: None if getattr(inter, k) is None else np.array(getattr(inter, k), copy=True)
            for k in ("user_ids", "item_ids", "ratings", "timestamps")}


def _assert_unchanged(inter, before):
    for k, v in before.items():
        if v is None:
            assert getattr(inter, k) is None
        else:
            np.testing.assert_array_equal(getattr(inter, k), v)


@pytest.fixture
def rated():
    # user 0: 5 rows, user 1: 2 rows, user 2: 1 row; item 3 rated once
    return Interactions(
        [0, 0, 0, 0, 0, 1, 1, 2], [0, 1, 2, 3, 4, 0, 1, 0],
        [5.0, 4.0, 3.0, 2.0, 1.0, 4.5, 3.5, 4.0], n_users=4, n_items=6,
        timestamps=[10, 11, 12, 13, 14, 15, 16, 17], user_map=[10, 11, 12, 13],
        item_map=[100, 101, 102, 103, 104, 105], name="toy",
    )


def test_to_implicit(rated):
    before = _frozen_copy(rated)
    out = D.to_implicit(rated, 4.0)
    assert _pairs(out) == {(0, 0), (0, 1), (1, 0), (2, 0)}
    assert out.shape == rated.shape and out.name == "toy"
    assert len(D.to_implicit(rated)) == len(rated)
    _assert_unchanged(rated, before)
    with pytest.raises(ValueError, match="removes every interaction"):
        D.to_implicit(rated, 6)
    with pytest.raises(ValueError, match="no ratings"):
        D.to_implicit(Interactions([0], [0]), 1.0)


def test_cap_user_interactions(rated, small_interactions):
    before = _frozen_copy(rated)
    out = D.cap_user_interactions(rated, 2, seed=3)
    assert out.user_counts().tolist() == [2, 2, 1, 0]
    assert _pairs(out) <= _pairs(rated)
    assert sorted(_pairs(out) & {(1, 0), (1, 1), (2, 0)}) == [(1, 0), (1, 1), (2, 0)]
    _assert_unchanged(rated, before)
    big = small_interactions  # 5..15 items per user
    caps = [D.cap_user_interactions(big, 7, seed=s) for s in range(3)]
    for c in caps:
        np.testing.assert_array_equal(c.user_counts(), np.minimum(big.user_counts(), 7))
    assert _pairs(caps[0]) != _pairs(caps[1])
    assert _pairs(D.cap_user_interactions(big, 7, seed=0)) == _pairs(caps[0])
    with pytest.raises(ValueError, match="max_n must be >= 1"):
        D.cap_user_interactions(rated, 0)


def test_filter_min_interactions_once_vs_fixed_point():
    # u0: items 0,1,2; u1: items 0,1; u2: item 2.   min_user=2, min_item=2
    inter = Interactions([0, 0, 0, 1, 1, 2], [0, 1, 2, 0, 1, 2])
    once = D.filter_min_interactions(inter, min_user=2, min_item=2)
    # counts on the input: u2 has 1 -> dropped; item 2 has 2 -> kept (row (0, 2))
    assert _pairs(once) == {(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)}
    fixed = D.filter_min_interactions(inter, min_user=2, min_item=2, iterate=True)
    # now item 2 has only one row -> dropped
    assert _pairs(fixed) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert fixed.shape == inter.shape
    assert len(D.filter_min_interactions(inter)) == len(inter)
    with pytest.raises(ValueError, match="removes every interaction"):
        D.filter_min_interactions(inter, min_user=10)


def test_merge_duplicates():
    inter = Interactions([0, 0, 1, 0], [1, 1, 0, 1], [2.0, 5.0, 3.0, 4.0],
                         timestamps=[30, 10, 5, 20])
    by = {how: D.merge_duplicates(inter, how) for how in ("max", "min", "mean", "sum", "first", "last")}
    for out in by.values():
        assert list(zip(out.user_ids.tolist(), out.item_ids.tolist())) == [(0, 1), (1, 0)]
    assert by["max"].ratings.tolist() == [5.0, 3.0]
    assert by["min"].ratings.tolist() == [2.0, 3.0]
    assert by["mean"].ratings[0] == pytest.approx(11 / 3)
    assert by["sum"].ratings.tolist() == [11.0, 3.0]
    # order by timestamp: 10 (5.0), 20 (4.0), 30 (2.0)
    assert by["first"].ratings.tolist() == [5.0, 3.0] and by["first"].timestamps[0] == 10
    assert by["last"].ratings.tolist() == [2.0, 3.0] and by["last"].timestamps[0] == 30
    assert by["max"].timestamps.tolist() == [30, 5]
    with pytest.raises(ValueError, match="how must be one of"):
        D.merge_duplicates(inter, "median")


def test_compact_keeps_maps_right(rated):
    sub = rated.subset(np.array([1, 2, 6]))  # users 0, 1; items 1, 2
    out = D.compact(sub)
    assert out.shape == (2, 2)
    assert out.user_map.tolist() == [10, 11] and out.item_map.tolist() == [101, 102]
    orig = {(rated.user_map[u], rated.item_map[i]) for u, i in _pairs(sub)}
    assert {(out.user_map[u], out.item_map[i]) for u, i in _pairs(out)} == orig


# ------------------------------------------------------------- splits
def test_random_split_properties(small_interactions):
    inter = small_interactions
    train, test = D.random_split(inter, 0.2, seed=5)
    assert len(train) == int(0.8 * len(inter)) and len(train) + len(test) == len(inter)
    assert abs(len(test) / len(inter) - 0.2) < 1 / len(inter) + 1e-12
    assert sorted(_rows(train) + _rows(test)) == _rows(inter)
    assert not (_pairs(train) & _pairs(test))  # no duplicate pairs in the input
    assert train.shape == test.shape == inter.shape
    again = D.random_split(inter, 0.2, seed=5)
    np.testing.assert_array_equal(again[1].item_ids, test.item_ids)
    np.testing.assert_array_equal(again[1].user_ids, test.user_ids)
    other = D.random_split(inter, 0.2, seed=6)[1]
    assert _pairs(other) != _pairs(test)
    with pytest.raises(ValueError, match="test_frac must be in"):
        D.random_split(inter, 1.0, seed=0)


def test_leave_n_out_exact_n_per_user(small_interactions):
    inter = small_interactions  # 5..15 items per user
    n = 6
    train, test = D.leave_n_out_split(inter, n=n, seed=2)
    counts = inter.user_counts()
    expected_test = np.where(counts > n, n, 0)
    np.testing.assert_array_equal(test.user_counts(), expected_test)
    np.testing.assert_array_equal(train.user_counts(), counts - expected_test)
    assert sorted(_rows(train) + _rows(test)) == _rows(inter)
    assert not (_pairs(train) & _pairs(test))
    again = D.leave_n_out_split(inter, n=n, seed=2)[1]
    assert _pairs(again) == _pairs(test)
    assert _pairs(D.leave_n_out_split(inter, n=n, seed=3)[1]) != _pairs(test)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(1, 12), min_size=1, max_size=8),
    n=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_leave_n_out_and_cap_property(counts, n, seed):
    users = np.repeat(np.arange(len(counts)), counts)
    items = np.concatenate([np.arange(c) for c in counts])
    inter = Interactions(users, items, n_items=12)
    capped = D.cap_user_interactions(inter, n, seed=seed)
    np.testing.assert_array_equal(capped.user_counts(), np.minimum(counts, n))
    if max(counts) <= n:
        with pytest.raises(ValueError, match="test would be empty"):
            D.leave_n_out_split(inter, n, seed=seed)
        return
    train, test = D.leave_n_out_split(inter, n, seed=seed)
    c = np.asarray(counts)
    np.testing.assert_array_equal(test.user_counts(), np.where(c > n, n, 0))
    assert _pairs(train) | _pairs(test) == _pairs(inter) and not (_pairs(train) & _pairs(test))


def test_p1_protocol_sizes(no_env_data):
    train, valid, test = D.p1_protocol("movielens-100k", seed=1729, data_dir=None, download=False)
    full = D.load_dataset("movielens-100k", download=False)
    n = int(np.minimum(full.user_counts(), 200).sum())  # size after the cap
    assert len(train) + len(valid) + len(test) == n
    assert len(train) == int(0.9 * n)
    rest = n - len(train)
    assert len(test) == int(0.5 * rest) and len(valid) == rest - len(test)
    union = _pairs(train) | _pairs(valid) | _pairs(test)
    assert len(union) == n and union <= _pairs(full)
    all_users = np.bincount(np.concatenate([train.user_ids, valid.user_ids, test.user_ids]),
                            minlength=full.n_users)
    np.testing.assert_array_equal(all_users, np.minimum(full.user_counts(), 200))
    for part in (train, valid, test):
        assert part.shape == full.shape
        np.testing.assert_array_equal(part.item_map, full.item_map)
    t2 = D.p1_protocol(seed=1729, download=False)[2]
    np.testing.assert_array_equal(t2.user_ids, test.user_ids)
    np.testing.assert_array_equal(t2.item_ids, test.item_ids)
    assert _pairs(D.p1_protocol(seed=1, download=False)[2]) != _pairs(test)


def test_p2_protocol_prunes_and_compacts(no_env_data):
    full = D.load_dataset("movielens-100k", download=False)
    train, test = D.p2_protocol("movielens-100k", seed=7, min_user_interactions=100,
                                n_test=10, download=False)
    counts = np.bincount(full.user_ids)
    keep_orig = set(full.user_map[counts >= 100].tolist())
    assert set(train.user_map.tolist()) == keep_orig and train.n_users == len(keep_orig)
    assert np.all(test.user_counts() == 10)
    assert np.all(train.user_counts() + test.user_counts() >= 100)
    assert train.shape == test.shape
    np.testing.assert_array_equal(train.item_map, test.item_map)
    # pairs map back to original (user, movie) pairs of the input
    orig = {(full.user_map[u], full.item_map[i]) for u, i in _pairs(full)}
    back = {(train.user_map[u], train.item_map[i]) for u, i in _pairs(train) | _pairs(test)}
    assert back <= orig
    assert len(back) == int(counts[counts >= 100].sum())
