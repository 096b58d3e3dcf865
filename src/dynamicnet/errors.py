"""The library's user-facing error type.

Anything raised as :class:`DynamicNetError` (or ``ValueError``/``FileNotFoundError`` from validation) is shown by
the CLI as a single line on stderr with exit code 1; anything else is a bug and shows a traceback only under
``--debug``.
"""

from __future__ import annotations

from typing import Any


class DynamicNetError(Exception):
    """A failure caused by the user's input or environment, with a message fit to show as is.

    The message speaks to a Python caller (``TrainerConfig(resume=True)``, ``max_side=``). Where the command line
    names the same thing differently (``--resume``, ``--max-side``), ``cli`` holds the message in its words and the
    CLI shows that one instead, so neither audience is told about options it does not have.
    """

    def __init__(self, *args: object, cli: str | None = None) -> None:
        super().__init__(*args)
        self.cli = cli


def first_line(exc: BaseException) -> str:
    """An exception's first line of text, or its type's name when it has none: the reason a one-line error quotes."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def require(module: str, extra: str, purpose: str) -> Any:
    """Import an optional dependency, or fail with one line that names the extra to install.

    ``require("imageio_ffmpeg", "video", "writing .mp4 files")`` returns the module, or raises
    ``DynamicNetError("writing .mp4 files needs imageio_ffmpeg: pip install 'dynamicnet[video]'")``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DynamicNetError(f"{purpose} needs {module}: pip install 'dynamicnet[{extra}]'") from None
