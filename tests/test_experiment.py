"""Config validation, atomic results folders and splits of `lda4rec.experiment`."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from lda4rec import experiment as E
from lda4rec.data import Interactions

MINIMAL = """\
experiment:
    dataset: movielens-100k
    estimator: MFEst
    est_params:
        embedding_dim: 4
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def config_error(tmp_path: Path, text: str) -> E.ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(E.ConfigError) as info:
        E.load_config(path)
    return info.value


# ----------------------------------------------------------------- resolving
def test_minimal_config_gets_documented_defaults(tmp_path):
    cfg = E.load_config(write(tmp_path, MINIMAL, "my_run.yaml"))
    assert cfg["main"] == {
        "name": "my_run",
        "data_path": None,
        "results_path": "results",
        "log_path": None,
        "log_level": "INFO",
    }
    exp = cfg["experiment"]
    assert exp["protocol"] == "p1"
    assert exp["dataset_seed"] == 1729 and exp["model_seed"] == 123
    assert exp["max_user_interactions"] == 200
    assert exp["min_user_interactions"] is None
    assert exp["interaction_pivot"] is None
    assert exp["eval_k"] == 10 and exp["n_twins"] == 2000
    assert "n_test" not in exp and "train_test_split" not in exp
    assert exp["est_params"] == {
        "embedding_dim": 4,
        "n_iter": 100,
        "batch_size": 128,
        "learning_rate": 1e-3,
        "loss": "bpr",
        "early_stopping": None,
        "neg_sampling": "exclude",
        "eval_metric": "prec",
        "eval_every": 1,
    }
    assert E.results_dir(cfg) == Path("results") / "my_run"


def test_p2_defaults_and_original_alias(tmp_path):
    cfg = E.load_config(
        write(
            tmp_path,
            """\
            experiment:
                dataset: movielens-1m
                train_test_split: items_per_user_train_test_split
                estimator: PopEst
            """,
        )
    )
    exp = cfg["experiment"]
    assert exp["protocol"] == "p2"
    assert exp["n_test"] == 10
    assert exp["max_user_interactions"] is None
    assert exp["min_user_interactions"] == 20
    assert exp["est_params"] == {}


def test_original_config_values_are_read(tmp_path):
    # the original's keys; -1 / negative means "off" there
    cfg = E.load_config(
        write(
            tmp_path,
            """\
            main:
                name: orig
                data_path: '../data'
                log_path: '../logs'
                log_level: DEBUG
            experiment:
                dataset: movielens-100k
                dataset_seed: 42
                interaction_pivot: 4
                model_seed: 7
                max_user_interactions: -1
                min_user_interactions: 5
                estimator: LDA4RecEst
                est_params:
                    embedding_dim: 8
                    n_iter: 10000
                    batch_size: 128
                    learning_rate: 0.001
            """,
        )
    )
    exp = cfg["experiment"]
    assert cfg["main"]["name"] == "orig" and cfg["main"]["log_level"] == "DEBUG"
    assert exp["interaction_pivot"] == 4.0 and isinstance(exp["interaction_pivot"], float)
    assert exp["max_user_interactions"] is None
    assert exp["min_user_interactions"] == 5
    assert exp["est_params"] == {
        "embedding_dim": 8,
        "n_iter": 10000,
        "batch_size": 128,
        "learning_rate": 0.001,
        "marginal": True,
        "hierarchical": False,
        "alpha": None,
        "max_interactions": None,
        "pred_method": "rao-blackwell",
        "n_samples": 32,
    }


def test_exponent_without_dot_is_a_float(tmp_path):
    # YAML 1.1 (PyYAML) would read 1e-3 as the string '1e-3'
    text = MINIMAL + "        learning_rate: 1e-3\n        n_iter: 5\n"
    cfg = E.load_config(write(tmp_path, text))
    assert cfg["experiment"]["est_params"]["learning_rate"] == 0.001


def test_dump_config_round_trips(tmp_path):
    for text in (
        MINIMAL,
        MINIMAL.replace("MFEst", "NMFEst") + "        early_stopping: valid\n        patience: 3\n",
        "experiment:\n    dataset: movielens-1m\n    protocol: p2\n    n_test: 5\n"
        "    estimator: PopEst\n",
    ):
        cfg = E.load_config(write(tmp_path, text, "rt.yaml"))
        again = E.load_config(write(tmp_path, E.dump_config(cfg), "rt2.yaml"))
        assert again["experiment"] == cfg["experiment"]
        assert {**again["main"], "name": "rt"} == cfg["main"]


