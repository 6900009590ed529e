"""Experiment runner behind the ``lda4rec`` command line: config, run, eval.

A config is a YAML file with two sections, ``main`` and ``experiment``, as in
the original project (FlorianWilhelm/lda4rec).  Every key is checked: unknown
keys, wrong types and missing required keys raise `ConfigError`, whose message
names the file, the line and the key path, e.g.::

    configs/x.yaml, line 12: experiment.est_params.embedding_dim: expected int, got str 'four'

The original's ``neptune`` section (SaaS experiment tracking) is *rejected*
with a message saying that tracking is not supported: a run that silently does
not track what its config asks to track is worse than one that refuses to
start.  Delete the section; everything is written under
``<results_path>/<name>/`` instead.

Schema (``null`` is YAML's None)::

    main:
      name: str                 # default: the config file's stem
      data_path: str|null       # default null, see "data directory" below
      results_path: str         # default "results"
      log_path: str|null        # default null: the log lives in the results folder only
      log_level: str            # DEBUG|INFO|WARNING|ERROR|CRITICAL, default INFO
    experiment:
      dataset: str              # required, a name from lda4rec.data's registry
      protocol: p1|p2           # default p1 (P1: random 90/5/5 split; P2: n_test per user)
      dataset_seed: int         # default 1729
      model_seed: int           # default 123
      interaction_pivot: float|null   # rating >= pivot counts; null or < 0: every rating (default)
      max_user_interactions: int|null # cap by random subsampling; default 200 (p1), null (p2)
      min_user_interactions: int|null # drop users below; default null (p1), 20 (p2)
      min_item_interactions: int|null # drop items below; default null
      n_test: int               # p2 only: test items per user, default 10
      estimator: PopEst|MFEst|SNMFEst|NMFEst|LDA4RecEst|LDAextEst   # required
      est_params: {...}         # per estimator, see ESTIMATORS
      eval_k: int               # cutoff k of the metrics, default 10
      n_twins: int              # users sampled for P2's twin experiment (eval), default 2000
      interpret_seed: int       # seed of the interpretation experiments (eval), default 0

``est_params`` per estimator (``->`` the library argument it feeds)::

    PopEst      (lda4rec.mf.Popularity)  no parameters
    MFEst, SNMFEst, NMFEst  (lda4rec.mf.fit_mf, model=mf|snmf|nmf)
      embedding_dim: int        # required -> n_factors
      n_iter: int               # 100 -> n_epochs (maximum)
      batch_size: int           # 128
      learning_rate: float      # 0.001 -> lr
      loss: bpr|bpr-spotlight   # bpr; P1's numbers: bpr-spotlight
      early_stopping: null|valid|loss-slope   # null
      patience: int             # 10; only with early_stopping: valid
      neg_sampling: exclude|uniform           # exclude; the original: uniform
      eval_metric: prec|recall|mrr|ndcg|hitrate|mrr_full  # prec: selects the best epoch
      eval_every: int           # 1: validate every n epochs
    LDA4RecEst  (lda4rec.lda.fit_lda4rec)
      embedding_dim: int        # required -> n_topics
      n_iter: int               # 10000 -> n_steps
      batch_size: int           # 128 users per step
      learning_rate: float      # 0.001 -> lr
      marginal: bool            # true: cohort summed out; false: enumerated
      hierarchical: bool        # false
      alpha: float|null         # null: 1/K
      max_interactions: int|null  # null: all; m: at most m interactions per user and step
      pred_method: rao-blackwell|plugin|sample  # rao-blackwell: how test items are ranked
      n_samples: int            # 32 guide draws (rao-blackwell)
    LDAextEst   (lda4rec.lda.fit_ldaext): as LDA4RecEst without marginal and
      hierarchical, learning_rate default 0.01, plus beta: float (1.0), gamma: float (1.0)

With protocol p1 the MF family always gets the validation split: without
early stopping the parameters of the best validation epoch are kept
(`lda4rec.mf.fit_mf`); with ``loss-slope`` the last ones.

Metrics (``run``): `lda4rec.metrics.evaluate` at ``eval_k`` on ``valid``
(training items excluded) and ``test`` (training and validation items
excluded; the original code excluded only the training items).

All paths that are relative are taken relative to the current working
directory.  The original key ``train_test_split`` is accepted as an alias of
``protocol`` (``random_train_test_split`` = p1, ``items_per_user_train_test_split``
= p2).

Data directory precedence: the ``--data-dir`` command line option, then
``main.data_path``, then the environment variable ``LDA4REC_DATA``, then the
look-up of `lda4rec.data.load_dataset` (user cache, embedded ml-latest-small).

Results are written atomically: a run builds its folder under a hidden
temporary name beside the destination and renames it into place only when
everything has been written, so an interrupted run never leaves a half-written
``<results_path>/<name>/``.  (Only a hard kill, e.g. SIGKILL, can leave the
hidden ``.<name>.*.tmp`` folder behind; it is safe to delete.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import yaml

from . import __version__
from .utils import atomic_save_npz, atomic_write_json, atomic_write_text

__all__ = [
    "ConfigError",
    "ExperimentError",
    "ESTIMATORS",
    "load_config",
    "parse_config",
    "dump_config",
    "resolve_data_dir",
    "results_dir",
    "staged_dir",
    "run_experiment",
    "eval_experiment",
]

_logger = logging.getLogger(__name__)


# --------------------------------------------------------------------- errors
class ConfigError(ValueError):
    """A config file is invalid; the message names file, line and key path."""

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        source: str | os.PathLike | None = None,
        line: int | None = None,
    ):
        self.key = key
        self.source = None if source is None else str(source)
        self.line = line
        self.reason = message
        where = self.source or "<config>"
        if line is not None:
            where += f", line {line}"
        text = f"{where}: "
        if key:
            text += f"{key}: "
        super().__init__(text + message)


class ExperimentError(RuntimeError):
    """An experiment cannot run (missing results, folder exists, ...)."""


# --------------------------------------------------------------------- schema
_REQUIRED = object()


@dataclasses.dataclass(frozen=True)
class Field:
    """One config key: type (int, float, str, bool), default, constraints."""

    type: type
    default: Any = _REQUIRED
    nullable: bool = False
    choices: tuple | None = None
    minimum: float | None = None
    exclusive_minimum: bool = False
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "mapping", list: "list"}.get(type(value), type(value).__name__)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{_type_name(value)} {text}"


def _check_value(field: Field, value: Any) -> tuple[Any, str | None]:
    """Return (converted value, error message or None)."""
    if value is None:
        if field.nullable:
            return None, None
        return None, f"expected {field.type.__name__}, got null"
    expected = field.type.__name__ + ("|null" if field.nullable else "")
    if field.type is bool:
        ok = isinstance(value, bool)
    elif field.type is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif field.type is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            value = float(value)
            if math.isnan(value):
                return value, "expected a number, got NaN"
    elif field.type is str:
        ok = isinstance(value, str)
    else:  # pragma: no cover - schema bug
        raise TypeError(f"unsupported field type {field.type}")
    if not ok:
        return value, f"expected {expected}, got {_describe(value)}"
    if field.choices is not None and value not in field.choices:
        opts = ", ".join(str(c) for c in field.choices)
        return value, f"expected one of {opts}; got {value!r}"
    if field.minimum is not None:
        bad = value <= field.minimum if field.exclusive_minimum else value < field.minimum
        if bad:
            rel = ">" if field.exclusive_minimum else ">="
            return value, f"must be {rel} {field.minimum:g}, got {value!r}"
    return value, None


_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

MAIN_SCHEMA: dict[str, Field] = {
    "name": Field(str, None, nullable=True, doc="defaults to the config file's stem"),
    "data_path": Field(str, None, nullable=True, doc="directory with the data sets"),
    "results_path": Field(str, "results", doc="results go to <results_path>/<name>/"),
    "log_path": Field(str, None, nullable=True, doc="extra copy of the log file"),
    "log_level": Field(str, "INFO", choices=_LOG_LEVELS),
}

PROTOCOLS = ("p1", "p2")
_SPLIT_ALIASES = {
    "random_train_test_split": "p1",
    "items_per_user_train_test_split": "p2",
}

EXPERIMENT_SCHEMA: dict[str, Field] = {
    "dataset": Field(str),
    "protocol": Field(str, "p1", choices=PROTOCOLS),
    "train_test_split": Field(
        str, None, nullable=True, choices=tuple(_SPLIT_ALIASES), doc="alias of protocol"
    ),
    "dataset_seed": Field(int, 1729),
    "model_seed": Field(int, 123),
    "interaction_pivot": Field(float, None, nullable=True),
    "max_user_interactions": Field(int, None, nullable=True),
    "min_user_interactions": Field(int, None, nullable=True),
    "min_item_interactions": Field(int, None, nullable=True),
    "n_test": Field(int, 10, minimum=1),
    "estimator": Field(str),  # choices checked against ESTIMATORS
    "est_params": Field(dict, {}),  # checked per estimator
    "eval_k": Field(int, 10, minimum=1),
    "n_twins": Field(int, 2000, minimum=1),
    "interpret_seed": Field(int, 0),
}

# protocol-dependent defaults of the preprocessing keys (None = no filtering)
PROTOCOL_DEFAULTS: dict[str, dict[str, Any]] = {
    "p1": {"max_user_interactions": 200, "min_user_interactions": None},
    "p2": {"max_user_interactions": None, "min_user_interactions": 20},
}

_MF_PARAMS: dict[str, Field] = {
    "embedding_dim": Field(int, minimum=1, doc="number of latent dimensions K"),
    "n_iter": Field(int, 100, minimum=1, doc="maximum number of epochs"),
    "batch_size": Field(int, 128, minimum=1),
    "learning_rate": Field(float, 1e-3, minimum=0, exclusive_minimum=True),
    "loss": Field(str, "bpr", choices=("bpr", "bpr-spotlight")),
    "early_stopping": Field(
        str,
        None,
        nullable=True,
        choices=("valid", "loss-slope"),
        doc="null: run n_iter epochs; valid: keep the best epoch on the validation "
        "split; loss-slope: the original's convergence rule",
    ),
    "patience": Field(int, 10, minimum=1, doc="epochs without improvement (valid)"),
    "neg_sampling": Field(
        str,
        "exclude",
        choices=("exclude", "uniform"),
        doc="exclude: negatives never among the user's positives; uniform: the original's",
    ),
    "eval_metric": Field(
        str,
        "prec",
        choices=("prec", "recall", "mrr", "ndcg", "hitrate", "mrr_full"),
        doc="validation metric that selects the best epoch",
    ),
    "eval_every": Field(int, 1, minimum=1, doc="validate every n epochs"),
}

_PRED_PARAMS: dict[str, Field] = {
    "pred_method": Field(
        str,
        "rao-blackwell",
        choices=("rao-blackwell", "plugin", "sample"),
        doc="how LDAModel.scores ranks items (see lda4rec.lda)",
    ),
    "n_samples": Field(int, 32, minimum=1, doc="guide draws of rao-blackwell"),
}

_LDA_PARAMS: dict[str, Field] = {
    "embedding_dim": Field(int, minimum=1, doc="number of topics (cohorts) K"),
    "n_iter": Field(int, 10_000, minimum=1, doc="SVI steps"),
    "batch_size": Field(int, 128, minimum=1, doc="users per SVI step"),
    "learning_rate": Field(float, 1e-3, minimum=0, exclusive_minimum=True),
    "marginal": Field(bool, True, doc="cohort summed out (True) or enumerated (False)"),
    "hierarchical": Field(bool, False, doc="the hierarchical variant"),
    "alpha": Field(float, None, nullable=True, minimum=0, exclusive_minimum=True,
                   doc="Dirichlet concentration of theta; null: 1/K"),
    "max_interactions": Field(int, None, nullable=True, minimum=1,
                              doc="interactions per user and SVI step (lda.subsample_rows); null: all"),
    **_PRED_PARAMS,
}

_LDAEXT_PARAMS: dict[str, Field] = {
    "embedding_dim": Field(int, minimum=1, doc="number of cohorts K"),
    "n_iter": Field(int, 10_000, minimum=1, doc="SVI steps"),
    "batch_size": Field(int, 128, minimum=1, doc="users per SVI step"),
    "learning_rate": Field(float, 1e-2, minimum=0, exclusive_minimum=True),
    "alpha": Field(float, None, nullable=True, minimum=0, exclusive_minimum=True,
                   doc="Dirichlet concentration of theta; null: 1/K"),
    "max_interactions": Field(int, None, nullable=True, minimum=1,
                              doc="interactions per user and SVI step (lda.subsample_rows); null: all"),
    "beta": Field(float, 1.0, minimum=0, exclusive_minimum=True, doc="Dirichlet of phi_k"),
    "gamma": Field(float, 1.0, minimum=0, exclusive_minimum=True, doc="Dirichlet of delta"),
    **_PRED_PARAMS,
}

#: estimator name -> (library entry point, est_params schema)
ESTIMATORS: dict[str, tuple[str, dict[str, Field]]] = {
    "PopEst": ("lda4rec.mf.Popularity", {}),
    "MFEst": ("lda4rec.mf.fit_mf(model='mf')", _MF_PARAMS),
    "SNMFEst": ("lda4rec.mf.fit_mf(model='snmf')", _MF_PARAMS),
    "NMFEst": ("lda4rec.mf.fit_mf(model='nmf')", _MF_PARAMS),
    "LDA4RecEst": ("lda4rec.lda.fit_lda4rec", _LDA_PARAMS),
    "LDAextEst": ("lda4rec.lda.fit_ldaext", _LDAEXT_PARAMS),
}

_MF_MODEL = {"MFEst": "mf", "SNMFEst": "snmf", "NMFEst": "nmf"}

# keys and sections of the original that we refuse, each with its reason
_RETIRED = {
    "neptune": "experiment tracking (neptune.ai) is not supported; delete this "
    "section: metrics, model and log are written to <results_path>/<name>/",
    "main.model_path": "not supported: the model is saved in <results_path>/<name>/",
}


# ----------------------------------------------------------------------- YAML
class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` (no dot) as a float.

    YAML 1.1, which PyYAML implements, only knows floats with a dot, so
    ``learning_rate: 1e-3`` would otherwise arrive as the *string* '1e-3'.
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)$"),
    list("-+0123456789"),
)


def _key_lines(node: yaml.Node, prefix: str, lines: dict[str, int], source) -> None:
    """Record the line of every mapping key; reject duplicate keys."""
    if not isinstance(node, yaml.MappingNode):
        return
    seen: set = set()
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        path = f"{prefix}.{key}" if prefix else str(key)
        line = key_node.start_mark.line + 1
        if key is not None:
            if key in seen:
                raise ConfigError("duplicate key", key=path, source=source, line=line)
            seen.add(key)
            lines.setdefault(path, line)
        _key_lines(value_node, path, lines, source)


def _parse_yaml(text: str, source) -> tuple[Any, dict[str, int]]:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", source=source, line=line) from None
    if node is None:
        raise ConfigError("the config is empty", source=source)
    lines: dict[str, int] = {}
    _key_lines(node, "", lines, source)
    loader = _Loader("")
    try:
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = None if mark is None else mark.line + 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"invalid YAML: {problem}", source=source, line=line) from None
    finally:
        loader.dispose()
    return data, lines


# ----------------------------------------------------------------- validation
def _validate_section(
    values: Any,
    schema: Mapping[str, Field],
    prefix: str,
    err: Callable[..., ConfigError],
) -> dict[str, Any]:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise err(f"expected a mapping, got {_describe(values)}", prefix)
    for key in values:
        path = f"{prefix}.{key}"
        if path in _RETIRED:
            raise err(_RETIRED[path], path)
        if key not in schema:
            known = ", ".join(schema) or "none"
            raise err(f"unknown key (known keys: {known})", path)
    out: dict[str, Any] = {}
    for key, field in schema.items():
        path = f"{prefix}.{key}"
        if key not in values:
            if field.required:
                raise err("missing required key", path)
            default = field.default
            out[key] = dict(default) if isinstance(default, dict) else default
            continue
        if field.type is dict:
            value = values[key]
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise err(f"expected a mapping, got {_describe(value)}", path)
            out[key] = value
            continue
        value, problem = _check_value(field, values[key])
        if problem:
            raise err(problem, path)
        out[key] = value
    return out


def parse_config(
    data: Any,
    *,
    source: str | os.PathLike | None = None,
    lines: Mapping[str, int] | None = None,
) -> dict[str, dict[str, Any]]:
    """Validate a config mapping and return it resolved (all defaults filled).

    Parameters
    ----------
    data
        The parsed YAML (a mapping with the sections ``main`` and ``experiment``).
    source
        The config file, for messages; its stem is the default ``main.name``.
    lines
        Optional map key path -> line number, for messages.

    Raises
    ------
    ConfigError
        Naming the key path (and file/line) of the first problem.
    """
    lines = dict(lines or {})

    def err(message: str, key: str | None = None) -> ConfigError:
        line = None
        if key:
            # the key's own line, else the closest enclosing section's
            probe = key
            while probe and probe not in lines:
                probe = probe.rpartition(".")[0]
            line = lines.get(probe)
        return ConfigError(message, key=key, source=source, line=line)

    if not isinstance(data, dict):
        raise err(f"expected a mapping with sections main and experiment, got {_describe(data)}")
    for section in data:
        if section in _RETIRED:
            raise err(_RETIRED[section], str(section))
        if section not in ("main", "experiment"):
            raise err("unknown section (known sections: main, experiment)", str(section))
    if "experiment" not in data:
        raise err("missing required section", "experiment")

    main = _validate_section(data.get("main"), MAIN_SCHEMA, "main", err)
    exp = _validate_section(data["experiment"], EXPERIMENT_SCHEMA, "experiment", err)

    # main.name: default to the file stem; must be a plain folder name
    if main["name"] is None:
        if source is None:
            raise err("missing required key (no config file to take the name from)", "main.name")
        main["name"] = Path(source).stem
    name = main["name"]
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise err(f"not a valid folder name: {name!r}", "main.name")

    # protocol and its alias from the original configs
    raw_exp = data["experiment"] or {}
    alias = exp.pop("train_test_split")
    if alias is not None:
        from_alias = _SPLIT_ALIASES[alias]
        if "protocol" in raw_exp and exp["protocol"] != from_alias:
            raise err(
                f"{alias!r} means protocol {from_alias}, but experiment.protocol is "
                f"{exp['protocol']!r}",
                "experiment.train_test_split",
            )
        exp["protocol"] = from_alias
    protocol = exp["protocol"]
    if protocol != "p2" and "n_test" in raw_exp:
        raise err("only used with protocol p2", "experiment.n_test")
    if protocol != "p2":
        exp.pop("n_test")

    # preprocessing: protocol defaults; negative numbers mean "off" as in the original
    for key, default in PROTOCOL_DEFAULTS[protocol].items():
        if key not in raw_exp:
            exp[key] = default
    for key in ("max_user_interactions", "min_user_interactions", "min_item_interactions"):
        if exp[key] is not None and exp[key] < 0:
            exp[key] = None
        if key == "max_user_interactions" and exp[key] == 0:
            raise err("must be >= 1 (or null for no cap)", f"experiment.{key}")
    if exp["interaction_pivot"] is not None and exp["interaction_pivot"] < 0:
        exp["interaction_pivot"] = None

    from .data import DATASETS

    if exp["dataset"] not in DATASETS:
        raise err(
            f"unknown dataset {exp['dataset']!r} (known: {', '.join(DATASETS)})",
            "experiment.dataset",
        )

    # estimator and its parameters
    est = exp["estimator"]
    if est not in ESTIMATORS:
        raise err(
            f"unknown estimator {est!r} (known: {', '.join(ESTIMATORS)})",
            "experiment.estimator",
        )
    exp["est_params"] = _validate_section(
        exp["est_params"], ESTIMATORS[est][1], "experiment.est_params", err
    )
    params = exp["est_params"]
    if params.get("early_stopping") == "valid" and protocol != "p1":
        raise err(
            "needs a validation split, which only protocol p1 has",
            "experiment.est_params.early_stopping",
        )
    if params.get("early_stopping") != "valid" and "patience" in (
        (raw_exp.get("est_params") or {})
    ):
        raise err(
            "only used with early_stopping: valid", "experiment.est_params.patience"
        )
    if "patience" in params and params.get("early_stopping") != "valid":
        params.pop("patience")
    return {"main": main, "experiment": exp}


def load_config(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Read, validate and resolve a YAML config file (see the module docstring).

    Raises
    ------
    ConfigError
        If the file is missing or unreadable, is not valid YAML, or violates
        the schema; the message names the file, line and key path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", source=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file: {exc}", source=path) from None
    data, lines = _parse_yaml(text, path)
    return parse_config(data, source=path, lines=lines)


def dump_config(cfg: Mapping[str, Any], source: str | os.PathLike | None = None) -> str:
    """The resolved config as YAML text (loads back to the same dict)."""
    header = f"# resolved config written by lda4rec {__version__}"
    if source is not None:
        header += f" from {source}"
    body = yaml.safe_dump(
        {"main": dict(cfg["main"]), "experiment": dict(cfg["experiment"])},
        sort_keys=False,
        default_flow_style=False,
    )
    return header + "\n" + body


# ------------------------------------------------------------------- folders
def resolve_data_dir(
    cfg: Mapping[str, Any], data_dir: str | os.PathLike | None = None
) -> Path | None:
    """The data directory by precedence: argument, ``main.data_path``, ``LDA4REC_DATA``.

    Returns None when none is set: `lda4rec.data.load_dataset` then uses its own
    look-up (user cache directory, the embedded ml-latest-small).
    """
    for candidate in (data_dir, cfg["main"].get("data_path"), os.environ.get("LDA4REC_DATA")):
        if candidate:
            return Path(candidate).expanduser()
    return None


def results_dir(cfg: Mapping[str, Any]) -> Path:
    """``<results_path>/<name>`` of a resolved config."""
    return Path(cfg["main"]["results_path"]).expanduser() / cfg["main"]["name"]


def _normal_permissions(root: Path) -> None:
    """Give a staged folder the permissions of ordinary new files (umask).

    `tempfile.mkdtemp` and `tempfile.mkstemp` create 0700 folders and 0600
    files; results should be as readable as anything else the user writes.
    """
    umask = os.umask(0)
    os.umask(umask)
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = 0o777 if path.is_dir() else 0o666
        os.chmod(path, mode & ~umask)


@contextlib.contextmanager
def staged_dir(final: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces ``final`` on success.

    The folder is created beside ``final`` under a hidden name
    (``.<name>.<random>.tmp``).  When the block finishes, it is renamed to
    ``final``; if ``final`` exists it is replaced only with ``overwrite``
    (old folder moved aside, new one renamed in, old one deleted), else
    `ExperimentError`.  On any exception the temporary folder is deleted and
    ``final`` is left as it was.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        _normal_permissions(tmp)
        if final.exists():
            if not overwrite:
                raise ExperimentError(
                    f"{final} already exists; remove it or pass --force to replace it"
                )
            old = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(final, old)
            try:
                os.replace(tmp, final)
            except BaseException:
                os.replace(old, final)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------- data
def _is_protocol_default(exp: Mapping[str, Any]) -> bool:
    """True when the preprocessing keys are exactly what the protocol function does."""
    if exp["interaction_pivot"] is not None:
        return False
    if exp["protocol"] == "p1":
        return (
            exp["max_user_interactions"] is not None
            and exp["min_user_interactions"] is None
            and exp["min_item_interactions"] is None
        )
    return exp["max_user_interactions"] is None


def _compose_splits(exp: Mapping[str, Any], data_dir, *, download: bool = True) -> dict:
    """The protocols of `lda4rec.data`, step by step, with every config knob.

    With the protocol's own settings this gives exactly the splits of
    `lda4rec.data.p1_protocol` / `p2_protocol` (same steps, same derived
    seeds; a test checks it).  Order: implicit (pivot), cap per user, minimum
    interactions per user/item (applied once), split.
    """
    from . import data as D
    from .utils import derive_seeds

    inter = D.load_dataset(exp["dataset"], data_dir=data_dir, download=download)
    inter = D.to_implicit(inter, exp["interaction_pivot"])
    min_user = exp["min_user_interactions"] or 0
    min_item = exp["min_item_interactions"] or 0
    if exp["protocol"] == "p1":
        s_cap, s_split, s_half = derive_seeds(exp["dataset_seed"], 3)
        if exp["max_user_interactions"] is not None:
            inter = D.cap_user_interactions(inter, exp["max_user_interactions"], seed=s_cap)
        if min_user or min_item:
            inter = D.filter_min_interactions(inter, min_user, min_item)
        train, rest = D.random_split(inter, 0.10, seed=s_split)
        test, valid = D.random_split(rest, 0.5, seed=s_half)
        return {"train": train, "valid": valid, "test": test}
    # p2: the split seed is child 0 as in p2_protocol; the cap uses child 1
    s_split, s_cap = derive_seeds(exp["dataset_seed"], 2)
    if len(np.unique(inter.user_ids * inter.n_items + inter.item_ids)) != len(inter):
        inter = D.merge_duplicates(inter, "max")
    if exp["max_user_interactions"] is not None:
        inter = D.cap_user_interactions(inter, exp["max_user_interactions"], seed=s_cap)
    inter = D.filter_min_interactions(inter, min_user, min_item)
    inter = D.compact(inter)
    train, test = D.leave_n_out_split(inter, exp["n_test"], seed=s_split)
    return {"train": train, "test": test}


def make_splits(cfg: Mapping[str, Any], data_dir: str | os.PathLike | None = None) -> dict:
    """Load the data set and split it as the config says (seeded by ``dataset_seed``).

    With the protocol's own preprocessing (p1: all ratings, cap, no minimum;
    p2: all ratings, no cap) this calls `lda4rec.data.p1_protocol` /
    `lda4rec.data.p2_protocol`; other settings run the same steps with the
    extra ones added (see `_compose_splits`).

    Returns
    -------
    dict
        ``{"train", "valid", "test"}`` for protocol p1, ``{"train", "test"}``
        for p2 (`lda4rec.data.Interactions` sharing one id space).
    """
    from . import data as D

    exp = cfg["experiment"]
    root = resolve_data_dir(cfg, data_dir)
    if not _is_protocol_default(exp):
        return _compose_splits(exp, root)
    if exp["protocol"] == "p1":
        train, valid, test = D.p1_protocol(
            exp["dataset"],
            seed=exp["dataset_seed"],
            data_dir=root,
            max_user_interactions=exp["max_user_interactions"],
        )
        return {"train": train, "valid": valid, "test": test}
    train, test = D.p2_protocol(
        exp["dataset"],
        seed=exp["dataset_seed"],
        data_dir=root,
        min_user_interactions=exp["min_user_interactions"] or 0,
        min_item_interactions=exp["min_item_interactions"] or 0,
        n_test=exp["n_test"],
    )
    return {"train": train, "test": test}


def _union(*parts):
    """Interactions holding the rows of all ``parts`` (same id spaces)."""
    from .data import Interactions

    first = parts[0]
    return Interactions(
        np.concatenate([p.user_ids for p in parts]),
        np.concatenate([p.item_ids for p in parts]),
        None,
        first.n_users,
        first.n_items,
        user_map=first.user_map,
        item_map=first.item_map,
        name=first.name,
    )


def split_fingerprint(inter) -> dict[str, Any]:
    """Size and SHA-256 of the sorted (user, item) pairs of a split.

    Written to ``split.json`` by ``run``; ``eval`` recomputes it to make sure it
    re-created exactly the split the model was trained on.
    """
    order = np.lexsort((inter.item_ids, inter.user_ids))
    pairs = np.stack([inter.user_ids[order], inter.item_ids[order]]).astype("<i8")
    digest = hashlib.sha256(pairs.tobytes()).hexdigest()
    return {
        "n_interactions": int(len(inter)),
        "n_users_with_items": int(np.unique(inter.user_ids).size),
        "n_users": int(inter.n_users),
        "n_items": int(inter.n_items),
        "sha256": digest,
    }


# --------------------------------------------------------------------- model
def fit_estimator(cfg: Mapping[str, Any], train, valid=None):
    """Fit the configured estimator on ``train`` (``valid`` for model selection)."""
    exp = cfg["experiment"]
    est, p, seed = exp["estimator"], exp["est_params"], exp["model_seed"]
    if est == "PopEst":
        from .mf import Popularity

        return Popularity(train)
    if est in _MF_MODEL:
        from .mf import fit_mf

        return fit_mf(
            train,
            p["embedding_dim"],
            model=_MF_MODEL[est],
            loss=p["loss"],
            lr=p["learning_rate"],
            batch_size=p["batch_size"],
            n_epochs=p["n_iter"],
            seed=seed,
            neg_sampling=p["neg_sampling"],
            valid=valid,
            early_stopping=p["early_stopping"],
            patience=p.get("patience", 10),
            eval_k=exp["eval_k"],
            eval_metric=p["eval_metric"],
            eval_every=p["eval_every"],
        )
    if est in ("LDA4RecEst", "LDAextEst"):
        try:
            from . import lda
        except ImportError as exc:  # pragma: no cover - lda is part of the package
            raise ExperimentError(f"estimator {est} is not available: {exc}") from exc
        common = dict(
            n_steps=p["n_iter"],
            batch_size=p["batch_size"],
            lr=p["learning_rate"],
            seed=seed,
            alpha=p["alpha"],
            max_interactions=p["max_interactions"],
        )
        if est == "LDA4RecEst":
            return lda.fit_lda4rec(
                train,
                p["embedding_dim"],
                marginal=p["marginal"],
                hierarchical=p["hierarchical"],
                **common,
            )
        return lda.fit_ldaext(
            train, p["embedding_dim"], beta=p["beta"], gamma=p["gamma"], **common
        )
    raise ExperimentError(f"unknown estimator {est!r}")  # pragma: no cover - validated


_LDA_FILE = "lda.npz"


def save_model(cfg: Mapping[str, Any], model, path: Path) -> None:
    """Write the fitted model into the folder ``path``.

    MF family: `lda4rec.mf.MFModel.save` (params.npz, config.json,
    history.csv); LDA4Rec/LDAext: `lda4rec.lda.LDAModel.save` to ``lda.npz``;
    Pop: the item counts in ``popularity.npz``.  Plus ``estimator.json``.
    """
    est = cfg["experiment"]["estimator"]
    path.mkdir(parents=True, exist_ok=True)
    if est == "PopEst":
        atomic_save_npz(path / "popularity.npz", item_counts=model.item_counts_)
    elif est in _MF_MODEL:
        model.save(path)
    else:
        model.save(path / _LDA_FILE)
    atomic_write_json(path / "estimator.json", {"estimator": est, "lda4rec": __version__})


def load_model(cfg: Mapping[str, Any], path: Path):
    """Load what `save_model` wrote (MF family, LDA4Rec, LDAext)."""
    est = cfg["experiment"]["estimator"]
    if not path.is_dir():
        raise ExperimentError(f"model folder {path} not found")
    if est in _MF_MODEL:
        from .mf import MFModel

        return MFModel.load(path)
    if est in ("LDA4RecEst", "LDAextEst"):
        from .lda import load_lda

        if not (path / _LDA_FILE).is_file():
            raise ExperimentError(f"{path / _LDA_FILE} not found")
        return load_lda(path / _LDA_FILE)
    raise ExperimentError(f"estimator {est} has no trainable model to load")


def _scorer(cfg: Mapping[str, Any], model):
    """What `lda4rec.metrics.evaluate` ranks with: the model, or LDA's chosen method."""
    est = cfg["experiment"]["estimator"]
    if est not in ("LDA4RecEst", "LDAextEst"):
        return model
    p = cfg["experiment"]["est_params"]
    seed = cfg["experiment"]["model_seed"]

    def score(user_ids):
        return model.scores(
            user_ids, method=p["pred_method"], n_samples=p["n_samples"], seed=seed
        )

    return score


