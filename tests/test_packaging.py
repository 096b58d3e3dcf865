"""What the wheel carries (issue #17, "Packaging"): shared weights stored once, nothing inference does not read,
and a package-index description whose links work off the repository."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dynamicnet.core import read_config
from dynamicnet.models import BUNDLED_DIR, bundled_models

ROOT = Path(__file__).resolve().parents[1]
STYLE_MODELS = ("starry-level", "starry-fast", "starry-dual", "starry-graffiti")


def _shared_files(folder: Path) -> list[Path]:
    return [Path(os.path.normpath(folder / e["file"])) for e in read_config(folder).get("shared_weights", [])]


def test_the_style_models_share_one_theta_file_and_every_shared_file_is_used():
    models = bundled_models()
    referenced = {name: _shared_files(models[name]) for name in models}
    assert len({tuple(referenced[name]) for name in STYLE_MODELS}) == 1 and referenced["starry-level"]
    used = {p for paths in referenced.values() for p in paths}
    assert set((BUNDLED_DIR / "_shared").iterdir()) == used  # no stray file ships
    assert "_shared" not in models  # a store of weights, not a model


@pytest.mark.slow
def test_bundled_models_with_shared_weights_load_in_a_fresh_process():
    code = (
        "import json, sys\nfrom dynamicnet import DynamicNet\n"
        "nets = {n: DynamicNet.from_pretrained(n) for n in sys.argv[1:]}\n"
        "print(json.dumps({n: float(sum(p.double().sum() for p in m.main.parameters())) "
        "for n, m in nets.items()}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *STYLE_MODELS],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    ).stdout
    sums = json.loads(out)
    assert len(set(sums.values())) == 1, sums  # one θ, loaded whole by every folder


@pytest.mark.slow
def test_the_wheel_ships_shared_weights_and_no_discriminator_or_bytecode(tmp_path):
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    src = tmp_path / "src-tree"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "src", src / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    # What a developer's tree holds and the wheel must not: a completion discriminator, bytecode.
    (src / "src/dynamicnet/models/starry-level/discriminator.safetensors").write_bytes(b"\0" * 16)
    (src / "src/dynamicnet/models/__pycache__").mkdir()
    (src / "src/dynamicnet/models/__pycache__/__init__.cpython-311.pyc").write_bytes(b"\0" * 16)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shared = sorted(n for n in names if n.startswith("dynamicnet/models/_shared/"))
    assert shared == sorted(f"dynamicnet/models/_shared/{p.name}" for p in (BUNDLED_DIR / "_shared").iterdir())
    assert not [n for n in names if n.endswith("discriminator.safetensors") or "__pycache__" in n]
    for name in STYLE_MODELS:
        assert f"dynamicnet/models/{name}/model.safetensors" in names
    (metadata,) = (n for n in names if n.endswith(".dist-info/METADATA"))
    description = zipfile.ZipFile(wheel).read(metadata).decode("utf-8")
    assert "Content-Type: text/markdown" in description and "# dynamicnet" in description
    assert not RELATIVE.findall(description)  # README.md has relative links (checked below); none survive
    assert "`docs/models.md`" in description


# A Markdown link or image whose target has no scheme and is no anchor: broken on a package index page.
RELATIVE = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#)[^)]+\)")


def _setup_module():
    spec = importlib.util.spec_from_file_location("dynamicnet_setup", ROOT / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # under another name than __main__: defines, does not build
    return module


def test_the_index_description_has_no_relative_link_with_or_without_a_project_url():
    index_readme = _setup_module().index_readme
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    relative = RELATIVE.findall(readme)
    assert any(t.startswith("](docs/images/") for t in relative) and any("docs/api.md" in t for t in relative)

    plain = index_readme(readme, None)
    assert not RELATIVE.findall(plain)
    assert (
        "*(α sweep of the bundled starry-level model: `docs/images/starry-level-astronaut.jpg` in the source "
        "distribution)*" in plain
    )  # an image with no URL becomes its caption and file, not a broken icon
    assert "From Python (`docs/api.md`:" in plain

    repo = index_readme(readme, "https://github.com/someone/dynamicnet")
    assert not RELATIVE.findall(repo)
    assert "](https://github.com/someone/dynamicnet/raw/main/docs/images/starry-level-astronaut.jpg)" in repo
    assert "[docs/api.md](https://github.com/someone/dynamicnet/blob/main/docs/api.md)" in repo

    site = index_readme(readme, "https://dynamicnet.example.org/")
    assert "[docs/api.md](https://dynamicnet.example.org/docs/api.md)" in site
    # Absolute links and anchors are left alone; so is everything outside a link.
    assert index_readme("[a](https://x.org/b) [c](#d) `e`", None) == "[a](https://x.org/b) [c](#d) `e`"


def test_a_copied_folder_without_its_shared_file_is_one_line_at_the_command_line(capsys, tmp_path):
    from cli_utils import run_cli
    from PIL import Image

    shutil.copytree(BUNDLED_DIR / "starry-fast", tmp_path / "models" / "starry-fast")
    Image.new("RGB", (16, 16)).save(tmp_path / "p.png")
    code, _, err = run_cli(
        capsys, "stylize", tmp_path / "p.png", "--model", tmp_path / "models" / "starry-fast", "-o", tmp_path / "o.png"
    )
    shared = _shared_files(BUNDLED_DIR / "starry-fast")[0].name
    assert code == 1 and err == (
        f"dynamicnet: error: {tmp_path / 'models' / '_shared' / shared}: missing; "
        f"{tmp_path / 'models' / 'starry-fast' / 'config.json'} takes its shared weights "
        "from it (keep the model folder and its shared weights together)\n"
    )
    assert not (tmp_path / "o.png").exists()
