"""Benchmark: GPU hours and request waits of always-on, autoscaled and scale-to-zero services.

    .venv/bin/python bench/autoscaling.py [--values VALUES_FILE] [--seed 12] [--hours 24]
                                          [--wait-over 30] [--cold-start-s SECONDS]
                                          [--service-s 8]

Replays deterministic request traces (seeded): `bursty` (quiet, then bursts of traffic), `diurnal`
(a working-day curve) and `dev` (a few short sessions in a mostly idle day), through the scaling
rules the chart configures from the values file (chart defaults < the file):

* the HorizontalPodAutoscaler that KEDA creates: every 15 s (kube-controller-manager's
  `--horizontal-pod-autoscaler-sync-period`) `desired = ceil(current * metric / target)`, no
  change while `|metric / target - 1| <= 0.1` (the tolerance), scale-up at most
  `max(4 pods, 100 %)` per 15 s (the default behavior), scale-down to the highest recommendation
  of the last `autoscaling.stabilizationWindowSeconds`; bounded by `minReplicas`/`maxReplicas`;
* KEDA: the trigger is active while the metric is above 0 (`activationThreshold`); while
  inactive for `scaleToZero.afterIdle` (`cooldownPeriod`) the workload goes to
  `idleReplicaCount` 0, and the first activity brings it back to `minReplicaCount`. The
  add-on's external-push trigger reports activity at once; the Prometheus trigger at the next
  `pollingInterval`;
* the metric: requests in flight or queued (`target.concurrency`, default `ollama.numParallel`),
  or requests per second over the last minute (`target.requestRate`);
* a new pod serves after the cold start, taken from `startup.budgetSeconds` (the most the chart
  allows a pod; `--cold-start-s` for a measured figure); a replica answers `ollama.numParallel`
  requests at once, the rest wait in order.

Sources of the formulas (docs/autoscaling.md, "The benchmark"): Kubernetes, "Horizontal Pod
Autoscaling", algorithm details, tolerance and stabilization window
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details);
KEDA, "Scaling Deployments" (`pollingInterval`, `cooldownPeriod`, `idleReplicaCount`,
activation; https://keda.sh/docs/2.20/reference/scaledobject-spec/ and
https://keda.sh/docs/2.20/concepts/scaling-deployments/#activating-and-scaling-thresholds).

Always-on runs `maxReplicas` replicas all day (a fixed count sized for the peak the autoscaler may
reach). Figures are printed, not asserted; tests/unit/test_bench_autoscaling.py checks the rules.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CHART = REPO_ROOT / "charts" / "ollama-inference-load"
HPA_SYNC_S = 15  # kube-controller-manager --horizontal-pod-autoscaler-sync-period default
HPA_TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance default
SCALE_UP_PODS, SCALE_UP_PERCENT = 4, 100  # default scaleUp policies, per 15 s
RATE_WINDOW_S = 60  # the add-on's default requestRate window


@dataclass(frozen=True)
class Policy:
    """What the ScaledObject and the pods amount to, in seconds."""

    name: str
    min_replicas: int
    max_replicas: int
    target: float
    metric: str = "concurrency"  # or requestRate
    scale_to_zero: bool = False
    after_idle_s: int = 1800
    stabilization_s: int = 300
    activation_delay_s: int = 1  # push (keda-http); pollingInterval for keda-prometheus
    cold_start_s: int = 900
    slots: int = 1  # ollama.numParallel
    fixed: bool = False  # always-on: max_replicas, no scaling


@dataclass(frozen=True)
class Request:
    arrival_s: float
    service_s: float


@dataclass
class Result:
    gpu_seconds: float = 0.0
    waits: list[float] = field(default_factory=list)

    def waited_over(self, seconds: float) -> int:
        return sum(1 for wait in self.waits if wait > seconds)


def hpa_desired(current: int, metric_total: float, target: float) -> int:
    """Kubernetes' HPA for an AverageValue metric: ceil(current * (total / current) / target),
    unchanged within the tolerance. With no replica the ratio is undefined: KEDA activates."""
    if current == 0:
        return 0
    ratio = (metric_total / current) / target
    if abs(ratio - 1.0) <= HPA_TOLERANCE:
        return current
    return math.ceil(current * ratio)


def scale_up_limit(current: int) -> int:
    """Default scaleUp behavior: the larger of +4 pods and +100 % per period."""
    return max(current + SCALE_UP_PODS, current * (100 + SCALE_UP_PERCENT) // 100)


def stabilized(recommendations: deque[tuple[int, int]], now: int, window_s: int) -> int:
    """Scale-down stabilization: the highest recommendation of the last window_s seconds."""
    while recommendations and recommendations[0][0] < now - window_s:
        recommendations.popleft()
    return max(count for _, count in recommendations)


@dataclass
class _State:
    ready_at: list[float] = field(default_factory=list)  # one entry per pod: when it serves
    busy: list[float] = field(default_factory=list)  # end times of requests being answered
    queue: deque[Request] = field(default_factory=deque)
    recent: deque[float] = field(default_factory=deque)  # arrivals of the last RATE_WINDOW_S
    recommendations: deque[tuple[int, int]] = field(default_factory=deque)
    last_active_s: float = -math.inf


def _metric(policy: Policy, state: _State, now: float) -> float:
    while state.recent and state.recent[0] < now - RATE_WINDOW_S:
        state.recent.popleft()
    if policy.metric == "requestRate":
        return len(state.recent) / RATE_WINDOW_S
    return len(state.busy) + len(state.queue)


def _resize(state: _State, replicas: int, now: float, cold_start_s: int) -> None:
    while len(state.ready_at) < replicas:
        state.ready_at.append(now + cold_start_s)
    # Scale-down removes the pods that are not ready yet first, then the newest.
    state.ready_at.sort()
    del state.ready_at[replicas:]


def _autoscale(policy: Policy, state: _State, now: int) -> None:
    metric = _metric(policy, state, now)
    if metric > 0:
        state.last_active_s = now
    current = len(state.ready_at)
    if current == 0:
        # KEDA activates from zero once it sees activity (push: at once; polling: next poll).
        if metric > 0 and now % policy.activation_delay_s == 0:
            _resize(state, policy.min_replicas, now, policy.cold_start_s)
            state.recommendations.clear()
            state.recommendations.append((now, policy.min_replicas))
        return
    if policy.scale_to_zero and now - state.last_active_s >= policy.after_idle_s:
        _resize(state, 0, now, policy.cold_start_s)
        return
    if now % HPA_SYNC_S:
        return
    desired = hpa_desired(current, metric, policy.target)
    desired = min(max(desired, policy.min_replicas), policy.max_replicas)
    state.recommendations.append((now, desired))
    if desired < current:
        desired = min(current, stabilized(state.recommendations, now, policy.stabilization_s))
    desired = min(desired, scale_up_limit(current), policy.max_replicas)
    _resize(state, desired, now, policy.cold_start_s)


def simulate(policy: Policy, trace: Sequence[Request], duration_s: int) -> Result:
    """Replays trace (sorted by arrival) second by second; every request is answered."""
    state = _State()
    result = Result()
    start = (
        policy.max_replicas
        if policy.fixed
        else (0 if policy.scale_to_zero else policy.min_replicas)
    )
    state.ready_at = [0.0] * start  # already running when the day starts
    arrivals = deque(trace)
    now = 0
    while now < duration_s or state.queue or state.busy:
        state.busy = [end for end in state.busy if end > now]
        while arrivals and arrivals[0].arrival_s <= now:
            request = arrivals.popleft()
            state.queue.append(request)
            state.recent.append(request.arrival_s)
        if not policy.fixed:
            _autoscale(policy, state, now)
        capacity = sum(policy.slots for ready in state.ready_at if ready <= now)
        while state.queue and len(state.busy) < capacity:
            request = state.queue.popleft()
            result.waits.append(now - request.arrival_s)
            state.busy.append(now + request.service_s)
        result.gpu_seconds += len(state.ready_at)
        now += 1
    return result


# --- traces ------------------------------------------------------------------------------------


def poisson_trace(
    rng: random.Random, rate_at: Any, duration_s: int, service_s: float
) -> list[Request]:
    """Arrivals of a non-homogeneous Poisson process (thinning); lognormal service times."""
    peak = max(rate_at(t) for t in range(0, duration_s, 60)) or 1e-9
    requests: list[Request] = []
    now = 0.0
    while True:
        now += rng.expovariate(peak)
        if now >= duration_s:
            return requests
        if rng.random() * peak <= rate_at(now):
            service = rng.lognormvariate(math.log(service_s), 0.5)
            requests.append(Request(now, service))


def traces(seed: int, duration_s: int, service_s: float) -> dict[str, list[Request]]:
    rng = random.Random(seed)
    bursts = sorted(rng.uniform(0, duration_s - 600) for _ in range(max(1, duration_s // 10800)))

    def bursty(t: float) -> float:
        return 0.5 if any(b <= t < b + 600 for b in bursts) else 0.002

    def diurnal(t: float) -> float:
        hour = (t / 3600) % 24
        return (
            0.02 + 0.45 * max(0.0, math.sin(math.pi * (hour - 8) / 10)) if 8 <= hour <= 18 else 0.02
        )

    sessions = sorted(rng.uniform(0, duration_s - 1200) for _ in range(max(1, duration_s // 14400)))

    def dev(t: float) -> float:
        return 0.05 if any(s <= t < s + 1200 for s in sessions) else 0.0

    return {
        name: poisson_trace(random.Random(f"{seed}-{name}"), rate, duration_s, service_s)
        for name, rate in (("bursty", bursty), ("diurnal", diurnal), ("dev", dev))
    }


# --- configuration from the chart's values -----------------------------------------------------


def _merge(defaults: Any, override: Any) -> Any:
    if isinstance(defaults, dict) and isinstance(override, dict):
        return {**defaults, **{k: _merge(defaults.get(k), v) for k, v in override.items()}}
    return override


def duration_seconds(text: str) -> int:
    """`1h30m`, `30m`, `90s` (the chart's scaleToZero.afterIdle) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1}
    total, number = 0, ""
    for char in text:
        if char.isdigit():
            number += char
        else:
            total += int(number) * units[char]
            number = ""
    return total


def policies(values: dict[str, Any], cold_start_s: int | None) -> list[Policy]:
    auto = values["autoscaling"]
    target = auto["target"] or {"concurrency": values["ollama"]["numParallel"]}
    metric, value = next(iter(target.items()))
    base = Policy(
        name="autoscaled",
        min_replicas=auto["minReplicas"],
        max_replicas=auto["maxReplicas"],
        target=float(value),
        metric=metric,
        after_idle_s=duration_seconds(auto["scaleToZero"]["afterIdle"]),
        stabilization_s=auto["stabilizationWindowSeconds"],
        activation_delay_s=1 if auto["engine"] == "keda-http" else auto["pollingInterval"],
        cold_start_s=cold_start_s
        if cold_start_s is not None
        else values["startup"]["budgetSeconds"],
        slots=values["ollama"]["numParallel"],
    )
    return [
        Policy(**{**base.__dict__, "name": "always-on", "fixed": True}),
        base,
        Policy(**{**base.__dict__, "name": "scale-to-zero", "scale_to_zero": True}),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--values", type=Path, default=CHART / "ci" / "keda-http-values.yaml")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--wait-over", type=float, default=30, help="seconds")
    parser.add_argument("--cold-start-s", type=int, default=None)
    parser.add_argument("--service-s", type=float, default=8, help="median answer time")
    arguments = parser.parse_args(argv)
    if arguments.hours <= 0 or arguments.service_s <= 0:
        parser.error("--hours and --service-s must be positive")
    try:
        defaults = yaml.safe_load((CHART / "values.yaml").read_text())
        values = _merge(defaults, yaml.safe_load(arguments.values.read_text()) or {})
        configured = policies(values, arguments.cold_start_s)
    except (OSError, yaml.YAMLError, KeyError, ValueError) as error:
        print(f"{arguments.values}: error: {error}", file=sys.stderr)
        return 1
    gpus = max(1, int(values["gpu"]["count"]))
    duration = int(arguments.hours * 3600)
    print(
        f"values {arguments.values.name}: {configured[1].metric} target {configured[1].target:g}, "
        f"{configured[1].min_replicas}-{configured[1].max_replicas} replicas x {gpus} GPU, "
        f"cold start {configured[1].cold_start_s}s, idle {configured[1].after_idle_s}s, "
        f"seed {arguments.seed}, {arguments.hours:g} h"
    )
    waited = f"waited>{arguments.wait_over:g}s"
    print(f"{'trace':8} {'requests':>8} {'policy':14} {'GPU h':>7} {waited:>11} {'max wait s':>10}")
    for name, trace in traces(arguments.seed, duration, arguments.service_s).items():
        for policy in configured:
            result = simulate(policy, trace, duration)
            gpu_hours = result.gpu_seconds * gpus / 3600
            print(
                f"{name:8} {len(trace):>8} {policy.name:14} {gpu_hours:>7.1f} "
                f"{result.waited_over(arguments.wait_over):>11} "
                f"{max(result.waits, default=0):>10.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
