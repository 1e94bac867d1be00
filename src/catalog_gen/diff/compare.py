"""Which services a change touches, and what it does to their manifests, resource by resource.

A service is rendered when its helm inputs differ between the sides (render.py ServiceInputs:
values file, release, namespace, and the chart's files): a leaf, its environment, the lock
entries it uses or the chart changed. It is reported when its manifests differ: added, removed,
or changed (some resource added, removed or changed); re-rendered services whose manifests are
identical are only counted. The Argo CD files render writes (deploy/argocd/: where each
environment deploys, from which revision, with which sync policy) are compared too, file by
file: an environment's `argocd` edit changes no manifest but every service's deployment.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from catalog_gen.diff.render import Footprint, Resource, ServiceInputs, chart_digest, render_all
from catalog_gen.emit.argocd import DEPLOY_DIR
from catalog_gen.sizing import quantity_bytes

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
CONTEXT_LINES = 3


@dataclass(frozen=True)
class Committed:
    """The base's services whose values are the commit's generated values file (what Argo CD
    deploys) rather than the plan's, and those of them whose file differs from the plan's (a
    value an older catalog-gen wrote differently, or a file edited by hand)."""

    folder: str  # the generated tree, relative to the top of the work tree
    services: frozenset[str]
    unlike_plan: frozenset[str]


@dataclass(frozen=True)
class Side:
    label: str  # how problems and headers name the side: REF, or "work tree"
    chart: Path
    services: Mapping[str, ServiceInputs]  # by <env>/<namespace>/<service>
    # The Argo CD files render writes (emit/argocd.py deploy_files), by path under DEPLOY_DIR.
    deploy: Mapping[PurePosixPath, bytes] = field(default_factory=dict)
    # Where the base's values were read from the commit's generated tree (None: all planned).
    committed: Committed | None = None

    def totals(self) -> dict[str, Footprint]:
        """Per environment: GPUs and memory of all its services (render.py Footprint)."""
        totals: dict[str, Footprint] = {}
        for inputs in self.services.values():
            total = totals.get(inputs.environment, Footprint(0, 0, 0))
            one = inputs.footprint
            totals[inputs.environment] = Footprint(
                total.gpus + one.gpus,
                total.memory_requests + one.memory_requests,
                total.memory_limits + one.memory_limits,
            )
        return totals


@dataclass(frozen=True)
class ResourceChange:
    title: str  # Kind/namespace/name
    status: str
    lines: tuple[str, ...]  # a unified diff, headers included


@dataclass(frozen=True)
class ServiceDiff:
    key: str
    environment: str
    status: str
    changes: tuple[ResourceChange, ...]
    # Changes the API server refuses on an object that exists, claims deleted with their
    # models (refused_in_place), and objects left running where Argo CD does not prune, one
    # line each.
    refused: tuple[str, ...] = ()

    def counts(self) -> str:
        found = [
            f"{sum(change.status == status for change in self.changes)} {status}"
            for status in (CHANGED, ADDED, REMOVED)
        ]
        return ", ".join(item for item in found if not item.startswith("0 "))


@dataclass(frozen=True)
class Comparison:
    base: Side
    head: Side
    services: tuple[ServiceDiff, ...]  # the services whose manifests differ, by key
    rendered: tuple[str, ...]  # every service whose inputs differ (the ones helm rendered)
    deploy: tuple[ResourceChange, ...] = ()  # the Argo CD files that differ, by path


def changed_services(base: Side, head: Side) -> list[str]:
    """Keys of the services whose helm inputs differ (or that exist on one side only)."""
    base_chart, head_chart = chart_digest(base.chart), chart_digest(head.chart)
    keys = sorted(set(base.services) | set(head.services))
    return [
        key
        for key in keys
        if key not in base.services
        or key not in head.services
        or base.services[key].digest(base_chart) != head.services[key].digest(head_chart)
    ]


def compare(helm: Path, base: Side, head: Side) -> Comparison:
    keys = changed_services(base, head)
    before = render_all(
        helm, base.chart, [base.services[k] for k in keys if k in base.services], base.label
    )
    after = render_all(
        helm, head.chart, [head.services[k] for k in keys if k in head.services], head.label
    )
    services: list[ServiceDiff] = []
    for key in keys:
        changes = tuple(diff_resources(before.get(key, []), after.get(key, [])))
        if not changes:
            continue
        status = ADDED if key not in before else REMOVED if key not in after else CHANGED
        inputs = head.services.get(key) or base.services[key]
        refused = tuple(refused_in_place(before.get(key, []), after.get(key, [])))
        # A service removed (or moved: removed under its old key) goes with its Application,
        # which keeps its objects where the environment does not prune (the ApplicationSet's
        # preserveResourcesOnDeletion): whether the base's environment pruned says.
        pruned_by = base.services[key] if key not in head.services else inputs
        if not pruned_by.prunes:
            refused += tuple(_left_running(changes, before.get(key, []), pruned_by.environment))
        services.append(ServiceDiff(key, inputs.environment, status, changes, refused))
    deploy = tuple(diff_files(base.deploy, head.deploy))
    return Comparison(base, head, tuple(services), tuple(keys), deploy)


def diff_files(
    before: Mapping[PurePosixPath, bytes], after: Mapping[PurePosixPath, bytes]
) -> Iterable[ResourceChange]:
    """The Argo CD files that differ, by path under DEPLOY_DIR, each with its unified diff."""
    for path in sorted(set(before) | set(after)):
        was, now = before.get(path), after.get(path)
        if was == now:
            continue
        yield _change(
            f"{DEPLOY_DIR}/{path}",
            was.decode("utf-8") if was is not None else None,
            now.decode("utf-8") if now is not None else None,
        )


def diff_resources(
    before: Sequence[Resource], after: Sequence[Resource]
) -> Iterable[ResourceChange]:
    """The resources that differ, by kind, namespace and name, each with its unified diff."""
    old = {(r.kind, r.namespace, r.name): r for r in before}
    new = {(r.kind, r.namespace, r.name): r for r in after}
    for identity in sorted(set(old) | set(new)):
        was, now = old.get(identity), new.get(identity)
        if was is not None and now is not None and was.text == now.text:
            continue
        yield _change(
            "/".join(identity),
            was.text if was is not None else None,
            now.text if now is not None else None,
        )


def _change(title: str, was: str | None, now: str | None) -> ResourceChange:
    """was -> now (None: absent on that side) as a ResourceChange with its unified diff."""
    status = ADDED if was is None else REMOVED if now is None else CHANGED
    lines = difflib.unified_diff(
        was.splitlines() if was is not None else [],
        now.splitlines() if now is not None else [],
        fromfile=f"a/{title}" if was is not None else "/dev/null",
        tofile=f"b/{title}" if now is not None else "/dev/null",
        n=CONTEXT_LINES,
        lineterm="",
    )
    return ResourceChange(title, status, tuple(lines))


def refused_in_place(before: Sequence[Resource], after: Sequence[Resource]) -> Iterable[str]:
    """What the API server refuses to change on the objects that exist (its update validation):
    a StatefulSet's volumeClaimTemplates, a Deployment's or StatefulSet's selector, and a
    PersistentVolumeClaim's class, access modes or a smaller size (a larger one only where its
    StorageClass allows expansion); and a claim the change deletes, with its models."""
    old = {(r.kind, r.namespace, r.name): r for r in before}
    new = {(r.kind, r.namespace, r.name) for r in after}
    for resource in after:
        was = old.get((resource.kind, resource.namespace, resource.name))
        if was is None or was.text == resource.text:
            continue
        workload = resource.kind in ("Deployment", "StatefulSet")
        if workload and _spec(was).get("selector") != _spec(resource).get("selector"):
            yield (
                f"{resource.title}: its selector changes (nameOverride, fullnameOverride), "
                "which Kubernetes refuses on an existing workload while the Service and "
                "NetworkPolicy change: the Service selects no pod and the policy none. Delete "
                "the workload first, or keep the name"
            )
        if resource.kind == "StatefulSet":
            if _claim_templates(was) != _claim_templates(resource):
                yield (
                    f"{resource.title}: its volumeClaimTemplates change, which Kubernetes "
                    "refuses on an existing StatefulSet (the sync fails): delete it with "
                    "--cascade=orphan, resize or delete its claims, then sync"
                )
        elif resource.kind == "PersistentVolumeClaim":
            yield from _claim_refusals(resource.title, _spec(was), _spec(resource))
    for key, was in old.items():
        if was.kind == "PersistentVolumeClaim" and key not in new:
            yield (
                f"{was.title}: the change deletes this claim and the models on it (helm; Argo CD "
                "where it prunes), unless the claim in the cluster already carries "
                "cache.keepOnUninstall: true (set it and sync before this change)"
            )


def _left_running(
    changes: Sequence[ResourceChange], before: Sequence[Resource], environment: str
) -> Iterable[str]:
    """The objects a change stops rendering where Argo CD does not prune: they stay. Not one that
    says Prune=false itself (the scripts ConfigMap, kept on purpose in every environment for the
    pods of the previous revision): that it stays is the chart's design, not a surprise."""
    kept = {resource.title for resource in before if _never_pruned(resource)}
    for change in changes:
        if change.status == REMOVED and change.title not in kept:
            yield (
                f"{change.title}: no longer rendered, but Argo CD does not prune in "
                f"{environment} (argocd.syncPolicy.prune: false): it stays in the cluster, "
                "running, until deleted by hand"
            )


