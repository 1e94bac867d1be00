"""Requests against limits in every container the chart renders (check/guardrails.py): the
server (with the GPUs the chart adds to its limits), the pull-models init container and the helm
test pod, on the effective values, so a leaf that lowers a limit under one of the chart's
default requests is refused by catalog-gen as the API server refuses its pod. And the server's
resources as catalog-gen assembles them, held equal to what the chart renders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.check.guardrails import server_resources
from tests.chart.conftest import CHART, container, render
from tests.conftest import helm_binary
from tests.support.kube import apiserver_errors, helm_template_text
from tests.unit.helpers import error_lines, leaf, make_catalog, run_cli

REFUSED = [
    (
        "chartValues: {pull: {resources: {limits: {cpu: 200m}}}}\n",
        "catalog/dev/ml/svc.yaml:7:48: error: $.chartValues.pull.resources.limits.cpu: "
        "pull.resources (the pull-models init container): requests.cpu 250m is more than "
        "limits.cpu 200m; Kubernetes rejects such a pod",
    ),
    (
        "chartValues: {test: {resources: {limits: {memory: 100Mi}}}}\n",
        "catalog/dev/ml/svc.yaml:7:51: error: $.chartValues.test.resources.limits.memory: "
        "test.resources (the helm test pod): requests.memory 128Mi is more than limits.memory "
        "100Mi; Kubernetes rejects such a pod",
    ),
    (
        "gpu: {count: 1}\nchartValues: {gpu: {extraResources: {memory: 1Gi}}}\n",
        "catalog/dev/ml/svc.yaml:8:46: error: $.chartValues.gpu.extraResources.memory: "
        "requests.memory 2Gi is more than limits.memory 1Gi (the gpu values set "
        "limits.memory); Kubernetes rejects such a pod",
    ),
    (
        "gpu: {count: 2}\nchartValues: {resources: {requests: {nvidia.com/gpu: 1}}}\n",
        "catalog/dev/ml/svc.yaml:8:54: error: "
        '$.chartValues.resources.requests["nvidia.com/gpu"]: '
        "requests.nvidia.com/gpu 1 differs from limits.nvidia.com/gpu 2, and nvidia.com/gpu "
        "cannot be overcommitted: make them equal (the gpu values set limits.nvidia.com/gpu); "
        "Kubernetes rejects such a pod",
    ),
    (
        "gpu: {count: 1}\nchartValues: {gpu: {extraResources: {nvidia.com/gpumem: 500m}}}\n",
        "catalog/dev/ml/svc.yaml:8:57: error: "
        '$.chartValues.gpu.extraResources["nvidia.com/gpumem"]: limits.nvidia.com/gpumem 500m '
        "is no whole number, and nvidia.com/gpumem is counted in whole units (the gpu values "
        "set limits.nvidia.com/gpumem); Kubernetes rejects such a pod",
    ),
    (
        "chartValues: {resources: {requests: {example.com/fpga: 1}}}\n",
        "catalog/dev/ml/svc.yaml:7:56: error: "
        '$.chartValues.resources.requests["example.com/fpga"]: '
        "requests.example.com/fpga 1 has no limit, and example.com/fpga cannot be overcommitted: "
        "set limits.example.com/fpga to the same; Kubernetes rejects such a pod",
    ),
]


@pytest.mark.parametrize(("body", "expected"), REFUSED)
def test_every_container_is_judged_on_its_effective_resources(
    tmp_path: Path, body: str, expected: str
) -> None:
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"model: phi:latest\n{body}")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert error_lines(outcome.stdout) == [expected]


def test_what_catalog_gen_refuses_here_the_api_server_refuses(tmp_path: Path) -> None:
    """The same values as chart values, rendered by helm (which does not compare quantities)
    and refused by the API server's own validation."""
    texts = []
    cases: list[dict[str, Any]] = [
        {"pull": {"resources": {"limits": {"cpu": "200m"}}}},
        {"test": {"resources": {"limits": {"memory": "100Mi"}}}},
        {"gpu": {"count": 1, "extraResources": {"memory": "1Gi"}}},
        {"gpu": {"count": 2}, "resources": {"requests": {"nvidia.com/gpu": 1}}},
        {"resources": {"requests": {"example.com/fpga": 1}}},
        {"gpu": {"count": 1, "extraResources": {"nvidia.com/gpumem": "500m"}}},
        {"resources": {"requests": {"hugepages-2Mi": "1Mi"}, "limits": {"hugepages-2Mi": "1Mi"}}},
        {"gpu": {"count": 1, "extraResources": {"hugepages-2Mi": "3Mi"}}},
        {
            "pull": {
                "resources": {
                    "requests": {"hugepages-2Mi": "4Mi"},
                    "limits": {"hugepages-2Mi": "3Mi"},
                }
            }
        },
    ]
    # Hugepages alone (cpu and memory deleted with a null): "HugePages require cpu or memory".
    alone = {"hugepages-2Mi": "4Mi", "cpu": None, "memory": None}
    cases.append({"pull": {"resources": {"requests": alone, "limits": alone}}})
    for index, values in enumerate(cases):
        path = tmp_path / f"{index}.json"
        path.write_text(json.dumps({"models": [{"name": "phi:latest"}], **values}))
        texts.append(helm_template_text(helm_binary("3.19.0"), CHART, [path]))
    assert all(errors for errors in apiserver_errors(texts))


