"""Secrets never leave helmcr in clear: which values are secret, every form a secret takes in text, masking.

helm's errors sometimes quote a value (a template's ``fail``, a schema error, the API server's own message); a CR's
status and Events are readable by anyone who can read the CR, and a CI log by anyone who can read the job. A value
is secret when its key names one (:data:`SENSITIVE_KEY`) or the chart's values.schema.json marks it (``writeOnly``
or ``format: password``). It is masked in every form it can reach text in: as it is, each line of it (helm joins a
multi-line message), base64 (``b64enc``), JSON-escaped (``toJson``, and the API's JSON) and Go-escaped (``%q`` in
Go's error messages).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable

SENSITIVE_KEY = re.compile(
    r"pass(word|wd|phrase)?|pwd|secret|token|credential|private.?key|api.?key|access.?key|auth|key$|dsn|"
    r"connection.?string|salt|cookie|signature",
    re.IGNORECASE,
)
MASK = "***"
SHORTEST_SECRET = 4
GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def variants(secret: str) -> list[str]:
    """The secret and every form of it worth masking, longest first; derived forms too short to mean anything
    (a line "-----") are left out."""
    forms = {base64.b64encode(secret.encode()).decode(), _json_escaped(secret), _go_escaped(secret)}
    forms |= {json.dumps(secret)[1:-1]}  # with non-ASCII as \u escapes, as Go's encoding/json writes them
    forms |= {line.strip() for line in secret.splitlines()}
    derived = {form for form in forms if len(form) >= SHORTEST_SECRET}
    return sorted(derived | {secret} - {""}, key=len, reverse=True)


def redact(text: str, secrets: Iterable[str]) -> str:
    """Every form of every secret replaced, longest first, so a secret inside a longer one cannot split it."""
    forms = {form for secret in secrets for form in variants(secret)}
    if not forms:
        return text
    pattern = re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))))
    return pattern.sub(MASK, text)


def _json_escaped(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _go_escaped(text: str) -> str:
    """As Go's strconv.Quote writes it, without the quotes."""
    out = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char in GO_ESCAPES:
            out.append(GO_ESCAPES[char])
        elif not char.isprintable():
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)
