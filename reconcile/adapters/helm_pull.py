"""Pull a remote chart's pinned version into a scratch directory, with helm's own configs carrying the credentials.

What authenticates was measured with helm 3.22 and helm 4.3 against an OCI registry and a chart repository that
both require a password (tests/integration/test_remote_charts.py):

- ``oci://``: ``helm pull`` logs in with what its registry config holds (``HELM_REGISTRY_CONFIG``, a docker
  ``config.json``, which is what a ``kubernetes.io/dockerconfigjson`` Secret mounted as a file is).
- ``repo:``: ``helm pull --repo URL`` fetches the index with the ``--username``/``--password`` flags' credentials
  only, never the repository config's, so a protected index answers 401 — and a flag would put the password on a
  command line. So when the repository config (``HELM_REPOSITORY_CONFIG``: a repositories.yaml, from a Secret in a
  pod) has an entry for the URL, helm runs ``repo update <entry>`` (the index, fetched with the entry's credentials
  and TLS files into the run's scratch cache: the config may be read-only) and ``pull <entry>/<chart>``. Without an
  entry the repository is taken for public: ``pull --repo``, one process.

helm 3's ``repo update`` exits 0 when it could not fetch an index, and helm 4's exits 1 with only the URL on its
standard error: the cause is on their standard output, and is read from there.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reconcile.adapters.helm import Helm
from reconcile.adapters.helm_argv import pull_argv, repo_update_argv
from reconcile.adapters.helm_messages import helm_error, short_message
from reconcile.errors import ChartError, HelmError
from reconcile.model import ChartRef

UPDATE_FAILED = re.compile(r"Unable to get an update from the .*:\n\s*(.+)")


@dataclass(frozen=True)
class RepositoryEntry:
    """The entry of the repository config for a chart's URL: its name, and its password to mask in messages."""

    name: str
    password: str = field(default="", repr=False)


def pull(helm: Helm, chart: ChartRef, scratch: Path) -> Path:
    """The chart's archive in ``scratch`` (a new directory), or the helm error that refused it."""
    destination = scratch / "chart"
    destination.mkdir(parents=True)
    env = {"HELM_REPOSITORY_CACHE": str(scratch / "index")}  # an index cache of this pull's own
    entry = None
    if chart.repo_url:
        config = repository_config(helm.environment)
        env["HELM_REPOSITORY_CONFIG"] = str(config)  # helm reads the very file helmcr found the entry in
        entry = repository_entry(config, chart.repo_url)
    secrets = [entry.password] if entry is not None and entry.password else []
    if entry is not None:
        returncode, stdout, stderr = helm.call(repo_update_argv(entry.name), connect=False, env=env)
        failed = UPDATE_FAILED.search(stdout)
        if returncode != 0 or failed:
            raise helm_error(short_message(failed[1] if failed else stderr or stdout, secrets), returncode or 1)
    helm.run(pull_argv(chart, destination, entry.name if entry else ""), secrets, connect=False, env=env)
    archives = sorted(destination.glob("*.tgz"))
    if len(archives) != 1:
        raise HelmError(f"helm pull succeeded but left {len(archives)} chart archives in {destination}, not one")
    return archives[0]


def repository_config(env: Mapping[str, str]) -> Path:
    """Where helm reads its repository config, by helm's own rules (pkg/helmpath, Linux)."""
    if env.get("HELM_REPOSITORY_CONFIG"):
        return Path(env["HELM_REPOSITORY_CONFIG"])
    if env.get("HELM_CONFIG_HOME"):
        return Path(env["HELM_CONFIG_HOME"]) / "repositories.yaml"
    base = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", ""), ".config")
    return Path(base) / "helm" / "repositories.yaml"


def repository_entry(config: Path, url: str) -> RepositoryEntry | None:
    """The first entry for ``url`` (a trailing slash aside); None without a config or an entry."""
    try:
        document = yaml.safe_load(config.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise ChartError(f"the repository config {config} cannot be read: {error}") from None
    except yaml.YAMLError as error:  # its message would quote the line, which may hold a password
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ChartError(f"the repository config {config} is not valid YAML{where}") from None
    entries = document.get("repositories") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        if str(entry.get("url") or "").rstrip("/") == url.rstrip("/"):
            return RepositoryEntry(str(entry["name"]), str(entry.get("password") or ""))
    return None
