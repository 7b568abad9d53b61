from __future__ import annotations

import base64
import textwrap

import pytest
import yaml

from reconcile.diff import ObjectChange, diff_manifests
from reconcile.diff.manifests import parse_manifest


def _object(kind: str, name: str, body: str = "", *, namespace: str = "", api_version: str = "v1") -> str:
    metadata = f"  name: {name}\n" + (f"  namespace: {namespace}\n" if namespace else "")
    return f"apiVersion: {api_version}\nkind: {kind}\nmetadata:\n{metadata}{textwrap.dedent(body)}"


def _manifest(*documents: str) -> str:
    return "".join(f"---\n{document}" for document in documents)


def _configmap(name: str, **data: str) -> str:
    return _object("ConfigMap", name, "data:\n" + "".join(f"  {key}: {value!r}\n" for key, value in data.items()))


def _secret(name: str, field: str = "data", **data: str) -> str:
    return _object("Secret", name, f"{field}:\n" + "".join(f"  {key}: {value}\n" for key, value in data.items()))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _lines(change: ObjectChange) -> list[str]:
    """The changed lines of a diff, without its headers."""
    return [line for line in change.diff.splitlines()[2:] if line[:1] in "+-"]


def test_objects_are_identified_and_sorted_by_kind_namespace_and_name() -> None:
    desired = _manifest(
        _object("Service", "web", namespace="b"),
        _object("ConfigMap", "z"),
        _object("Service", "web", namespace="a"),
        _object("ConfigMap", "a", namespace="team"),
        _object("Deployment", "web", api_version="apps/v1"),
    )

    changes = diff_manifests("", desired, namespace="team").objects

    assert [(c.kind, c.namespace, c.name, c.api_version) for c in changes] == [
        ("ConfigMap", "team", "a", "v1"),
        ("ConfigMap", "team", "z", "v1"),
        ("Deployment", "team", "web", "apps/v1"),
        ("Service", "a", "web", "v1"),
        ("Service", "b", "web", "v1"),
    ]
    assert {c.change for c in changes} == {"added"}


def test_an_object_without_a_namespace_is_the_same_as_one_in_the_release_namespace() -> None:
    deployed = _manifest(_object("ConfigMap", "a"))
    desired = _manifest(_object("ConfigMap", "a", namespace="team"))

    (change,) = diff_manifests(deployed, desired, namespace="team").objects
    assert (change.change, _lines(change)) == ("changed", ["+  namespace: team"])
    assert [c.change for c in diff_manifests(deployed, desired, namespace="other").objects] == ["removed", "added"]


def test_the_same_name_under_another_api_version_is_another_object() -> None:
    deployed = _manifest(_object("HorizontalPodAutoscaler", "web", api_version="autoscaling/v1"))
    desired = _manifest(_object("HorizontalPodAutoscaler", "web", api_version="autoscaling/v2"))

    changes = diff_manifests(deployed, desired, namespace="ns").objects

    assert [(c.api_version, c.change) for c in changes] == [("autoscaling/v1", "removed"), ("autoscaling/v2", "added")]


def test_key_order_quoting_and_comments_are_not_changes() -> None:
    deployed = "# Source: a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {x: '1', y: \"2\"}\n"
    desired = (
        "---\n# Source: b.yaml\ndata:\n  y: '2'\n  x: \"1\"\nmetadata: {name: a}\nkind: ConfigMap\napiVersion: v1\n"
    )

    assert diff_manifests(deployed, desired, namespace="ns").objects == ()


def test_a_changed_object_is_a_unified_diff_of_its_canonical_yaml() -> None:
    deployed = _manifest("# Source: web/templates/cm.yaml\n" + _configmap("web", a="1", b="2", c="3", d="4", e="5"))
    desired = _manifest("# Source: web/templates/cm.yaml\n" + _configmap("web", a="1", b="2", c="x", d="4", e="5"))

    (change,) = diff_manifests(deployed, desired, namespace="ns", context=1).objects

    assert change == ObjectChange(
        api_version="v1",
        kind="ConfigMap",
        namespace="ns",
        name="web",
        change="changed",
        source="web/templates/cm.yaml",
        diff=textwrap.dedent("""\
            --- ConfigMap ns/web (v1)
            +++ ConfigMap ns/web (v1)
            @@ -4,3 +4,3 @@
               b: '2'
            -  c: '3'
            +  c: x
               d: '4'"""),
    )


@pytest.mark.parametrize("context", [0, 1, 5])
def test_context_sets_the_lines_around_each_change(context: int) -> None:
    values = {key: key for key in "abcdefghijklmnop"}
    deployed = _manifest(_configmap("web", **values))
    desired = _manifest(_configmap("web", **{**values, "h": "changed"}))

    (change,) = diff_manifests(deployed, desired, namespace="ns", context=context).objects

    body = change.diff.splitlines()[3:]  # after ---, +++ and the hunk header
    assert len(body) == 2 + 2 * context
    assert diff_manifests(deployed, desired, namespace="ns", context=0).objects[0].diff.count("@@ ") == 1


