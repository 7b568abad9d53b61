"""The only module that imports ``kubernetes``: credentials, paged LISTs, status patches and events.

It speaks raw JSON through the official client's configured REST layer instead of its generated models: custom
resources have no models, and release records are fetched as PartialObjectMetadataList, which the models cannot
represent. Every request is counted, because a no-op run's cost is measured in requests.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from reconcile.adapters.incluster import in_cluster
from reconcile.errors import KubeConflict, KubeError, KubeForbidden, KubeNotFound, KubeTransient

METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = (10, 60)
# The API server stores objects nested up to 1,000 levels, and a LIST nests each item 3 deeper; Python's JSON
# decoder stops at its recursion limit (1,000 by default), so one such CR would make its whole kind unreadable.
# Deciding what to do with a deep CR is the planner's job (reconcile.limits); reading it must just work.
JSON_DEPTH = 4000
sys.setrecursionlimit(max(sys.getrecursionlimit(), JSON_DEPTH))


@dataclass(frozen=True)
class ResourceType:
    """Where a kind's objects live in the API."""

    group: str
    version: str
    plural: str

    def path(self, namespace: str | None, name: str = "", subresource: str = "") -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        scope = f"/namespaces/{urllib.parse.quote(namespace)}" if namespace else ""
        suffix = "".join(f"/{urllib.parse.quote(part)}" for part in (name, subresource) if part)
        return f"{prefix}{scope}/{self.plural}{suffix}"


SECRETS = ResourceType("", "v1", "secrets")
EVENTS = ResourceType("", "v1", "events")


