"""Bad input is one line naming the file or object and the cause, with the documented exit code, never a
traceback: config files, CR files, helm binaries that are not helm, charts too large for helm."""

from __future__ import annotations

import errno
import gzip
import io
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

import reconcile.chartfiles
import reconcile.diff.manifests
from reconcile.adapters.helm import Connection, Helm
from reconcile.chartfiles import read_chart
from reconcile.charts import resolve_chart
from reconcile.config import load_config
from reconcile.crfiles import load_resources
from reconcile.diff import diff_manifests
from reconcile.errors import ChartError, ConfigError, HelmError
from reconcile.model import Action, ChartRef, ReleaseKey
from reconcile.observe import ClusterSource
from reconcile.preview import PreviewSettings
from reconcile.settings import HelmOptions, RunOptions, Scope, Watch
from reconcile.sync import preview_run
from tests.unit.fakes import FakeHelm
from tests.unit.world import CHART, NAMESPACE, World

ENTRY = "- {group: a.io, version: v1, kind: Foo, chart: c"
WATCH = Watch(group="a.io", version="v1", kind="Foo", chart="c")
ALIAS_BOMB = "a: &a [1,2,3,4,5,6,7,8,9]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)  # nine levels of nine aliases each: 9**9 values once expanded


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ENTRY + ', releaseName: "x}"}', "watches[0].releaseName: 'x}' is not a name template"),
        (ENTRY + ', releaseName: "{name"}', "watches[0].releaseName: '{name' is not a name template"),
        (ENTRY + ", overrideValues: [1, 2]}", "watches[0].overrideValues: expected a mapping of values, got a list"),
        (ENTRY + ", overrideValues: text}", "watches[0].overrideValues: expected a mapping of values, got str"),
        (ENTRY + ", selector: {matchExpressions: 5}}", "matchExpressions: expected a list of expressions, got int"),
        ("a: &x [*x]\n", "nested more than 64 levels deep (or refers to itself)"),
        ("[" * 2000 + "]" * 2000, "nested"),  # too deep to parse, or parsed and then too deep: either way
    ],
)
def test_a_bad_config_is_one_sentence_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "helmcr.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as raised:
        load_config(path, environ={})
    assert message in str(raised.value) and str(path) in str(raised.value)


def test_a_config_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "helmcr.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="not a text file"):
        load_config(path, environ={})


def cr_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "crs.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: List\nitems: 5\n", "a List whose items are not a list"),
        ("apiVersion: a.io/v1\nkind: Foo\nmetadata: {name: x, annotations: x}\n", "metadata.annotations must be"),
        ("apiVersion: a.io/v1\nkind: Foo\nmetadata: {name: x, generation: abc}\n", "metadata.generation must be"),
        ("[" * 2000 + "]" * 2000, "nested"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", "not a text file"),
        (ALIAS_BOMB, "alias bomb"),
    ],
)
def test_a_bad_cr_file_is_one_sentence_naming_the_file(tmp_path: Path, text: str | bytes, message: str) -> None:
    path = cr_file(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        load_resources([path], WATCH, "default")
    assert message in str(raised.value) and str(path) in str(raised.value)


@pytest.mark.parametrize(
    ("stdout", "message"),
    [("[]", "printed no release JSON"), ('{"version": "x"}', "has no revision"), ("\x00\xff garbage", "no release")],
)
def test_a_helm_that_prints_something_else_is_a_helm_error(stdout: str, message: str) -> None:
    class Impostor(FakeHelm):
        def _execute(self, argv: list[str], env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
            return 0, stdout, ""

    world = World()
    impostor = Impostor(world.server)
    with pytest.raises(HelmError, match=message):
        impostor.upgrade(ReleaseKey("ns", "x"), world_chart(), {}, {}, HelmOptions())


def test_a_helm_binary_that_cannot_run_is_a_helm_error(tmp_path: Path) -> None:
    broken = tmp_path / "helm"
    broken.write_text("#!/no/such/interpreter\n")
    broken.chmod(0o755)
    with pytest.raises(HelmError, match="cannot run helm"):
        Helm(str(broken), Connection()).run(["version"])


def test_a_full_tmpdir_is_a_helm_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_space)
    with pytest.raises(HelmError, match=r"cannot run helm .*No space left on device"):
        Helm("helm", Connection()).run(["version"])


def test_a_chart_archive_larger_than_helm_accepts_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile.chartfiles, "MAX_CHART_BYTES", 1024)  # the 100 MiB check, on a small archive
    archive = tmp_path / "zeros.tgz"
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        member = tarfile.TarInfo("zeros/Chart.yaml")
        member.size = 4096
        tar.addfile(member, io.BytesIO(b"\0" * member.size))
    archive.write_bytes(gzip.compress(payload.getvalue()))
    assert archive.stat().st_size < 1024, "small on disk: only its decompressed size is too large"
    with pytest.raises(ChartError, match="more than helm accepts"):
        read_chart(archive)


def world_chart() -> ChartRef:
    return resolve_chart(Watch(group="a.io", version="v1", kind="Foo", chart=str(CHART)), CHART.parent)


def test_two_huge_versions_of_an_object_are_not_diffed_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile.diff.manifests, "MAX_DIFF_PRODUCT", 300 * 300)  # the 20,000-line rule, smaller

    def configmap(marker: str) -> str:
        lines = "\n".join(f"    line{i}: {marker}{i}" for i in range(400))
        return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n{lines}\n"

    (change,) = diff_manifests(configmap("a"), configmap("b"), namespace="ns").objects
    assert change.change == "changed" and "too large to diff here" in change.diff


def test_a_pull_request_cr_outside_the_kinds_namespaces_is_blocked_not_previewed(tmp_path: Path) -> None:
    world = World()
    world.watch = replace(world.watch, namespaces=(NAMESPACE,))
    cr = {
        "apiVersion": "anywhere.io/v1alpha1",
        "kind": "Memcached",
        "metadata": {"name": "x", "namespace": "kube-system"},
    }
    (tmp_path / "cr.yaml").write_text(yaml.safe_dump({**cr, "spec": {}}))
    source = ClusterSource(world.kube, Scope(), 100, (tmp_path / "cr.yaml",))
    summary, result, _ = preview_run(world.config, source, world.helm, RunOptions(), PreviewSettings())
    (outcome,) = summary.outcomes
    assert outcome.step.action is Action.BLOCKED and "outside this kind's namespaces" in outcome.step.reason
    assert world.helm.calls == [] and result.diffs == ()
