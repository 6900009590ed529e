"""The ``lda4rec`` command: the original project's interface, without SaaS tracking.

::

    lda4rec -c configs/default.yaml run        # split, fit, evaluate -> results/<name>/
    lda4rec -c configs/default.yaml eval       # P2's interpretation tables -> results/<name>/interpret/
    lda4rec -c configs/default.yaml check      # validate the config and print it resolved
    lda4rec datasets                           # the data set registry and where each file is found

The config format is described in `lda4rec.experiment`.  Errors in the config,
a missing data set or missing results end the command with a one-line message
on stderr and exit status 2 (config) or 1 (anything else the user can fix);
``--traceback`` shows the full traceback instead.

Data directory precedence: ``--data-dir``, then ``main.data_path``, then the
environment variable ``LDA4REC_DATA``, then `lda4rec.data.load_dataset`'s own
look-up (user cache directory; the shipped ml-latest-small).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .experiment import (
    ConfigError,
    ExperimentError,
    dump_config,
    eval_experiment,
    load_config,
    results_dir,
    run_experiment,
)

__all__ = ["main", "build_parser"]

_logger = logging.getLogger(__name__)

EXIT_CONFIG = 2
EXIT_FAILURE = 1


def _common_options(parser: argparse.ArgumentParser, suppress, *, top: bool) -> None:
    """-c, --data-dir, -s, --traceback; real defaults only on the top-level parser."""

    def default(value):
        return value if top else suppress

    parser.add_argument(
        "-c",
        "--config",
        dest="config",
        metavar="PATH",
        default=default(None),
        help="path to the YAML config file (needed by run, eval, check)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        default=default(None),
        help="directory with the data sets; overrides main.data_path and LDA4REC_DATA",
    )
    parser.add_argument(
        "-s",
        "--silent",
        action="store_true",
        default=default(False),
        help="no log output on stderr (the log file is kept)",
    )
    parser.add_argument(
        "--traceback",
        action="store_true",
        default=default(False),
        help="show the full traceback on errors",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lda4rec",
        description=(
            "Experimentation tool of lda4rec: run an experiment described by a "
            "YAML config (sections main and experiment) and interpret the model."
        ),
        epilog="Example: lda4rec -c configs/default.yaml run",
    )
    _common_options(parser, argparse.SUPPRESS, top=True)
    parser.add_argument("--version", action="version", version=f"lda4rec {__version__}")
    # the same options are accepted after the command (lda4rec run -c cfg.yaml)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, argparse.SUPPRESS, top=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p_run = sub.add_parser(
        "run",
        parents=[common],
        help="split the data, fit, evaluate; write <results_path>/<name>/",
        description="Split the data, fit the estimator, evaluate it on valid and test "
        "and write config, metrics (JSON, CSV), model and log to <results_path>/<name>/.",
    )
    p_run.add_argument(
        "-f", "--force", action="store_true", help="replace an existing results folder"
    )
    sub.add_parser(
        "eval",
        parents=[common],
        help="P2's interpretation experiments on the trained model",
        description="Load the model trained by `run`, transform it to LDAext, run P2's four "
        "interpretation experiments and write the tables to <results_path>/<name>/interpret/.",
    )
    sub.add_parser(
        "check",
        parents=[common],
        help="validate the config and print it with all defaults filled in",
        description="Validate the config; print the resolved config as YAML.",
    )
    sub.add_parser(
        "datasets",
        parents=[common],
        help="list the data sets and where their files are found",
        description="List the registered data sets and where each ratings file is looked "
        "for and found (no download).",
    )
    return parser


def _setup_logging(level: str, silent: bool) -> logging.Handler | None:
    logger = logging.getLogger("lda4rec")
    logger.setLevel(level)
    if silent:
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(level)
    handler.setFormatter(
        logging.Formatter("%(asctime)s - %(levelname)s - %(message)s", "%H:%M:%S")
    )
    logger.addHandler(handler)
    return handler


def _datasets(cfg, data_dir: str | None) -> int:
    from . import data as D
    from .experiment import resolve_data_dir

    root = resolve_data_dir(cfg, data_dir)
    print(f"data directory: {root if root else '(none set; LDA4REC_DATA unset)'}")
    print(f"user cache:     {D.cache_dir()}")
    for name, spec in D.DATASETS.items():
        try:
            found = D.locate_dataset(name, data_dir=root)
        except (OSError, ValueError) as exc:  # e.g. a broken archive
            found = f"unreadable: {exc}"
        print(f"\n{name}: {spec.description}")
        print(f"  found:    {found or 'no (would download from ' + spec.url + ')'}")
        print("  accepted: " + "; ".join(spec.accepted_paths("ratings")))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lda4rec`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    handler = None
    pkg_logger = logging.getLogger("lda4rec")
    old_level = pkg_logger.level
    try:
        if args.command == "datasets":
            cfg = load_config(args.config) if args.config else {"main": {}}
            return _datasets(cfg, args.data_dir)
        if not args.config:
            parser.error(f"the command {args.command!r} needs a config: -c PATH")
        source = Path(args.config)
        cfg = load_config(source)
        if args.command == "check":
            sys.stdout.write(dump_config(cfg, source))
            print(f"# results folder: {results_dir(cfg)}")
            return 0
        handler = _setup_logging(cfg["main"]["log_level"], args.silent)
        if args.command == "run":
            out = run_experiment(cfg, data_dir=args.data_dir, overwrite=args.force, source=source)
        else:
            out = eval_experiment(cfg, data_dir=args.data_dir, source=source)
        print(out)
        return 0
    except KeyboardInterrupt:
        if args.traceback:
            raise
        print("lda4rec: interrupted; no results were written", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `lda4rec ... check | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except ConfigError as exc:
        if args.traceback:
            raise
        print(f"lda4rec: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (ExperimentError, FileNotFoundError, ValueError) as exc:
        # user-fixable: missing data set or results, folder exists, bad data
        if args.traceback:
            raise
        print(f"lda4rec: error: {exc}", file=sys.stderr)
        if not isinstance(exc, (ExperimentError, FileNotFoundError)):
            print("(run with --traceback for the full traceback)", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        if handler is not None:
            pkg_logger.removeHandler(handler)
            handler.close()
        pkg_logger.setLevel(old_level)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
