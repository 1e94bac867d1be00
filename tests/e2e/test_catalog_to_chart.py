"""End to end: catalog -> catalog-gen render -> helm template (helm 3 and 4) -> strict validation
(the OpenAPI schemas and CRDs, and the API server's own create validation).

Covers the shipped catalog and every valid fixture catalog (Gateway and Ingress routing, a model
mirror with a lock, derived models, shared and per-replica caches, chartValues).
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml

from catalog_gen.diff.render import chart_api_versions
from catalog_gen.emit.values import VALUES_FILE
from catalog_gen.lock.lockfile import write_lock
from catalog_gen.lock.model import LockedModel, ModelLock
from tests.conftest import REPO_ROOT
from tests.support.kube import (
    Document,
    apiserver_errors,
    helm_template,
    helm_template_text,
    load_documents,
    select,
    validate_manifests,
)
from tests.unit.helpers import CHART, FIXTURES, make_catalog, run_cli

# What Argo CD passes on a cluster that serves every API the chart asks for (diff and
# `make run` render so too).
API_VERSIONS = chart_api_versions(CHART)
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
    texts: dict[Path, str] = {}
    for service_dir, values in generated.items():
        _environment, namespace, service = service_dir.parts
        texts[service_dir] = helm_template_text(
            helm,
            CHART,
            [values],
            release=service,
            namespace=namespace,
            api_versions=API_VERSIONS,
        )
        documents = load_documents(texts[service_dir])
        problems = validate_manifests(documents, KUBE_VERSIONS, shared_dir / "crds")
        assert problems == [], f"{service_dir}: " + "\n".join(problems)
        _check_service(service_dir, documents)
    # The API server's own create validation (tools/apiserver-validate), in each namespace,
    # labelled pod-security.kubernetes.io/enforce=restricted: no shipped leaf weakens the pods.
    for service_dir, text in texts.items():
        found = apiserver_errors(
            [text], service_dir.parts[1], shared_dir / "crds", pod_security="restricted"
        )
        assert found == [[]], service_dir


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


def _render(values: Path, service_dir: Path, helm: Path) -> list[Document]:
    return helm_template(
        helm,
        CHART,
        [values],
        release=service_dir.parts[-1],
        namespace=service_dir.parts[-2],
        api_versions=API_VERSIONS,
    )


@pytest.mark.parametrize(
    ("name", "service", "engine_kinds"),
    [
        ("shipped", "dev/ml-workloads/ollama-phi", {"InterceptorRoute", "ReferenceGrant"}),
        ("autoscaling-keda-http", "scale/ml/chat", {"InterceptorRoute", "ReferenceGrant"}),
        ("autoscaling-keda-http", "scale/ml/steady", {"InterceptorRoute", "ReferenceGrant"}),
        ("autoscaling-keda-prometheus", "metrics/ml/chat", set()),
    ],
)
def test_an_autoscaled_leaf_renders_keda_resources_and_a_workload_without_replicas(
    name: str, service: str, engine_kinds: set[str], render_root: Path, helm: Path
) -> None:
    documents = _render(services(name, render_root)[Path(service)], Path(service), helm)
    (workload,) = select(documents, "Deployment") + select(documents, "StatefulSet")
    assert "replicas" not in workload["spec"]
    (scaled,) = select(documents, "ScaledObject")
    assert scaled["spec"]["scaleTargetRef"]["name"] == workload["metadata"]["name"]
    kinds = {document["kind"] for document in documents}
    assert engine_kinds <= kinds
    assert not ({"InterceptorRoute", "ReferenceGrant"} - engine_kinds) & kinds


def test_leaf_autoscaling_values_reach_the_scaled_object(render_root: Path, helm: Path) -> None:
    generated = services("autoscaling-keda-http", render_root)
    chat = _render(generated[Path("scale/ml/chat")], Path("scale/ml/chat"), helm)
    (scaled,) = select(chat, "ScaledObject")
    spec = scaled["spec"]
    # leaf maxReplicas 4 over the default's 3; minReplicas and afterIdle (45m) from the defaults
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 4)
    assert (spec["idleReplicaCount"], spec["cooldownPeriod"]) == (0, 2700)
    (route,) = select(chat, "InterceptorRoute")
    assert route["spec"]["scalingMetric"] == {"requestRate": {"targetValue": 5}}
    (grant,) = select(chat, "ReferenceGrant")
    assert grant["metadata"]["namespace"] == "keda-addons"
    steady = _render(generated[Path("scale/ml/steady")], Path("scale/ml/steady"), helm)
    (scaled,) = select(steady, "ScaledObject")
    assert "idleReplicaCount" not in scaled["spec"]  # no scaleToZero in the leaf
    (route,) = select(steady, "InterceptorRoute")
    assert route["spec"]["scalingMetric"] == {"concurrency": {"targetValue": 2}}
    fixed = _render(generated[Path("scale/ml/fixed")], Path("scale/ml/fixed"), helm)
    assert select(fixed, "Deployment")[0]["spec"]["replicas"] == 2
    assert select(fixed, "ScaledObject") == []


# A hand-written lock for the shipped catalog's models: the digests and sizes are made up (this
# machine cannot reach registry.ollama.ai); the sizes are in the range of the real models.
SHIPPED_PINS = {
    "registry.ollama.ai/library/phi:latest": ("e1", 1_602_461_536, 1_602_463_378, "3B"),
    "registry.ollama.ai/library/llama3.2:3b": ("e2", 2_019_377_376, 2_019_393_189, "3.2B"),
    "registry.ollama.ai/library/nomic-embed-text:v1.5": ("e3", 274_290_656, 274_302_450, "137M"),
}


def test_locked_digests_reach_the_init_containers_model_list(tmp_path: Path, helm: Path) -> None:
    source = CATALOGS["shipped"]
    catalog = make_catalog(tmp_path, environments=source / "environments", overlay=source)
    pins = {
        reference: LockedModel(
            reference=reference,
            registry="https://registry.ollama.ai",
            digest=byte * 32,
            total_size=total,
            model_size=weights,
            weights_size=weights,
            parameter_size=parameters,
        )
        for reference, (byte, weights, total, parameters) in SHIPPED_PINS.items()
    }
    write_lock(catalog / "models.lock.yaml", ModelLock(pins))
    outcome = run_cli(tmp_path, "render", "--catalog", "catalog", "--out", "generated")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert outcome.stdout == ""  # every model pinned: no warning
    values_path = tmp_path / "generated/dev/ml-workloads/ollama-phi/values.yaml"
    values = yaml.safe_load(values_path.read_text())
    assert values["models"][0]["digest"] == "e1" * 32
    # phi: 1,602,463,378 B at dev's 50 MiB/s = 30.6 s + 1,602,461,536 B / 200 MiB/s = 7.6 s
    # + 120 s = 158 s -> the 180 s floor.
    assert values["startup"] == {"budgetSeconds": 180}
    documents = helm_template(
        helm,
        CHART,
        [values_path],
        release="ollama-phi",
        namespace="ml-workloads",
        api_versions=API_VERSIONS,
    )
    (config,) = [item for item in select(documents, "ConfigMap") if "models.tsv" in item["data"]]
    rows = [
        line.split("\t")
        for line in config["data"]["models.tsv"].splitlines()
        if line and not line.startswith("#")
    ]
    assert rows == [["phi:latest", "e1" * 32, "false", "generate", "-"]]
    (deployment,) = select(documents, "Deployment")
    # The chart's defaults: 10 s startup period, 300 s progress margin.
    assert deployment["spec"]["progressDeadlineSeconds"] == 180 + 300
    (container,) = [
        item
        for item in deployment["spec"]["template"]["spec"]["containers"]
        if item["name"] == "ollama"
    ]
    assert container["startupProbe"]["failureThreshold"] == 18


def test_an_environment_with_authentication_renders_its_security_policy(
    tmp_path: Path, helm: Path, shared_dir: Path
) -> None:
    """What `diff` and `make run` pass to helm comes from the chart's own templates
    (chart_api_versions): a list kept by hand missed Envoy Gateway's SecurityPolicy, and every
    service of an environment with authentication failed to render there."""
    assert "gateway.envoyproxy.io/v1alpha1/SecurityPolicy" in API_VERSIONS
    source = CATALOGS["shipped"]
    catalog = make_catalog(tmp_path, environments=source / "environments", overlay=source)
    environment = catalog / "environments" / "dev.yaml"
    text = environment.read_text(encoding="utf-8")
    environment.write_text(text + "authentication: {apiKey: {secretName: api-keys}}\n")
    outcome = run_cli(tmp_path, "render", "--catalog", "catalog", "--out", "generated")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    service_dir = Path("dev/ml-workloads/ollama-phi")
    text = helm_template_text(
        helm,
        CHART,
        [tmp_path / "generated" / service_dir / VALUES_FILE],
        release=service_dir.name,
        namespace=service_dir.parent.name,
        api_versions=API_VERSIONS,
    )
    documents = load_documents(text)
    (policy,) = select(documents, "SecurityPolicy")
    assert policy["spec"]["apiKeyAuth"]["credentialRefs"][0]["name"] == "api-keys"
    assert validate_manifests(documents, KUBE_VERSIONS, shared_dir / "crds") == []
    assert apiserver_errors([text], service_dir.parent.name, shared_dir / "crds") == [[]]
