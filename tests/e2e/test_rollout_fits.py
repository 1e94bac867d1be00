"""End to end: an environment's gpu.surge -> catalog-gen render -> the real helm -> a rollout that
never needs a GPU the pool does not have, a comment that says what the chart rendered, and a
PodDisruptionBudget that lets through what the strategy takes down."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml

from catalog_gen.diff.render import chart_api_versions
from tests.conftest import REPO_ROOT
from tests.support.kube import Document, helm_template, select
from tests.unit.helpers import CHART, leaf, make_catalog, run_cli

ENVIRONMENT = """\
environment: {name}
routing: gateway
baseDomain: {name}.example.com
gateway:
  parentRef: {{name: shared-gateway, namespace: gateway-system, sectionName: https}}
gpu: {{surge: {surge}}}
"""

# service -> (environment's gpu.surge, leaf body, expected spec.strategy, words in the comment)
CASES: dict[str, tuple[int, str, dict[str, object], str]] = {
    "one-gpu-no-surge": (0, "gpu: {count: 1}\n", {"type": "Recreate"}, "(Recreate;"),
    "two-replicas-no-surge": (
        0,
        "gpu: {count: 1}\ncontainer: {replicas: 2}\n",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
        "maxSurge 0, maxUnavailable 1",
    ),
    "two-replicas-surge": (
        1,
        "gpu: {count: 1}\ncontainer: {replicas: 2}\n",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "enough for a new pod",
    ),
    "two-gpus-short-surge": (
        1,
        "gpu: {count: 2}\ncontainer: {replicas: 2}\n",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
        "maxSurge 0, maxUnavailable 1",
    ),
    "two-gpus-surge": (
        2,
        "gpu: {count: 2}\n",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "enough for a new pod",
    ),
    "cpu": (
        0,
        "gpu: {count: 0}\n",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
        "",
    ),
}


@functools.cache
def rendered(root: Path) -> dict[str, Path]:
    files: dict[str, str] = {}
    for service, (surge, body, _, _) in CASES.items():
        files[f"environments/{service}.yaml"] = ENVIRONMENT.format(name=service, surge=surge)
        files[f"{service}/ml/{service}.yaml"] = leaf(
            "model: phi\n" + body, name=service, environment=service
        )
    (root / "no-environments").mkdir()
    make_catalog(root, files, environments=root / "no-environments")
    outcome = run_cli(root, "render", "--catalog", "catalog", "--out", "generated")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    return {service: root / "generated" / service / "ml" / service for service in CASES}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return rendered(tmp_path_factory.mktemp("rollout"))


def _render(helm: Path, folder: Path) -> list[Document]:
    return helm_template(
        helm,
        CHART,
        [folder / "values.yaml"],
        release=folder.name,
        namespace="ml",
        api_versions=chart_api_versions(CHART),
    )


def _strategy(helm: Path, root: Path) -> object:
    """ollama-phi's Deployment strategy, rendered from the catalog under root."""
    outcome = run_cli(root, "render", "--catalog", "catalog", "--out", "generated")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    poc = root / "generated" / "dev" / "ml-workloads" / "ollama-phi"
    (deployment,) = select(_render(helm, poc), "Deployment")
    return deployment["spec"]["strategy"]


@pytest.mark.parametrize("service", sorted(CASES))
def test_the_rendered_strategy_fits_the_spare_gpus(
    service: str, services: dict[str, Path], helm: Path
) -> None:
    surge, _, strategy, words = CASES[service]
    documents = _render(helm, services[service])
    (deployment,) = select(documents, "Deployment")
    assert deployment["spec"]["strategy"] == strategy
    text = (services[service] / "values.yaml").read_text(encoding="utf-8")
    values = yaml.safe_load(text)
    gpus = values["gpu"]["count"]
    surged = deployment["spec"]["strategy"].get("rollingUpdate", {}).get("maxSurge", 0)
    assert isinstance(surged, int)
    if gpus:
        assert surged * gpus <= surge  # never a GPU the pool does not spare
        assert values["updateStrategy"] == {"gpuSurge": surge}
        assert f"# Rollout: gpuSurge {surge}: " in text
        comment = " ".join(
            line.removeprefix("# ") for line in text.splitlines() if line.startswith("# ")
        )
        assert words in comment
    else:
        assert "updateStrategy" not in values  # CPU services keep the chart's default
    _pdb_agrees(documents, deployment)


def _pdb_agrees(documents: list[Document], deployment: Document) -> None:
    """A PodDisruptionBudget (several replicas) lets through at least what the strategy takes
    down at once, so a drain during a rollout is the only thing it holds back."""
    budgets = select(documents, "PodDisruptionBudget")
    if deployment["spec"]["replicas"] <= 1:
        assert budgets == []
        return
    (budget,) = budgets
    down = deployment["spec"]["strategy"].get("rollingUpdate", {}).get("maxUnavailable", 0)
    assert budget["spec"]["maxUnavailable"] >= down


# The proof-of-concept leaf, word for word (the repository's ollama-phi has since gained
# autoscaling): 1 replica x 1 GPU on dev, which spares no GPU for rollouts.
PROOF_OF_CONCEPT = """\
workloadType: OLLAMA_INFERENCE_LOAD
serviceName: ollama-phi
serviceCatalog: ml-inference
namespace: ml-workloads
environment: dev
model: "phi:latest"
gpu: {count: 1}
ingress: {enabled: true, host: text.hypermedia.au}
container:
  replicas: 1
  resources:
    requests: {cpu: 500m, memory: 2Gi}
    limits: {cpu: "2", memory: 4Gi}
"""


def test_the_proof_of_concept_leaf_is_recreated(tmp_path: Path, helm: Path) -> None:
    source = REPO_ROOT / "catalog"
    make_catalog(tmp_path, environments=source / "environments", overlay=source)
    autoscaled = _strategy(helm, tmp_path)
    # KEDA owns the replica count, so no count is assumed: one pod stops, then its replacement.
    assert autoscaled == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1},
    }
    leaf_path = tmp_path / "catalog" / "dev" / "ml-workloads" / "ollama-phi.yaml"
    leaf_path.write_text(PROOF_OF_CONCEPT, encoding="utf-8")
    assert _strategy(helm, tmp_path) == {"type": "Recreate"}
    rag = tmp_path / "generated" / "dev" / "support-assistant" / "support-rag"
    (deployment,) = select(_render(helm, rag), "Deployment")
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