_PAGES = "is no whole number of pages, and hugepages-2Mi is counted in pages of 2Mi: make it a "
_REJECTS = "multiple of 2Mi; Kubernetes rejects such a pod"

# Hugepages quantities that are no whole number of pages (a reviewer's repro: catalog-gen and
# helm took them, the API server refused the pod), each reported at the key that set it.
HUGEPAGES_REFUSED = [
    (
        "chartValues:\n  resources:\n    requests: {hugepages-2Mi: 1Mi}\n"
        "    limits: {hugepages-2Mi: 1Mi}\n",
        [
            "catalog/dev/ml/svc.yaml:9:31: error: $.chartValues.resources.requests.hugepages-2Mi: "
            f"requests.hugepages-2Mi 1Mi {_PAGES}{_REJECTS}",
            "catalog/dev/ml/svc.yaml:10:29: error: $.chartValues.resources.limits.hugepages-2Mi: "
            f"limits.hugepages-2Mi 1Mi {_PAGES}{_REJECTS}",
        ],
    ),
    (
        "gpu: {count: 1}\nchartValues: {gpu: {extraResources: {hugepages-2Mi: 3Mi}}}\n",
        [
            "catalog/dev/ml/svc.yaml:8:53: error: $.chartValues.gpu.extraResources.hugepages-2Mi: "
            f"limits.hugepages-2Mi 3Mi {_PAGES}multiple of 2Mi (the gpu values set "
            "limits.hugepages-2Mi); Kubernetes rejects such a pod",
        ],
    ),
    (
        "chartValues: {pull: {resources: {requests: {hugepages-2Mi: 4Mi}, "
        "limits: {hugepages-2Mi: 3Mi}}}}\n",
        [
            "catalog/dev/ml/svc.yaml:7:90: error: "
            "$.chartValues.pull.resources.limits.hugepages-2Mi: "
            "pull.resources (the pull-models init container): limits.hugepages-2Mi 3Mi "
            f"{_PAGES}{_REJECTS}",
            "catalog/dev/ml/svc.yaml:7:60: error: "
            "$.chartValues.pull.resources.requests.hugepages-2Mi: pull.resources (the "
            "pull-models init container): requests.hugepages-2Mi 4Mi differs from "
            "limits.hugepages-2Mi 3Mi, and hugepages-2Mi cannot be overcommitted: make them "
            "equal; Kubernetes rejects such a pod",
        ],
    ),
]


@pytest.mark.parametrize(("body", "expected"), HUGEPAGES_REFUSED)
def test_hugepages_are_whole_pages(tmp_path: Path, body: str, expected: list[str]) -> None:
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"model: phi:latest\n{body}")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert sorted(error_lines(outcome.stdout)) == sorted(expected)


