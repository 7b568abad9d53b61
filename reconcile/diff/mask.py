"""Mask known secret strings wherever they are repeated: in a value, in any scalar of an object, in a note.

Masking the data, not the rendered text, is what makes it safe: YAML may quote a secret (``'it''s'``), escape it
(``"a\\nb"``) or fold it across lines, and a search of the rendered text would then miss it.

Each secret gets its own numbered token, ``(secret 1)``, in the order it was first given, so a diff still shows
that a password changed, or that the one in a ConfigMap is the one from the values, without showing either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from reconcile.redact import variants


class Masker:
    """The secrets of one release and their tokens; maskers built from the same list agree on every token."""

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = [secret for secret in dict.fromkeys(secrets) if secret]
        self._tokens: dict[str, str] = {}
        for number, secret in enumerate(unique, 1):  # each form of a secret (base64, escaped...) shows its token
            for form in [secret, *variants(secret)]:
                self._tokens.setdefault(form, f"(secret {number})")
        longest_first = sorted(self._tokens, key=len, reverse=True)  # a secret inside a longer one must not split it
        self._pattern = re.compile("|".join(map(re.escape, longest_first))) if unique else None

    def text(self, text: str) -> str:
        """The text with every secret replaced in one pass, so a token is never searched again."""
        return self._pattern.sub(lambda found: self._tokens[found[0]], text) if self._pattern else text

    def tree(self, node: Any) -> Any:
        """A copy of a parsed document with every scalar masked; a number holding a secret becomes text."""
        if isinstance(node, Mapping):
            return {key: self.tree(value) for key, value in node.items()}
        if isinstance(node, list):
            return [self.tree(item) for item in node]
        if node is None or isinstance(node, bool):
            return node
        masked = self.text(str(node))
        return node if masked == str(node) else masked