class Kube:
    """A thin, counting client: each method is one kind of request helmcr makes, and nothing more."""

    def __init__(self, api: Any, user_agent: str) -> None:
        self._api = api
        self._api.user_agent = user_agent
        self._counter = threading.Lock()
        self.requests = 0

    @classmethod
    def connect(cls, kubeconfig: str = "", context: str = "", user_agent: str = "helmcr") -> Kube:
        """Credentials from the kubeconfig/context given, else $KUBECONFIG or ~/.kube/config, else in-cluster."""
        configuration = k8s_client.Configuration()
        try:
            if kubeconfig or context or not in_cluster():
                k8s_config.load_kube_config(
                    config_file=kubeconfig or None, context=context or None, client_configuration=configuration
                )
            else:
                k8s_config.load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError, TypeError, ValueError, yaml.YAMLError) as error:
            where = kubeconfig or "the default kubeconfig"
            raise KubeError(f"cannot load cluster credentials from {where}: {error}") from None
        configuration.retries = 1
        return cls(k8s_client.ApiClient(configuration), user_agent)

    @property
    def server(self) -> str:
        return str(self._api.configuration.host)

    def list(
        self,
        resource: ResourceType,
        namespace: str | None,
        page_size: int,
        label_selector: str = "",
        metadata_only: bool = False,
        kind: str = "",
    ) -> list[dict[str, Any]]:
        """All items of a LIST, following continue tokens; any failure raises, so a partial list is never used.

        ``kind``: the kind the items must be; a path that serves another kind (a ``plural`` naming another CRD)
        raises instead of passing its items, or its emptiness, for this kind's."""
        return list(self.stream(resource, namespace, page_size, label_selector, metadata_only, kind))

    def stream(
        self,
        resource: ResourceType,
        namespace: str | None,
        page_size: int,
        label_selector: str = "",
        metadata_only: bool = False,
        kind: str = "",
    ) -> Iterator[dict[str, Any]]:
        """The items of a LIST one page at a time, so a caller that keeps only what it needs of each item never holds
        the whole list (10,000 CRs with their managedFields); a failure raises mid-way, so a caller must not act on
        what it has read before it is done. The next page is asked for as soon as this one's continue token is
        known, so the API server works on it while the caller works on this one."""
        accept = METADATA_LIST if metadata_only else "application/json"
        path = resource.path(namespace)

        def page(token: str) -> dict[str, Any]:
            query = {"limit": str(page_size)}
            if label_selector:
                query["labelSelector"] = label_selector
            if token:
                query["continue"] = token
            found = self.request("GET", path, query=query, accept=accept)
            if kind and found.get("kind") != f"{kind}List":
                raise KubeError(
                    f"GET {path} lists {found.get('kind') or 'something'}, not {kind}List: "
                    f"{resource.plural}.{resource.group} is another kind's resource (check plural in the config)"
                )
            return found

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="helmcr-list") as fetcher:
            upcoming: Future[dict[str, Any]] | None = fetcher.submit(page, "")
            while upcoming is not None:
                current = upcoming.result()
                token = (current.get("metadata") or {}).get("continue") or ""
                upcoming = fetcher.submit(page, token) if token else None
                yield from current.get("items") or []

    def patch(
        self, resource: ResourceType, namespace: str | None, name: str, body: Mapping[str, Any], subresource: str = ""
    ) -> dict[str, Any]:
        return self.request("PATCH", resource.path(namespace, name, subresource), body=body, content_type=MERGE_PATCH)

    def create(self, resource: ResourceType, namespace: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", resource.path(namespace), body=body)

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        return self.request("GET", resource.path(namespace, name))

    def replace(
        self, resource: ResourceType, namespace: str | None, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PUT with the body's resourceVersion: the API server refuses (409) if anyone wrote in between."""
        return self.request("PUT", resource.path(namespace, name), body=body)

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        accept: str = "application/json",
        content_type: str = "application/json",
        impersonate: str = "",
    ) -> dict[str, Any]:
        """One request; a failure raises the :mod:`reconcile.errors` type that says what the caller can do.
        ``impersonate``: made as that user (a ServiceAccount helm acts as), with only its rights."""
        headers = {"Accept": accept}
        if impersonate:
            headers["Impersonate-User"] = impersonate
        if body is not None:
            headers["Content-Type"] = content_type
        with self._counter:
            self.requests += 1
        status, data = self._send(method, path, list((query or {}).items()), headers, body)
        if not 200 <= status < 300:
            raise api_error(status, f"{method} {path}: {_api_reason(status, data)}")
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            raise KubeError(f"{method} {path}: the API server's answer is not JSON") from None
        if not isinstance(parsed, dict):
            raise KubeError(f"{method} {path}: the API server's answer is not a JSON object")
        return parsed

    def _send(
        self, method: str, path: str, query: Sequence[tuple[str, str]], headers: dict[str, str], body: Any
    ) -> tuple[int, bytes]:
        """The transport: the official client's REST layer (credentials, TLS, proxies); unit tests replace it."""
        method, url, headers, payload, _ = self._api.param_serialize(
            method=method,
            resource_path=path,
            query_params=list(query),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(
                method, url, header_params=headers, body=payload, _request_timeout=REQUEST_TIMEOUT
            )
            return int(response.status), bytes(response.read() or b"")
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise KubeTransient(f"cannot reach the API server at {self.server}: {_network_reason(error)}") from None


def api_error(status: int, message: str) -> KubeError:
    """The error type of an HTTP status: what the caller can do about it, not the number."""
    if status == 404:
        return KubeNotFound(message)
    if status == 409:
        return KubeConflict(message)
    if status in (401, 403):
        return KubeForbidden(message)
    if status == 429 or status >= 500:
        return KubeTransient(message)
    return KubeError(message)


def _network_reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None) or error
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused (is the API server running, and is the kubeconfig's server address right?)"
    if "timed out" in text.lower():
        return "the connection timed out"
    if "certificate" in text.lower() or "SSL" in text:
        return f"TLS failed: {text}"
    return text


def _api_reason(status: int, data: bytes) -> str:
    """The API server's own message (a Status object), which names the object and the rule that refused it."""
    try:
        message = str(json.loads(data).get("message") or "")
    except (ValueError, AttributeError):
        message = data.decode(errors="replace")[:300]
    prefix = {401: "unauthorized", 403: "forbidden", 404: "not found", 409: "conflict", 422: "invalid"}.get(
        status, f"HTTP {status}"
    )
    return f"{prefix}: {message}" if message else prefix