@pytest.mark.parametrize(
    "quantities",
    [
        "{hugepages-2Mi: 4Mi}",
        "{hugepages-2Mi: 0}",
        "{hugepages-2Mi: '0'}",
        "{hugepages-1Gi: 2Gi}",
        "{hugepages-2Mi: 2Mi, hugepages-1Gi: 1Gi}",
    ],
)
def test_hugepages_of_whole_pages_are_valid(tmp_path: Path, quantities: str) -> None:
    body = f"chartValues: {{resources: {{requests: {quantities}, limits: {quantities}}}}}\n"
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"model: phi:latest\n{body}")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 0, outcome.stdout + outcome.stderr


def test_gpus_requested_as_their_limits_are_valid(tmp_path: Path) -> None:
    body = "gpu: {count: 2}\nchartValues: {resources: {requests: {nvidia.com/gpu: 2}}}\n"
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"model: phi:latest\n{body}")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 0, outcome.stdout + outcome.stderr


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"gpu": {"count": 2, "resourceName": "amd.com/gpu"}},
        {"gpu": {"count": 1, "extraResources": {"memory": "12Gi", "nvidia.com/gpumem": 8}}},
        {"gpu": {"count": 0, "extraResources": {"memory": "1Gi"}}},
        {"resources": {"limits": {"nvidia.com/gpu": 3}}, "gpu": {"count": 1}},
    ],
)
def test_server_resources_are_what_the_chart_renders(
    tmp_path: Path, values: dict[str, Any]
) -> None:
    contract = ChartContract.load(CHART)
    effective = contract.effective({"models": [{"name": "phi:latest"}], **values})
    documents = render(
        helm_binary("3.19.0"), {"models": [{"name": "phi:latest"}], **values}, tmp_path
    )
    [deployment] = [document for document in documents if document["kind"] == "Deployment"]
    rendered = container(deployment, "ollama")["resources"]
    assert _quantities(server_resources(effective)) == _quantities(rendered)


def _quantities(resources: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Quantities as text: helm writes 2 where the values hold the integer 2."""
    return {
        side: {name: str(value) for name, value in quantities.items()}
        for side, quantities in resources.items()
    }


def test_a_quantity_with_a_huge_exponent_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    body = 'chartValues: {pull: {resources: {limits: {cpu: "1e9999999999"}}}}\n'
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"model: phi:latest\n{body}")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    [line] = error_lines(outcome.stdout)
    assert "$.chartValues.pull.resources.limits.cpu" in line
    assert "internal error" not in outcome.stderr


def test_a_quantity_with_a_leading_plus_is_one_as_kubernetes_reads_it(tmp_path: Path) -> None:
    """`+1Gi` is a Kubernetes quantity (and the chart's schema takes it): the leaf refused it
    while the same value through chartValues passed (a differential review)."""
    body = (
        "model: phi\ncontainer:\n  resources:\n    requests: {cpu: '+500m', memory: '+1Gi'}\n"
        "    limits: {cpu: '+2', memory: '+4Gi'}\n"
    )
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(body)})
    outcome = run_cli(tmp_path, "render", "--no-cache")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    values = (tmp_path / "generated/dev/ml/svc/values.yaml").read_text()
    assert 'memory: "+4Gi"' in values


def test_hugepages_alone_in_a_container_are_refused(tmp_path: Path) -> None:
    """The API server refuses a container with hugepages and neither cpu nor memory in its
    requests or limits; deleting pull's cpu and memory defaults with a null got there."""
    quantities = "{hugepages-2Mi: 4Mi, cpu: null, memory: null}"
    body = (
        f"chartValues:\n  pull: {{resources: {{requests: {quantities}, limits: {quantities}}}}}\n"
    )
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"model: phi:latest\n{body}")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1, outcome.stdout
    (line,) = error_lines(outcome.stdout)
    assert "$.chartValues.pull.resources.requests.hugepages-2Mi: pull.resources" in line
    assert "needs a cpu or memory request or limit in the same container" in line
