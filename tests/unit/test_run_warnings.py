from __future__ import annotations

from pathlib import Path

from reconcile.settings import Config, RunOptions, Scope, Watch
from reconcile.sync import run_warnings


def test_a_namespace_outside_a_kinds_namespaces_is_warned_about() -> None:
    watch = Watch(group="a.io", version="v1", kind="Foo", chart="/c", namespaces=("team-a",))
    config = Config(path=Path("helmcr.yaml"), watches=(watch,), warnings=("from the file",))
    assert run_warnings(config, RunOptions(scope=Scope(namespaces=("team-a",)))) == ("from the file",)
    (_, outside) = run_warnings(config, RunOptions(scope=Scope(namespaces=("team-b",))))
    assert "--namespace team-b is outside its namespaces (team-a)" in outside