def test_every_shipped_config_is_valid():
    configs = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))
    names = {p.stem for p in configs}
    assert {"default", "mf_d4_ml100k", "mf_d32_ml100k", "pop_ml100k", "lda_d4_ml100k",
            "mf_d64_ml1m_p2"} <= names
    for path in configs:
        cfg = E.load_config(path)
        assert cfg["main"]["name"] == path.stem
    p1 = E.load_config(configs[0].parent / "mf_d4_ml100k.yaml")["experiment"]
    assert p1["est_params"]["loss"] == "bpr-spotlight"
    assert p1["est_params"]["learning_rate"] == 1e-3 and p1["est_params"]["batch_size"] == 128


# ------------------------------------------------------------------ errors
def test_unknown_key_names_path_file_and_line(tmp_path):
    err = config_error(
        tmp_path,
        """\
        experiment:
            dataset: movielens-100k
            estimator: MFEst
            est_params:
                embedding_dim: 4
                embeding_dim: 8
        """,
    )
    assert err.key == "experiment.est_params.embeding_dim"
    assert err.line == 6
    text = str(err)
    assert text.startswith(f"{tmp_path / 'exp.yaml'}, line 6: experiment.est_params.embeding_dim:")
    assert "unknown key" in text and "embedding_dim" in text  # lists the known keys


@pytest.mark.parametrize(
    "section, key",
    [("main", "main.nmae"), ("experiment", "experiment.datset")],
)
def test_unknown_key_in_each_section(tmp_path, section, key):
    text = MINIMAL + "main:\n    name: x\n"
    bad = key.split(".")[1]
    if section == "main":
        text += f"    {bad}: 1\n"
    else:
        text = text.replace("experiment:\n", f"experiment:\n    {bad}: 1\n")
    err = config_error(tmp_path, text)
    assert err.key == key and "unknown key" in str(err)


def test_unknown_section_and_neptune_rejected(tmp_path):
    err = config_error(tmp_path, MINIMAL + "extra:\n    a: 1\n")
    assert err.key == "extra" and "unknown section" in str(err) and err.line == 6
    err = config_error(
        tmp_path, MINIMAL + "neptune:\n    project: x/y\n    mode: offline\n"
    )
    assert err.key == "neptune" and "not supported" in str(err)
    err = config_error(tmp_path, MINIMAL + "main:\n    model_path: ../models\n")
    assert err.key == "main.model_path" and "not supported" in str(err)


def test_wrong_type_message(tmp_path):
    err = config_error(tmp_path, MINIMAL.replace("embedding_dim: 4", "embedding_dim: four"))
    assert str(err) == (
        f"{tmp_path / 'exp.yaml'}, line 5: experiment.est_params.embedding_dim: "
        "expected int, got str 'four'"
    )


@pytest.mark.parametrize(
    "line, key, fragment",
    [
        ("    model_seed: true", "experiment.model_seed", "expected int, got bool True"),
        ("    model_seed: 1.5", "experiment.model_seed", "expected int, got float 1.5"),
        ("    dataset_seed: null", "experiment.dataset_seed", "expected int, got null"),
        ("    eval_k: 0", "experiment.eval_k", "must be >= 1"),
        ("    protocol: p3", "experiment.protocol", "expected one of p1, p2"),
        ("    est_params: [1, 2]", "experiment.est_params", "expected a mapping, got list"),
        ("    interaction_pivot: four", "experiment.interaction_pivot", "expected float|null"),
        ("    max_user_interactions: 0", "experiment.max_user_interactions", ">= 1"),
    ],
)
def test_wrong_values_in_experiment(tmp_path, line, key, fragment):
    text = MINIMAL.replace("    est_params:\n        embedding_dim: 4\n", "")
    if "est_params" not in line:
        text += "    est_params:\n        embedding_dim: 4\n"
    err = config_error(tmp_path, text + line + "\n")
    assert err.key == key, str(err)
    assert fragment in str(err)


@pytest.mark.parametrize(
    "line, key, fragment",
    [
        ("learning_rate: 0", "learning_rate", "must be > 0"),
        ("learning_rate: '0.01'", "learning_rate", "expected float, got str '0.01'"),
        ("loss: hinge", "loss", "expected one of bpr, bpr-spotlight"),
        ("early_stopping: always", "early_stopping", "expected one of valid, loss-slope"),
        ("patience: 3", "patience", "only used with early_stopping: valid"),
        ("n_iter: -5", "n_iter", "must be >= 1"),
    ],
)
def test_wrong_est_params(tmp_path, line, key, fragment):
    err = config_error(tmp_path, MINIMAL + f"        {line}\n")
    assert err.key == f"experiment.est_params.{key}"
    assert fragment in str(err)


