"""The bad input that once gave a traceback, through the real command line against the real control plane (helm 3
and 4): each is one line naming the file or object and the cause, with the documented exit code, and changes
nothing. The same cases are unit-tested function by function in tests/unit/test_bad_input.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.integration.support import GROUP, Helmcr, Resources, cache_watch, releases

CACHE = f"apiVersion: {GROUP}/v1alpha1\nkind: Cache\n".encode()
ENTRY = {"group": GROUP, "version": "v1alpha1", "kind": "Cache", "plural": "caches", "chart": "c"}
ALIAS_BOMB = "a: &a [1,2,3,4,5,6,7,8,9]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)  # 9**9 values once expanded: it once ran 87 s and died of MemoryError


def said(run_stdout: str, run_stderr: str) -> str:
    return run_stdout + run_stderr


def one_clear_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and all(needle in errors[0] for needle in needles), stderr


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"releaseName": "x}"}, "watches[0].releaseName: 'x}' is not a name template"),
        ({"releaseName": "{name"}, "watches[0].releaseName: '{name' is not a name template"),
        ({"overrideValues": [1, 2]}, "watches[0].overrideValues: expected a mapping of values, got a list"),
        ({"overrideValues": "text"}, "watches[0].overrideValues: expected a mapping of values, got str"),
        ({"selector": {"matchExpressions": 5}}, "matchExpressions: expected a list of expressions, got int"),
        ({"allowedKinds": ["configmaps"]}, "watches[0].allowedKinds: 'configmaps' is not a kind"),
    ],
)
def test_a_bad_config_field_exits_3_naming_file_and_field(
    helmcr: Helmcr, entry: dict[str, object], needle: str
) -> None:
    helmcr.configure([{**ENTRY, **entry}])
    run = helmcr.sync()
    assert (run.exit_code, run.helm_processes) == (3, 0)
    one_clear_line(run.stderr, str(helmcr.config), needle)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"a: &x [*x]\n", "nested more than 64 levels deep (or refers to itself)"),
        (b"\xff\xfe\x00binary", "not a text file"),
        (ALIAS_BOMB.encode(), "alias bomb"),
    ],
    ids=["self-referencing-alias", "not-utf-8", "alias-bomb"],
)
def test_a_config_that_is_no_config_exits_3(helmcr: Helmcr, content: bytes, needle: str) -> None:
    helmcr.config.write_bytes(content)
    run = helmcr.sync()
    assert run.exit_code == 3
    one_clear_line(run.stderr, str(helmcr.config))
    assert needle in run.stderr or "nested" in run.stderr, run.stderr


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"kind: List\nitems: 5\n", "a List whose items are not a list"),
        (CACHE + b"metadata: {name: x, annotations: x}\n", "metadata.annotations must be"),
        (CACHE + b"metadata: {name: x, generation: abc}\n", "metadata.generation must be"),
        (("[" * 1000 + "]" * 1000).encode(), "nested"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", "not a text file"),
        (ALIAS_BOMB.encode(), "alias bomb"),
    ],
    ids=["items-5", "annotations-string", "generation-abc", "1000-levels", "binary", "alias-bomb"],
)
def test_a_bad_pull_request_file_exits_3_naming_the_file(
    helmcr: Helmcr, namespace: str, tmp_path: Path, content: bytes, needle: str
) -> None:
    helmcr.configure([cache_watch()])
    pr = tmp_path / "pr.yaml"
    pr.write_bytes(content)
    run = helmcr.run(("diff",), "-n", namespace, "--from-file", str(pr))
    assert (run.exit_code, run.helm_processes) == (3, 0)
    one_clear_line(run.stderr, str(pr), needle)


def test_a_pull_request_cr_outside_the_kinds_namespaces_is_blocked_and_never_rendered(
    helmcr: Helmcr, namespace: str, tmp_path: Path
) -> None:
    helmcr.configure([cache_watch(namespaces=[namespace])])
    cr = {"apiVersion": f"{GROUP}/v1alpha1", "kind": "Cache", "metadata": {"name": "x", "namespace": "kube-system"}}
    pr = tmp_path / "pr.yaml"
    pr.write_text(yaml.safe_dump({**cr, "spec": {}}))
    run = helmcr.run(("diff",), "--from-file", str(pr), "-o", "json")
    assert (run.exit_code, run.helm_processes) == (1, 0), said(run.stdout, run.stderr)
    assert "kube-system" in run.stdout and "blocked" in run.stdout


@pytest.mark.parametrize(
    ("script", "needle"),
    [
        ("#!/no/such/interpreter\n", "cannot run helm"),
        ("#!/bin/sh\necho '[]'\n", "printed no release JSON"),
        ('#!/bin/sh\necho \'{"version": "x"}\'\n', "has no revision"),
        ("#!/bin/sh\nhead -c 64 /dev/urandom\n", "no release"),
    ],
    ids=["bad-shebang", "empty-list", "version-not-a-number", "random-bytes"],
)
def test_a_helm_that_is_not_helm_fails_the_cr_in_one_line_and_harms_nothing(
    helmcr: Helmcr, caches: Resources, namespace: str, script: str, needle: str
) -> None:
    helmcr.configure([cache_watch(allowClusterScoped=True, allowOtherNamespaces=True)])  # no check: helm runs once
    caches.create("fine", {})
    helmcr.wrapper.write_text(script)
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert run.exit_code == 1 and "Traceback" not in run.stderr, said(run.stdout, run.stderr)
    outcome = run.outcome("fine")
    assert outcome["result"] == "failed" and needle in outcome["message"], outcome
    assert needle in caches.ready("fine")["message"]


def test_a_huge_chart_archive_is_refused_before_it_is_read(
    helmcr: Helmcr, caches: Resources, namespace: str, tmp_path: Path
) -> None:
    archive = tmp_path / "huge-0.1.0.tgz"
    with archive.open("wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GiB of zeros, sparse: it once cost 9 s per run before helm refused it
    helmcr.configure([cache_watch(chart=str(archive))])
    caches.create("fine", {})
    run = helmcr.sync("-n", namespace, "-o", "json")
    assert (run.exit_code, run.helm_processes) == (1, 0), said(run.stdout, run.stderr)
    assert str(archive) in said(run.stdout, run.stderr) and "Traceback" not in run.stderr
    assert releases(helmcr.helm, namespace) == {} and os.path.getsize(archive) == 2 * 1024**3
