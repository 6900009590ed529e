"""The ``lda4rec`` command line end to end (``lda4rec.cli.main``).

Runs on the shipped MovieLens-100K (ml-latest-small) with one epoch, so the
numbers are those of a barely trained model; the checks recompute them
independently of `lda4rec.metrics` / `lda4rec.interpret`.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from lda4rec import cli
from lda4rec import experiment as E

METRIC_KEYS = {"prec", "recall", "mrr", "mrr_full", "ndcg", "hitrate", "n_users"}


def write_config(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture(scope="module")
def mf_run(tmp_path_factory):
    """One tiny MF run (K=2, 1 epoch) through the CLI, shared by several tests."""
    root = tmp_path_factory.mktemp("mf_run")
    cfg = write_config(
        root / "tiny_mf.yaml",
        f"""\
        main:
            results_path: {root / 'results'}
            log_level: INFO
        experiment:
            dataset: movielens-100k
            protocol: p1
            model_seed: 5
            estimator: MFEst
            est_params:
                embedding_dim: 2
                n_iter: 1
                batch_size: 512
                learning_rate: 0.01
            n_twins: 50
        """,
    )
    rc = cli.main(["-s", "-c", str(cfg), "run"])
    assert rc == 0
    return cfg, root / "results" / "tiny_mf"


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for word in ("run", "eval", "check", "datasets", "--data-dir", "-c"):
        assert word in out
    assert cli.main([]) == cli.EXIT_CONFIG  # no command: help on stderr, non-zero


def test_command_without_config_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run"])
    assert info.value.code == 2
    assert "needs a config" in capsys.readouterr().err


@pytest.mark.parametrize(
    "body, key",
    [
        ("experiment:\n  dataset: movielens-100k\n  estimator: MFEst\n"
         "  est_params:\n    embedding_dim: four\n",
         "experiment.est_params.embedding_dim: expected int, got str 'four'"),
        ("experiment:\n  dataset: movielens-100k\n  estimator: Foo\n",
         "experiment.estimator: unknown estimator 'Foo'"),
        ("experiment:\n  dataset: movielens-100k\n  estimator: PopEst\n  colour: red\n",
         "experiment.colour: unknown key"),
        ("main:\n  name: x\n", "experiment: missing required section"),
        ("experiment:\n  estimator: PopEst\n", "experiment.dataset: missing required key"),
    ],
)
def test_config_errors_are_one_line_on_stderr(tmp_path, capsys, body, key):
    cfg = write_config(tmp_path / "bad.yaml", body)
    for command in ("run", "eval", "check"):
        assert cli.main(["-c", str(cfg), command]) == cli.EXIT_CONFIG
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        assert "Traceback" not in captured.err
        assert str(cfg) in lines[0] and key in lines[0]
    assert not (tmp_path / "results").exists()


def test_missing_config_file(tmp_path, capsys):
    assert cli.main(["-c", str(tmp_path / "nope.yaml"), "run"]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "not found" in err


def test_traceback_flag_reraises(tmp_path):
    cfg = write_config(tmp_path / "bad.yaml", "experiment:\n  estimator: PopEst\n")
    with pytest.raises(E.ConfigError, match="experiment.dataset"):
        cli.main(["--traceback", "-c", str(cfg), "check"])


def test_options_also_after_the_command(tmp_path, capsys):
    cfg = write_config(
        tmp_path / "c.yaml",
        "experiment:\n  dataset: movielens-100k\n  estimator: PopEst\n",
    )
    assert cli.main(["check", "-c", str(cfg)]) == 0
    first = capsys.readouterr().out
    assert cli.main(["-c", str(cfg), "check"]) == 0
    assert capsys.readouterr().out == first
    args = cli.build_parser().parse_args(["run", "-c", "x.yaml", "--data-dir", "d", "-s", "-f"])
    assert (args.config, args.data_dir, args.silent, args.force) == ("x.yaml", "d", True, True)
    args = cli.build_parser().parse_args(["-c", "y.yaml", "eval"])
    assert (args.config, args.data_dir, args.silent, args.traceback) == ("y.yaml", None, False, False)


def test_check_prints_resolved_config(tmp_path, capsys):
    cfg = write_config(
        tmp_path / "c.yaml",
        "experiment:\n  dataset: movielens-100k\n  estimator: PopEst\n",
    )
    assert cli.main(["-c", str(cfg), "check"]) == 0
    out = capsys.readouterr().out
    printed = yaml.safe_load(out)
    assert printed == E.load_config(cfg)
    assert printed["main"]["name"] == "c"
    assert printed["experiment"]["max_user_interactions"] == 200


def _hand_precision_at_10(model, test, exclude) -> float:
    """Prec@10 by a plain per-user loop: exclude items, stable sort, count hits."""
    test_items = pd.Series(test.item_ids).groupby(test.user_ids).apply(set)
    excl_items = pd.Series(exclude.item_ids).groupby(exclude.user_ids).apply(set)
    precs = []
    for user, items in test_items.items():
        s = model.scores(np.array([user]))[0].astype(np.float64)
        s[list(excl_items.get(user, set()))] = -np.inf
        top = np.argsort(-s, kind="stable")[:10]
        precs.append(len(items.intersection(top.tolist())) / 10)
    return float(np.mean(precs))


def test_run_writes_complete_results(mf_run):
    cfg_path, out = mf_run
    names = {p.name for p in out.iterdir()}
    assert names == {"config.yaml", "metrics.json", "metrics.csv", "model", "split.json",
                     "run.json", "run.log"}
    assert {p.name for p in (out / "model").iterdir()} >= {"params.npz", "estimator.json"}
    # nothing hidden left beside the folder
    assert [p.name for p in out.parent.iterdir()] == ["tiny_mf"]

    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"valid", "test"}
    for split in metrics:
        assert set(metrics[split]) == METRIC_KEYS
    table = pd.read_csv(out / "metrics.csv")
    assert list(table["split"]) == ["valid", "test"]
    for _, row in table.iterrows():
        for key in METRIC_KEYS:
            assert row[key] == pytest.approx(metrics[row["split"]][key], rel=1e-12)
    assert (table["k"] == 10).all()

    saved = E.load_config(out / "config.yaml")
    assert saved == {**E.load_config(cfg_path)}
    run = json.loads((out / "run.json").read_text())
    assert run["best_epoch"] == 1 and run["fit_seconds"] > 0
    log = (out / "run.log").read_text()
    assert "Fitting estimator MFEst" in log and "test@10" in log

    # the split recorded is P1's: 90 / 5 / 5 of the capped data
    split = json.loads((out / "split.json").read_text())
    n = {s: split[s]["n_interactions"] for s in split}
    total = sum(n.values())
    assert n["train"] == int(0.9 * total)
    assert abs(n["valid"] - n["test"]) <= 1

    # the test metric recomputed by hand from the saved model
    from lda4rec.mf import MFModel

    model = MFModel.load(out / "model")
    splits = E.make_splits(saved)
    exclude = E._union(splits["train"], splits["valid"])
    assert metrics["test"]["prec"] == pytest.approx(
        _hand_precision_at_10(model, splits["test"], exclude), abs=1e-12
    )
    assert metrics["valid"]["prec"] == pytest.approx(
        _hand_precision_at_10(model, splits["valid"], splits["train"]), abs=1e-12
    )


def test_run_refuses_to_overwrite_without_force(mf_run, capsys):
    cfg_path, out = mf_run
    before = (out / "metrics.json").read_bytes()
    assert cli.main(["-s", "-c", str(cfg_path), "run"]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err and "Traceback" not in err
    assert (out / "metrics.json").read_bytes() == before


def test_eval_writes_interpretation_tables(mf_run):
    cfg_path, out = mf_run
    assert cli.main(["-s", "-c", str(cfg_path), "eval"]) == 0
    interp = out / "interpret"
    assert {p.name for p in out.iterdir()} == {"config.yaml", "metrics.json", "metrics.csv",
                                               "model", "split.json", "run.json", "run.log",
                                               "interpret"}  # no hidden leftovers
    assert {p.name for p in interp.iterdir()} == {
        "interpretation.csv", "interpretation.json", "ldaext_summary.json", "eval.log"
    }
    table = pd.read_csv(interp / "interpretation.csv")
    for col in ("experiment", "split", "statistic", "pvalue", "effect", "n"):
        assert col in table.columns
    assert set(table["experiment"]) == {"cohort_allocation", "popularity", "conformity", "twins"}
    records = json.loads((interp / "interpretation.json").read_text())
    assert len(records) == len(table)
    summary = json.loads((interp / "ldaext_summary.json").read_text())
    assert summary["n_cohorts"] == 4  # 2K cohorts for an MF with K=2
    assert summary["n_twins"] == 50

    # popularity experiment recomputed: tau_c(delta, users per item in train)
    from lda4rec.adjoint import mf_to_ldaext
    from lda4rec.mf import MFModel

    model = MFModel.load(out / "model")
    delta = np.asarray(mf_to_ldaext(*model.factors()).delta)
    train = E.make_splits(E.load_config(cfg_path))["train"]
    pairs = np.unique(np.stack([train.user_ids, train.item_ids]), axis=1)
    users_per_item = np.bincount(pairs[1], minlength=train.n_items)
    tau = stats.kendalltau(delta, users_per_item, variant="c").statistic
    row = table[(table["experiment"] == "popularity") & (table["split"] == "train")]
    assert row["statistic"].iloc[0] == pytest.approx(tau, abs=1e-10)

    # twins rows use the 50 sampled users
    twins = table[(table["experiment"] == "twins") & (table["split"] == "train")]
    assert (twins["n"] + twins["skipped"] == 50).all()


def test_eval_refuses_a_changed_config(mf_run, tmp_path, capsys):
    cfg_path, out = mf_run
    changed = yaml.safe_load(cfg_path.read_text())
    changed["experiment"]["est_params"]["embedding_dim"] = 3
    changed["experiment"]["n_twins"] = 10  # eval-only: allowed to change
    other = tmp_path / "tiny_mf.yaml"
    other.write_text(yaml.safe_dump(changed))
    assert cli.main(["-s", "-c", str(other), "eval"]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert "experiment.est_params.embedding_dim" in err
    assert "experiment.n_twins" not in err


def test_eval_before_run_names_missing_folder(tmp_path, capsys):
    cfg = write_config(
        tmp_path / "never_run.yaml",
        f"""\
        main:
            results_path: {tmp_path / 'results'}
        experiment:
            dataset: movielens-100k
            estimator: MFEst
            est_params:
                embedding_dim: 2
        """,
    )
    assert cli.main(["-s", "-c", str(cfg), "eval"]) == cli.EXIT_FAILURE
    err = capsys.readouterr().err
    assert str(tmp_path / "results" / "never_run") in err and "not found" in err
    assert f"lda4rec -c {cfg} run" in err


def test_pop_run_relative_paths_data_dir_and_log_copy(tmp_path, monkeypatch, capsys):
    """Relative results/log paths are taken from the working directory; --data-dir
    beats LDA4REC_DATA; eval refuses the popularity baseline."""
    from lda4rec import data as D

    shipped = Path(D.locate_dataset("movielens-100k", data_dir=None)).parent
    data_dir = tmp_path / "mydata"
    shutil.copytree(shipped, data_dir / "ml-latest-small")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LDA4REC_DATA", str(tmp_path / "does-not-exist"))
    cfg = write_config(
        tmp_path / "pop.yaml",
        """\
        main:
            log_path: logs
            log_level: WARNING
        experiment:
            dataset: movielens-100k
            estimator: PopEst
        """,
    )
    rc = cli.main(["-s", "--data-dir", str(data_dir), "-c", "pop.yaml", "run"])
    assert rc == 0
    out = tmp_path / "results" / "pop"
    assert json.loads((out / "run.json").read_text())["data_dir"] == str(data_dir)
    logs = list((tmp_path / "logs").iterdir())
    assert len(logs) == 1 and logs[0].name.startswith("pop_")
    assert logs[0].read_text() == (out / "run.log").read_text()
    counts = np.load(out / "model" / "popularity.npz")["item_counts"]
    train = E.make_splits(E.load_config(cfg), data_dir)["train"]
    assert np.array_equal(counts, np.bincount(train.item_ids, minlength=train.n_items))
    capsys.readouterr()
    assert cli.main(["-s", "-c", "pop.yaml", "eval"]) == cli.EXIT_FAILURE
    assert "popularity baseline" in capsys.readouterr().err
    assert not (out / "interpret").exists()


def test_datasets_command(capsys):
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    from lda4rec import data as D

    for name in D.DATASETS:
        assert f"\n{name}:" in out
    block = out.split("\nmovielens-100k:")[1].split("\n\n")[0]
    where = D.locate_dataset("movielens-100k", data_dir=E.resolve_data_dir({"main": {}}))
    assert where is not None  # shipped with the package
    assert f"found:    {where}" in block


def test_interrupted_run_writes_nothing(tmp_path, monkeypatch, capsys):
    cfg = write_config(
        tmp_path / "stop.yaml",
        f"""\
        main:
            results_path: {tmp_path / 'results'}
        experiment:
            dataset: movielens-100k
            estimator: PopEst
        """,
    )

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(E, "evaluate_splits", interrupt)
    assert cli.main(["-s", "-c", str(cfg), "run"]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert list((tmp_path / "results").iterdir()) == []
