from __future__ import annotations

import base64
import json

from reconcile.diff.values import secret_values as secret_strings
from reconcile.redact import redact


def test_strings_under_sensitive_keys_are_found_at_any_depth() -> None:
    values = {
        "auth": {"user": "admin", "rootPassword": "s3cr3t!"},
        "db": {"apiKey": "k-123456"},
        "replicaCount": 3,
        "image": {"tag": "1.6.0"},
        "tls": {"enabled": True},
    }
    found = secret_strings(values)
    assert {"s3cr3t!", "k-123456", "admin"} <= set(found)
    assert "1.6.0" not in found


def test_redact_masks_longest_first() -> None:
    assert redact("pw=abcdef and abc", ["abc", "abcdef"]) == "pw=*** and ***"


PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----"


def test_every_form_of_a_secret_is_masked() -> None:
    quoted = 'pa"ss\\word'
    forms = {
        "raw": PEM,
        "one line of it": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "lines joined": PEM.replace("\n", " "),
        "base64": base64.b64encode(PEM.encode()).decode(),
        "toJson": json.dumps(PEM),
        "go-escaped quote": 'Invalid value: "pa\\"ss\\\\word"',
        "json-escaped quote": json.dumps({"v": quoted}),
    }
    for name, text in forms.items():
        masked = redact(f"error: {text} here", [PEM, quoted])
        assert "MIIEvQ" not in masked and "BKcwgg" not in masked and "ss\\" not in masked, (name, masked)
        assert masked.startswith("error: ") and masked.endswith(" here"), name


def test_schema_marked_and_key_named_secrets_are_both_found() -> None:
    values = {"encryptionKey": "k1-abcdef", "sshKey": "k2-abcdef", "signingKey": "k3-abcdef", "db": {"pw": "opaque"}}
    found = secret_strings(values, sensitive_paths=frozenset({"db.pw"}))
    assert set(found) == {"k1-abcdef", "k2-abcdef", "k3-abcdef", "opaque"}