# ------------------------------------------------------------------- logging
_LOG_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@contextlib.contextmanager
def _log_to(path: Path, level: str) -> Iterator[None]:
    """Copy the ``lda4rec`` loggers' records at ``level`` and above into ``path``."""
    logger = logging.getLogger("lda4rec")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT, _DATE_FORMAT))
    old_level = logger.level
    numeric = logging.getLevelName(level)
    if logger.level == logging.NOTSET or logger.level > numeric:
        logger.setLevel(numeric)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(old_level)


def _short_repr(obj: Any, limit: int = 200) -> str:
    text = repr(obj)
    return text if len(text) <= limit else f"<{type(obj).__name__}>"


# ----------------------------------------------------------------------- run
def evaluate_splits(cfg: Mapping[str, Any], model, splits: Mapping[str, Any]) -> dict:
    """Top-k metrics (`lda4rec.metrics.evaluate`) on ``valid`` and ``test``.

    Exclusions: on ``valid`` the training items are never ranked; on ``test``
    neither the training nor the validation items (the original code excluded
    only the training items on both).
    """
    from .metrics import evaluate

    k = cfg["experiment"]["eval_k"]
    train = splits["train"]
    model = _scorer(cfg, model)
    out: dict[str, dict] = {}
    if "valid" in splits:
        out["valid"] = evaluate(model, splits["valid"], exclude=train, k=k)
        exclude = _union(train, splits["valid"])
    else:
        exclude = train
    out["test"] = evaluate(model, splits["test"], exclude=exclude, k=k)
    return out