def _never_pruned(resource: Resource) -> bool:
    """The object carries Argo CD's resource-level `Prune=false` sync option."""
    document = yaml.safe_load(resource.text)
    metadata = document.get("metadata") if isinstance(document, dict) else None
    annotations = (metadata.get("annotations") if isinstance(metadata, dict) else None) or {}
    options = str(annotations.get("argocd.argoproj.io/sync-options", ""))
    return "Prune=false" in (option.strip() for option in options.split(","))


def _claim_templates(resource: Resource) -> list[Any]:
    """A StatefulSet's volumeClaimTemplates with each size in bytes: the API server compares
    quantities by value (10Gi and 10240Mi are one size)."""
    templates = _spec(resource).get("volumeClaimTemplates")
    found: list[Any] = []
    for template in templates if isinstance(templates, list) else []:
        if not isinstance(template, dict):
            found.append(template)
            continue
        spec = dict(template.get("spec") or {})
        spec["resources"] = quantity_bytes(_storage(spec))
        found.append({**template, "spec": spec})
    return found


def _claim_refusals(title: str, was: dict[str, Any], now: dict[str, Any]) -> Iterable[str]:
    if "storageClassName" not in was and "storageClassName" in now:
        # The cluster wrote its default class into the claim that exists: that name passes.
        yield (
            f"{title}: its storageClassName is set now, which Kubernetes refuses on an existing "
            "claim unless it names the default class the cluster gave it"
        )
    elif was.get("storageClassName") != now.get("storageClassName"):
        yield (
            f"{title}: its storageClassName changes, which Kubernetes refuses on an existing claim"
        )
    if was.get("accessModes") != now.get("accessModes"):
        yield f"{title}: its accessModes changes, which Kubernetes refuses on an existing claim"
    sizes = [quantity_bytes(_storage(spec)) for spec in (was, now)]
    if sizes[1] < sizes[0]:
        yield f"{title}: its size shrinks, which Kubernetes refuses (a claim never shrinks)"
    elif sizes[1] > sizes[0]:
        yield (
            f"{title}: its size grows, which Kubernetes allows only where the StorageClass sets "
            "allowVolumeExpansion: true"
        )


def _spec(resource: Resource) -> dict[str, Any]:
    document = yaml.safe_load(resource.text)
    spec = document.get("spec") if isinstance(document, dict) else None
    return spec if isinstance(spec, dict) else {}


def _storage(spec: Mapping[str, Any]) -> str:
    requests = (spec.get("resources") or {}).get("requests") or {}
    return str(requests.get("storage", "0"))
