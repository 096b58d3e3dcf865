"""Entry point and shared plumbing of the ``dynamicnet`` command.

Exit codes: 0 success, 1 failure (bad input, missing file, …), 2 usage error, 130 interrupted. Errors are one
line on stderr; a traceback is shown only with ``--debug``.
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..errors import DynamicNetError

# The subcommand modules import torch (seconds): they are imported inside main(), so that a Ctrl-C while that
# happens is the usual one-line "interrupted", not a traceback from deep inside an import.


# argparse reads "-1,0,1" as an unknown option (its own pattern only knows single numbers such as "-1" or
# "-.5"), so `--alphas -1,0,1` failed while `--alphas=-1,0,1` worked. Lists of numbers are values too.
_NUMBER = r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_NEGATIVE_NUMBERS = re.compile(rf"^-{_NUMBER}(,\s*-?{_NUMBER})*$")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line (and exit code 2), and negative number lists are values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBERS

    def error(self, message: str) -> None:  # type: ignore[override]
        wrong = re.match(r"argument (COMMAND|\S+): invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if wrong:  # a misspelt command or choice: name the closest one instead of listing them all
            choices = re.findall(r"'([^']*)'", wrong.group(3))
            close = difflib.get_close_matches(wrong.group(2), choices, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"expected one of {', '.join(choices)}"
            message = f"unknown {'command' if wrong.group(1) == 'COMMAND' else wrong.group(1)} '{wrong.group(2)}'; {hint}"
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import completion, dcgan, demo, info, inspect, style

    parser = _Parser(prog="dynamicnet", description="Dynamic-Net: tune a network's objective at test time with α.")
    parser.add_argument("--version", action="version", version=f"dynamicnet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    info.register(sub)
    inspect.register(sub)
    style.register(sub)
    dcgan.register(sub)
    completion.register(sub)
    demo.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    except KeyboardInterrupt:
        print("dynamicnet: interrupted", file=sys.stderr)
        return 130
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # `dynamicnet info --json | head`: the reader has what it wanted; exit quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at shutdown's flush
        return 0
    except KeyboardInterrupt:
        print("dynamicnet: interrupted", file=sys.stderr)
        return 130
    except (DynamicNetError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"dynamicnet: error: {_one_line(exc)}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))
    except Exception as exc:  # a bug: still one line unless --debug
        if args.debug:
            raise
        print(f"dynamicnet: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug)",
              file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "cli", None) or str(exc) or type(exc).__name__  # the CLI's wording (DynamicNetError.cli)
    return " ".join(text.split())


def entry_point() -> None:
    """Console-script entry point."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # between main() returning and the exit, or a second Ctrl-C
        print("dynamicnet: interrupted", file=sys.stderr)
        sys.exit(130)
