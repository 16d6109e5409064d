"""``openmm-range`` command-line entry point.

Every module in this package named ``<command>_cmd.py`` provides one sub-command through
``register(subparsers)``, which adds a parser whose ``func`` default runs the command.
"""
import argparse
import importlib
import os
import pkgutil
import sys
from typing import List, Optional

import openmm_range.cli as _cli_pkg


def build_parser() -> argparse.ArgumentParser:
    from openmm_range import __version__

    parser = argparse.ArgumentParser(prog="openmm-range", description="RANGE long-range ML force fields for OpenMM")
    parser.add_argument("--version", action="version", version=f"openmm-range {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(_cli_pkg.__path__), key=lambda m: m.name):
        if info.name.endswith("_cmd"):
            importlib.import_module(f"openmm_range.cli.{info.name}").register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe is then met here, not at exit
        return code
    except BrokenPipeError:
        # the reader of our output went away (``... | head``): stop quietly, as Unix tools do;
        # stdout goes to /dev/null so that Python's final flush does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, OSError) as exc:  # bad input, a missing file, a path that is a directory, no permission
        print(f"openmm-range {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        from openmm_range.training.trainer import TrainingDiverged

        if not isinstance(exc, TrainingDiverged):
            raise
        print(f"openmm-range {args.command}: error: {exc}", file=sys.stderr)  # an outcome, not a bug
        return 1


if __name__ == "__main__":
    sys.exit(main())
