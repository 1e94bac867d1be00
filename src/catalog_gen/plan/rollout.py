"""Rollouts that fit the GPUs (docs/interfaces.md "Rollouts", docs/catalog-gen.md "Rollouts").

The environment's `gpu.surge` says how many GPUs the pool keeps spare for rollouts. catalog-gen
supplies that fact to the chart as `updateStrategy.gpuSurge` of every GPU service; the chart
alone derives the strategy from it (`templates/_rollout.tpl`). What catalog-gen owns here is the
environment rule: a leaf's explicit `chartValues.updateStrategy` must not start more GPUs during
a rollout than the environment spares.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from catalog_gen.check.chart_contract import place_chart_value, set_by
from catalog_gen.check.rules import SINGLE_ATTACH_MODES
from catalog_gen.load.document import Document
from catalog_gen.models import CatalogLeaf, Environment
from catalog_gen.plan.across import GPU_SHARE_RESOURCES, pod_gpu_devices
from catalog_gen.problems import Report

GPU_SURGE = ("updateStrategy", "gpuSurge")
MAX_SURGE = ("updateStrategy", "maxSurge")
_PERCENT = re.compile(r"(\d+)%")


def rollout_values(environment: Environment, effective: Mapping[str, Any]) -> dict[str, Any]:
    """The environment's spare GPUs as the chart value `updateStrategy.gpuSurge`, for a service
    that requests GPUs (CPU services keep the chart's default). HAMi's shares (amounts of a GPU,
    not devices) get 0: gpu.surge counts devices, which an amount of memory cannot be turned into,
    so such a service stops an old pod before its replacement starts."""
    gpu = effective.get("gpu") or {}
    if not isinstance(gpu.get("count"), int) or gpu["count"] <= 0:
        return {}
    spare = 0 if gpu.get("resourceName") in GPU_SHARE_RESOURCES else environment.gpu.surge
    return {"updateStrategy": {"gpuSurge": spare}}


def rollout_comment(
    environment: Environment, effective: Mapping[str, Any], leaf: CatalogLeaf
) -> dict[str, str]:
    """Why the values carry this updateStrategy: a comment above the key (emit/values.py)."""
    gpu = effective.get("gpu") or {}
    count, resource = gpu.get("count"), gpu.get("resourceName")
    if not isinstance(count, int) or count <= 0:
        return {}
    name, surge = environment.environment, environment.gpu.surge
    chart_values = leaf.chart_values or {}
    if any(set_by(chart_values, ("updateStrategy", key)) for key in ("type", "maxSurge")):
        why = (
            f"the leaf's chartValues.updateStrategy sets the strategy; catalog-gen checked that "
            f"a rollout starts at most the gpu.surge {surge} GPUs environment {name} spares."
        )
    elif set_by(chart_values, GPU_SURGE):
        why = f"the leaf's chartValues set gpuSurge (environment {name} spares gpu.surge {surge})."
    elif resource in GPU_SHARE_RESOURCES:
        why = (
            f"gpuSurge 0: environment {name}'s gpu.surge counts whole GPUs and this service asks "
            f"for {resource} amounts, so an old pod stops before its replacement starts."
        )
    elif surge >= count and not _rolls_by_surge(effective):
        why = (
            f"gpuSurge {surge}: environment {name} spares gpu.surge {surge} GPUs during a "
            f"rollout, but {_one_pod_at_a_time(effective)}: a new pod starts only once an old "
            "one is gone (templates/_rollout.tpl)."
        )
    elif surge >= count:
        why = (
            f"gpuSurge {surge}: environment {name} spares gpu.surge {surge} GPUs during a "
            f"rollout, enough for a new pod ({count} x {resource}) to start before an old one "
            "stops; the chart derives the strategy from it (templates/_rollout.tpl)."
        )
    else:
        why = (
            f"gpuSurge {surge}: environment {name} spares gpu.surge {surge} GPUs during a "
            f"rollout, fewer than a new pod needs ({count} x {resource}), so the chart stops an "
            f"old pod before its replacement starts ({_without_surge(effective)}; "
            "templates/_rollout.tpl)."
        )
    return {"updateStrategy": f"Rollout: {why}"}


def _one_pod_at_a_time(effective: Mapping[str, Any]) -> str:
    """Why a workload cannot start a pod before one stops (_rolls_by_surge), in words."""
    cache = effective.get("cache") or {}
    if cache.get("mode") == "perReplica":
        return "the StatefulSet (cache.mode perReplica) replaces one pod at a time"
    if (effective.get("updateStrategy") or {}).get("type") == "Recreate":
        return "updateStrategy.type is Recreate"
    modes = ", ".join(cache.get("accessModes") or ())
    return f"the cache claim attaches to one node only ({modes}), so the chart sets Recreate"


def _without_surge(effective: Mapping[str, Any]) -> str:
    """How the chart rolls a GPU service that cannot surge, in words for the comment."""
    if (effective.get("cache") or {}).get("mode") == "perReplica":
        return "the StatefulSet replaces one pod at a time"
    if (
        not (effective.get("autoscaling") or {}).get("enabled")
        and _rollout_replicas(effective) <= 1
    ):
        return "Recreate"
    return "RollingUpdate with maxSurge 0, maxUnavailable 1"


def surge_pods(max_surge: object, replicas: int) -> int:
    """Extra pods a RollingUpdate's maxSurge starts, as Kubernetes reads it: an integer, or a
    percent of the replicas rounded up."""
    if isinstance(max_surge, bool):
        return 0
    if isinstance(max_surge, int):
        return max(max_surge, 0)
    match = _PERCENT.fullmatch(str(max_surge))
    return math.ceil(int(match.group(1)) * replicas / 100) if match else 0


def check_rollout_fits(
    document: Document,
    leaf: CatalogLeaf,
    environment: Environment,
    effective: Mapping[str, Any],
    report: Report,
) -> None:
    """An explicit chartValues.updateStrategy (maxSurge, or gpuSurge) must not need more GPUs
    during a rollout than the environment's gpu.surge; the problem shows the numbers."""
    chart_values = leaf.chart_values or {}
    explicit = set_by(chart_values, MAX_SURGE) or set_by(chart_values, GPU_SURGE)
    if not explicit or not _rolls_by_surge(effective):  # most leaves: catalog-gen's strategy
        return
    devices = pod_gpu_devices(effective)
    if devices == 0:
        return
    surge, name = environment.gpu.surge, environment.environment
    strategy = effective.get("updateStrategy") or {}
    max_surge = strategy.get("maxSurge", "")
    if set_by(chart_values, MAX_SURGE) and max_surge != "":
        pods = surge_pods(max_surge, _rollout_replicas(effective))
        if pods * devices > surge:
            message = (
                f"maxSurge {max_surge} starts {pods} extra pod{'s' if pods != 1 else ''} x "
                f"{devices} GPUs = {pods * devices} GPUs during a rollout; environment {name} "
                f"spares gpu.surge {surge}"
            )
            place_chart_value(document, chart_values, MAX_SURGE, report, message, hint=_HINT)
        return
    own = strategy.get("gpuSurge", 0)
    resource = (effective.get("gpu") or {}).get("resourceName")
    if set_by(chart_values, GPU_SURGE) and resource not in GPU_SHARE_RESOURCES and own > surge:
        message = (
            f"updateStrategy.gpuSurge {own} claims more spare GPUs than environment {name} "
            f"spares (gpu.surge {surge}): a rollout would wait for GPUs that do not exist"
        )
        place_chart_value(document, chart_values, GPU_SURGE, report, message, hint=_HINT)


_HINT = (
    "leave updateStrategy to catalog-gen (it stops an old pod first where the GPUs are short), "
    "or raise the environment's gpu.surge if the pool has those GPUs spare"
)


def _rolls_by_surge(effective: Mapping[str, Any]) -> bool:
    """Whether the workload can start a pod before one stops: never for the StatefulSet
    (perReplica), an explicit Recreate, or a single-attach sharedPVC (the chart's schema allows
    it no RollingUpdate, so its strategy is Recreate)."""
    cache = effective.get("cache") or {}
    if cache.get("mode") == "perReplica":
        return False
    strategy = effective.get("updateStrategy") or {}
    if strategy.get("type") == "Recreate":
        return False
    modes = set(cache.get("accessModes") or ())
    return not (cache.get("mode") == "sharedPVC" and modes <= SINGLE_ATTACH_MODES)


def _rollout_replicas(effective: Mapping[str, Any]) -> int:
    """The replicas a percent maxSurge is read against: the most an autoscaler may run, else
    replicaCount."""
    autoscaling = effective.get("autoscaling") or {}
    if autoscaling.get("enabled"):
        return int(autoscaling.get("maxReplicas") or 1)
    return int(effective.get("replicaCount", 1))
