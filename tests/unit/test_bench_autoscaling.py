"""The scaling rules of bench/autoscaling.py's simulator (deterministic; the benchmark's figures
are printed, never asserted)."""

from __future__ import annotations

from collections import deque

import pytest

from bench.autoscaling import (
    Policy,
    Request,
    duration_seconds,
    hpa_desired,
    scale_up_limit,
    simulate,
    stabilized,
    traces,
)


@pytest.mark.parametrize(
    ("current", "total", "target", "desired"),
    [
        (2, 4.0, 2.0, 2),  # at the target
        (2, 4.3, 2.0, 2),  # ratio 1.075: within the tolerance
        (2, 3.6, 2.0, 2),  # ratio 0.9: within the tolerance
        (2, 4.6, 2.0, 3),  # ratio 1.15: ceil(2 * 1.15)
        (4, 2.0, 2.0, 1),  # ratio 0.25: ceil(4 * 0.25)
        (3, 0.0, 2.0, 0),  # no load: the HPA's wish, bounded by minReplicas by the caller
        (0, 5.0, 2.0, 0),  # no replica: activation is KEDA's part
    ],
)
def test_hpa_algorithm_with_tolerance(
    current: int, total: float, target: float, desired: int
) -> None:
    assert hpa_desired(current, total, target) == desired


def test_scale_up_limit_is_four_pods_or_double() -> None:
    assert [scale_up_limit(n) for n in (1, 4, 10)] == [5, 8, 20]


def test_scale_down_takes_the_highest_recommendation_of_the_window() -> None:
    recommendations = deque([(0, 5), (100, 3), (200, 2)])
    assert stabilized(recommendations, 250, 300) == 5
    assert stabilized(recommendations, 350, 300) == 3  # (0, 5) left the window
    assert list(recommendations) == [(100, 3), (200, 2)]


def test_duration_seconds() -> None:
    assert [duration_seconds(d) for d in ("30m", "1h30m", "90s", "2h")] == [1800, 5400, 90, 7200]


POLICY = Policy(name="t", min_replicas=1, max_replicas=3, target=1.0, cold_start_s=100, slots=1)


def test_scale_to_zero_first_request_waits_for_activation_and_cold_start() -> None:
    policy = Policy(**{**POLICY.__dict__, "scale_to_zero": True, "activation_delay_s": 15})
    result = simulate(policy, [Request(arrival_s=7, service_s=5)], duration_s=60)
    # Seen at the next poll (15 s), served after the 100 s cold start: 115 - 7.
    assert result.waits == [108]


def test_idle_service_goes_to_zero_after_the_idle_time_only_with_scale_to_zero() -> None:
    trace = [Request(arrival_s=0, service_s=10)]
    kept = simulate(POLICY, trace, duration_s=3600)
    zero = simulate(
        Policy(**{**POLICY.__dict__, "scale_to_zero": True, "after_idle_s": 600}), trace, 3600
    )
    assert kept.gpu_seconds == 3600  # min_replicas 1 all hour
    # Starts at zero; active 0-10 s; gone 600 s after the last activity.
    assert 600 < zero.gpu_seconds < 720


def test_burst_scales_up_within_max_replicas_and_back_after_the_window() -> None:
    burst = [Request(arrival_s=0, service_s=600) for _ in range(6)]
    result = simulate(POLICY, burst, duration_s=2400)
    # 6 requests, target 1: the HPA wants 6, max 3 allows 3; two new pods serve after the cold
    # start (100 s); the last three wait for the first answers (the first pod's at 600 s).
    assert sorted(result.waits) == [0, 100, 100, 600, 700, 700]
    fixed = simulate(Policy(**{**POLICY.__dict__, "fixed": True}), burst, duration_s=2400)
    assert fixed.gpu_seconds == 3 * 2400
    assert result.gpu_seconds < fixed.gpu_seconds


def test_traces_are_deterministic_per_seed() -> None:
    first = traces(3, 86400, 8.0)
    assert first == traces(3, 86400, 8.0)
    assert first != traces(4, 86400, 8.0)
    assert set(first) == {"bursty", "diurnal", "dev"}
    assert all(
        a.arrival_s <= b.arrival_s for a, b in zip(first["dev"], first["dev"][1:], strict=False)
    )
