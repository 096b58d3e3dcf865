"""The package index's description: README.md with its relative links made to work off the repository.

README.md links docs/ and shows docs/images/ by relative paths, which work in the repository and the sdist but
are broken on a package index page. Building a distribution rewrites them: against the ``Documentation`` (else
``Source``) URL of ``[project.urls]`` when the project declares one, otherwise into plain text that names the file
(a link to nowhere and a broken-image icon are worse than the file's name). Everything else is read from
pyproject.toml.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# [text](target) and ![alt](target): targets without a scheme or a leading # or / are relative to the repository.
LINK = re.compile(r"(?P<image>!?)\[(?P<text>[^\]]*)\]\((?P<target>(?![a-z][a-z0-9+.-]*:|#|/)[^)\s]+)\)")
BRANCH = "main"


def index_readme(text: str, base: str | None) -> str:
    """``text`` (README.md) with every relative link and image absolute under ``base`` (a repository or docs
    URL; images under its raw form when it is a GitHub repository), or, without a base, spelt as file names."""

    def absolute(target: str, image: bool) -> str:
        assert base is not None
        root = base.rstrip("/")
        if re.match(r"https://github\.com/[^/]+/[^/]+$", root):
            return f"{root}/{'raw' if image else 'blob'}/{BRANCH}/{target}"
        return f"{root}/{target}"

    def rewrite(match: re.Match[str]) -> str:
        image, label, target = bool(match["image"]), match["text"], match["target"]
        if base is not None:
            return f"{'!' if image else ''}[{label}]({absolute(target, image)})"
        if image:
            return f"*({label}: `{target}` in the source distribution)*"
        return f"`{target}`" if label.strip("`") == target else f"{label} (`{target}`)"

    return LINK.sub(rewrite, text)


def _project_url(pyproject: Path) -> str | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the build requirements add tomli there
        import tomli as tomllib
    urls = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get("urls", {})
    return urls.get("Documentation") or urls.get("Source")


if __name__ == "__main__":
    from setuptools import setup

    here = Path(__file__).resolve().parent
    setup(
        long_description=index_readme(
            (here / "README.md").read_text(encoding="utf-8"), _project_url(here / "pyproject.toml")
        ),
        long_description_content_type="text/markdown",
    )
