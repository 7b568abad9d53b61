"""Where the development environment keeps its state, and the pinned versions.

The cache lives outside the work tree (``$HELMCR_DEV_CACHE``, default ``~/.cache/helmcr-dev``) so that a fresh clone
on the same machine reuses binaries that took many minutes to build.
"""

from __future__ import annotations

import os
from pathlib import Path

VERSIONS_FILE = Path(__file__).with_name("versions.env")


def cache_root() -> Path:
    return Path(os.environ.get("HELMCR_DEV_CACHE", Path.home() / ".cache" / "helmcr-dev"))


def read_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def shared_charts_dir() -> Path:
    """The shared chart collection: ``$HELMCR_SHARED_CHARTS``, else ``shared/charts`` beside the repository.

    The collection is not part of the repository (the charts are third-party); every checkout of the project has it
    next to the work tree.
    """
    override = os.environ.get("HELMCR_SHARED_CHARTS")
    return Path(override) if override else repo_root().parent / "shared" / "charts"
