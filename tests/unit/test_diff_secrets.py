"""No rendering may show a secret: not in text, Markdown or JSON, not base64-encoded, not in a note.

The secrets are planted everywhere a chart puts them (Secret data and stringData, values under sensitive keys or
at schema-marked paths, an env var copying a value, a malformed document) and every rendering is searched.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Callable, Sequence

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile.diff import ReleaseDiff, release_diff, render_markdown, render_text, sensitive_paths, to_json_document
from reconcile.diff.mask import Masker
from reconcile.model import Action, ReleaseKey
from tests.unit.diff_samples import SECRETS, sample_diffs

RENDERERS: dict[str, Callable[[Sequence[ReleaseDiff]], str]] = {
    "text": render_text,
    "text, coloured": lambda diffs: render_text(diffs, color=True),
    "markdown": render_markdown,
    "json": lambda diffs: json.dumps(to_json_document(diffs), ensure_ascii=False),
}
SCHEMA = {"properties": {"db": {"properties": {"dsn": {"type": "string", "format": "password"}}}}}


@pytest.mark.parametrize("renderer", sorted(RENDERERS))
@pytest.mark.parametrize("secret", SECRETS)
def test_the_sample_secrets_appear_in_no_rendering(renderer: str, secret: str) -> None:
    assert secret not in RENDERERS[renderer](sample_diffs())


def test_the_search_would_find_them_if_they_were_shown() -> None:
    """Proof that the table above can fail: with show_secrets the same renderings hold every secret."""
    revealed = [
        release_diff(
            ReleaseKey("ns", "web"),
            Action.UPGRADE,
            deployed_values={"auth": {"password": secret}},
            desired_manifest=f"kind: Secret\nmetadata: {{name: s}}\nstringData: {{k: {secret!r}}}\n",
            show_secrets=True,
        )
        for secret in SECRETS
    ]
    for render in RENDERERS.values():
        rendered = render(revealed)
        assert all(secret in rendered for secret in SECRETS)


def _planted(secret: str, other: str, action: Action) -> ReleaseDiff:
    """A release holding ``secret`` (deployed) and ``other`` (desired) in every place a chart may put them."""

    def values(value: str) -> dict[str, object]:
        return {"auth": {"adminPassword": value}, "db": {"dsn": value}, "settings": {"u": f"x:{value}@h"}}

    def manifest(value: str) -> str:
        encoded = base64.b64encode(value.encode()).decode()
        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
        return (
            f"---\n# Source: c/templates/secret.yaml\n{yaml.safe_dump({**secret, 'data': {'a': encoded}})}"
            f"---\n{yaml.safe_dump({**secret, 'metadata': {'name': 't'}, 'stringData': {'b': value}})}"
            f"---\n{yaml.safe_dump({**pod, 'spec': {'env': [{'name': 'DSN', 'value': f'pg://u:{value}@db'}]}})}"
            f"---\n# Source: c/templates/broken.yaml\nkind: Secret\nstringData:\n  c: {value}: {value}\n"
        )

    deployed = action is not Action.INSTALL
    desired = action is not Action.UNINSTALL
    return release_diff(
        ReleaseKey("ns", "r"),
        action,
        deployed_values=values(secret) if deployed else None,
        desired_values=values(other) if desired else None,
        deployed_manifest=manifest(secret) if deployed else "",
        desired_manifest=manifest(other) if desired else "",
        sensitive_paths=sensitive_paths(SCHEMA),
        notes=[f"helm said: value {secret if deployed else other} is invalid"],
    )


# Every word starts with a "q", so that a secret or a piece of one is never found by chance in the text around it.
# Long secrets with spaces make YAML fold them across lines, and ": ", " #" or a quote make it quote them.
words = st.text(string.ascii_letters + string.digits + "-_.'\":#", min_size=4, max_size=14).map(lambda w: f"q{w}")
secrets = st.lists(words, min_size=1, max_size=12).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(secret=secrets, other=secrets, action=st.sampled_from([Action.INSTALL, Action.UPGRADE, Action.UNINSTALL]))
def test_no_planted_secret_is_ever_rendered(secret: str, other: str, action: Action) -> None:
    diff = _planted(secret, other, action)
    forbidden = {text for value in (secret, other) for text in (value, base64.b64encode(value.encode()).decode())}
    forbidden |= {word for value in (secret, other) for word in value.split() if len(word) >= 6}  # folded by YAML

    for render in RENDERERS.values():
        rendered = render([diff])
        assert not {text for text in forbidden if text in rendered}


def test_each_secret_gets_its_own_token_in_the_order_given() -> None:
    masker = Masker(["first-secret", "second-secret", "first-secret", ""])

    assert masker.text("a second-secret, a first-secret") == "a (secret 2), a (secret 1)"


def test_a_longer_secret_wins_over_one_inside_it_and_tokens_are_not_searched_again() -> None:
    masker = Masker(["pass", "password1", "secret"])

    assert masker.text("password1 pass") == "(secret 2) (secret 1)"
    assert masker.text("secret") == "(secret 3)"  # not "(secret (secret 3))"


def test_masking_a_document_keeps_its_shape_and_types() -> None:
    masker = Masker(["hunter22", "12345678"])
    document = {"a": ["x-hunter22", 12345678, 7, True, None, 1.5], "b": {"c": "plain"}}

    assert masker.tree(document) == {"a": ["x-(secret 1)", "(secret 2)", 7, True, None, 1.5], "b": {"c": "plain"}}
    assert Masker([]).tree(document) == document
