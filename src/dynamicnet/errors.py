"""The library's user-facing error type.

Anything raised as :class:`DynamicNetError` (or ``ValueError``/``FileNotFoundError`` from validation) is shown by
the CLI as a single line on stderr with exit code 1; anything else is a bug and shows a traceback only under
``--debug``.
"""


class DynamicNetError(Exception):
    """A failure caused by the user's input or environment, with a message fit to show as is."""
