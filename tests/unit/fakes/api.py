"""An in-memory Kubernetes API server, and a Kube whose transport is that server: for fast tests of orchestration.

Only the transport is fake. :class:`FakeKube` overrides nothing but ``Kube._send``, so paging, error mapping and
request counting stay the real adapter's code. :class:`FakeApiServer` answers the way the API server does wherever
helmcr relies on it: Status objects with the real reasons and messages, resourceVersion preconditions, generation
on spec changes, the status subresource, label selectors, snapshot-consistent paging, PartialObjectMetadataList,
validation of names and labels (a 64-character label value fails here as it fails in a cluster), finalizers.
Whatever it does not implement (watch, field selectors, strategic merge patches...) it refuses with 400/415
instead of ignoring, so a test never passes on a request a real server would answer differently.

Its test helpers (``create``, ``get``, ``objects``, ``replace``, ``patch``, ``delete``) go around the request log
and the injected faults: they are the test's hands, not helmcr's requests.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
import decimal
import enum
import json
import random
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple

from reconcile.adapters.kube import EVENTS, MERGE_PATCH, SECRETS, Kube, ResourceType, _network_reason
from reconcile.errors import KubeTransient

Body = dict[str, Any]

LEASES = ResourceType("coordination.k8s.io", "v1", "leases")
DEFAULT_USER = "system:serviceaccount:helmcr:helmcr"
DEFAULT_HOST = "https://fake-apiserver.invalid:6443"
SECRET_DATA_LIMIT = 1024 * 1024
NAME_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"  # the API server's generateName alphabet: no vowels, no look-alikes
SYSTEM_METADATA = ("name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp")
LIST_PARAMETERS = frozenset({"limit", "continue", "labelSelector", "fieldSelector"})
NAME_FIELDS = {"metadata.name": "name", "metadata.namespace": "namespace"}  # what every resource can be selected by
WRITE_PARAMETERS = frozenset({"fieldManager", "propagationPolicy"})  # accepted and meaningless here

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}
INJECTED_MESSAGES = {
    401: "Unauthorized",
    404: '{resource} "{name}" not found',
    409: 'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; please apply your '
    "changes to the latest version and try again",
    410: "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter.",
    429: "Too many requests, please try again later.",
    500: "Internal error occurred: injected failure",
    503: "the server is currently unable to handle the request",
    504: "the server was unable to return a response in the time allotted, but may still be processing the request",
}

_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_REQUIREMENT = re.compile(
    r"\s*(?:!\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)(?:\s*(?P<op>==|!=|=)\s*(?P<value>[\w.-]*)|\s+(?P<set>in|notin)\s*\((?P<values>[^()]*)\))?"
    r")\s*"
)


class FakeApiError(Exception):
    """A refusal worded as the API server words it; on the wire it becomes a Status object with its HTTP code."""

    def __init__(self, code: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "")

    def status(self) -> Body:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }


class Request(NamedTuple):
    """One HTTP request a FakeKube sent, in the form tests assert on: ``(method, path, query)``."""

    method: str
    path: str
    query: dict[str, str]


@dataclass
class _Kind:
    """A registered resource type and its objects, keyed by (namespace, name); namespace "" when cluster-scoped."""

    resource: ResourceType
    kind: str
    namespaced: bool
    status_subresource: bool
    custom: bool
    objects: dict[tuple[str, str], Body] = field(default_factory=dict)

    @property
    def api_version(self) -> str:
        return f"{self.resource.group}/{self.resource.version}" if self.resource.group else self.resource.version


@dataclass(frozen=True)
class _Path:
    """A request path taken apart; ``resource`` is what RBAC calls it (``memcacheds/status`` for the subresource)."""

    group: str
    version: str
    namespace: str
    plural: str
    name: str = ""
    subresource: str = ""

    @property
    def resource(self) -> str:
        return f"{self.plural}/{self.subresource}" if self.subresource else self.plural

    @property
    def qualified(self) -> str:
        """How the API server names a resource in messages: ``secrets``, ``memcacheds.anywhere.io``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass
