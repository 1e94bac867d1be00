"""HTTPRoute timeouts: the chart accepts `httpRoute.timeouts` exactly when the Gateway API's
HTTPRoute CRD accepts the route it renders. The CRD checks a backendRequest timeout against the
request timeout with a CEL rule, which the CRD schema validation of the tests does not evaluate:
`crd_accepts` below is that rule in Python, and a test holds it to the CRD's text."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import render
from tests.chart.test_autoscaling import keda_http, one
from tests.support.kube import HelmError, select, validate_manifests

# The rule of HTTPRouteRule.timeouts in the Gateway API CRD (v1.6.1), whitespace aside.
CRD_RULE = (
    "!(has(self.request) && has(self.backendRequest) && duration(self.request) != "
    "duration('0s') && duration(self.backendRequest) > duration(self.request))"
)
_PART = re.compile(r"([0-9]+)(ms|h|m|s)")
_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}


def milliseconds(duration: str) -> int:
    assert re.fullmatch(r"([0-9]{1,5}(h|m|s|ms)){1,4}", duration), duration
    return sum(int(number) * _UNIT_MS[unit] for number, unit in _PART.findall(duration))


def crd_accepts(timeouts: dict[str, str]) -> bool:
    """CRD_RULE on a rendered `timeouts` (a key is absent when the chart leaves it out)."""
    if "request" not in timeouts or "backendRequest" not in timeouts:
        return True
    request = milliseconds(timeouts["request"])
    return not (request != 0 and milliseconds(timeouts["backendRequest"]) > request)


def _crd_rules(shared_dir: Path) -> list[str]:
    text = (shared_dir / "crds" / "gateway-api" / "httproutes.yaml").read_text()
    rules: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for rule in node.get("x-kubernetes-validations", []):
                if "backendRequest" in rule.get("rule", ""):
                    rules.append(" ".join(rule["rule"].split()))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for document in yaml.safe_load_all(text):
        walk(document)
    return rules


def test_the_oracle_is_the_crds_rule(shared_dir: Path) -> None:
    rules = _crd_rules(shared_dir)
    assert rules, "the HTTPRoute CRD no longer checks backendRequest against request"
    assert set(rules) == {CRD_RULE}


def _route(timeouts: dict[str, str], enabled: bool = True) -> dict[str, Any]:
    return {
        "httpRoute": {
            "enabled": enabled,
            "parentRefs": [{"name": "gw"}],
            "timeouts": timeouts,
        }
    }


@pytest.mark.parametrize(
    ("request_timeout", "backend_request"),
    [
        ("60s", "2m"),
        ("60s", "60s"),
        ("1h", "59m60s"),  # equal, spelt differently
        ("1h", "59m60s1ms"),
        ("500ms", "1s"),
        ("1s", "999ms"),
        ("0s", "99999h"),  # zero: no request timeout, any backendRequest
        ("0h0m0s0ms", "1ms"),
        ("", "10m"),  # request left to the gateway: backendRequest alone
        ("10m", ""),
        ("1h2m3s4ms", "1h2m3s5ms"),
    ],
)
def test_the_chart_accepts_exactly_what_the_crd_accepts(
    helm: Path, tmp_path: Path, shared_dir: Path, request_timeout: str, backend_request: str
) -> None:
    values = _route({"request": request_timeout, "backendRequest": backend_request})
    given = {key: value for key, value in values["httpRoute"]["timeouts"].items() if value}
    if crd_accepts(given):
        documents = render(helm, values, tmp_path)
        route = one(documents, "HTTPRoute")
        assert [rule.get("timeouts", {}) for rule in route["spec"]["rules"]] == [given] * 2
        assert validate_manifests([route], ("1.34",), shared_dir / "crds") == []
        return
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    assert "templates/validate.yaml" in failure.value.stderr
    assert (
        f"httpRoute.timeouts.backendRequest is {backend_request} but "
        f"httpRoute.timeouts.request is {request_timeout}: the Gateway API refuses"
    ) in failure.value.stderr
    assert f"at most {request_timeout}" in failure.value.stderr


def test_timeouts_of_a_route_that_is_not_rendered_are_not_checked(
    helm: Path, tmp_path: Path
) -> None:
    values = _route({"request": "60s", "backendRequest": "2m"}, enabled=False)
    assert select(render(helm, values, tmp_path), "HTTPRoute") == []


@pytest.mark.parametrize(
    ("timeouts", "rendered"),
    [
        # No request timeout stays none; backendRequest grows by the cold start (1200 s).
        ({"request": "0s", "backendRequest": "10m"}, {"request": "0s", "backendRequest": "30m"}),
        ({"request": "0ms", "backendRequest": ""}, {"request": "0ms"}),
        ({"request": "10m", "backendRequest": "10m"}, {"request": "30m", "backendRequest": "30m"}),
    ],
)
def test_a_zero_request_timeout_stays_zero_behind_scale_to_zero(
    helm: Path,
    tmp_path: Path,
    shared_dir: Path,
    timeouts: dict[str, str],
    rendered: dict[str, str],
) -> None:
    values = keda_http(scaleToZero={"enabled": True})
    values["httpRoute"]["timeouts"] = timeouts
    documents = render(helm, values, tmp_path)
    for rule in one(documents, "HTTPRoute")["spec"]["rules"]:
        assert rule["timeouts"] == rendered
        assert crd_accepts(rule["timeouts"])
    assert validate_manifests(documents, ("1.34",), shared_dir / "crds") == []
