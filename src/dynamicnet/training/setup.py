"""What every application's ``train_*`` entry point does the same way before handing over to the Trainer:
pick the phases for ``--phase``, start a tuning-only run from a finished model folder, load recipes by name or
from JSON, and record the command line."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from ..core.checkpoint import load_pretrained
from ..core.dynamic import DynamicNet
from ..errors import DynamicNetError
from .config import Phase

R = TypeVar("R")


def select_phases(
    main: Phase, tuning: Sequence[Phase], phase: str, *, init_from: Path | None, init: Callable[[Path], dict[str, Any]]
) -> tuple[list[Phase], dict[str, Any]]:
    """The phases ``--phase all|main|tuning`` runs, and the lineage of a tuning-only run.

    A tuning-only run needs θ from a finished model folder: ``init(init_from)`` copies it and returns its
    lineage (recorded in the new folder's provenance).
    """
    if phase == "all":
        return [main, *tuning], {}
    if phase == "main":
        return [main], {}
    if phase == "tuning":
        if init_from is None:
            raise DynamicNetError(
                "phase='tuning' needs init_from=MODEL_DIR (a model whose main network to tune)",
                cli="--phase tuning needs --init-from MODEL_DIR (a model whose main network to tune)",
            )
        return list(tuning), init(init_from)
    raise DynamicNetError(f"unknown phase {phase!r}; expected main, tuning or all")


def init_from_folder(model: DynamicNet, folder: Path, application: str, copy_sets: bool = True) -> dict[str, Any]:
    """Copy θ — and, with ``copy_sets``, every block set at the same insertion points — from a model folder.

    Returns the lineage: the folder, the sets copied and the folder's own provenance.
    """
    base, base_config = load_pretrained(folder)
    if base_config.get("application") != application:
        kind = f"a {base_config.get('application')!r} model, not {application!r}"
        raise DynamicNetError(f"init_from={folder}: {kind}", cli=f"--init-from {folder}: {kind}")
    # A block set belongs to its insertion points: carry it over only when they are the same.
    same_points = base.insertion_points == model.insertion_points
    shared = sorted(set(model.set_names) & set(base.set_names)) if copy_sets and same_points else []
    try:
        model.main.load_state_dict(base.main.state_dict())
        for name in shared:
            model.blocks[name].load_state_dict(base.blocks[name].state_dict())
    except RuntimeError as exc:
        mismatch = f"architecture does not match the recipe ({' '.join(str(exc).split())[:200]})"
        raise DynamicNetError(f"init_from={folder}: {mismatch}", cli=f"--init-from {folder}: {mismatch}") from None
    return {"folder": str(folder), "copied_sets": shared, "provenance": base_config.get("provenance", {})}


def load_recipe_file(name_or_path: str, builtins: Mapping[str, R], from_dict: Callable[[dict[str, Any]], R]) -> R:
    """A built-in recipe by name, or a JSON recipe file parsed by ``from_dict``."""
    if name_or_path in builtins:
        return builtins[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise DynamicNetError(f"unknown recipe {name_or_path!r}: not a file and not one of {sorted(builtins)}")
    try:
        return from_dict(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise DynamicNetError(f"{path}: invalid JSON ({exc})") from None


def recipe_kwargs(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as keyword arguments for the recipe dataclass ``cls``: unknown keys are a clear error, and
    ``insertion_points`` (a JSON list) becomes the tuple the dataclass holds."""
    known = {f.name for f in fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise DynamicNetError(f"unknown recipe key(s) {sorted(unknown)}; valid keys: {sorted(known)}")
    kwargs = dict(data)
    if kwargs.get("insertion_points") is not None:
        kwargs["insertion_points"] = tuple(kwargs["insertion_points"])
    return kwargs


def command_line() -> str:
    """This process's command line, shell-quoted, with the entry point shown as ``dynamicnet``."""
    argv = list(sys.argv)
    if argv and Path(argv[0]).name in ("dynamicnet", "__main__.py"):
        argv[0] = "dynamicnet"
    return shlex.join(argv)
