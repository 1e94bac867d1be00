"""The chart README's claim that the defaults pass the *restricted* Pod Security Standard, judged
by Pod Security admission itself: k8s.io/pod-security-admission v0.34.4, the library
kube-apiserver's PodSecurity plugin runs, through tools/apiserver-validate -pod-security. A
namespace labelled pod-security.kubernetes.io/enforce=restricted admits the pods of the default
values and of every ci/ scenario (init containers and the `helm test` pod included); the
documented root override is refused there, in admission's words. And the tool itself: every
kind that makes pods is judged by its template, and a baseline violation is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.chart.conftest import (
    API_VERSIONS,
    CHART,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    render_scenario_text,
)
from tests.support.kube import apiserver_errors, helm_template_text, load_documents

RESTRICTED = 'pod security "restricted:latest"'
BASELINE = 'pod security "baseline:latest"'
WORKLOAD = f"Deployment/{RELEASE}-ollama-inference-load"
TEST_POD = f"Pod/{RELEASE}-ollama-inference-load-test"


def _defaults(helm: Path, set_values: dict[str, str] | None = None) -> str:
    return helm_template_text(
        helm,
        CHART,
        release=RELEASE,
        namespace=NAMESPACE,
        api_versions=API_VERSIONS,
        set_values=set_values,
    )


def _pod_containers(text: str) -> set[str]:
    """Kind/container of every container of the pods a render makes, init containers included."""
    found: set[str] = set()
    for document in load_documents(text):
        kind = document["kind"]
        if kind not in ("Pod", "Deployment", "StatefulSet"):
            continue
        spec = document["spec"] if kind == "Pod" else document["spec"]["template"]["spec"]
        for container in [*spec.get("initContainers", []), *spec["containers"]]:
            found.add(f"{kind}/{container['name']}")
    return found


def test_the_defaults_and_every_scenario_are_admitted_under_restricted(helm: Path) -> None:
    # No ci/ scenario weakens security on purpose; one that does belongs outside this dict,
    # with the reason.
    texts = {"defaults": _defaults(helm)} | {
        scenario: render_scenario_text(helm, scenario) for scenario in SCENARIOS
    }
    # What admission judges: the server pods' init and main containers and the `helm test` pod
    # (helm template renders test hooks), in every render; else an empty render would pass.
    for key, text in texts.items():
        assert _pod_containers(text) in (
            {"Deployment/pull-models", "Deployment/ollama", "Pod/test-models"},
            {"StatefulSet/pull-models", "StatefulSet/ollama", "Pod/test-models"},
        ), key
    errors = apiserver_errors(list(texts.values()), NAMESPACE, pod_security="restricted")
    assert dict(zip(texts, errors, strict=True)) == {key: [] for key in texts}


ROOT = {
    "podSecurityContext.runAsNonRoot": "false",
    "podSecurityContext.runAsUser": "0",
    "securityContext.runAsNonRoot": "false",
}


def test_the_documented_root_override_is_refused_by_restricted_and_admitted_by_baseline(
    helm: Path,
) -> None:
    text = _defaults(helm, ROOT)
    restricted, baseline = (
        apiserver_errors([text], NAMESPACE, pod_security=level)[0]
        for level in ("restricted", "baseline")
    )
    assert restricted == [
        f"{WORKLOAD}: {RESTRICTED}: runAsNonRoot != true (pod and containers "
        '"pull-models", "ollama" must not set securityContext.runAsNonRoot=false)',
        f"{WORKLOAD}: {RESTRICTED}: runAsUser=0 (pod must not set runAsUser=0)",
        f"{TEST_POD}: {RESTRICTED}: runAsNonRoot != true (pod and container "
        '"test-models" must not set securityContext.runAsNonRoot=false)',
        f"{TEST_POD}: {RESTRICTED}: runAsUser=0 (pod must not set runAsUser=0)",
    ]
    # Root is not among what baseline forbids: such an image needs a baseline namespace.
    assert baseline == []


def _pod_spec(restart_policy: str, weakened: bool) -> dict[str, Any]:
    """One container; weakened: privileged on the host's network, what baseline forbids."""
    container: dict[str, Any] = {"name": "c", "image": "ollama/ollama:0.32.0"}
    spec: dict[str, Any] = {"restartPolicy": restart_policy, "containers": [container]}
    if weakened:
        container["securityContext"] = {"privileged": True}
        spec["hostNetwork"] = True
    return spec


def _documents(weakened: bool) -> dict[str, dict[str, Any]]:
    """A Pod and every kind that makes pods from a template, each named w, with one pod spec."""
    labels = {"app": "w"}
    template = {"metadata": {"labels": labels}, "spec": _pod_spec("Always", weakened)}
    job = {"template": {"metadata": {}, "spec": _pod_spec("Never", weakened)}}
    controller = {"selector": {"matchLabels": labels}, "template": template}
    fields: dict[str, tuple[str, dict[str, Any]]] = {
        "Pod": ("v1", {"spec": _pod_spec("Always", weakened)}),
        "PodTemplate": ("v1", {"template": template}),
        "ReplicationController": ("v1", {"spec": {"selector": labels, "template": template}}),
        "Deployment": ("apps/v1", {"spec": controller}),
        "StatefulSet": ("apps/v1", {"spec": controller}),
        "DaemonSet": ("apps/v1", {"spec": controller}),
        "ReplicaSet": ("apps/v1", {"spec": controller}),
        "Job": ("batch/v1", {"spec": job}),
        "CronJob": ("batch/v1", {"spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": job}}}),
    }
    return {
        kind: {"apiVersion": api_version, "kind": kind, "metadata": {"name": "w"}, **rest}
        for kind, (api_version, rest) in fields.items()
    }


def test_the_tool_judges_every_kind_that_makes_pods_and_reports_baseline_violations() -> None:
    admitted, weakened = _documents(weakened=False), _documents(weakened=True)
    texts = [yaml.safe_dump(document) for document in [*admitted.values(), *weakened.values()]]
    errors = apiserver_errors(texts, NAMESPACE, pod_security="baseline")
    kinds = list(admitted)
    assert dict(zip(kinds, errors[: len(kinds)], strict=True)) == {kind: [] for kind in kinds}
    assert dict(zip(kinds, errors[len(kinds) :], strict=True)) == {
        kind: [
            f"{kind}/w: {BASELINE}: host namespaces (hostNetwork=true)",
            f'{kind}/w: {BASELINE}: privileged (container "c" must not set '
            "securityContext.privileged=true)",
        ]
        for kind in kinds
    }
    # Without -pod-security the tool judges nothing of the kind: a privileged pod is valid
    # (the API server's --allow-privileged is true).
    assert apiserver_errors(texts, NAMESPACE) == [[] for _ in texts]
