"""Find the secret strings in a CR's values, so no message, log line or status ever repeats them.

helm's errors sometimes quote a value (a template's ``fail``, a schema error); a CR's status is readable by anyone
who can read the CR. Every string below a key that names a secret is masked wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|credential|private.?key|api.?key|access.?key|auth|^key$|dsn|"
    r"connection.?string",
    re.IGNORECASE,
)
MASK = "***"
SHORTEST_SECRET = 4


def secret_strings(values: Any, sensitive: bool = False) -> list[str]:
    """Every scalar under a sensitive key, as text; short ones are left out, since masking '1' would mask all 1s."""
    found: list[str] = []
    if isinstance(values, Mapping):
        for key, value in values.items():
            found += secret_strings(value, sensitive or bool(SENSITIVE_KEY.search(str(key))))
    elif isinstance(values, list):
        for item in values:
            found += secret_strings(item, sensitive)
    elif sensitive and values is not None and not isinstance(values, bool):
        text = str(values)
        if len(text) >= SHORTEST_SECRET:
            found.append(text)
    return found


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
