"""End to end: catalog -> catalog-gen render -> helm template (helm 3 and 4) -> strict validation.

Covers the shipped catalog and every valid fixture catalog (Gateway and Ingress routing, a model
mirror with a lock, derived models, shared and per-replica caches, chartValues).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from catalog_gen.emit.values import VALUES_FILE
from tests.conftest import REPO_ROOT
from tests.support.kube import Document, helm_template, select, validate_manifests
from tests.unit.helpers import CHART, FIXTURES, make_catalog, run_cli

API_VERSIONS = (
    "gateway.networking.k8s.io/v1/HTTPRoute",
    "gateway.networking.k8s.io/v1/Gateway",
    "cert-manager.io/v1/Certificate",
)
KUBE_VERSIONS = ("1.29", "1.34")
CATALOGS = {
    "shipped": REPO_ROOT / "catalog",
    **{path.name: path / "catalog" for path in sorted((FIXTURES / "valid").iterdir())},
}


@functools.cache
def rendered(name: str, root: Path) -> dict[Path, Path]:
    """values.yaml of each service of catalog `name`, rendered once per session."""
    source = CATALOGS[name]
    if name == "shipped":
        make_catalog(root, environments=source / "environments", overlay=source)
    else:
        make_catalog(root, overlay=source)
    outcome = run_cli(root, "render", "--catalog", "catalog", "--out", "generated")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    return {
        path.parent.relative_to(root / "generated"): path
        for path in sorted((root / "generated").rglob(VALUES_FILE))
    }


@pytest.fixture(scope="session")
def render_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


def services(name: str, root: Path) -> dict[Path, Path]:
    return rendered(name, root / name)


@pytest.mark.parametrize("name", sorted(CATALOGS))
def test_every_generated_values_file_renders_valid_manifests(
    name: str, render_root: Path, helm: Path, shared_dir: Path
) -> None:
    generated = services(name, render_root)
    assert generated, f"catalog {name} rendered no services"
    for service_dir, values in generated.items():
        _environment, namespace, service = service_dir.parts
        documents = helm_template(
            helm,
            CHART,
            [values],
            release=service,
            namespace=namespace,
            api_versions=API_VERSIONS,
        )
        problems = validate_manifests(documents, KUBE_VERSIONS, shared_dir / "crds")
        assert problems == [], f"{service_dir}: " + "\n".join(problems)
        _check_service(service_dir, documents)


def _check_service(service_dir: Path, documents: list[Document]) -> None:
    service = service_dir.parts[-1]
    workloads = select(documents, "Deployment") + select(documents, "StatefulSet")
    assert [workload["metadata"]["name"] for workload in workloads] == [service]
    for document in documents:
        labels = document["metadata"].get("labels", {})
        assert labels.get("backstage.io/kubernetes-id") == service, document["kind"]
        assert labels.get("catalog.ollama-inference-load.io/environment") == service_dir.parts[0]


def test_shipped_leaf_exposes_its_host_through_the_gateway(render_root: Path, helm: Path) -> None:
    values = services("shipped", render_root)[Path("dev/ml-workloads/ollama-phi")]
    documents = helm_template(
        helm,
        CHART,
        [values],
        release="ollama-phi",
        namespace="ml-workloads",
        api_versions=API_VERSIONS,
    )
    (route,) = select(documents, "HTTPRoute")
    assert route["spec"]["hostnames"] == ["text.hypermedia.au"]
    (deployment,) = select(documents, "Deployment")
    (container,) = [
        item
        for item in deployment["spec"]["template"]["spec"]["containers"]
        if item["name"] == "ollama"
    ]
    assert container["resources"]["limits"]["nvidia.com/gpu"] in (1, "1")
    assert container["resources"]["requests"]["memory"] == "2Gi"
    assert container["resources"]["limits"]["memory"] == "4Gi"
    (config,) = [item for item in select(documents, "ConfigMap") if "models.tsv" in item["data"]]
    assert "phi:latest\t" in config["data"]["models.tsv"]