def _metrics_csv(metrics: Mapping[str, Mapping[str, Any]], k: int) -> str:
    import pandas as pd

    rows = [{"split": split, "k": k, **values} for split, values in metrics.items()]
    return pd.DataFrame(rows).to_csv(index=False)


def run_experiment(
    cfg: Mapping[str, Any],
    *,
    data_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    source: str | os.PathLike | None = None,
) -> Path:
    """``lda4rec run``: split, fit, evaluate, and write ``<results_path>/<name>/``.

    Files written (all at once, see `staged_dir`):

    ``config.yaml``
        The resolved config (every default filled in).
    ``metrics.json`` / ``metrics.csv``
        ``{split: {prec, recall, mrr, ndcg, hitrate, mrr_full, n_users}}`` for
        ``valid`` (p1 only) and ``test``; the CSV has one row per split.
    ``model/``
        The fitted model (`lda4rec.mf.MFModel.save`, the LDA4Rec model's
        ``save``, or ``popularity.npz`` for Pop) and ``estimator.json``.
    ``split.json``
        Size and SHA-256 of every split (``eval`` checks it re-created them).
    ``run.json``
        Timings, versions, best epoch, data directory.
    ``run.log``
        The log of the run.

    Returns
    -------
    Path
        The results folder.

    Raises
    ------
    ExperimentError
        If the results folder exists and ``overwrite`` is False (checked before
        any work is done).
    """
    out = results_dir(cfg)
    if out.exists() and not overwrite:
        raise ExperimentError(f"{out} already exists; remove it or pass --force to replace it")
    main, exp = cfg["main"], cfg["experiment"]
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    t_total = time.perf_counter()
    with staged_dir(out, overwrite=overwrite) as tmp:
        with _log_to(tmp / "run.log", main["log_level"]):
            _logger.info("lda4rec %s: experiment %r -> %s", __version__, main["name"], out)
            _logger.info("Configuration:\n%s", dump_config(cfg, source))
            splits = make_splits(cfg, data_dir)
            for split, inter in splits.items():
                _logger.info("%s: %r", split, inter)
            _logger.info("Fitting estimator %s ...", exp["estimator"])
            t0 = time.perf_counter()
            model = fit_estimator(cfg, splits["train"], splits.get("valid"))
            fit_s = time.perf_counter() - t0
            _logger.info("Fitted %s in %.1f s", _short_repr(model), fit_s)
            t0 = time.perf_counter()
            metrics = evaluate_splits(cfg, model, splits)
            eval_s = time.perf_counter() - t0
            for split, values in metrics.items():
                _logger.info(
                    "%s@%d: %s",
                    split,
                    exp["eval_k"],
                    ", ".join(f"{k}={v:.6f}" if isinstance(v, float) else f"{k}={v}"
                              for k, v in values.items()),
                )
            save_model(cfg, model, tmp / "model")
            atomic_write_json(tmp / "metrics.json", metrics)
            atomic_write_text(tmp / "metrics.csv", _metrics_csv(metrics, exp["eval_k"]))
            atomic_write_text(tmp / "config.yaml", dump_config(cfg, source))
            atomic_write_json(
                tmp / "split.json", {s: split_fingerprint(i) for s, i in splits.items()}
            )
            root = resolve_data_dir(cfg, data_dir)
            atomic_write_json(
                tmp / "run.json",
                {
                    "name": main["name"],
                    "lda4rec": __version__,
                    "started_utc": started,
                    "fit_seconds": fit_s,
                    "eval_seconds": eval_s,
                    "total_seconds": time.perf_counter() - t_total,
                    "best_epoch": getattr(model, "best_epoch", None),
                    "data_dir": None if root is None else str(root),
                    "config_file": None if source is None else str(source),
                },
            )
            _logger.info("Experiment finished; results in %s", out)
    if main["log_path"]:
        stamp = started.replace(":", "").replace("-", "")
        log_copy = Path(main["log_path"]).expanduser() / f"{main['name']}_{stamp}.log"
        atomic_write_text(log_copy, (out / "run.log").read_text(encoding="utf-8"))
    return out


