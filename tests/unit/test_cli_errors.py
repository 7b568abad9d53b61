"""Bad input on the command line ends in one line and an exit code, never a traceback (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconcile.cli import app


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "helmcr.yaml"
    chart = Path(__file__).resolve().parents[2] / "examples" / "memcached" / "chart"
    path.write_text(f"- {{group: a.io, version: v1, kind: Foo, chart: {chart}}}\n")
    return path


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["sync", "--once", "--kubeconfig", "{kubeconfig}"], 4, "cannot load cluster credentials"),
        (["apply", "{missing}"], 3, "not a readable saved plan"),
        (["sync", "--once", "--max-uninstalls", "lots", "--kubeconfig", "{kubeconfig}"], 3, "--max-uninstalls"),
        (["diff", "--offline", "--base", "{missing}"], 3, "no such file or directory"),
    ],
)
def test_bad_input_is_one_message_and_an_exit_code(
    tmp_path: Path, config: Path, args: list[str], code: int, message: str
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [\n")  # not YAML at all
    filled = [a.format(kubeconfig=kubeconfig, missing=tmp_path / "missing") for a in args]
    result = CliRunner().invoke(app, [*filled, "--config", str(config)])
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert message in result.output and "Traceback" not in result.output