class _Fault:
    """A forbidden request (forever) or an injected failure (``times`` more requests)."""

    method: str
    resource: str
    namespace: str | None
    status: int
    message: str = ""
    times: int = -1

    def matches(self, method: str, path: _Path) -> bool:
        """A namespace rule also covers cluster-wide requests: they would read that namespace too."""
        return (
            self.method in ("*", method)
            and self.resource == path.resource
            and (self.namespace is None or path.namespace in ("", self.namespace))
        )


@dataclass(frozen=True)
class _Snapshot:
    """The rest of a paged LIST, as of its first page: etcd serves continue tokens from that revision."""

    items: list[Body]
    resource_version: int
    selected: bool


@dataclass(frozen=True)
class _Requirement:
    key: str
    operator: str  # "exists", "!", "=", "!=", "in", "notin"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator in ("=", "in"):
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


def parse_selector(text: str) -> list[_Requirement]:
    """A label selector as the API server reads it; a malformed one is a 400, never "match everything"."""
    if not text.strip():
        return []
    requirements, position = [], 0
    while True:
        match = _REQUIREMENT.match(text, position)
        if match is None or not (match["absent"] or match["key"]):
            raise FakeApiError(400, f"unable to parse requirement: invalid label selector: {text!r}")
        requirements.append(_requirement(match, text))
        position = match.end()
        if position == len(text):
            return requirements
        if text[position] != ",":
            raise FakeApiError(400, f"unable to parse requirement: invalid label selector: {text!r}")
        position += 1


def _requirement(match: re.Match[str], text: str) -> _Requirement:
    if match["absent"]:
        return _Requirement(match["absent"], "!")
    if match["op"]:
        return _Requirement(match["key"], "!=" if match["op"] == "!=" else "=", (match["value"],))
    if match["set"]:
        values = tuple(value.strip() for value in match["values"].split(","))
        if not any(values):
            raise FakeApiError(400, f"for 'in', 'notin' operators, values set can't be empty: {text!r}")
        return _Requirement(match["key"], match["set"], values)
    return _Requirement(match["key"], "exists")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _parse_path(path: str) -> _Path | None:
    parts = [urllib.parse.unquote(part) for part in path.partition("?")[0].strip("/").split("/")]
    if parts[0] == "api" and len(parts) >= 2:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 3:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not 1 <= len(rest) <= 3 or not all(rest):
        return None
    padded = [*rest, "", ""]
    return _Path(group, version, namespace, padded[0], padded[1], padded[2])


def _no_such_resource() -> FakeApiError:
    return FakeApiError(404, "the server could not find the requested resource")


def _not_found(path: _Path) -> FakeApiError:
    return FakeApiError(404, f'{path.qualified} "{path.name}" not found')


def _conflict(path: _Path) -> FakeApiError:
    return FakeApiError(409, INJECTED_MESSAGES[409].format(resource=path.qualified, name=path.name))


def _invalid(kind: _Kind, name: str, problems: list[str]) -> FakeApiError:
    detail = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
    return FakeApiError(422, f'{kind.kind} "{name}" is invalid: {detail}')


def _wire(body: Any) -> Any:
    """The body as it arrives over HTTP: JSON, serialized like the official client does (datetimes as ISO 8601,
    enums by value); anything that client cannot serialize fails here too, instead of passing by reference."""
    return None if body is None else json.loads(json.dumps(body, default=_serializable))


def _serializable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"the Kubernetes client cannot serialize {type(value).__name__} in a request body")


def _verb(method: str, path: _Path) -> str:
    if method == "GET":
        return "get" if path.name else "list"
    if method == "DELETE":
        return "delete" if path.name else "deletecollection"
    return {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())


def _content(kind: _Kind, body: Body) -> Body:
    """What generation counts: everything but metadata, and but status when status is a subresource."""
    ignored = {"metadata", "status"} if kind.status_subresource else {"metadata"}
    return {key: value for key, value in body.items() if key not in ignored}


