from __future__ import annotations

from reconcile.redact import redact, secret_strings


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