# ---------------------------------------------------------------------- eval
#: experiment keys that only affect ``eval`` (may change between run and eval)
EVAL_ONLY_KEYS = ("n_twins", "interpret_seed")


def _check_same_experiment(cfg: Mapping[str, Any], out: Path) -> None:
    saved_path = out / "config.yaml"
    if not saved_path.is_file():
        raise ExperimentError(f"{saved_path} not found: {out} is not a complete `run` result")
    saved = load_config(saved_path)["experiment"]
    now = cfg["experiment"]

    def flat(d, prefix="experiment"):
        for key, value in d.items():
            if isinstance(value, dict):
                yield from flat(value, f"{prefix}.{key}")
            elif key not in EVAL_ONLY_KEYS or prefix != "experiment":
                yield f"{prefix}.{key}", value

    a, b = dict(flat(saved)), dict(flat(now))
    diff = [key for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]
    if diff:
        key = diff[0]
        raise ExperimentError(
            f"{key} is {b.get(key)!r} in this config but {a.get(key)!r} in {saved_path}, "
            f"which the model was trained with ({len(diff)} difference(s): "
            f"{', '.join(diff)}); rerun `run` (with --force) or use that config"
        )


#: estimators whose fitted model ``eval`` can interpret
INTERPRETABLE = ("MFEst", "SNMFEst", "NMFEst", "LDA4RecEst", "LDAextEst")


