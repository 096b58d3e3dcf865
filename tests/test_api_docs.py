"""docs/api.md's complete example runs as printed: a fresh interpreter trains blocks on the user's own network,
saves the model folder and loads it back."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def example_code() -> str:
    """The ```python block after the ``<!-- example: ... -->`` marker of docs/api.md."""
    found = re.search(r"<!-- example:[^>]*-->\s*```python\n(.*?)```", API_DOC.read_text(encoding="utf-8"), re.S)
    assert found, "docs/api.md lost its marked example"
    return found.group(1)


@pytest.mark.slow  # runs the docs' whole example
def test_the_complete_example_runs(tmp_path):
    code = example_code()
    assert len([line for line in code.splitlines() if line.strip()]) <= 40  # still a short example
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == ["α = 0.0", "α = 0.5", "α = 1.0"]
    config = json.loads((tmp_path / "denoiser" / "config.json").read_text())
    assert config["architecture"] == {"name": "__main__:Denoiser", "kwargs": {"width": 8}}
    assert [p["name"] for p in config["provenance"]["phases"]] == ["main", "smooth"]
