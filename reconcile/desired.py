"""A raw custom resource becomes what it asks for: the release key, the effective values and their digest.

A CR that cannot be acted on (its spec is not an object, its release name breaks Helm's rules, a cluster-scoped CR
without a target namespace) still becomes a Desired, marked invalid with the reason, so the planner can block it
and tell its owner why while every other CR goes ahead.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from reconcile.diff.values import secret_values
from reconcile.labels import ANNOTATION_KEEP, ANNOTATION_RETRY, OPERATOR_SDK_PREFIX
from reconcile.limits import spec_problem, template_action
from reconcile.model import ChartRef, Desired, ReleaseKey, ResourceRef
from reconcile.settings import HelmOptions, Watch

DIGEST_SCHEMA = "helmcr/v1"
DIGEST_LENGTH = 40
KEY_ID_LENGTH = 8
KEYED_MARK = "."  # "<key id>.<hmac>", 49 characters: a label value holds 63
RELEASE_NAME_MAX = 53
RELEASE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def desired_from_resource(
    resource: Mapping[str, Any], watch: Watch, chart: ChartRef, digest_key: bytes = b""
) -> Desired:
    return desired_maker(watch, chart, digest_key)(resource)


def desired_maker(watch: Watch, chart: ChartRef, digest_key: bytes = b"") -> Callable[[Mapping[str, Any]], Desired]:
    """For every CR of one kind: what they all share (the fleet digest) is hashed once, not once per CR."""
    fleet = _hash(_fleet_canonical(chart, watch), digest_key)
    return lambda resource: _desired(resource, watch, chart, digest_key, fleet)


def _desired(resource: Mapping[str, Any], watch: Watch, chart: ChartRef, digest_key: bytes, fleet: str) -> Desired:
    metadata = resource.get("metadata") or {}
    owner = ResourceRef(
        group=watch.group,
        kind=watch.kind,
        namespace=metadata.get("namespace", ""),
        name=metadata.get("name", ""),
        uid=metadata.get("uid", ""),
    )
    key = release_key(owner.namespace, owner.name, watch)
    status = resource.get("status")
    annotations = metadata.get("annotations") or {}
    keep = str(annotations.get(ANNOTATION_KEEP, "")).lower() == "true"
    spec = resource.get("spec")
    problem = _problem(spec, key, watch, chart)
    values, digest, unkeyed = ({}, "", "") if problem else _digested(spec or {}, key, watch, chart, digest_key, keep)
    return Desired(
        owner=owner,
        key=key,
        chart=chart,
        values=values,
        digest=digest,
        generation=int(metadata.get("generation") or 0),
        status=status if isinstance(status, dict) else {},
        invalid=problem,
        keep=keep,
        retry_request=str(annotations.get(ANNOTATION_RETRY, "")),
        unkeyed_digest=unkeyed,
        operator_sdk_annotations=tuple(sorted(a for a in annotations if str(a).startswith(OPERATOR_SDK_PREFIX))),
        fleet_digest="" if problem else fleet,
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
    )


def _digested(
    spec: Mapping[str, Any], key: ReleaseKey, watch: Watch, chart: ChartRef, digest_key: bytes, keep: bool
) -> tuple[dict[str, Any], str, str]:
    """The effective values, their digest and, when a key makes that an HMAC, the digest as it was before keying."""
    values = merge_values(spec, watch.override_values)
    canonical = _canonical(chart, values, key, watch.helm, keep)
    return values, _hash(canonical, digest_key), _hash(canonical, b"") if digest_key else ""


def release_key(namespace: str, name: str, watch: Watch) -> ReleaseKey:
    """The release the CR ``namespace``/``name`` of this kind wants (its releaseName template, its namespace or the
    kind's targetNamespace)."""
    release_name = watch.release_name.format(name=name, namespace=namespace, kind=watch.kind.lower())
    return ReleaseKey(namespace or watch.target_namespace, release_name)


def secrets_of(desired: Desired) -> list[str]:
    """The values of this CR that must never appear in any output: by key name, and as its chart's schema says."""
    return secret_values(desired.values, sensitive_paths=desired.chart.secret_paths)


def merge_values(spec: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Overrides win over the spec at every depth, as operator-sdk's overrideValues do; lists are replaced whole.

    Neither input is changed: what an override replaces is copied along its path only, so a CR's spec (thousands
    of them per run) is not deep-copied whole."""
    merged = dict(spec)
    for name, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(name), Mapping):
            merged[name] = merge_values(merged[name], value)
        else:
            merged[name] = copy.deepcopy(value)
    return merged


def _canonical(chart: ChartRef, values: Mapping[str, Any], key: ReleaseKey, options: HelmOptions, keep: bool) -> bytes:
    """Everything that changes what helm would deploy, in one canonical form: the digest's input.

    ``keep`` is in it because the keep label travels to the release with an upgrade, like everything else."""
    return _json(
        {
            "schema": DIGEST_SCHEMA,
            "chart": chart.identity,
            "values": values,
            "release": [key.namespace, key.name],
            "hooks": not options.disable_hooks,
            "keep": keep,
        }
    )


def _fleet_canonical(chart: ChartRef, watch: Watch) -> bytes:
    """What a change to the whole kind changes: the chart, the config's overrideValues, the rendering flags. A
    release deployed with other ones is behind its kind's rollout (reconcile.rollout); keyed like the digest, since
    overrides may hold secrets."""
    return _json(
        {
            "schema": DIGEST_SCHEMA,
            "chart": chart.identity,
            "overrides": watch.override_values,
            "hooks": not watch.helm.disable_hooks,
        }
    )


def _json(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _hash(canonical: bytes, secret: bytes) -> str:
    """Short enough for a label value. With a ``secret`` (the digest key) an HMAC: the digest is in every CR's status,
    every release's labels and every saved plan, and unkeyed, anyone holding one could confirm a guessed password
    (or an override the CR's author never sees) offline."""
    if secret:
        return f"{key_id(secret)}{KEYED_MARK}{hmac.digest(secret, canonical, 'sha256').hex()[:DIGEST_LENGTH]}"
    return hashlib.sha256(canonical).hexdigest()[:DIGEST_LENGTH]


@functools.cache
def key_id(secret: bytes) -> str:
    """Names the key, not its value: a keyed digest says which key made it, so a run without that key knows it
    cannot judge the release (rather than take every release for changed and upgrade them all)."""
    return hmac.new(secret, b"helmcr digest key id", hashlib.sha256).hexdigest()[:KEY_ID_LENGTH]


def keyed(digest: str) -> bool:
    return KEYED_MARK in digest


def digest_body(digest: str) -> str:
    """The hash without a keyed digest's key id: every digest made with one key shares that prefix, so only the
    hash tells one from another (a rollout's resume names it)."""
    return digest.rpartition(KEYED_MARK)[2]


def _problem(spec: Any, key: ReleaseKey, watch: Watch, chart: ChartRef) -> str:
    if spec is not None and not isinstance(spec, dict):
        return f"spec must be an object holding the chart's values, got {_json_type(spec)}"
    if too_big := spec_problem(spec):
        return too_big
    if chart.tpl and not watch.allow_template_values and (where := template_action(spec)):
        return (
            f"spec.{where} holds a template action ({{{{ … }}}}): the chart passes values to tpl, where it would run "
            "with helm's credentials (lookup reads the cluster), so it is refused; a kind whose CR authors are "
            "trusted may set allowTemplateValues: true"
        )
    if not key.namespace:
        return f"{watch.kind} is cluster-scoped: set targetNamespace for it in the helmcr config"
    if len(key.name) > RELEASE_NAME_MAX:
        return (
            f"release name {key.name!r} is {len(key.name)} characters; Helm allows {RELEASE_NAME_MAX} "
            "(shorten the CR's name or set releaseName in the config)"
        )
    if not RELEASE_NAME.match(key.name):
        return f"release name {key.name!r} is not valid for Helm (lower-case letters, digits, '-' and '.')"
    return ""


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