def test_a_negative_context_is_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        diff_manifests("", "", namespace="ns", context=-1)


def test_an_added_object_is_shown_whole_and_a_removed_one_too() -> None:
    document = _configmap("web", greeting="hello")

    (added,) = diff_manifests("", document, namespace="ns").objects
    (removed,) = diff_manifests(document, "", namespace="ns").objects

    assert added.diff.splitlines()[:3] == ["--- /dev/null", "+++ ConfigMap ns/web (v1)", "@@ -0,0 +1,6 @@"]
    assert "+  greeting: hello" in added.diff.splitlines()
    assert removed.diff.splitlines()[:3] == ["--- ConfigMap ns/web (v1)", "+++ /dev/null", "@@ -1,6 +0,0 @@"]


def test_empty_and_comment_only_documents_are_skipped_silently() -> None:
    manifest = "---\n---\n# Source: web/templates/hpa.yaml\n# disabled\n---\n\n" + _manifest(_object("Service", "a"))

    objects, notes = parse_manifest(manifest, namespace="ns", side="desired")

    assert [key.name for key in objects] == ["a"]
    assert notes == []


def test_a_malformed_document_is_reported_and_the_others_still_diffed() -> None:
    desired = _manifest(
        _object("Service", "a"),
        "# Source: web/templates/broken.yaml\napiVersion: v1\nkind: ConfigMap\n  data: [unclosed\n",
        _object("Service", "b"),
    )

    result = diff_manifests("", desired, namespace="ns")

    assert [c.name for c in result.objects] == ["a", "b"]
    (note,) = result.notes
    assert note.startswith("desired manifest, document at line 7 (web/templates/broken.yaml) is not valid YAML (")
    assert "at line 10)" in note
    assert note.endswith("it is left out of the diff")


def test_a_yaml_error_note_does_not_quote_the_offending_line() -> None:
    desired = "apiVersion: v1\nkind: Secret\nstringData:\n  password: hunter22: oops\n"

    (note,) = diff_manifests("", desired, namespace="ns").notes

    assert "hunter22" not in note


def test_documents_that_are_not_objects_are_reported() -> None:
    deployed = _manifest("- a list\n", "just text\n", "kind: ConfigMap\nmetadata: {}\n", "{}\n", "metadata: x\n")

    result = diff_manifests(deployed, "", namespace="ns")

    assert result.objects == ()
    assert len(result.notes) == 5
    assert all("is not a Kubernetes object" in note for note in result.notes)
    assert result.notes[0].startswith("deployed manifest, document at line 2 ")


def test_a_duplicate_object_is_reported_and_the_last_one_used() -> None:
    desired = _manifest(_configmap("a", v="first"), _configmap("a", v="second"))

    result = diff_manifests("", desired, namespace="ns")

    assert "defines ConfigMap ns/a (v1) again; the last definition is used" in result.notes[0]
    assert "+  v: second" in result.objects[0].diff


def test_keys_of_mixed_types_do_not_break_the_canonical_form() -> None:
    deployed = _manifest(_object("ConfigMap", "a", "data:\n  1: one\n  b: two\n"))
    desired = _manifest(_object("ConfigMap", "a", "data:\n  1: one\n  b: three\n"))

    (change,) = diff_manifests(deployed, desired, namespace="ns").objects

    assert _lines(change) == ["-  b: two", "+  b: three"]


def test_a_changed_secret_shows_keys_and_sizes_never_values() -> None:
    deployed = _manifest(_secret("db", password=_b64("0123456789abcdef"), user=_b64("admin"), old=_b64("x")))
    desired = _manifest(_secret("db", password=_b64("0123456789abcdef01234567"), user=_b64("admin"), new=_b64("")))

    (change,) = diff_manifests(deployed, desired, namespace="ns", context=10).objects

    assert _lines(change) == [
        "-  old: (removed, 1 byte)",
        "-  password: (16 bytes)",
        "+  new: (added, 0 bytes)",
        "+  password: (changed, 16 → 24 bytes)",
    ]
    assert "   user: (5 bytes)" in change.diff.splitlines()
    for secret in ("0123456789abcdef", "admin", _b64("0123456789abcdef"), _b64("admin")):
        assert secret not in change.diff


def test_a_secret_changed_to_a_value_of_the_same_size_still_shows_a_change() -> None:
    deployed = _manifest(_secret("db", "stringData", token="aaaa"))
    desired = _manifest(_secret("db", "stringData", token="bbbb"))

    (change,) = diff_manifests(deployed, desired, namespace="ns").objects

    assert _lines(change) == ["-  token: (4 bytes)", "+  token: (changed, 4 → 4 bytes)"]


