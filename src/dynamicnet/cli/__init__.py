"""The ``dynamicnet`` command line: ``main(argv) -> exit code``; subcommands live in sibling modules."""

from .main import main

__all__ = ["main"]
