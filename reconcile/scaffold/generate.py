"""Everything scaffold writes, from the request, the chart and what it renders; pure, so it is tested without helm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconcile.scaffold.chart import Chart
from reconcile.scaffold.crd import custom_resource_definition
from reconcile.scaffold.cronjob import (
    CONFIG_FILE,
    DIGEST_KEY_COMMAND,
    DIGEST_KEY_SECRET,
    Deployment,
    cron_job,
    kustomization,
)
from reconcile.scaffold.documents import dump, dump_all
from reconcile.scaffold.hints import template_hints
from reconcile.scaffold.kinds import CustomKind, Resource, removal_note, resource_of
from reconcile.scaffold.rbac import (
    RECORD_READER_VERBS,
    Grant,
    Scope,
    chart_grants,
    impersonation_grants,
    merged,
    rbac_documents,
    release_account_documents,
    release_record_grants,
    resource_grants,
    run_grants,
)
from reconcile.scaffold.render import RenderedObject, Rendering
from reconcile.scaffold.sample import Watch, config, sample_resource
from reconcile.scaffold.schema import spec_schema, without_defaults
from reconcile.scaffold.writer import GeneratedFile

CRD_FILE, RBAC_FILE, CRONJOB_FILE = "crd.yaml", "rbac.yaml", "cronjob.yaml"
KUSTOMIZATION_FILE, SAMPLE_FILE = "kustomization.yaml", "sample.yaml"
BASE_ORIGIN = "the helmcr sources (python -m devenv.cronjob_base)"
PLACEHOLDER_CONFIG = """\
# The helmcr config the CronJob runs. Replace it in your overlay, e.g.
#   configMapGenerator:
#     - name: helmcr
#       behavior: replace
#       files: [helmcr.yaml]
# and add the Role rules for your kinds and charts (or generate all of it with `helmcr scaffold`).
# As it is, a run stops at once with exit code 3: there is nothing to watch.
watches: []
"""


@dataclass(frozen=True)
class Request:
    kind: CustomKind
    namespace: str  # where helmcr runs
    watched: tuple[str, ...] | None  # namespaces of the CRs (None: all); ignored for a cluster-scoped kind
    chart_ref: str  # the chart as helmcr sees it when it runs (a path in the image, or oci://…)
    image: str
    schedule: str
    disable_hooks: bool = False
    defaults: bool = False  # values.yaml's defaults in the CRD would freeze them in each CR (without_defaults)
    impersonate: bool = True  # helm acts as a ServiceAccount of each release's namespace (docs/tenancy.md)
    shards: int = 1  # the CronJob's Job is Indexed, one pod per shard (helmcr sync --shard INDEX/COUNT)

    @property
    def release_account(self) -> str:
        """The account helm acts as; empty when helm runs with helmcr's own credentials (--no-impersonate)."""
        return f"{self.deployment.name}-release" if self.impersonate else ""

    @property
    def scope(self) -> Scope:
        return Scope(self.namespace, self.watched, cluster_kind=not self.kind.namespaced)

    @property
    def deployment(self) -> Deployment:
        return Deployment(f"helmcr-{self.kind.singular}", self.namespace, self.image, self.schedule, self.shards)


@dataclass(frozen=True)
class Scaffold:
    files: tuple[GeneratedFile, ...]
    origin: str  # the chart, named in every file's header
    grants: tuple[Grant, ...]  # helmcr's
    release_grants: tuple[Grant, ...]  # the account helm acts as (none without impersonation)
    notes: tuple[str, ...]
    warnings: tuple[str, ...]


