"""The CI examples are valid YAML and every helmcr flag they use exists, so copying them never starts with an error."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from reconcile.cli import app

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "ci").glob("*.yaml"))
COMMAND = re.compile(r"helmcr (diff|plan|apply|sync)\b([^;|>&\n\\]*(?:\\\n[^;|>&\n\\]*)*)")


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_ci_example_is_yaml_and_uses_only_real_flags(example: Path) -> None:
    text = example.read_text()
    assert yaml.safe_load(text)
    commands = COMMAND.findall(text)
    assert commands, "the example runs helmcr"
    for verb, rest in commands:
        help_text = CliRunner().invoke(app, [verb, "--help"], env={"COLUMNS": "200"}).output
        for flag in (word for word in shlex.split(rest.replace("\\\n", " ")) if word.startswith("--")):
            name = flag.split("=")[0]
            assert re.search(re.escape(name) + r"(?![\w-])", help_text), f"{example.name}: helmcr {verb} has no {flag}"
