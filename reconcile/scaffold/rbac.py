"""Least-privilege RBAC for one kind: exactly the requests a helmcr run makes, and the kinds its chart renders.

What a run asks (measured: the generated RBAC minus any one of these verbs fails an install, upgrade or
uninstall as the ServiceAccount, with helm 3 or helm 4; every other verb was left out):

- the CRs: list (helmcr lists them, paged, and reads nothing else); ``<plural>/status``: patch;
- events: create (one Event per change; a denied one is only logged, so tests check it separately);
- secrets: get, list, create, update, delete (helm's release records; helmcr's metadata-only LIST of them);
- leases: get, create, update (the run lease, in the namespace helmcr runs in);
- each kind the chart renders: get, create, patch, delete (helm 3 patches with a three-way merge, helm 4 with
  server-side apply; ``update`` is only for ``--force``); hooks also list and watch (helm waits for them). A
  config with ``wait: true`` needs list and watch on every kind, and helm reads Pods and ReplicaSets to judge
  readiness: add those by hand.

The rules of a Role or ClusterRole the chart renders are granted too: RBAC lets one create a role only with
permissions one holds (the alternative, ``escalate``, would let helmcr grant itself anything).

Scope: namespaced rules go into a Role in each namespace whose CRs helmcr manages (releases live next to their
CR); cluster-wide rules (cluster-scoped kinds, a cluster-scoped CRD, or every namespace) into a ClusterRole.

Impersonation (the default): helm acts as a ServiceAccount of each release's namespace (``serviceAccountName`` in
the config), and the chart's kinds and helm's release records are that account's, not helmcr's. helmcr keeps what
it asks itself (the CRs, Events, the lease; release records to read, and to mark a dead operation's failed) plus
``impersonate`` on that one account, so a CR can reach at most what the account may, in its own namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconcile.scaffold.documents import manifest
from reconcile.scaffold.kinds import CustomKind, Resource, resource_of
from reconcile.scaffold.render import RenderedObject

CHART_OBJECT_VERBS = ("get", "create", "patch", "delete")
HOOK_VERBS = ("list", "watch")
RELEASE_RECORD_VERBS = ("get", "list", "create", "update", "delete")
RECORD_READER_VERBS = ("get", "list", "update")  # helmcr's own, when helm acts as another account
IMPERSONATE_VERBS = ("impersonate",)
RESOURCE_VERBS = ("list",)
STATUS_VERBS = ("patch",)
EVENT_VERBS = ("create",)
LEASE_VERBS = ("get", "create", "update")
VERB_ORDER = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "bind", "escalate")
RBAC_API = "rbac.authorization.k8s.io/v1"
ROLE_KINDS = {"Role": True, "ClusterRole": False}
# Where Kubernetes (and so helmcr) records Events about cluster-scoped objects.
CLUSTER_EVENTS_NAMESPACE = "default"


@dataclass(frozen=True)
class Scope:
    """Who runs where and manages what."""

    namespace: str  # where helmcr runs: its ServiceAccount, CronJob and Lease; releases of a cluster-scoped kind
    watched: tuple[str, ...] | None  # namespaces whose CRs helmcr manages; None means every namespace
    cluster_kind: bool = False

    @property
    def resource_scopes(self) -> tuple[str | None, ...]:
        return (None,) if self.cluster_kind or self.watched is None else self.watched

    @property
    def release_scopes(self) -> tuple[str | None, ...]:
        """Releases live next to their CR; a cluster-scoped CR's go to helmcr's namespace (targetNamespace)."""
        if self.cluster_kind:
            return (self.namespace,)
        return (None,) if self.watched is None else self.watched

    @property
    def event_scopes(self) -> tuple[str | None, ...]:
        return (CLUSTER_EVENTS_NAMESPACE,) if self.cluster_kind else self.release_scopes


@dataclass(frozen=True)
class Grant:
    namespace: str | None  # None: cluster-wide
    group: str
    resource: str
    verbs: tuple[str, ...]
    why: str
    resource_names: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = f"namespace {self.namespace}" if self.namespace else "cluster-wide"
        names = f" named {', '.join(self.resource_names)}" if self.resource_names else ""
        plural, slash, subresource = self.resource.partition("/")
        resource = (f"{plural}.{self.group}" if self.group else plural) + slash + subresource
        return f"{where}: {resource}{names} [{', '.join(self.verbs)}]: {self.why}"


def resource_grants(scope: Scope, kind: CustomKind) -> list[Grant]:
    """Reading the CRs of the kind and writing their status."""
    grants = []
    for namespace in scope.resource_scopes:
        grants += [
            Grant(namespace, kind.group, kind.plural, RESOURCE_VERBS, f"list the {kind.kind} resources"),
            Grant(namespace, kind.group, f"{kind.plural}/status", STATUS_VERBS, f"write each {kind.kind}'s status"),
        ]
    return grants


def run_grants(scope: Scope, records: tuple[str, ...] = RELEASE_RECORD_VERBS) -> list[Grant]:
    """What every run needs whatever the kind and chart: Events, helm's release records, the run lease."""
    grants = [Grant(ns, "", "events", EVENT_VERBS, "an Event per change, on its CR") for ns in scope.event_scopes]
    grants += [Grant(ns, "", "secrets", records, "helm's release records") for ns in scope.release_scopes]
    grants.append(Grant(scope.namespace, "coordination.k8s.io", "leases", LEASE_VERBS, "the run lease"))
    return grants


