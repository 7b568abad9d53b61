"""Fields of a watch entry that take more than a type check: the release name template, the ServiceAccount helm
acts as, and ``overrideValues`` (``--set`` paths, as operator-sdk reads them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconcile.config_fields import Fields
from reconcile.setpaths import nested

RELEASE_NAME_FIELDS = ("name", "namespace", "kind")
PLACEHOLDERS = ", ".join("{" + field + "}" for field in RELEASE_NAME_FIELDS)


def override_values(entry: Mapping[str, Any], where: str, fields: Fields) -> dict[str, Any]:
    """Keys are ``--set`` paths, as operator-sdk reads them; a watches.yaml's string values are typed as ``--set``
    types them too (a helmcr config's YAML has typed its values already)."""
    at = f"{where}.overrideValues"
    expanded = fields.expanded(fields.mapping(entry, "overrideValues", where), at)
    return nested(expanded, fields.watches_yaml, lambda key, problem: fields.fail(f"{at}.{key}", problem))


def service_account(entry: Mapping[str, Any], where: str, fields: Fields) -> str:
    name = fields.optional_dns_name(entry, "serviceAccountName", where)
    if name == "default":
        raise fields.fail(
            f"{where}.serviceAccountName",
            "'default' is the account every Pod without one runs as: helm's rights would be every Pod's",
        )
    return name


def release_name(entry: Mapping[str, Any], where: str, fields: Fields) -> str:
    template = fields.text(entry, "releaseName", where) or "{name}"
    unknown = set(re.findall(r"\{([^{}]*)\}", template)) - set(RELEASE_NAME_FIELDS)
    if unknown:
        raise fields.fail(f"{where}.releaseName", f"unknown placeholder {{{sorted(unknown)[0]}}}; use {PLACEHOLDERS}")
    try:
        template.format(**dict.fromkeys(RELEASE_NAME_FIELDS, "x"))
    except (ValueError, IndexError, KeyError):
        raise fields.fail(
            f"{where}.releaseName", f"{template!r} is not a name template (a lone brace?); use {PLACEHOLDERS}"
        ) from None
    return template