def to_ldaext(cfg: Mapping[str, Any], model) -> tuple[Any, dict]:
    """LDAext parameters (theta, phi, delta, lam) of a fitted model, and the
    extra keyword arguments `lda4rec.interpret.run_all` needs for them.

    MF and SNMF: `lda4rec.adjoint.mf_to_ldaext` of the effective factors;
    NMF: `lda4rec.adjoint.nmf_to_ldaext`.  Directly fitted LDA4Rec/LDAext:
    `lda4rec.interpret.lda_model_view` (softmax of LDA4Rec's logits); their
    theta has no exact zeros, so experiment 1 takes the argmin cohort as the
    low one (``low="argmin"``) instead of P2's random zero cohort.
    """
    est = cfg["experiment"]["estimator"]
    if est in _MF_MODEL:
        from . import adjoint

        w, h, b = model.factors()
        if est == "NMFEst":
            return adjoint.nmf_to_ldaext(w, h, b), {}
        return adjoint.mf_to_ldaext(w, h, b), {}
    if est in ("LDA4RecEst", "LDAextEst"):
        from .interpret import lda_model_view

        return lda_model_view(model), {"low": "argmin"}
    raise ExperimentError(
        f"eval is not available for estimator {est}: the popularity baseline has no "
        f"cohorts; it needs one of {', '.join(INTERPRETABLE)}"
    )


