"""Bundled pretrained model folders (each ``<name>/config.json`` + ``model.safetensors``) and name lookup.

Provenance of every bundled model (command, data, steps, time) is in its ``config.json`` and in
``docs/models.md``.
"""

from __future__ import annotations

from pathlib import Path

from ..core.checkpoint import CONFIG_NAME, read_config
from ..errors import DynamicNetError

BUNDLED_DIR = Path(__file__).resolve().parent


def bundled_models() -> dict[str, Path]:
    """Name → folder of every bundled model."""
    return {p.name: p for p in sorted(BUNDLED_DIR.iterdir()) if (p / CONFIG_NAME).is_file()}


def resolve_model(name_or_path: str | Path) -> Path:
    """A bundled model's name, or a path to a model folder → the folder (checked to exist)."""
    models = bundled_models()
    if str(name_or_path) in models:
        return models[str(name_or_path)]
    path = Path(name_or_path)
    if path.is_dir():
        return path
    names = ", ".join(models) or "none bundled"
    raise DynamicNetError(f"model {str(name_or_path)!r} is neither a bundled model ({names}) nor a folder")


def describe(folder: Path, name_width: int = 16) -> str:
    """One line: name, application, sets, α range and description."""
    config = read_config(folder)
    dyn = config["dynamic"]
    lo, hi = dyn.get("alpha_range", [0, 1])
    desc = config.get("extra", {}).get("description", "")
    return (
        f"{folder.name:<{name_width}} {config['application']:<10} sets={','.join(dyn['sets'])} "
        f"alpha=[{lo:g},{hi:g}] blocks={len(dyn['insertion_points'])}  {desc}"
    )
