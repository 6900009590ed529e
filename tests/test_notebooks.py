"""Every notebook runs end to end through papermill with tiny parameters.

The book executes the same notebooks with their default parameters; here each one
gets parameters that make it finish in well under a minute, so a broken cell is
caught by ``make test``.  Every notebook under ``notebooks/`` must be listed in
``TINY`` — a new notebook without tiny parameters fails this test on purpose.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.md"))

# name -> papermill parameters that keep the run short.
TINY: dict[str, dict] = {
    "adjoint": {"n_epochs": 2},
    "mf_benchmarks": {"n_epochs": 2, "Ks": [2], "models": ["mf"], "n_seeds": 1, "patience": 2},
    "lda_synthetic": {
        "n_users": 60, "n_items": 120, "n_topics": 2, "n_per_user": 20, "n_steps": 60,
        "batch_size": 32, "n_draws": 20, "mf_epochs": 2,
    },
    "lda_benchmarks": {"n_steps": 20, "n_samples": 4, "n_sample_users": 2, "n_draws": 500},
    "interpretation": {"n_factors": 4, "seeds": [0], "n_epochs": 2, "n_twins": 100, "lda_n_steps": 0},
}


def test_every_notebook_has_tiny_parameters():
    missing = [nb.stem for nb in NOTEBOOKS if nb.stem not in TINY]
    assert not missing, f"add tiny papermill parameters for {missing} to TINY"


def test_every_notebook_has_a_parameters_cell():
    jupytext = pytest.importorskip("jupytext")
    for nb_path in NOTEBOOKS:
        nb = jupytext.read(nb_path)
        tagged = [
            c for c in nb.cells
            if c.cell_type == "code" and "parameters" in c.metadata.get("tags", [])
        ]
        assert len(tagged) == 1, f"{nb_path.name}: expected one cell tagged 'parameters'"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(nb_path: Path, tmp_path: Path):
    jupytext = pytest.importorskip("jupytext")
    papermill = pytest.importorskip("papermill")
    nb = jupytext.read(nb_path)
    src = tmp_path / f"{nb_path.stem}.ipynb"
    jupytext.write(nb, src, fmt="ipynb")
    papermill.execute_notebook(
        str(src),
        str(tmp_path / f"{nb_path.stem}.out.ipynb"),
        parameters=TINY.get(nb_path.stem, {}),
        cwd=str(nb_path.parent),
        kernel_name="python3",
        progress_bar=False,
    )
