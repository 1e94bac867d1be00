"""Only inference reaches Ollama through the rendered HTTPRoute and Ingress, by the Gateway API's
and Ingress's own matching rules (tests/chart/route_matching.py), on helm 3 and helm 4, for
every ci/ scenario.

The request tables below are written from Ollama's server/routes.go at v0.32.0, independently of
the chart's api/ollama-endpoints.yaml, so a wrong entry in that file fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import CHART, SCENARIOS, render, render_scenario, scenario_file
from tests.chart.route_matching import (
    Request,
    UnknownMatchError,
    expand,
    http_route_matches,
    ingress_matches,
    normalize,
    ollama_serves,
    prefix_matches,
)
from tests.support.kube import Document, select

DIGEST = "sha256:" + "a" * 64
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")

ADMINISTRATION = (
    ("POST", "/api/pull"),
    ("POST", "/api/push"),
    ("DELETE", "/api/delete"),
    ("POST", "/api/create"),
    ("POST", "/api/copy"),
    ("POST", f"/api/blobs/{DIGEST}"),
    ("HEAD", f"/api/blobs/{DIGEST}"),
    ("POST", "/api/me"),
    ("POST", "/api/signout"),
    ("DELETE", "/api/user/keys/c3NoLWVkMjU1MTk"),
    ("POST", "/api/experimental/web_search"),
    ("POST", "/api/experimental/web_fetch"),
)
INFERENCE = (
    ("POST", "/api/generate"),
    ("POST", "/api/chat"),
    ("POST", "/api/embed"),
    ("POST", "/api/embeddings"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/embeddings"),
    ("POST", "/v1/responses"),
    ("POST", "/v1/images/generations"),
    ("POST", "/v1/images/edits"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/v1/messages"),
)
READ_ONLY = (
    ("GET", "/v1/models"),
    ("GET", "/v1/models/qwen2.5:0.5b"),
    ("GET", "/api/tags"),
    ("HEAD", "/api/tags"),
    ("POST", "/api/show"),
    ("GET", "/api/ps"),
    ("GET", "/api/version"),
    ("HEAD", "/api/version"),
)
# Registered by Ollama but of no use to clients, and paths it does not serve at all.
NEVER_ROUTED = (
    ("GET", "/"),
    ("HEAD", "/"),
    ("GET", "/api/status"),
    ("GET", "/api/experimental/model-recommendations"),
    ("GET", "/debug/pprof/"),
    ("POST", "/v1/models"),
    ("DELETE", "/v1/models/qwen2.5:0.5b"),
)


def _administration_opted_in(scenario: str) -> bool:
    values = yaml.safe_load(scenario_file(scenario).read_text()) or {}
    return bool((values.get("exposure") or {}).get("administration"))


def _hosts(names: list[str]) -> list[str]:
    return [name.replace("*", "any", 1) for name in names]


def _route_hosts(route: Document) -> list[str]:
    return _hosts(list(route["spec"].get("hostnames") or []))


def _ingress_hosts(ingress: Document) -> list[str]:
    return _hosts([rule["host"] for rule in ingress["spec"]["rules"] if rule.get("host")])


def _every_method(requests: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return [(method, path) for _, path in requests for method in METHODS]


# --- the evaluators themselves --------------------------------------------------------------------


def test_path_prefix_is_element_wise_and_ignores_a_trailing_slash() -> None:
    assert prefix_matches("/api/chat", "/api/chat")
    assert prefix_matches("/api/chat", "/api/chat/")
    assert prefix_matches("/api/chat", "/api/chat/x")
    assert prefix_matches("/api/chat/", "/api/chat")
    assert not prefix_matches("/api/chat", "/api/chatx")
    assert not prefix_matches("/api/chat", "/api")
    assert not prefix_matches("/api/chat", "/API/chat")
    assert prefix_matches("/", "/anything")


def test_http_route_match_needs_path_method_headers_and_host() -> None:
    route = {
        "spec": {
            "hostnames": ["*.example.com"],
            "rules": [
                {
                    "matches": [
                        {"path": {"type": "Exact", "value": "/a"}, "method": "POST"},
                        {
                            "path": {"type": "PathPrefix", "value": "/b"},
                            "headers": [{"name": "X-Key", "value": "1"}],
                        },
                        {"path": {"type": "RegularExpression", "value": "/c/[0-9]+"}},
                    ]
                }
            ],
        }
    }
    host = "x.example.com"
    assert http_route_matches(route, Request("POST", "/a", host))
    assert not http_route_matches(route, Request("GET", "/a", host))
    assert not http_route_matches(route, Request("POST", "/a/", host))
    assert not http_route_matches(route, Request("POST", "/a", "example.com"))
    assert not http_route_matches(route, Request("POST", "/a", "x.example.org"))
    assert http_route_matches(route, Request("GET", "/b/x", host, {"x-key": "1"}))
    assert not http_route_matches(route, Request("GET", "/b/x", host, {"x-key": "2"}))
    assert not http_route_matches(route, Request("GET", "/b/x", host))
    assert http_route_matches(route, Request("GET", "/c/12", host))
    assert not http_route_matches(route, Request("GET", "/c/12x", host))
    # No matches at all is a PathPrefix "/": everything.
    assert http_route_matches({"spec": {"rules": [{}]}}, Request("DELETE", "/api/delete"))


def test_a_gateway_may_match_the_raw_or_the_normalized_path() -> None:
    assert normalize("//api//chat") == "/api/chat"
    assert normalize("/api/chat/../pull") == "/api/pull"
    assert normalize("/api/%70ull") == "/api/pull"
    assert normalize("/api/./pull/") == "/api/pull/"
    assert normalize("/a%2Fb") == "/a%2Fb"
    route = {"spec": {"rules": [{"matches": [{"path": {"type": "Exact", "value": "/api/pull"}}]}]}}
    assert http_route_matches(route, Request("POST", "/api/chat/../pull"))
    assert not http_route_matches(route, Request("POST", "/api/chat/..%2Fpull"))


def test_ollama_redirects_unclean_and_trailing_slash_paths_instead_of_serving_them() -> None:
    assert ollama_serves("/api/chat") == "/api/chat"
    assert ollama_serves("/api/%70ull") == "/api/pull"
    assert ollama_serves("/v1/models/../../api/pull") is None
    assert ollama_serves("/v1/models/%2e%2e/%2e%2e/api/pull") is None
    assert ollama_serves("/v1/models/..%2F..%2Fapi%2Fpull") is None
    assert ollama_serves("//api/pull") is None
    assert ollama_serves("/api/pull/") is None


def test_ingress_prefix_exact_and_unknown_path_types() -> None:
    ingress = {
        "spec": {
            "rules": [
                {
                    "host": "a.example.com",
                    "http": {
                        "paths": [
                            {"path": "/v1/models", "pathType": "Prefix"},
                            {"path": "/api/chat", "pathType": "Exact"},
                        ]
                    },
                }
            ]
        }
    }
    host = "a.example.com"
    assert ingress_matches(ingress, Request("DELETE", "/v1/models/x", host))
    assert not ingress_matches(ingress, Request("GET", "/v1/modelsx", host))
    assert ingress_matches(ingress, Request("PUT", "/api/chat", host))
    assert not ingress_matches(ingress, Request("POST", "/api/chat/", host))
    assert not ingress_matches(ingress, Request("POST", "/api/chat", "b.example.com"))
    unknown = {"spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "X"}]}}]}}
    with pytest.raises(UnknownMatchError):
        ingress_matches(unknown, Request("GET", "/"))
    with pytest.raises(UnknownMatchError):
        http_route_matches(
            {"spec": {"rules": [{"matches": [{"path": {"type": "Glob", "value": "/"}}]}]}},
            Request("GET", "/"),
        )


# --- the rendered chart ---------------------------------------------------------------------------


def _assert_only_redirected(request: Request, hits: list[str]) -> None:
    """Hits allowed for a request that must not reach its endpoint: only an unclean spelling
    under a routed prefix (`/v1/models/../../api/pull`, `/v1/models/..%2F..%2Fapi%2Fpull`).
    Whether the gateway forwards the path it matched or the raw one, Ollama answers with a
    redirect to the clean path, which the client must request through the gateway again, where
    it matches nothing."""
    for hit in hits:
        matched = hit[hit.index("(") + 1 : -1]
        assert ollama_serves(matched) is None, (request, hit)
        assert ollama_serves(request.path) is None, (request, hit)


def _check_route(route: Document, administration: bool) -> None:
    hosts = _route_hosts(route)
    for request in expand([*INFERENCE, *READ_ONLY], hosts, with_variants=False):
        assert http_route_matches(route, request), f"{request} has no route"
    for request in expand(NEVER_ROUTED, hosts, with_variants=True):
        _assert_only_redirected(request, http_route_matches(route, request))
    if administration:
        for request in expand(ADMINISTRATION, hosts, with_variants=False):
            assert http_route_matches(route, request), f"{request} has no route"
        return
    # The administration methods match nothing, however the path is spelled.
    for request in expand(ADMINISTRATION, hosts, with_variants=True):
        hits = http_route_matches(route, request)
        assert not hits, f"administration request {request} is routed: {hits}"
    # Other methods on those paths (which Ollama answers 405) at most reach a redirect: GET on
    # an unclean spelling under the GET-only /v1/models prefix.
    for request in expand(_every_method(ADMINISTRATION), hosts, with_variants=True):
        _assert_only_redirected(request, http_route_matches(route, request))


def _check_ingress(ingress: Document, administration: bool) -> None:
    hosts = _ingress_hosts(ingress)
    for request in expand([*INFERENCE, *READ_ONLY], hosts, with_variants=False):
        assert ingress_matches(ingress, request), f"{request} has no path"
    if administration:
        for request in expand(ADMINISTRATION, hosts, with_variants=False):
            assert ingress_matches(ingress, request), f"{request} has no path"
        return
    # The Ingress cannot match methods: a raw, unclean spelling under the routed /v1/models
    # prefix matches whatever its method, and only Ollama's redirect stops it.
    for request in expand([*ADMINISTRATION, *NEVER_ROUTED[:4]], hosts, with_variants=True):
        _assert_only_redirected(request, ingress_matches(ingress, request))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_routes_inference_and_never_administration(
    helm: Path, scenario: str
) -> None:
    documents = render_scenario(helm, scenario)
    administration = _administration_opted_in(scenario)
    for route in select(documents, "HTTPRoute"):
        _check_route(route, administration)
    for ingress in select(documents, "Ingress"):
        _check_ingress(ingress, administration)


def test_scenarios_cover_both_routes_with_and_without_administration() -> None:
    covered = set()
    for scenario in SCENARIOS:
        values = yaml.safe_load(scenario_file(scenario).read_text()) or {}
        for kind in ("httpRoute", "ingress"):
            if (values.get(kind) or {}).get("enabled"):
                covered.add((kind, _administration_opted_in(scenario)))
    assert ("httpRoute", False) in covered
    assert ("httpRoute", True) in covered
    assert ("ingress", False) in covered


def test_ingress_with_administration_routes_it(helm: Path, tmp_path: Path) -> None:
    values = yaml.safe_load(scenario_file("ingress").read_text())
    values["exposure"] = {"administration": True}
    (ingress,) = select(render(helm, values, tmp_path), "Ingress")
    _check_ingress(ingress, administration=True)
    values["exposure"] = {"administration": False}
    (ingress,) = select(render(helm, values, tmp_path), "Ingress")
    with pytest.raises(AssertionError):
        _check_ingress(ingress, administration=True)


def test_no_administration_path_lies_under_a_routed_ingress_path(helm: Path) -> None:
    """Ingress paths hold for every method, so no administration path may share or sit under a
    routed path, in its canonical spelling."""
    (ingress,) = select(render_scenario(helm, "ingress"), "Ingress")
    for method in METHODS:
        for _, path in ADMINISTRATION:
            assert not ingress_matches(ingress, Request(method, path, "ollama.example.com"))


# --- the HTTPRoute within the CRD's limits --------------------------------------------------------


def _httproute_v1(shared_dir: Path) -> dict[str, Any]:
    crd = yaml.safe_load((shared_dir / "crds" / "gateway-api" / "httproutes.yaml").read_text())
    (version,) = [item for item in crd["spec"]["versions"] if item["name"] == "v1"]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def test_rendered_routes_respect_the_crd_limits_and_path_rules(
    helm: Path, shared_dir: Path, tmp_path: Path
) -> None:
    """maxItems are checked by the CRD schema in test_manifests; these are the CEL rules, which
    no validator here runs: total matches and the path characters, read from the CRD itself."""
    rules_schema = _httproute_v1(shared_dir)["properties"]["rules"]
    (total_rule,) = rules_schema["x-kubernetes-validations"]
    total_limit = int(re.findall(r"<= (\d+)", total_rule["rule"])[-1])
    path_schema = rules_schema["items"]["properties"]["matches"]["items"]["properties"]["path"]
    (characters,) = [
        rule["rule"]
        for rule in path_schema["x-kubernetes-validations"]
        if ".matches(" in rule["rule"]
    ]
    allowed = re.compile(re.findall(r'r"""(.+?)"""', characters)[0])
    values = yaml.safe_load(scenario_file("hardened").read_text())
    values["exposure"] = {"administration": True}
    (route,) = select(render(helm, values, tmp_path), "HTTPRoute")
    rules = route["spec"]["rules"]
    assert len(rules) <= rules_schema["maxItems"]
    assert sum(len(rule["matches"]) for rule in rules) <= total_limit
    for rule in rules:
        assert len(rule["matches"]) <= rules_schema["items"]["properties"]["matches"]["maxItems"]
        for match in rule["matches"]:
            value = match["path"]["value"]
            assert allowed.fullmatch(value), value
            for forbidden in ("//", "/./", "/../"):
                assert forbidden not in value, value


def test_the_endpoint_list_names_the_deployed_ollama_version() -> None:
    api = yaml.safe_load((CHART / "api" / "ollama-endpoints.yaml").read_text())
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert api["ollamaVersion"] == chart["appVersion"]
    assert re.fullmatch(r"[0-9a-f]{40}", api["sourceCommit"])
    classes = {endpoint["access"] for endpoint in api["endpoints"]}
    assert classes == {"inference", "read-only", "administration", "none"}