def scaffold(request: Request, chart: Chart, rendering: Rendering) -> Scaffold:
    hints = template_hints(chart.templates, chart.subcharts)
    spec, schema_warnings = spec_schema(chart.values, chart.schema, hints)
    grants, release_grants, grant_warnings = _grants(request, rendering.objects)
    not_granted = [*_optional_kinds(rendering, [*grants, *release_grants]), *_unrendered_kinds(chart, rendering)]
    deployment = request.deployment
    sample_namespace = request.watched[0] if request.watched else request.namespace
    account = request.release_account
    rbac_comments = (
        _comments(f"What each rule of {deployment.name} (helmcr) is for", [str(g) for g in grants])
        + _comments(f"What each rule of {account} (helm acts as it) is for", [str(g) for g in release_grants])
        + _comments("Note", [*not_granted, *_account_notes(request)])
    )
    rbac = rbac_documents(deployment.name, request.namespace, grants, deployment.labels)
    if account:
        rbac += release_account_documents(account, request.namespace, release_grants, deployment.labels)
    files = (
        GeneratedFile(
            CRD_FILE,
            dump(
                custom_resource_definition(
                    request.kind, chart.name, spec if request.defaults else without_defaults(spec)
                )
            ),
        ),
        GeneratedFile(RBAC_FILE, rbac_comments + dump_all(rbac)),
        GeneratedFile(CRONJOB_FILE, dump(cron_job(deployment))),
        GeneratedFile(
            CONFIG_FILE, dump(config(request.kind, _watch(request, chart, rendering.objects), request.namespace))
        ),
        GeneratedFile(KUSTOMIZATION_FILE, dump(kustomization(deployment, [CRD_FILE, RBAC_FILE, CRONJOB_FILE]))),
        GeneratedFile(SAMPLE_FILE, dump(sample_resource(request.kind, sample_namespace, chart.values))),
    )
    removed = sorted({note for o in rendering.objects if (note := removal_note(o.api_version, o.kind))})
    return Scaffold(
        files=files,
        origin=f"chart {chart.name} {chart.version} (helmcr scaffold)",
        grants=tuple(grants),
        release_grants=tuple(release_grants),
        notes=(
            _schema_note(chart, request.defaults),
            *not_granted,
            *_hooks(rendering),
            *_account_notes(request),
            f"the CronJob keys digests with Secret {DIGEST_KEY_SECRET}, and starts once it exists: "
            f"{DIGEST_KEY_COMMAND} -n {request.namespace}",
        ),
        warnings=(
            *schema_warnings,
            *grant_warnings,
            *removed,
            *_tpl_warning(chart),
            *_shared_namespace_warning(request),
        ),
    )


def base_files() -> tuple[GeneratedFile, ...]:
    """The generic ``cronjob/`` base: a CronJob, its ServiceAccount with the rules every run needs (Events, helm's
    release records, the lease) in the namespace an overlay sets, and a config to replace; no kind, no chart."""
    base = Deployment(name="helmcr", namespace=None)
    run_rules = run_grants(Scope(namespace="", watched=("",)))
    return (
        GeneratedFile(KUSTOMIZATION_FILE, dump(kustomization(base, [RBAC_FILE, CRONJOB_FILE]))),
        GeneratedFile(RBAC_FILE, dump_all(rbac_documents(base.name, "", run_rules, base.labels))),
        GeneratedFile(CRONJOB_FILE, dump(cron_job(base))),
        GeneratedFile(CONFIG_FILE, PLACEHOLDER_CONFIG),
    )


def _grants(request: Request, objects: Sequence[RenderedObject]) -> tuple[list[Grant], list[Grant], list[str]]:
    """helmcr's grants and those of the account helm acts as; without impersonation helmcr holds them all."""
    scope = request.scope
    for_chart, warnings = chart_grants(scope, objects)
    own = [*resource_grants(scope, request.kind), *_live_read_grants(scope, objects)]
    if not request.impersonate:
        return merged([*own, *run_grants(scope), *for_chart]), [], warnings
    helmcr = [*own, *run_grants(scope, RECORD_READER_VERBS), *impersonation_grants(scope, request.release_account)]
    return merged(helmcr), merged([*release_record_grants(scope), *for_chart]), warnings


def _live_read_grants(scope: Scope, objects: Sequence[RenderedObject]) -> list[Grant]:
    """Drift and health read each kind the chart keeps (its hooks are deleted after they run) with one LIST per
    namespace and run, as helmcr itself: reading gives a CR author nothing (docs/drift.md)."""
    kept = {resource_of(o.api_version, o.kind): o.kind for o in objects if not o.hook}
    return [
        Grant(namespace, resource.group, resource.resource, ("list",), f"drift and health read its {kind} objects")
        for resource, kind in sorted(kept.items())
        for namespace in (scope.release_scopes if resource.namespaced else (None,))
    ]


def _watch(request: Request, chart: Chart, objects: Sequence[RenderedObject]) -> Watch:
    kinds = sorted({(o.kind, resource_of(o.api_version, o.kind)) for o in objects}, key=lambda k: (k[0], str(k[1])))
    return Watch(
        chart=request.chart_ref,
        namespaces=request.watched if request.kind.namespaced else None,
        target_namespace="" if request.kind.namespaced else request.namespace,
        chart_version=chart.version if request.chart_ref.startswith("oci://") else "",
        disable_hooks=request.disable_hooks,
        service_account=request.release_account,
        allowed_kinds=tuple(dict.fromkeys(f"{kind}.{r.group}" if r.group else kind for kind, r in kinds)),
        allow_cluster_scoped=any(not resource.namespaced for _, resource in kinds),
    )