def test_est_params_are_checked_per_estimator(tmp_path):
    # MF keys are unknown for PopEst and LDA4RecEst
    err = config_error(tmp_path, MINIMAL.replace("MFEst", "PopEst"))
    assert err.key == "experiment.est_params.embedding_dim"
    assert "known keys: none" in str(err)
    err = config_error(tmp_path, MINIMAL.replace("MFEst", "LDA4RecEst") + "        loss: bpr\n")
    assert err.key == "experiment.est_params.loss"
    err = config_error(tmp_path, MINIMAL.replace("MFEst", "LDAextEst") + "        max_interactions: 0\n")
    assert err.key == "experiment.est_params.max_interactions"


def test_missing_keys(tmp_path):
    err = config_error(tmp_path, "main:\n    name: x\n")
    assert err.key == "experiment" and "missing required section" in str(err)
    err = config_error(tmp_path, MINIMAL.replace("    dataset: movielens-100k\n", ""))
    assert err.key == "experiment.dataset" and "missing required key" in str(err)
    assert err.line == 1  # the enclosing section's line
    err = config_error(tmp_path, MINIMAL.replace("        embedding_dim: 4\n", "        n_iter: 3\n"))
    assert err.key == "experiment.est_params.embedding_dim"
    assert "missing required key" in str(err)
    err = config_error(tmp_path, MINIMAL.replace("    estimator: MFEst\n", ""))
    assert err.key == "experiment.estimator"


def test_bad_estimator_name(tmp_path):
    err = config_error(tmp_path, MINIMAL.replace("MFEst", "BPREst"))
    assert err.key == "experiment.estimator" and err.line == 3
    assert "unknown estimator 'BPREst'" in str(err)
    for name in E.ESTIMATORS:
        assert name in str(err)


def test_bad_dataset_name(tmp_path):
    err = config_error(tmp_path, MINIMAL.replace("movielens-100k", "movielens-2m"))
    assert err.key == "experiment.dataset" and err.line == 2
    assert "unknown dataset 'movielens-2m'" in str(err) and "movielens-1m" in str(err)


def test_protocol_specific_keys(tmp_path):
    err = config_error(tmp_path, MINIMAL + "    n_test: 5\n")
    assert err.key == "experiment.n_test" and "protocol p2" in str(err)
    err = config_error(
        tmp_path,
        MINIMAL + "        early_stopping: valid\n    protocol: p2\n",
    )
    assert err.key == "experiment.est_params.early_stopping"
    err = config_error(
        tmp_path, MINIMAL + "    protocol: p1\n    train_test_split: items_per_user_train_test_split\n"
    )
    assert err.key == "experiment.train_test_split"


def test_yaml_problems(tmp_path):
    err = config_error(tmp_path, MINIMAL + "    dataset: movielens-1m\n")
    assert err.key == "experiment.dataset" and "duplicate key" in str(err) and err.line == 6
    err = config_error(tmp_path, "experiment:\n  dataset: [unclosed\n  estimator: x\n")
    assert "invalid YAML" in str(err) and err.line is not None
    err = config_error(tmp_path, "")
    assert "empty" in str(err)
    err = config_error(tmp_path, "- a\n- b\n")
    assert "expected a mapping" in str(err)
    with pytest.raises(E.ConfigError, match="config file not found"):
        E.load_config(tmp_path / "nope.yaml")


def test_bad_name(tmp_path):
    err = config_error(tmp_path, MINIMAL + "main:\n    name: ../escape\n")
    assert err.key == "main.name" and "folder name" in str(err)


# ----------------------------------------------------------- data directory
def test_data_dir_precedence(monkeypatch, tmp_path):
    cfg = E.load_config(write(tmp_path, MINIMAL + "main:\n    data_path: /from/config\n"))
    monkeypatch.setenv("LDA4REC_DATA", "/from/env")
    assert E.resolve_data_dir(cfg, "/from/cli") == Path("/from/cli")
    assert E.resolve_data_dir(cfg) == Path("/from/config")
    cfg["main"]["data_path"] = None
    assert E.resolve_data_dir(cfg) == Path("/from/env")
    monkeypatch.delenv("LDA4REC_DATA")
    assert E.resolve_data_dir(cfg) is None


# ------------------------------------------------------------- staged_dir
def test_staged_dir_renames_on_success(tmp_path):
    final = tmp_path / "results" / "run"
    with E.staged_dir(final) as tmp:
        assert tmp.parent == final.parent and tmp.name.startswith(".run.")
        (tmp / "a.txt").write_text("1")
        assert not final.exists()
    assert (final / "a.txt").read_text() == "1"
    assert sorted(p.name for p in final.parent.iterdir()) == ["run"]


def test_staged_dir_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "results" / "run"
    with pytest.raises(RuntimeError, match="boom"):
        with E.staged_dir(final) as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("boom")
    assert list(final.parent.iterdir()) == []


