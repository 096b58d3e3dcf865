"""Entry point and shared plumbing of the ``dynamicnet`` command.

Exit codes: 0 success, 1 failure (bad input, missing file, …), 2 usage error, 130 interrupted. Errors are one
line on stderr; a traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__
from ..errors import DynamicNetError
from .common import HIDDEN_ALIASES

# The subcommand modules import torch (seconds): they are imported inside main(), so that a Ctrl-C while that
# happens is the usual one-line "interrupted", not a traceback from deep inside an import.


# argparse reads "-1,0,1" as an unknown option (its own pattern only knows single numbers such as "-1" or
# "-.5"), so `--alphas -1,0,1` failed while `--alphas=-1,0,1` worked. Lists of numbers are values too.
_NUMBER = r"(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_NEGATIVE_NUMBERS = re.compile(rf"^-{_NUMBER}(,\s*-?{_NUMBER})*$")


class _HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, so nobody has to read the source to learn it (unless the text
    already names it, or there is none: a flag, or a value taken from the model or recipe); and the old spellings
    kept only so that existing scripts still run (:data:`~dynamicnet.cli.common.HIDDEN_ALIASES`) stay out of it,
    so that each concept has one name on screen."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
            or "default" in text.lower()
        ):
            return text
        # As the user would type it (0,0.5,1 rather than [0, 0.5, 1]); "%" escaped for argparse's formatting.
        if isinstance(default, list | tuple):
            shown = ",".join(f"{v:g}" if isinstance(v, float | int) else str(v) for v in default)
        else:
            shown = f"{default:g}" if isinstance(default, float) else str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown = [s for s in action.option_strings if s not in HIDDEN_ALIASES]
        if not shown or len(shown) == len(action.option_strings):
            return super()._format_action_invocation(action)
        visible = copy.copy(action)
        visible.option_strings = shown
        return super()._format_action_invocation(visible)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is a single line (and exit code 2), negative number lists are values, and the
    help shows defaults but not the hidden aliases (:class:`_HelpFormatter`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBERS

    def error(self, message: str) -> None:  # type: ignore[override]
        wrong = re.match(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if wrong:  # a misspelt command or choice: name the closest one instead of listing them all
            choices = re.findall(r"'([^']*)'", wrong.group(3))
            close = difflib.get_close_matches(wrong.group(2), choices, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"expected one of {', '.join(choices)}"
            names = {"COMMAND": "command", "APP": "application", "EVALUATION": "evaluation", "NETWORK": "network"}
            what = names.get(wrong.group(1), wrong.group(1))
            message = f"unknown {what} '{wrong.group(2)}'; {hint}"
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from . import completion, dcgan, demo, info, inspect, objective_space, style, tuning

    parser = _Parser(prog="dynamicnet", description="Dynamic-Net: tune a network's objective at test time with α.")
    parser.add_argument("--version", action="version", version=f"dynamicnet {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    info.register(sub)
    inspect.register(sub)
    apps = sub.add_parser("train", help="train a Dynamic-Net model (both phases)").add_subparsers(
        dest="app", metavar="APP", parser_class=_Parser, required=True
    )
    for app in (style, completion, dcgan, tuning):  # `train APP`, one module per application
        app.register_train(apps)
    style.register(sub)
    objective_space.register(sub)
    dcgan.register(sub)
    completion.register(sub)
    demo.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        finally:
            _flush_stdout()  # --help and --version: a closed pipe surfaces here, not in shutdown's flush
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    except BrokenPipeError:  # `dynamicnet --help | head -1`
        return _pipe_closed()
    except KeyboardInterrupt:
        _interrupted()
        return 130
    try:
        code = int(args.func(args) or 0)
        _flush_stdout()
        return code
    except BrokenPipeError:  # `dynamicnet info --json | head`: the reader has what it wanted; exit quietly
        return _pipe_closed()
    except KeyboardInterrupt:
        _interrupted()
        return 130
    except (DynamicNetError, ValueError, OSError) as exc:
        if args.debug:
            raise
        _end_progress_bars()
        code = int(getattr(exc, "exit_code", 1))
        # A stop on request (Ctrl-C in training: "interrupted: checkpoint saved …", exit 130) is not an error.
        print(f"dynamicnet: {'' if code == 130 else 'error: '}{_one_line(exc)}", file=sys.stderr)
        return code
    except Exception as exc:  # a bug: still one line unless --debug
        if args.debug:
            raise
        _end_progress_bars()
        print(
            f"dynamicnet: internal error: {type(exc).__name__}: {_one_line(exc)} (rerun with --debug)", file=sys.stderr
        )
        return 1


def _flush_stdout() -> None:
    """Flush what the command printed while its BrokenPipeError can still be handled: a pipe's buffer is otherwise
    flushed at interpreter shutdown, where a closed reader (``| head``) turns into "Exception ignored … Broken
    pipe" and exit code 120."""
    if sys.stdout is not None:
        sys.stdout.flush()


def _pipe_closed() -> int:
    """The reader of stdout has gone: point stdout at /dev/null (so that shutdown's flush is silent) and exit 0."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _interrupted() -> None:
    _end_progress_bars()
    print("dynamicnet: interrupted", file=sys.stderr)


def _end_progress_bars() -> None:
    """Close the progress bars a stopped command left open, so that its last line starts at the left margin
    instead of after a half-drawn bar. A ``for`` over a bar closes it as the exception unwinds; a bar held in a
    variable (the trainer's) stays open as long as the traceback keeps its frame, i.e. until after this message."""
    tqdm = sys.modules.get("tqdm")
    # tqdm keeps its open bars in this class attribute (tqdm's own ``tqdm.write`` reads it too); absent: none open.
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", ())):
        bar.close()


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
