"""The rendered objects of a release, checked against its kind's :class:`ObjectRules` before helm applies any.

helm applies whatever a chart renders, with helm's credentials. A chart that takes ``metadata.namespace`` (or a
kind, or a cluster-scoped object) from values hands that choice to whoever writes the CR: a tenant could place a
ConfigMap in another tenant's namespace, or a ClusterRoleBinding in the cluster. Impersonation
(``serviceAccountName``) is the hard bound, enforced by the API server; this check is the one that holds without
it, and it names the object and the rule instead of a 403 halfway through an install.

The check reads the manifest of a server-side dry run of the very operation (hooks included, which a helm 3
post-renderer would never see), so what is checked is what helm would apply, unless the chart's own templates
branch on a ``lookup`` whose answer changes in between.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from reconcile.apikinds import BUILT_IN, split_api_version
from reconcile.errors import KubeError, KubeNotFound, ObjectsRefused
from reconcile.manifests import as_mapping, describe_unreadable, documents
from reconcile.settings import ObjectRules

SHOWN_REFUSALS = 3
# What discovery is asked about: a path built from anything else could reach any URL with helmcr's credentials.
API_VERSION = re.compile(
    r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?v[0-9]+((alpha|beta)[0-9]+)?"
)
KIND = re.compile(r"[A-Za-z][A-Za-z0-9]{0,62}")
TOKEN_SECRET = "kubernetes.io/service-account-token"

Namespaced = Callable[[str, str], bool]
"""(apiVersion, kind) → whether objects of the kind live in a namespace."""


class Discovery(Protocol):
    def request(self, method: str, path: str) -> dict[str, Any]: ...


def refusals(
    manifest: str,
    namespace: str,
    rules: ObjectRules,
    namespaced: Namespaced,
    account: str = "",
    declared: Mapping[tuple[str, str], bool] | None = None,
) -> list[str]:
    """Every object the rules do not allow, each as "<Kind> <name>: <why>"; none for an allowed manifest.

    ``account`` is the ServiceAccount helm acts as: no Pod the release makes may run as it (whoever writes the
    Pod's image would hold the account's rights, helm's release records among them). ``declared`` are the kinds
    the chart's own crds/ declare (read from the chart, never from the render): they place a kind the API server
    does not serve yet, and nothing else."""

    def scope_of(api_version: str, kind: str) -> bool:
        try:
            return namespaced(api_version, kind)
        except ObjectsRefused:
            if declared and (api_version, kind) in declared:
                return declared[(api_version, kind)]
            raise

    found = []
    for document in documents(manifest):
        if document.error is not None:
            where = f"the document from {document.source}" if document.source else "a document"
            found.append(
                f"{where} cannot be read as helm reads it: {describe_unreadable(document.error, document.line)}"
            )
        found += [
            problem for obj in document.objects if (problem := _refusal(obj, namespace, rules, scope_of, account))
        ]
    return found


def _refusal(obj: Any, namespace: str, rules: ObjectRules, namespaced: Namespaced, account: str) -> str:
    if not isinstance(obj, Mapping):
        return f"an object that is a {type(obj).__name__}, not a mapping"
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    metadata = as_mapping(obj.get("metadata"))
    name = f"{kind} {metadata.get('name') or '(unnamed)'}"
    if not isinstance(api_version, str) or not isinstance(kind, str) or not API_VERSION.fullmatch(api_version):
        return f"{name}: apiVersion {api_version!r} and kind {kind!r} do not name a kind"
    if not KIND.fullmatch(kind):
        return f"{name}: kind {kind!r} is not a kind's name"
    group, _ = split_api_version(api_version)
    if not rules.allows_kind(group, kind):
        return f"{name}: kind {kind}{'.' + group if group else ''} is not in the kind's allowedKinds"
    if not namespaced(api_version, kind):
        return "" if rules.cluster_scoped else f"{name}: cluster-scoped objects are not allowed (allowClusterScoped)"
    where = metadata.get("namespace") or namespace
    if where != namespace and not rules.other_namespaces:
        return f"{name}: namespace {where!r} is not the release's ({namespace!r}; allowOtherNamespaces)"
    if (group, kind) == ("", "Secret") and obj.get("type") == TOKEN_SECRET:
        return f"{name}: a {TOKEN_SECRET} Secret would mint a token for a ServiceAccount"
    if account and account in _pod_accounts(obj):
        return f"{name}: a Pod may not run as {account}, the account helm acts as"
    return ""


def _pod_accounts(obj: Mapping[str, Any]) -> set[str]:
    """The accounts of every Pod spec in an object (a Pod's, a Deployment's template, a CronJob's job template …):
    any mapping holding ``containers`` is one."""
    accounts: set[str] = set()
    pending: list[Any] = [obj]
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            if "containers" in value:
                accounts |= {str(value.get(f)) for f in ("serviceAccountName", "serviceAccount") if value.get(f)}
            pending += list(value.values())
        elif isinstance(value, list):
            pending += value
    return accounts


def refusal_message(problems: list[str]) -> str:
    """The error of a refused release: the first few refusals, and how many more."""
    more = len(problems) - SHOWN_REFUSALS
    shown = "; ".join(problems[:SHOWN_REFUSALS]) + (f"; and {more} more" if more > 0 else "")
    return f"refused before helm applied anything: {shown}"


def namespaced_offline(api_version: str, kind: str) -> bool:
    """Without a cluster there is no discovery: a kind the table does not know counts as namespaced here, and the
    real run asks the API server."""
    return BUILT_IN.get((split_api_version(api_version)[0], kind), True)


class KindScopes:
    """Whether a kind is namespaced: the built-in table, else the API server's discovery, asked once per
    group-version and run (so a run that changes nothing asks nothing). Shared by the run's worker threads."""

    def __init__(self, discovery: Discovery) -> None:
        self._discovery = discovery
        self._lock = threading.Lock()
        self._served: dict[str, dict[str, tuple[bool, str]]] = {}

    def namespaced(self, api_version: str, kind: str) -> bool:
        known = BUILT_IN.get((split_api_version(api_version)[0], kind))
        if known is not None:
            return known
        served = self._kinds(api_version)
        if kind not in served:
            raise ObjectsRefused(f"refused before helm applied anything: {kind} is not served as {api_version}")
        return served[kind][0]

    def served(self, api_version: str, kind: str) -> tuple[bool, str] | None:
        """Whether a kind is namespaced and its resource name (its plural), as discovery says; None if not served.
        Reading live objects needs the plural, which only discovery knows for sure (``Endpoints``)."""
        return self._kinds(api_version).get(kind)

    def _kinds(self, api_version: str) -> dict[str, tuple[bool, str]]:
        with self._lock:
            if api_version not in self._served:
                self._served[api_version] = self._discover(api_version)
            return self._served[api_version]

    def _discover(self, api_version: str) -> dict[str, tuple[bool, str]]:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        try:
            listing = self._discovery.request("GET", path)
        except KubeNotFound:
            return {}  # not served (yet): each kind of it is refused by name
        except KubeError as error:
            raise ObjectsRefused(f"cannot tell whether {api_version} kinds are namespaced: {error}") from None
        resources = listing.get("resources")
        return {
            str(r.get("kind")): (bool(r.get("namespaced")), str(r.get("name")))
            for r in (resources if isinstance(resources, list) else [])
            if isinstance(r, Mapping) and "/" not in str(r.get("name", ""))
        }
