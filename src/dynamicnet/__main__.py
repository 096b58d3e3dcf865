"""``python -m dynamicnet`` ≡ the ``dynamicnet`` command."""

from .cli.main import entry_point

entry_point()