def eval_experiment(
    cfg: Mapping[str, Any],
    *,
    data_dir: str | os.PathLike | None = None,
    source: str | os.PathLike | None = None,
) -> Path:
    """``lda4rec eval``: P2's interpretation experiments on a trained model.

    Loads the model that ``run`` saved in ``<results_path>/<name>/model``,
    transforms it to LDAext (`to_ldaext`: the adjoint transform for MF models,
    `lda4rec.interpret.lda_model_view` for LDA fits), re-creates the split from the config (checked
    against ``split.json``), runs `lda4rec.interpret.run_all` on train and test
    and writes ``<results_path>/<name>/interpret/`` (replacing an earlier one,
    atomically): ``interpretation.csv``/``.json`` (the tables),
    ``ldaext_summary.json``, ``eval.log``.

    Raises
    ------
    ExperimentError
        If ``run`` has not been done for this config (naming the missing path),
        the config differs from the one the model was trained with, or the
        re-created split differs from the saved fingerprint.
    """
    out = results_dir(cfg)
    exp = cfg["experiment"]
    if not out.is_dir():
        hint = f"lda4rec -c {source} run" if source else "lda4rec -c <config> run"
        raise ExperimentError(f"{out} not found: train the model first with `{hint}`")
    if exp["estimator"] not in INTERPRETABLE:
        to_ldaext(cfg, None)  # raises the explanation
    _check_same_experiment(cfg, out)
    model_dir = out / "model"
    if not model_dir.is_dir():
        raise ExperimentError(f"{model_dir} not found: {out} is not a complete `run` result")
    with staged_dir(out / "interpret", overwrite=True) as tmp:
        with _log_to(tmp / "eval.log", cfg["main"]["log_level"]):
            _logger.info("lda4rec %s: interpreting %r", __version__, cfg["main"]["name"])
            model = load_model(cfg, model_dir)
            _logger.info("Loaded %s", _short_repr(model))
            splits = make_splits(cfg, data_dir)
            saved_split = out / "split.json"
            if saved_split.is_file():
                want = json.loads(saved_split.read_text(encoding="utf-8"))
                for split, inter in splits.items():
                    got = split_fingerprint(inter)
                    if split in want and want[split]["sha256"] != got["sha256"]:
                        raise ExperimentError(
                            f"the re-created {split} split differs from the one in "
                            f"{saved_split} (data set files or lda4rec's splitting changed?); "
                            "rerun `run` with --force"
                        )
            params, extra = to_ldaext(cfg, model)
            from .interpret import run_all, write_tables

            t0 = time.perf_counter()
            df = run_all(
                params,
                splits["train"],
                splits["test"],
                seed=exp["interpret_seed"],
                n_twins=exp["n_twins"],
                **extra,
            )
            _logger.info("Interpretation experiments took %.1f s", time.perf_counter() - t0)
            _logger.info("\n%s", df.to_string())
            write_tables(df, tmp, name="interpretation")
            lam = np.asarray(params["lam"] if isinstance(params, Mapping) else params.lam)
            theta = np.asarray(params["theta"] if isinstance(params, Mapping) else params.theta)
            atomic_write_json(
                tmp / "ldaext_summary.json",
                {
                    "n_users": int(theta.shape[0]),
                    "n_cohorts": int(theta.shape[1]),
                    "lam_median": float(np.median(lam[np.isfinite(lam)])),
                    "lam_mean": float(np.mean(lam[np.isfinite(lam)])),
                    "n_lam_not_finite": int((~np.isfinite(lam)).sum()),
                    "low_cohort": extra.get("low", "zero"),
                    "seed": exp["interpret_seed"],
                    "n_twins": exp["n_twins"],
                },
            )
    return out / "interpret"