def _shared_namespace_warning(request: Request) -> list[str]:
    """The account helm acts as reads every Secret of its namespace (helm's records live there): in helmcr's own
    namespace that includes helmcr's digest key, reachable by the chart's own templates."""
    if not request.impersonate or request.namespace not in request.scope.release_scopes:
        return []
    return [
        f"helmcr runs in {request.namespace}, where it also manages releases: the account helm acts as there may "
        "read every Secret of it, helmcr's digest key included; run helmcr in a namespace of its own "
        "(--namespace ops --watch-namespace <team namespace>)"
    ]


def _account_notes(request: Request) -> list[str]:
    account = request.release_account
    if not account or request.scope.release_scopes != (None,):
        return []
    return [
        f"every namespace: helm acts as ServiceAccount {account} of each release's namespace; create it in each "
        f"namespace whose CRs helmcr manages, with a RoleBinding to ClusterRole {account}-{request.namespace} "
        "(kubectl create serviceaccount, kubectl create rolebinding --clusterrole --serviceaccount)"
    ]


def _schema_note(chart: Chart, defaults: bool) -> str:
    source = (
        "values.schema.json, completed from values.yaml where it leaves objects open"
        if chart.schema is not None
        else "inferred from values.yaml and the templates"
    )
    defaults_text = (
        "with values.yaml's defaults (--defaults: each CR keeps them when the chart changes its own)"
        if defaults
        else "without defaults: the chart's own defaults apply at every render, so a chart bump reaches existing CRs"
    )
    return f"spec schema: {source}, {defaults_text}"


def _optional_kinds(rendering: Rendering, grants: Sequence[Grant]) -> list[str]:
    """Kinds values beyond the defaults would render: said, not granted (the chart's defaults decide the RBAC)."""
    granted = {(g.group, g.resource) for g in grants}
    extra: dict[Resource, set[str]] = {}
    for rendered in rendering.optional:
        resource = resource_of(rendered.api_version, rendered.kind)
        if (resource.group, resource.resource) not in granted:
            extra.setdefault(resource, set()).add(f"{rendered.kind} ({rendered.template})")
    notes = []
    if extra:
        kinds = "; ".join(", ".join(sorted(found)) for _, found in sorted(extra.items()))
        notes.append(
            f"not granted: values beyond the defaults also render {kinds} (with {', '.join(rendering.switches)} "
            "set to true); to grant what your resources will enable, re-run with --values FILE"
        )
    if rendering.failed_switches:
        notes.append(f"could not render with {', '.join(rendering.failed_switches)} set to true (needs more values)")
    return notes


def _unrendered_kinds(chart: Chart, rendering: Rendering) -> list[str]:
    """Kinds a template names that neither render produced: behind a condition only other values meet (a PDB
    rendered when replicaCount > 1, say), or chosen by a value. Said, not granted, like the switches' kinds."""
    rendered = {o.kind for o in (*rendering.objects, *rendering.optional)}
    unseen = sorted(
        {f"{kind} ({name})" for name, kind in chart.template_kinds if "{{" not in kind}
        - {f"{kind} ({name})" for name, kind in chart.template_kinds if kind in rendered}
    )
    chosen = sorted({name for name, kind in chart.template_kinds if "{{" in kind})
    notes = []
    if unseen:
        notes.append(
            f"not granted: the templates also name {', '.join(unseen)}, which the defaults (and any switches turned "
            "on) did not render; if your resources' values will, re-run with --values FILE holding such values"
        )
    if chosen:
        notes.append(
            f"not granted beyond what rendered: the kind of {', '.join(chosen)} comes from values; re-run with "
            "--values FILE for each kind your resources will choose"
        )
    return notes


def _tpl_warning(chart: Chart) -> list[str]:
    """Values such a chart passes to tpl run as templates with helm's credentials: a CR's "{{" is refused."""
    if not chart.tpl:
        return []
    return [
        f"chart {chart.name} passes values to tpl: a CR value holding {{{{ … }}}} is refused (it would run as a "
        "template, lookup included, with helm's credentials); set allowTemplateValues: true only for trusted "
        "CR authors (docs/tenancy.md)"
    ]


def _hooks(rendering: Rendering) -> list[str]:
    hooks = sorted({f"{o.kind} {o.name}" for o in rendering.objects if o.hook})
    if not hooks:
        return []
    return [f"the chart has hooks ({', '.join(hooks)}), granted; --disable-hooks leaves them out of RBAC and helm"]


def _comments(title: str, lines: Sequence[str]) -> str:
    return f"# {title}:\n" + "".join(f"#   {line}\n" for line in lines) if lines else ""