def impersonation_grants(scope: Scope, account: str) -> list[Grant]:
    """helmcr may act as that one account of each release namespace, and as no other."""
    why = f"helm acts as {account} of the release's namespace (serviceAccountName)"
    return [Grant(ns, "", "serviceaccounts", IMPERSONATE_VERBS, why, (account,)) for ns in scope.release_scopes]


def release_record_grants(scope: Scope) -> list[Grant]:
    return [Grant(ns, "", "secrets", RELEASE_RECORD_VERBS, "helm's release records") for ns in scope.release_scopes]


def chart_grants(scope: Scope, objects: Sequence[RenderedObject]) -> tuple[list[Grant], list[str]]:
    """Grants for the objects helm creates from the chart, and warnings about what could not be granted exactly."""
    grants: list[Grant] = []
    warnings: list[str] = []
    for resource, same_kind in sorted(_by_resource(objects).items()):
        sources = ", ".join(sorted({o.template for o in same_kind if o.source}))
        kind = same_kind[0].kind
        why = f"the chart renders {kind}" + (f" ({sources})" if sources else "")
        if not resource.known:
            warnings.append(
                f"{kind} ({same_kind[0].api_version}) is not a built-in kind: granted as namespaced "
                f"resource {resource}; check with `kubectl api-resources`"
            )
        scopes = scope.release_scopes if resource.namespaced else (None,)
        verbs = _ordered([*CHART_OBJECT_VERBS, *(HOOK_VERBS if any(o.hook for o in same_kind) else ())])
        grants += [Grant(ns, resource.group, resource.resource, verbs, why) for ns in scopes]
    for rendered in objects:
        if rendered.namespace:
            warnings.append(
                f"{rendered.kind} {rendered.name} is rendered into namespace {rendered.namespace!r}, not the "
                "release's: nothing was granted there"
            )
        if rendered.kind in ROLE_KINDS:
            scopes = scope.release_scopes if ROLE_KINDS[rendered.kind] else (None,)
            role_grants, role_warnings = _held_for(rendered, scopes)
            grants += role_grants
            warnings += role_warnings
        elif rendered.role_ref.get("kind") == "ClusterRole" and not _renders_cluster_role(objects, rendered):
            warnings.append(
                f"{rendered.kind} {rendered.name} binds ClusterRole {rendered.role_ref.get('name')}, which the chart "
                "does not render: helmcr can only create the binding if it holds that role's permissions"
            )
    return grants, warnings


def merged(grants: Iterable[Grant]) -> list[Grant]:
    """One grant per (scope, resource, names), with the verbs and reasons of all, in first-seen order."""
    by_key: dict[tuple[str | None, str, str, tuple[str, ...]], Grant] = {}
    for grant in grants:
        key = (grant.namespace, grant.group, grant.resource, grant.resource_names)
        known = by_key.get(key)
        if known is None:
            by_key[key] = grant
            continue
        whys = known.why if grant.why in known.why.split("; ") else f"{known.why}; {grant.why}"
        by_key[key] = Grant(*key[:3], verbs=_ordered({*known.verbs, *grant.verbs}), why=whys, resource_names=key[3])
    return list(by_key.values())


def rbac_documents(name: str, namespace: str, grants: Sequence[Grant], labels: Mapping[str, str]) -> list[Any]:
    """helmcr's ServiceAccount, then a Role and RoleBinding per namespace, then a ClusterRole and binding if needed.

    A namespace of "" is left for a kustomization to set (the generic base), on the objects and the subject.
    """
    subject = _account(name, namespace)
    account = manifest("v1", "ServiceAccount", name, namespace, labels)
    return [account, *_bound_roles(name, f"{name}-{namespace}", grants, labels, lambda _: [subject], namespace)]