def _label_problems(labels: Any) -> list[str]:
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return ["metadata.labels: Invalid value: must be a map of string keys to string values"]
    problems: list[str] = []
    for key, value in labels.items():
        problems += _label_key_problems(str(key)) + _label_value_problems(value)
    return problems


def _label_key_problems(key: str) -> list[str]:
    prefix, slash, name = key.rpartition("/")
    bad_prefix = bool(slash) and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))
    if bad_prefix or len(name) > 63 or not _LABEL_NAME.match(name):
        return [
            f'metadata.labels: Invalid value: "{key}": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character, at most 63 characters, "
            "with an optional DNS subdomain prefix and '/'"
        ]
    return []


def _label_value_problems(value: Any) -> list[str]:
    if not isinstance(value, str):
        return [f"metadata.labels: Invalid value: {value!r}: label values must be strings"]
    if len(value) > 63:
        return [f'metadata.labels: Invalid value: "{value}": must be no more than 63 characters']
    if not _LABEL_VALUE.match(value):
        return [
            f'metadata.labels: Invalid value: "{value}": a valid label must be an empty string or consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        ]
    return []


def _name_problems(name: str) -> list[str]:
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        return [
            f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        ]
    return []


def _event_problems(body: Body) -> list[str]:
    """Core Events must sit in their object's namespace ("default" for a cluster-scoped object)."""
    namespace = body["metadata"].get("namespace", "")
    involved = str((body.get("involvedObject") or {}).get("namespace") or "")
    if involved == namespace or (not involved and namespace == "default"):
        return []
    return [f'involvedObject.namespace: Invalid value: "{involved}": does not match event.namespace']


def _secret_problems(body: Body) -> list[str]:
    """Secret data is base64 on the wire (a bad value cannot even be decoded: 400), at most 1 MiB decoded."""
    size = 0
    for key, value in (body.get("data") or {}).items():
        try:
            size += len(base64.b64decode(str(value), validate=True))
        except (binascii.Error, ValueError) as error:
            raise FakeApiError(
                400, f'Secret in version "v1" cannot be handled as a Secret: data[{key}]: illegal base64: {error}'
            ) from None
    return [f"data: Too long: must have at most {SECRET_DATA_LIMIT} bytes"] if size > SECRET_DATA_LIMIT else []


def _normalize_secret(body: Body) -> None:
    """``stringData`` is write-only: the API server folds it into ``data``."""
    string_data = body.pop("stringData", None) or {}
    data = dict(body.get("data") or {})
    data.update({key: base64.b64encode(str(value).encode()).decode() for key, value in string_data.items()})
    if data:
        body["data"] = data
    body.setdefault("type", "Opaque")


def _partial(body: Body) -> Body:
    return {
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": copy.deepcopy(body["metadata"]),
    }


def _kind_from_plural(plural: str) -> str:
    if plural.endswith("ies"):
        singular = plural[:-3] + "y"
    elif plural.endswith(("ses", "xes")):
        singular = plural[:-2]
    else:
        singular = plural.removesuffix("s")
    return singular[:1].upper() + singular[1:]


class FakeApiServer:
    """Objects per resource type, one resourceVersion counter, fault injection and a log of what FakeKube sent.

    ``down = True`` makes every request fail as an unreachable server does (FakeKube raises KubeTransient);
    ``clock`` (epoch seconds) stamps creationTimestamp and what FakeHelm writes, so tests can age records.
    """

    def __init__(
        self, user: str = DEFAULT_USER, host: str = DEFAULT_HOST, clock: Callable[[], float] = time.time
    ) -> None:
        self.user = user
        self.host = host
        self.clock = clock
        self.down = False
        self.requests: list[Request] = []
        self.lock = threading.RLock()  # helmcr's threads (lease renewal, parallel helm) share one server
        self._kinds: dict[tuple[str, str, str], _Kind] = {}
        self._forbidden: list[_Fault] = []
        self._failures: list[_Fault] = []
        self._snapshots: dict[str, _Snapshot] = {}
        self._resource_version = 0
        self._serial = 0
        self._random = random.Random(0)
        self._register(SECRETS, "Secret", namespaced=True, status_subresource=False, custom=False)
        self._register(EVENTS, "Event", namespaced=True, status_subresource=False, custom=False)
        self._register(LEASES, "Lease", namespaced=True, status_subresource=False, custom=False)

    # --- registration -------------------------------------------------------------------------------------

    def add_crd(
        self, resource: ResourceType, namespaced: bool = True, status_subresource: bool = True, kind: str = ""
    ) -> None:
        """A custom resource type; its kind defaults to the capitalized singular of the plural."""
        self._register(resource, kind or _kind_from_plural(resource.plural), namespaced, status_subresource, True)

    def _register(
        self, resource: ResourceType, kind: str, namespaced: bool, status_subresource: bool, custom: bool
    ) -> None:
        key = (resource.group, resource.version, resource.plural)
        self._kinds[key] = _Kind(resource, kind, namespaced, status_subresource, custom)

    # --- fault injection and the request log ---------------------------------------------------------------

    def forbid(self, method: str, plural: str, namespace: str | None = None) -> None:
        """Refuse (403) every ``method`` request (``"*"``: any) on ``plural`` (``"memcacheds/status"`` for the
        subresource), in ``namespace`` and cluster-wide, or everywhere when None; FakeHelm's storage obeys it too."""
        self._forbidden.append(_Fault(method.upper(), plural, namespace, 403))

    def allow(self, method: str, plural: str, namespace: str | None = None) -> None:
        """Undo a :meth:`forbid`."""
        self._forbidden = [
            f for f in self._forbidden if (f.method, f.resource, f.namespace) != (method.upper(), plural, namespace)
        ]

    def fail_next(
        self, method: str, plural: str, status: int, times: int = 1, message: str = "", namespace: str | None = None
    ) -> None:
        """The next ``times`` matching FakeKube requests get ``status`` with the API server's usual wording."""
        self._failures.append(_Fault(method.upper(), plural, namespace, status, message, times))

    def expire_continue_tokens(self) -> None:
        """As etcd compaction does: continuing an older LIST then fails with 410 Expired."""
        self._snapshots.clear()

    def count(self, method: str, plural: str) -> int:
        """How many requests FakeKube sent with this method on this resource (``"memcacheds/status"`` counts
        status writes alone)."""
        paths = (_parse_path(request.path) for request in self.requests if request.method == method.upper())
        return sum(1 for path in paths if path is not None and path.resource == plural)

    # --- the wire ----------------------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: Sequence[tuple[str, str]], headers: Mapping[str, str], body: Any
    ) -> tuple[int, bytes]:
        """One HTTP exchange. When ``down`` it raises ConnectionRefusedError, as the socket would."""
        parameters = dict(query)
        with self.lock:
            self.requests.append(Request(method, path, parameters))
            if self.down:
                raise ConnectionRefusedError(111, "Connection refused")
            try:
                status, payload = self._serve(method.upper(), path, parameters, headers, _wire(body))
            except FakeApiError as error:
                status, payload = error.code, error.status()
        return status, json.dumps(payload).encode()

    def check_access(self, method: str, resource: ResourceType, namespace: str, name: str = "") -> None:
        """What another client of this server (FakeHelm's storage) goes through: ``down`` and ``forbid``."""
        with self.lock:
            if self.down:
                raise ConnectionRefusedError(111, "Connection refused")
            path = _Path(resource.group, resource.version, namespace, resource.plural, name)
            self._authorize(method.upper(), path)

    def _serve(
        self, method: str, path_text: str, query: dict[str, str], headers: Mapping[str, str], body: Any
    ) -> tuple[int, Body]:
        kind, path = self._kind_for(_parse_path(path_text), method)
        self._authorize(method, path)
        self._inject(method, path)
        if method == "GET" and not path.name:
            _check_parameters(query, LIST_PARAMETERS)
            metadata_only = "as=PartialObjectMetadataList" in headers.get("Accept", "")
            return 200, self._list(kind, path.namespace, query, metadata_only)
        _check_parameters(query, WRITE_PARAMETERS)
        return self._write(method, kind, path, headers, body)

    def _write(self, method: str, kind: _Kind, path: _Path, headers: Mapping[str, str], body: Any) -> tuple[int, Body]:
        if method == "GET":
            return 200, self._read(kind, path)
        if method == "DELETE" and path.name:
            return 200, self._delete(kind, path)
        if method not in ("POST", "PUT", "PATCH") or bool(path.name) == (method == "POST"):
            raise FakeApiError(405, "the server does not allow this method on the requested resource")
        if not isinstance(body, dict):
            raise FakeApiError(400, f"{method} needs a JSON object as its body")
        if method == "POST":
            return 201, self._create(kind, path.namespace, body, from_client=True)
        if method == "PUT":
            return 200, self._replace(kind, path, body)
        return 200, self._patch(kind, path, body, headers.get("Content-Type", ""))

    def _kind_for(self, path: _Path | None, method: str) -> tuple[_Kind, _Path]:
        """The registered type a path names, or the API server's 404 for a resource it does not serve."""
        if path is None:
            raise _no_such_resource()
        kind = self._kinds.get((path.group, path.version, path.plural))
        if kind is None or (path.namespace and not kind.namespaced):
            raise _no_such_resource()
        if kind.namespaced and not path.namespace and (path.name or method != "GET"):
            raise _no_such_resource()
        if path.subresource and (path.subresource != "status" or not kind.status_subresource):
            raise _no_such_resource()
        return kind, path

    def _authorize(self, method: str, path: _Path) -> None:
        if not any(rule.matches(method, path) for rule in self._forbidden):
            return
        raise FakeApiError(403, self._forbidden_message(method, path))

    def _forbidden_message(self, method: str, path: _Path) -> str:
        subject = f'{path.qualified} "{path.name}"' if path.name else path.qualified
        scope = f'in the namespace "{path.namespace}"' if path.namespace else "at the cluster scope"
        return (
            f'{subject} is forbidden: User "{self.user}" cannot {_verb(method, path)} resource "{path.resource}" '
            f'in API group "{path.group}" {scope}'
        )

    def _inject(self, method: str, path: _Path) -> None:
        fault = next((f for f in self._failures if f.times > 0 and f.matches(method, path)), None)
        if fault is None:
            return
        fault.times -= 1
        if fault.status == 403:
            raise FakeApiError(403, fault.message or self._forbidden_message(method, path))
        template = fault.message or INJECTED_MESSAGES.get(fault.status, f"injected failure (HTTP {fault.status})")
        raise FakeApiError(fault.status, template.format(resource=path.qualified, name=path.name))

    # --- LIST ------------------------------------------------------------------------------------------------

    def _list(self, kind: _Kind, namespace: str, query: dict[str, str], metadata_only: bool) -> Body:
        limit = _limit(query.get("limit", "0"))
        snapshot = self._continued(query["continue"]) if query.get("continue") else self._select(kind, namespace, query)
        page, rest = (snapshot.items[:limit], snapshot.items[limit:]) if limit else (snapshot.items, [])
        metadata: Body = {"resourceVersion": str(snapshot.resource_version)}
        if rest:
            metadata["continue"] = self._remember(_Snapshot(rest, snapshot.resource_version, snapshot.selected))
            if not snapshot.selected:
                metadata["remainingItemCount"] = len(rest)
        if metadata_only:
            return {
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": metadata,
                "items": [_partial(item) for item in page],
            }
        items = page if kind.custom else [{k: v for k, v in i.items() if k not in ("apiVersion", "kind")} for i in page]
        return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": metadata, "items": items}

    def _select(self, kind: _Kind, namespace: str, query: dict[str, str]) -> _Snapshot:
        """Items in etcd's key order (namespace, then name), copied: later writes do not change a LIST's pages."""
        selector = parse_selector(query.get("labelSelector", ""))
        fields = _field_selector(query.get("fieldSelector", ""))
        items = [
            copy.deepcopy(body)
            for (item_namespace, _), body in sorted(kind.objects.items())
            if namespace in ("", item_namespace)
            and all(r.matches(body["metadata"].get("labels") or {}) for r in selector)
            and all(body["metadata"].get(NAME_FIELDS[field], "") == value for field, value in fields.items())
        ]
        return _Snapshot(items, self._resource_version, bool(selector or fields))

    def _remember(self, snapshot: _Snapshot) -> str:
        self._serial += 1
        last = snapshot.items[0]["metadata"]
        start = f"{last.get('namespace', '')}/{last['name']}"
        token = {"v": "meta.k8s.io/v1", "rv": snapshot.resource_version, "start": start, "snapshot": self._serial}
        encoded = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
        self._snapshots[encoded] = snapshot
        return encoded

    def _continued(self, token: str) -> _Snapshot:
        snapshot = self._snapshots.pop(token, None)
        if snapshot is not None:
            return snapshot
        try:
            json.loads(base64.urlsafe_b64decode(token.encode()))
        except (ValueError, binascii.Error):
            raise FakeApiError(400, f"continue key is not valid: {token!r}") from None
        raise FakeApiError(410, INJECTED_MESSAGES[410])

    # --- single objects --------------------------------------------------------------------------------------

    def _stored(self, kind: _Kind, path: _Path) -> Body:
        body = kind.objects.get((path.namespace, path.name))
        if body is None:
            raise _not_found(path)
        return body

    def _read(self, kind: _Kind, path: _Path) -> Body:
        return copy.deepcopy(self._stored(kind, path))

    def _create(self, kind: _Kind, namespace: str, body: Body, from_client: bool) -> Body:
        """A POST. ``from_client``: as the API server treats a request (no resourceVersion allowed, status dropped
        when it is a subresource); the test helper may seed a status."""
        new = copy.deepcopy(body)
        metadata = new["metadata"] = dict(new.get("metadata") or {})
        if from_client and metadata.get("resourceVersion"):
            raise FakeApiError(500, "resourceVersion should not be set on objects to be created")
        if metadata.get("namespace") and kind.namespaced and metadata["namespace"] != namespace:
            raise FakeApiError(
                400, "the namespace of the provided object does not match the namespace sent on the request"
            )
        name = str(metadata.get("name") or self._generated_name(kind, namespace, str(metadata.get("generateName", ""))))
        if (namespace, name) in kind.objects:
            raise FakeApiError(409, f'{_qualified(kind)} "{name}" already exists', "AlreadyExists")
        if from_client and kind.status_subresource:
            new.pop("status", None)
        self._serial += 1
        metadata.update(name=name, uid=str(uuid.UUID(int=self._serial, version=4)), creationTimestamp=self._now())
        metadata.pop("deletionTimestamp", None)
        if kind.namespaced:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        if kind.custom:
            metadata["generation"] = 1
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        self._admit(kind, new)
        return self._store(kind, new)

    def _generated_name(self, kind: _Kind, namespace: str, prefix: str) -> str:
        if not prefix:
            raise _invalid(kind, "", ["metadata.name: Required value: name or generateName is required"])
        while True:
            name = prefix + "".join(self._random.choice(NAME_SUFFIX) for _ in range(5))
            if (namespace, name) not in kind.objects:
                return name

    def _replace(self, kind: _Kind, path: _Path, body: Body) -> Body:
        """A PUT: the body's resourceVersion, when given, must be the stored one (a custom resource must give it)."""
        stored = self._stored(kind, path)
        if (body.get("metadata") or {}).get("name") != path.name:
            name = (body.get("metadata") or {}).get("name") or ""
            raise FakeApiError(400, f"the name of the object ({name}) does not match the name on the URL ({path.name})")
        self._check_version(kind, path, stored, body, required=kind.custom)
        if path.subresource:
            new = {**copy.deepcopy(stored), "status": copy.deepcopy(body.get("status"))}
        else:
            new = (
                {**copy.deepcopy(body), "status": copy.deepcopy(stored.get("status"))}
                if kind.status_subresource
                else body
            )
        return self._commit(kind, stored, new)

    def _patch(self, kind: _Kind, path: _Path, patch: Body, content_type: str) -> Body:
        """A JSON merge patch; other patch types are refused rather than approximated."""
        if content_type.split(";")[0].strip() != MERGE_PATCH:
            raise FakeApiError(415, f"the fake API server only implements {MERGE_PATCH}, not {content_type!r}")
        stored = self._stored(kind, path)
        self._check_version(kind, path, stored, patch, required=False)
        merged = merge_patch(stored, patch)
        if path.subresource:
            new = {**copy.deepcopy(stored), "status": merged.get("status")}
        elif kind.status_subresource:
            new = {**merged, "status": copy.deepcopy(stored.get("status"))}
        else:
            new = merged
        return self._commit(kind, stored, new)

    def _check_version(self, kind: _Kind, path: _Path, stored: Body, body: Body, required: bool) -> None:
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if not wanted:
            if required:
                problem = "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
                raise _invalid(kind, path.name, [problem])
            return
        if str(wanted) != stored["metadata"]["resourceVersion"]:
            raise _conflict(path)

    def _commit(self, kind: _Kind, stored: Body, new: Body) -> Body:
        """An update: system metadata stays the server's; a write that changes nothing is not written (no new
        resourceVersion), as the API server skips it too; a spec change of a custom resource bumps generation."""
        new = {key: value for key, value in copy.deepcopy(new).items() if value is not None or key != "status"}
        metadata = new["metadata"] = dict(new.get("metadata") or {})
        for name in SYSTEM_METADATA:
            if name in stored["metadata"]:
                metadata[name] = stored["metadata"][name]
            else:
                metadata.pop(name, None)
        metadata["resourceVersion"] = stored["metadata"]["resourceVersion"]
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        self._admit(kind, new)
        if kind.custom and _content(kind, new) != _content(kind, stored):
            metadata["generation"] = int(stored["metadata"].get("generation") or 0) + 1
        if new == stored:
            return copy.deepcopy(stored)
        return self._store(kind, new)

    def _delete(self, kind: _Kind, path: _Path) -> Body:
        """Gone at once, unless finalizers hold it: then it only gets a deletionTimestamp until they are removed."""
        stored = self._stored(kind, path)
        if stored["metadata"].get("finalizers"):
            if not stored["metadata"].get("deletionTimestamp"):
                updated = copy.deepcopy(stored)
                updated["metadata"]["deletionTimestamp"] = self._now()
                return self._store(kind, updated)
            return copy.deepcopy(stored)
        del kind.objects[(path.namespace, path.name)]
        self._resource_version += 1
        details = {"name": path.name, "kind": path.plural}
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}

    def _admit(self, kind: _Kind, body: Body) -> None:
        """Validation the API server does on every write, for the fields helmcr writes."""
        if kind.resource == SECRETS:
            _normalize_secret(body)
        metadata = body["metadata"]
        problems = _name_problems(metadata["name"]) + _label_problems(metadata.get("labels"))
        if kind.resource == SECRETS:
            problems += _secret_problems(body)
        if kind.resource == EVENTS:
            problems += _event_problems(body)
        if problems:
            raise _invalid(kind, metadata["name"], problems)

    def _store(self, kind: _Kind, body: Body) -> Body:
        metadata = body["metadata"]
        self._resource_version += 1
        metadata["resourceVersion"] = str(self._resource_version)
        key = (metadata.get("namespace", ""), metadata["name"])
        if metadata.get("deletionTimestamp") and not metadata.get("finalizers"):
            kind.objects.pop(key, None)
        else:
            kind.objects[key] = body
        return copy.deepcopy(body)

    def _now(self) -> str:
        return datetime.datetime.fromtimestamp(self.clock(), datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _kind(self, resource: ResourceType) -> _Kind:
        kind = self._kinds.get((resource.group, resource.version, resource.plural))
        if kind is None:
            raise _no_such_resource()
        return kind

    def _path(self, resource: ResourceType, namespace: str | None, name: str, subresource: str = "") -> _Path:
        kind = self._kind(resource)
        scoped = (namespace or "") if kind.namespaced else ""
        return _Path(resource.group, resource.version, scoped, resource.plural, name, subresource)

    # --- test helpers: no request log, no faults; validation as on the wire ----------------------------------

    def create(self, resource: ResourceType, namespace: str | None, body: Mapping[str, Any]) -> Body:
        """Seed an object (its ``status`` kept, unlike a POST to a type with a status subresource)."""
        with self.lock:
            kind = self._kind(resource)
            return self._create(kind, (namespace or "") if kind.namespaced else "", _wire(body), from_client=False)

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> Body:
        with self.lock:
            return self._read(self._kind(resource), self._path(resource, namespace, name))

    def objects(self, resource: ResourceType, namespace: str | None = None) -> list[Body]:
        """Every object of a type (in one namespace, or all), in the API server's order."""
        with self.lock:
            kind = self._kind(resource)
            return [copy.deepcopy(b) for (ns, _), b in sorted(kind.objects.items()) if namespace in (None, ns)]

    def replace(self, resource: ResourceType, namespace: str | None, name: str, body: Mapping[str, Any]) -> Body:
        """A PUT as a client would send it (resourceVersion precondition included when the body has one)."""
        with self.lock:
            return self._replace(self._kind(resource), self._path(resource, namespace, name), _wire(body))

    def patch(
        self, resource: ResourceType, namespace: str | None, name: str, patch: Mapping[str, Any], subresource: str = ""
    ) -> Body:
        with self.lock:
            kind = self._kind(resource)
            if subresource and not kind.status_subresource:
                raise _no_such_resource()
            return self._patch(kind, self._path(resource, namespace, name, subresource), _wire(patch), MERGE_PATCH)

    def delete(self, resource: ResourceType, namespace: str | None, name: str) -> None:
        """As a DELETE does: immediate, or a deletionTimestamp while finalizers remain."""
        with self.lock:
            self._delete(self._kind(resource), self._path(resource, namespace, name))


def _qualified(kind: _Kind) -> str:
    group = kind.resource.group
    return f"{kind.resource.plural}.{group}" if group else kind.resource.plural


def _limit(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        raise FakeApiError(400, f"invalid limit {text!r}") from None
    if limit < 0:
        raise FakeApiError(400, f"invalid limit {text!r}")
    return limit


def _check_parameters(query: Mapping[str, str], known: frozenset[str]) -> None:
    unknown = sorted(set(query) - known)
    if unknown:
        raise FakeApiError(400, f"the fake API server does not implement the query parameter(s) {unknown}")


class _ApiClient:
    """The two things Kube touches on the official client besides the transport: the user agent and the host."""

    def __init__(self, host: str) -> None:
        self.user_agent = ""
        self.configuration = SimpleNamespace(host=host)


class FakeKube(Kube):
    """The real Kube over a FakeApiServer: only the transport (``_send``) is replaced."""

    def __init__(self, server: FakeApiServer, user_agent: str = "helmcr-test") -> None:
        super().__init__(_ApiClient(server.host), user_agent)
        self.fake = server

    def _send(
        self, method: str, path: str, query: Sequence[tuple[str, str]], headers: dict[str, str], body: Any
    ) -> tuple[int, bytes]:
        """As the real transport: a network failure becomes KubeTransient with the same words."""
        try:
            return self.fake.handle(method, path, query, headers, body)
        except OSError as error:
            raise KubeTransient(f"cannot reach the API server at {self.server}: {_network_reason(error)}") from None


def _field_selector(text: str) -> dict[str, str]:
    """``metadata.name=x,metadata.namespace=y``: the field selectors every resource supports, and only those."""
    fields: dict[str, str] = {}
    for term in filter(None, text.split(",")):
        field, equals, value = term.partition("=")
        if not equals or field not in NAME_FIELDS:
            known = '"metadata.name", "metadata.namespace"'
            raise FakeApiError(400, f'"{term}" is not a known field selector: only {known}')
        fields[field] = value.lstrip("=")
    return fields
