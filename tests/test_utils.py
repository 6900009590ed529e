import os
import stat

import numpy as np
import pytest

from lda4rec.utils import atomic_path, atomic_save_npz, atomic_write_json, derive_seeds


def test_derive_seeds_independent_and_reproducible():
    a = derive_seeds(42, 5)
    assert a == derive_seeds(42, 5)
    assert len(set(a)) == 5
    assert a != derive_seeds(43, 5)
    # children of SeedSequence(42), computed independently
    ref = [int(c.generate_state(1, dtype=np.uint32)[0]) for c in np.random.SeedSequence(42).spawn(5)]
    assert a == ref


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert target.read_text().strip() == '{\n  "a": 1\n}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_files_get_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_save_npz(tmp_path / "x.npz", x=np.arange(3))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    np.testing.assert_array_equal(np.load(path)["x"], np.arange(3))