def test_staged_dir_keeps_old_folder(tmp_path):
    final = tmp_path / "run"
    final.mkdir()
    (final / "old.txt").write_text("old")
    with pytest.raises(E.ExperimentError, match="already exists"):
        with E.staged_dir(final) as tmp:
            (tmp / "new.txt").write_text("new")
    assert [p.name for p in final.iterdir()] == ["old.txt"]
    with pytest.raises(KeyboardInterrupt):
        with E.staged_dir(final, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
            raise KeyboardInterrupt
    assert [p.name for p in final.iterdir()] == ["old.txt"]
    with E.staged_dir(final, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in final.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no hidden leftovers


def test_staged_dir_uses_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with E.staged_dir(tmp_path / "run") as tmp:
            (tmp / "f").write_text("x")
            os.chmod(tmp / "f", 0o600)
    finally:
        os.umask(umask)
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "run" / "f").stat().st_mode & 0o777 == 0o644


def test_failed_run_leaves_no_results_folder(tmp_path, monkeypatch):
    """An exception after fitting (mid-way through writing) leaves nothing behind."""
    cfg = E.load_config(
        write(
            tmp_path,
            f"""\
            main:
                results_path: {tmp_path / 'results'}
                log_level: WARNING
            experiment:
                dataset: movielens-100k
                estimator: PopEst
            """,
        )
    )
    calls = []

    def boom(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("disk full")

    # metrics.json is written after the model: fail there
    real = E.atomic_write_json

    def fail_on_metrics(path, obj):
        if Path(path).name == "metrics.json":
            boom()
        return real(path, obj)

    monkeypatch.setattr(E, "atomic_write_json", fail_on_metrics)
    with pytest.raises(RuntimeError, match="disk full"):
        E.run_experiment(cfg)
    assert calls == [1]
    assert not (tmp_path / "results").exists() or list((tmp_path / "results").iterdir()) == []


# ---------------------------------------------------------------- splits
def test_split_fingerprint_ignores_row_order():
    a = Interactions(np.array([0, 1, 2, 1]), np.array([3, 0, 1, 2]), n_users=3, n_items=4)
    b = a.subset(np.array([3, 2, 1, 0]))
    c = Interactions(np.array([0, 1, 2, 1]), np.array([3, 0, 1, 1]), n_users=3, n_items=4)
    fa, fb, fc = (E.split_fingerprint(x) for x in (a, b, c))
    assert fa == fb
    assert fa["sha256"] != fc["sha256"]
    assert fa["n_interactions"] == 4 and fa["n_users_with_items"] == 3


@pytest.mark.parametrize("protocol", ["p1", "p2"])
def test_composed_splits_equal_protocol_functions(tmp_path, protocol):
    """The step-by-step path (used for non-default preprocessing) reproduces
    lda4rec.data's protocol functions exactly when given their settings."""
    from lda4rec import data as D

    text = f"experiment:\n    dataset: movielens-100k\n    protocol: {protocol}\n" \
           "    estimator: PopEst\n"
    cfg = E.load_config(write(tmp_path, text))
    assert E._is_protocol_default(cfg["experiment"])
    via_protocol = E.make_splits(cfg)
    composed = E._compose_splits(cfg["experiment"], None)
    assert list(via_protocol) == list(composed)
    for split in via_protocol:
        assert E.split_fingerprint(via_protocol[split]) == E.split_fingerprint(composed[split])
    if protocol == "p1":
        direct = D.p1_protocol("movielens-100k", seed=1729)
        assert E.split_fingerprint(direct[2]) == E.split_fingerprint(via_protocol["test"])
        # non-default preprocessing takes the composed path and applies it
        cfg["experiment"]["interaction_pivot"] = 4.0
        assert not E._is_protocol_default(cfg["experiment"])
        pivoted = E.make_splits(cfg)
        for split, inter in pivoted.items():
            assert inter.ratings.min() >= 4.0
        n = sum(len(x) for x in pivoted.values())
        full = D.load_dataset("movielens-100k")
        capped = D.cap_user_interactions(D.to_implicit(full, 4.0), 200, seed=0)
        assert n == len(capped)  # the cap keeps min(n_u, 200) rows whatever the seed


def test_lda_est_params_reach_the_fit(tmp_path, small_interactions):
    """max_interactions (and the other LDA keys) are passed to the library fit."""
    text = MINIMAL.replace("MFEst", "LDAextEst").replace("embedding_dim: 4", "embedding_dim: 2")
    text += "        n_iter: 3\n        batch_size: 5\n        max_interactions: 4\n"
    cfg = E.load_config(write(tmp_path, text))
    model = E.fit_estimator(cfg, small_interactions)
    assert model.meta["max_interactions"] == 4 and model.meta["n_steps"] == 3
    assert model.meta["batch_size"] == 5 and model.variant == "ldaext"
