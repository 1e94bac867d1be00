"""The rules across leaves, on the plans of one environment: unique service names, hosts and
resource names, shared claims, the environment's GPU budget. They read what planning derived
(hosts, effective values, resource names), so they run after every leaf is planned."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from catalog_gen.check.rules import SINGLE_ATTACH_MODES
from catalog_gen.load.document import DataPath, Document
from catalog_gen.plan.autoscaling import autoscaled, counted_replicas
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.problems import Report
from catalog_gen.sizing import parse_quantity


def check_across_leaves(
    plans: Sequence[ServicePlan],
    environment_documents: Mapping[str, Document],
    report: Report,
) -> None:
    by_environment: dict[str, list[ServicePlan]] = defaultdict(list)
    for plan in plans:
        by_environment[plan.environment_name].append(plan)
    for name, members in sorted(by_environment.items()):
        ordered = sorted(members, key=lambda plan: plan.leaf_path)
        _unique_service_names(ordered, report)
        _unique_hosts(ordered, report)
        _unique_resource_names(ordered, report)
        _shared_claims(ordered, report)
        document = environment_documents.get(name)
        if document is not None:
            _gpu_budget(ordered, document, report)


def _unique_service_names(plans: Iterable[ServicePlan], report: Report) -> None:
    first: dict[tuple[str, str], ServicePlan] = {}
    for plan in plans:
        key = (plan.namespace, plan.service_name)
        if key in first:
            plan.document.add(
                report,
                ("serviceName",),
                f"service {plan.service_name!r} is already defined in namespace "
                f"{plan.namespace!r} by {first[key].document.display}",
            )
        else:
            first[key] = plan


def _unique_hosts(plans: Iterable[ServicePlan], report: Report) -> None:
    first: dict[str, ServicePlan] = {}
    for plan in plans:
        for host, source in plan.exposure.host_sources:
            owner = first.get(host)
            if owner is not None and owner is not plan:
                plan.document.add(
                    report,
                    source,
                    f"host {host!r} is already used by {owner.document.display} "
                    f"(service {owner.namespace}/{owner.service_name}); hosts are unique per "
                    "environment",
                )
            else:
                first[host] = plan


def _unique_resource_names(plans: Iterable[ServicePlan], report: Report) -> None:
    """Two services of one namespace must not render a resource of the same kind and name (the
    chart's names, catalog_gen/names.py): one error at each of the two leaves."""
    owners: dict[tuple[str, str, str], list[tuple[ServicePlan, DataPath]]] = {}
    clashes: dict[tuple[int, int], list[tuple[ServicePlan, DataPath, ServicePlan, str]]] = {}
    for plan in plans:
        for resource in plan.resource_names:
            key = (plan.namespace, resource.kind, resource.name)
            what = f"{resource.kind} {resource.name}"
            for other, other_at in owners.get(key, []):
                if other is plan or other.service_name == plan.service_name:
                    continue  # one service; or a duplicate serviceName, reported on its own
                pairs = ((plan, resource.source, other), (other, other_at, plan))
                for here, at, there in pairs:
                    clashes.setdefault((id(here), id(there)), []).append((here, at, there, what))
            owners.setdefault(key, []).append((plan, resource.source))
    for found in clashes.values():
        here, source, there, _ = found[0]
        here.document.add(
            report,
            source,
            f"service {there.namespace}/{there.service_name} ({there.document.display}) renders "
            f"resources of the same names: {', '.join(item[3] for item in found)}; the chart's "
            "names must be unique in a namespace: rename one service (or its fullnameOverride)",
        )


def _shared_claims(plans: Iterable[ServicePlan], report: Report) -> None:
    first: dict[tuple[str, str], ServicePlan] = {}
    for plan in plans:
        claim = plan.cache.get("existingClaim") or ""
        modes = set(plan.cache.get("accessModes") or ())
        if not claim or plan.cache.get("mode") != "sharedPVC" or not modes <= SINGLE_ATTACH_MODES:
            continue
        key = (plan.namespace, claim)
        if key in first:
            plan.document.add(
                report,
                ("cache", "existingClaim"),
                f"claim {claim!r} (access modes {json.dumps(sorted(modes))}) is already used by "
                f"{first[key].document.display}; a single-attach volume cannot serve two services",
            )
        else:
            first[key] = plan


# HAMi's shares of a GPU (memory in MiB, memory percent, core percent): amounts, not devices. A
# pod that asks for them holds the vGPUs it requests as nvidia.com/gpu (gpu.extraResources).
GPU_SHARE_RESOURCES = frozenset(
    {"nvidia.com/gpumem", "nvidia.com/gpumem-percentage", "nvidia.com/gpucores"}
)
GPU_SHARE_DEVICE_RESOURCE = "nvidia.com/gpu"


def gpu_devices_per_pod(gpu: Mapping[str, object]) -> int:
    """GPUs one pod holds, from the effective chart values' gpu: gpu.count of a device resource
    (nvidia.com/gpu, amd.com/gpu, a MIG profile), never an amount of memory or cores; for those,
    the nvidia.com/gpu of gpu.extraResources (0 when absent)."""
    count = gpu.get("count")
    if not isinstance(count, int) or count <= 0:
        return 0
    if gpu.get("resourceName") not in GPU_SHARE_RESOURCES:
        return count
    extra = gpu.get("extraResources")
    devices = extra.get(GPU_SHARE_DEVICE_RESOURCE) if isinstance(extra, Mapping) else None
    if not isinstance(devices, str | int | float) or isinstance(devices, bool):
        return 0
    try:
        return math.ceil(parse_quantity(devices))
    except ValueError:
        return 0


def steady_gpus(plan: ServicePlan) -> int:
    """GPU devices a service may hold when no rollout runs: per pod devices x replicas
    (autoscaling.maxReplicas when KEDA owns the count)."""
    return gpu_devices_per_pod(plan.effective.get("gpu") or {}) * counted_replicas(plan.effective)


def rollout_reserve(plans: Sequence[ServicePlan]) -> int:
    """GPUs the environment keeps spare for rollouts (gpu.surge), once for the whole pool: each
    service's rollout may use all of it, and rollouts that meet wait in turn (docs/catalog-gen.md
    "Rollouts"). Nothing where no service holds a GPU."""
    if not any(steady_gpus(plan) for plan in plans):
        return 0
    return plans[0].environment.gpu.surge


def _gpu_budget(plans: Sequence[ServicePlan], document: Document, report: Report) -> None:
    environment = plans[0].environment
    budget = environment.gpu.budget
    if budget is None:
        return
    usage = [(steady_gpus(plan), plan) for plan in plans]
    steady = sum(count for count, _ in usage)
    surge = rollout_reserve(plans)
    if steady + surge <= budget:
        return
    largest = sorted(
        ((count, plan) for count, plan in usage if count),
        key=lambda item: (-item[0], item[1].leaf_path),
    )[:5]
    listing = ", ".join(
        f"{plan.namespace}/{plan.service_name} {count}"
        + (" (maxReplicas)" if autoscaled(plan.effective) else "")
        for count, plan in largest
    )
    spare = f" plus gpu.surge {surge} spare for rollouts = {steady + surge}," if surge else ","
    counted = "gpu.count x replicas"
    if any(autoscaled(plan.effective) for plan in plans):
        counted += ", autoscaled services x autoscaling.maxReplicas"
    document.add(
        report,
        ("gpu", "budget"),
        f"services of environment {environment.environment!r} request {steady} GPUs "
        f"({counted}){spare} over the budget of {budget}; largest: {listing}",
    )
