"""Everything scaffold writes, from the request, the chart and what it renders; pure, so it is tested without helm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reconcile.scaffold.chart import Chart
from reconcile.scaffold.crd import custom_resource_definition
from reconcile.scaffold.cronjob import CONFIG_FILE, Deployment, cron_job, kustomization
from reconcile.scaffold.documents import dump, dump_all
from reconcile.scaffold.hints import template_hints
from reconcile.scaffold.kinds import CustomKind, Resource, removal_note, resource_of
from reconcile.scaffold.rbac import Grant, Scope, chart_grants, merged, rbac_documents, resource_grants, run_grants
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
    defaults: bool = True

    @property
    def scope(self) -> Scope:
        return Scope(self.namespace, self.watched, cluster_kind=not self.kind.namespaced)

    @property
    def deployment(self) -> Deployment:
        return Deployment(f"helmcr-{self.kind.singular}", self.namespace, self.image, self.schedule)


@dataclass(frozen=True)
class Scaffold:
    files: tuple[GeneratedFile, ...]
    origin: str  # the chart, named in every file's header
    grants: tuple[Grant, ...]
    notes: tuple[str, ...]
    warnings: tuple[str, ...]


def scaffold(request: Request, chart: Chart, rendering: Rendering) -> Scaffold:
    hints = template_hints(chart.templates, chart.subcharts)
    spec, schema_warnings = spec_schema(chart.values, chart.schema, hints)
    grants, grant_warnings = _grants(request, rendering.objects)
    not_granted = _optional_kinds(rendering, grants)
    deployment = request.deployment
    sample_namespace = request.watched[0] if request.watched else request.namespace
    rbac_comments = _comments("What each rule is for", [str(g) for g in grants]) + _comments("Note", not_granted)
    files = (
        GeneratedFile(
            CRD_FILE,
            dump(
                custom_resource_definition(
                    request.kind, chart.name, spec if request.defaults else without_defaults(spec)
                )
            ),
        ),
        GeneratedFile(
            RBAC_FILE,
            rbac_comments + dump_all(rbac_documents(deployment.name, request.namespace, grants, deployment.labels)),
        ),
        GeneratedFile(CRONJOB_FILE, dump(cron_job(deployment))),
        GeneratedFile(CONFIG_FILE, dump(config(request.kind, _watch(request, chart), request.namespace))),
        GeneratedFile(KUSTOMIZATION_FILE, dump(kustomization(deployment, [CRD_FILE, RBAC_FILE, CRONJOB_FILE]))),
        GeneratedFile(SAMPLE_FILE, dump(sample_resource(request.kind, sample_namespace, chart.values))),
    )
    removed = sorted({note for o in rendering.objects if (note := removal_note(o.api_version, o.kind))})
    return Scaffold(
        files=files,
        origin=f"chart {chart.name} {chart.version} (helmcr scaffold)",
        grants=tuple(grants),
        notes=(_schema_note(chart, request.defaults), *not_granted, *_hooks(rendering)),
        warnings=(*schema_warnings, *grant_warnings, *removed, *_tpl_warning(chart)),
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


def _grants(request: Request, objects: Sequence[RenderedObject]) -> tuple[list[Grant], list[str]]:
    for_chart, warnings = chart_grants(request.scope, objects)
    return merged([*resource_grants(request.scope, request.kind), *run_grants(request.scope), *for_chart]), warnings


def _watch(request: Request, chart: Chart) -> Watch:
    return Watch(
        chart=request.chart_ref,
        namespaces=request.watched if request.kind.namespaced else None,
        target_namespace="" if request.kind.namespaced else request.namespace,
        chart_version=chart.version if request.chart_ref.startswith("oci://") else "",
        disable_hooks=request.disable_hooks,
    )


def _schema_note(chart: Chart, defaults: bool) -> str:
    source = (
        "values.schema.json, completed from values.yaml where it leaves objects open"
        if chart.schema is not None
        else "inferred from values.yaml and the templates"
    )
    defaults_text = "with values.yaml's defaults" if defaults else "without defaults (--no-defaults)"
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