def release_account_documents(name: str, home: str, grants: Sequence[Grant], labels: Mapping[str, str]) -> list[Any]:
    """The account helm acts as: one ServiceAccount per release namespace, each bound to the Role there, and all of
    them to the ClusterRole of cluster-wide rules. Releases in every namespace have no list of namespaces: only the
    ClusterRole is made, for a RoleBinding in each namespace to grant to that namespace's account."""
    namespaces = sorted({g.namespace for g in grants if g.namespace is not None})
    # No Pod gets its token unless it asks: the account is for helm, through helmcr.
    accounts = [
        {**manifest("v1", "ServiceAccount", name, ns, labels), "automountServiceAccountToken": False}
        for ns in namespaces
    ]

    def subjects(namespace: str | None) -> list[dict[str, str]]:
        return [_account(name, namespace)] if namespace else [_account(name, ns) for ns in namespaces]

    return [*accounts, *_bound_roles(name, f"{name}-{home}", grants, labels, subjects, home)]


def _bound_roles(
    name: str,
    cluster_name: str,
    grants: Sequence[Grant],
    labels: Mapping[str, str],
    subjects: Callable[[str | None], list[dict[str, str]]],
    first: str,
) -> list[Any]:
    """A Role and RoleBinding per namespace (``first`` first), then a ClusterRole (named uniquely cluster-wide: one
    per namespace helmcr runs in) and its binding when there is anyone to bind it to."""
    documents: list[Any] = []
    scopes = sorted({g.namespace for g in grants if g.namespace is not None}, key=lambda ns: (ns != first, ns))
    for scope in scopes:
        rules = _rules(g for g in grants if g.namespace == scope)
        documents.append({**manifest(RBAC_API, "Role", name, scope, labels), "rules": rules})
        documents.append(_binding("RoleBinding", name, scope, "Role", name, subjects(scope), labels))
    cluster_rules = _rules(g for g in grants if g.namespace is None)
    if cluster_rules:
        documents.append({**manifest(RBAC_API, "ClusterRole", cluster_name, None, labels), "rules": cluster_rules})
        if bound := subjects(None):
            documents.append(
                _binding("ClusterRoleBinding", cluster_name, None, "ClusterRole", cluster_name, bound, labels)
            )
    return documents


def _account(name: str, namespace: str | None) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, **({"namespace": namespace} if namespace else {})}


def _by_resource(objects: Sequence[RenderedObject]) -> dict[Resource, list[RenderedObject]]:
    found: dict[Resource, list[RenderedObject]] = {}
    for rendered in objects:
        found.setdefault(resource_of(rendered.api_version, rendered.kind), []).append(rendered)
    return found


def _held_for(role: RenderedObject, scopes: Sequence[str | None]) -> tuple[list[Grant], list[str]]:
    grants, warnings = [], []
    why = f"held, so that helm may create the chart's {role.kind} {role.name} (one grants only what one holds)"
    for rule in role.rules:
        if rule.get("nonResourceURLs"):
            warnings.append(f"{role.kind} {role.name} has nonResourceURLs rules: add them to helmcr's ClusterRole")
            continue
        verbs = tuple(str(v) for v in rule.get("verbs") or ())
        if "*" in verbs or "*" in (rule.get("resources") or ()):
            warnings.append(f"{role.kind} {role.name} grants '*': helmcr must hold the same to create it")
        names = tuple(str(n) for n in rule.get("resourceNames") or ())
        for group in rule.get("apiGroups") or ("",):
            for resource in rule.get("resources") or ():
                grants += [Grant(ns, str(group), str(resource), verbs, why, names) for ns in scopes]
    return grants, warnings


def _renders_cluster_role(objects: Sequence[RenderedObject], binding: RenderedObject) -> bool:
    return any(o.kind == "ClusterRole" and o.name == binding.role_ref.get("name") for o in objects)


def _ordered(verbs: Iterable[str]) -> tuple[str, ...]:
    """Kubernetes' usual reading order (get, list, watch, create, …), then any other verb by name."""
    return tuple(sorted(set(verbs), key=lambda verb: (VERB_ORDER.index(verb) if verb in VERB_ORDER else 99, verb)))


def _rules(grants: Iterable[Grant]) -> list[dict[str, Any]]:
    """Grants with the same group, verbs and names share a rule; rules keep the order grants were made in."""
    rules: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for grant in grants:
        rules.setdefault((grant.group, grant.verbs, grant.resource_names), []).append(grant.resource)
    return [
        {
            "apiGroups": [group],
            "resources": resources,
            **({"resourceNames": list(names)} if names else {}),
            "verbs": list(verbs),
        }
        for (group, verbs, names), resources in rules.items()
    ]


def _binding(
    kind: str,
    name: str,
    namespace: str | None,
    role_kind: str,
    role: str,
    subjects: Sequence[Mapping[str, str]],
    labels: Mapping[str, str],
) -> Any:
    return {
        **manifest(RBAC_API, kind, name, namespace, labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": [dict(subject) for subject in subjects],
    }