def test_an_unchanged_secret_is_not_reported_even_though_it_is_redacted() -> None:
    manifest = _manifest(_secret("db", token=_b64("same")))

    assert diff_manifests(manifest, manifest, namespace="ns").objects == ()


def test_a_secret_change_outside_its_data_shows_the_data_as_sizes_around_it() -> None:
    deployed = _manifest(_secret("db", token=_b64("hunter22")) + "type: Opaque\n")
    desired = _manifest(_secret("db", token=_b64("hunter22")) + "type: kubernetes.io/basic-auth\n")

    (change,) = diff_manifests(deployed, desired, namespace="ns", context=10).objects

    assert _lines(change) == ["-type: Opaque", "+type: kubernetes.io/basic-auth"]
    assert "   token: (8 bytes)" in change.diff.splitlines()


def test_a_whole_added_secret_shows_each_key_as_added() -> None:
    (change,) = diff_manifests("", _manifest(_secret("db", "stringData", pin="12345")), namespace="ns").objects

    assert "+  pin: (added, 5 bytes)" in change.diff.splitlines()
    assert "12345" not in change.diff


@pytest.mark.parametrize(
    ("deployed_field", "desired_field", "expected"),
    [
        ("data: not-a-map-hunter22", "data: {}", ["-data: (18 bytes)", "+data: (changed, 18 → 2 bytes)"]),
        ("data: {k: '!!!not base64 hunter22'}", "", ["-data:", "-  k: (removed, 22 bytes)"]),
        ("stringData: {k: null}", "stringData: {k: 1234567}", ["-  k: (0 bytes)", "+  k: (changed, 0 → 7 bytes)"]),
    ],
)
def test_broken_secret_data_is_hidden_too(deployed_field: str, desired_field: str, expected: list[str]) -> None:
    deployed = _manifest(_object("Secret", "s", deployed_field + "\n"))
    desired = _manifest(_object("Secret", "s", desired_field + "\n"))

    (change,) = diff_manifests(deployed, desired, namespace="ns").objects

    assert _lines(change) == expected
    assert "hunter22" not in change.diff and "1234567" not in change.diff


def test_show_secrets_reveals_secret_data() -> None:
    deployed = _manifest(_secret("db", "stringData", token="old-token"))
    desired = _manifest(_secret("db", "stringData", token="new-token"))

    (change,) = diff_manifests(deployed, desired, namespace="ns", show_secrets=True).objects

    assert _lines(change) == ["-  token: old-token", "+  token: new-token"]


def test_only_secrets_are_redacted_by_kind() -> None:
    deployed = _manifest(_configmap("settings", password="visible-1"))
    desired = _manifest(_configmap("settings", password="visible-2"))

    (change,) = diff_manifests(deployed, desired, namespace="ns").objects

    assert _lines(change) == ["-  password: visible-1", "+  password: visible-2"]


def test_given_secret_strings_are_masked_in_every_object() -> None:
    deployed = _manifest(_object("Pod", "p", "spec:\n  env: {DSN: 'postgres://u:hunter22@db'}\n"))
    desired = _manifest(_object("Pod", "p", "spec:\n  env: {DSN: 'postgres://u:hunter23@db'}\n"))

    (change,) = diff_manifests(deployed, desired, namespace="ns", secrets=["hunter22", "hunter23"]).objects

    assert _lines(change) == ["-    DSN: postgres://u:(secret 1)@db", "+    DSN: postgres://u:(secret 2)@db"]


@pytest.mark.parametrize(
    "secret",
    ["it's a secret", 'say "hi"', "line one\nline two", "tab\there", "long " * 30, "ünïcødé-pässwörd", "12345678"],
)
def test_a_secret_that_yaml_would_quote_escape_or_fold_is_still_masked(secret: str) -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    deployed = yaml.safe_dump(
        {**body, "data": {"a": secret, "b": f"x{secret}x"}, "n": int(secret) if secret.isdigit() else 0}
    )

    (change,) = diff_manifests(deployed, "", namespace="ns", secrets=[secret]).objects

    number = "(secret 1)" if secret.isdigit() else 0
    assert _lines(change) == [
        "-apiVersion: v1",
        "-data:",
        "-  a: (secret 1)",
        "-  b: x(secret 1)x",
        "-kind: ConfigMap",
        "-metadata:",
        "-  name: c",
        f"-n: {number}",
    ]


def test_the_items_of_a_list_are_objects_of_their_own() -> None:
    items = [yaml.safe_load(_secret("db", "stringData", password="hunter22")), yaml.safe_load(_configmap("c", a="1"))]
    desired = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items})

    result = diff_manifests("", desired, namespace="ns")

    assert [(c.kind, c.name) for c in result.objects] == [("ConfigMap", "c"), ("Secret", "db")]
    assert "hunter22" not in result.objects[1].diff
