"""Behaviour of the rendered workload: cache modes, GPU, probes, startup budget, security, env,
images, the scripts ConfigMap and its checksum."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.conftest import (
    CHART,
    SCENARIOS,
    container,
    env,
    pod_spec,
    render,
    render_scenario,
)
from tests.support.kube import Document, select

CONFIG_DIR = "/opt/ollama-inference-load"


def workload(documents: list[Document]) -> Document:
    (found,) = select(documents, "Deployment") + select(documents, "StatefulSet")
    return found


def volume(document: Document, name: str) -> dict[str, Any]:
    (found,) = [item for item in pod_spec(document)["volumes"] if item["name"] == name]
    return dict(found)


def mounts(container_spec: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["mountPath"] for item in container_spec["volumeMounts"]}


# --- cache modes -------------------------------------------------------------------------------


def test_default_cache_is_a_size_limited_empty_dir(helm: Path) -> None:
    documents = render(helm)
    deployment = workload(documents)
    assert deployment["kind"] == "Deployment"
    assert volume(deployment, "models") == {"name": "models", "emptyDir": {"sizeLimit": "20Gi"}}
    assert select(documents, "PersistentVolumeClaim") == []


def test_shared_pvc_is_created_and_mounted_by_both_containers(helm: Path) -> None:
    documents = render_scenario(helm, "shared-pvc")
    (claim,) = select(documents, "PersistentVolumeClaim")
    # Kept by helm and by Argo CD alike: Argo CD reads helm's keep as Delete=false only, and
    # prunes the claim when the release stops rendering it (another cache mode, a new name).
    assert claim["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep",
        "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
    }
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast-ssd",
        "resources": {"requests": {"storage": "30Gi"}},
    }
    deployment = workload(documents)
    assert volume(deployment, "models")["persistentVolumeClaim"] == {
        "claimName": claim["metadata"]["name"]
    }
    assert mounts(container(deployment, "pull-models"))["models"] == "/models"
    assert mounts(container(deployment, "ollama"))["models"] == "/models"


def test_existing_claim_is_used_and_not_created(helm: Path, tmp_path: Path) -> None:
    values = {"cache": {"mode": "sharedPVC", "existingClaim": "team-models"}}
    documents = render(helm, values, tmp_path)
    assert select(documents, "PersistentVolumeClaim") == []
    claim = volume(workload(documents), "models")["persistentVolumeClaim"]
    assert claim == {"claimName": "team-models"}


def test_created_pvc_is_not_kept_unless_asked(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, {"cache": {"mode": "sharedPVC"}}, tmp_path)
    (claim,) = select(documents, "PersistentVolumeClaim")
    assert "annotations" not in claim["metadata"]
    assert "storageClassName" not in claim["spec"]


def test_per_replica_cache_is_a_statefulset_with_claim_templates(helm: Path) -> None:
    documents = render_scenario(helm, "per-replica")
    assert select(documents, "Deployment") == []
    assert select(documents, "PersistentVolumeClaim") == []
    statefulset = workload(documents)
    assert statefulset["kind"] == "StatefulSet"
    (template,) = statefulset["spec"]["volumeClaimTemplates"]
    assert template["metadata"]["name"] == "models"
    # "-" means no dynamic provisioning: an explicit empty storage class.
    assert template["spec"]["storageClassName"] == ""
    assert template["spec"]["accessModes"] == ["ReadWriteOncePod"]
    assert template["spec"]["resources"]["requests"]["storage"] == "25Gi"
    assert "models" not in {item["name"] for item in pod_spec(statefulset)["volumes"]}
    headless = select(documents, "Service", statefulset["spec"]["serviceName"])
    assert headless[0]["spec"]["clusterIP"] == "None"
    (budget,) = select(documents, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1


def test_pod_disruption_budget_only_with_several_replicas(helm: Path, tmp_path: Path) -> None:
    assert select(render(helm), "PodDisruptionBudget") == []
    two = render(helm, {"replicaCount": 2, "cache": {"mode": "perReplica"}}, tmp_path)
    assert len(select(two, "PodDisruptionBudget")) == 1


# --- GPU ---------------------------------------------------------------------------------------


def test_gpu_scenario_sets_limit_toleration_runtime_and_placement(helm: Path) -> None:
    deployment = workload(render_scenario(helm, "gpu"))
    limits = container(deployment, "ollama")["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in container(deployment, "pull-models")["resources"]["limits"]
    spec = pod_spec(deployment)
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert spec["runtimeClassName"] == "nvidia"
    assert spec["priorityClassName"] == "inference-high"
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}


@pytest.mark.parametrize(
    ("gpu", "limit", "toleration_key"),
    [
        ({"count": 2, "resourceName": "amd.com/gpu"}, ("amd.com/gpu", 2), "amd.com/gpu"),
        (
            {"count": 1, "resourceName": "nvidia.com/mig-1g.10gb"},
            ("nvidia.com/mig-1g.10gb", 1),
            "nvidia.com/gpu",
        ),
        (
            {
                "count": 8000,
                "resourceName": "nvidia.com/gpumem",
                "extraResources": {"nvidia.com/gpu": 1},
            },
            ("nvidia.com/gpumem", 8000),
            "nvidia.com/gpu",
        ),
        ({"count": 1, "tolerationKey": "-"}, ("nvidia.com/gpu", 1), None),
        (
            {"count": 1, "tolerationKey": "gpu.example.com/dedicated"},
            ("nvidia.com/gpu", 1),
            "gpu.example.com/dedicated",
        ),
    ],
    ids=["amd", "mig", "hami", "no-toleration", "custom-taint"],
)
def test_gpu_resource_names_and_tolerations(
    helm: Path,
    tmp_path: Path,
    gpu: dict[str, Any],
    limit: tuple[str, int],
    toleration_key: str | None,
) -> None:
    deployment = workload(render(helm, {"gpu": gpu}, tmp_path))
    limits = container(deployment, "ollama")["resources"]["limits"]
    assert limits[limit[0]] == limit[1]
    for name, quantity in gpu.get("extraResources", {}).items():
        assert limits[name] == quantity
    keys = [item["key"] for item in pod_spec(deployment).get("tolerations", [])]
    assert keys == ([toleration_key] if toleration_key else [])


def test_cpu_only_requests_no_gpu(helm: Path) -> None:
    deployment = workload(render(helm))
    limits = container(deployment, "ollama")["resources"]["limits"]
    assert not any("gpu" in name for name in limits)
    assert "tolerations" not in pod_spec(deployment)


def _containers(document: Document) -> list[dict[str, Any]]:
    spec = document["spec"] if document["kind"] == "Pod" else pod_spec(document)
    return [*spec.get("initContainers", []), *spec["containers"]]


def _requests_a_device(container_spec: dict[str, Any]) -> bool:
    resources = container_spec.get("resources", {})
    names = [*resources.get("limits", {}), *resources.get("requests", {})]
    return any("/" in name for name in names)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_containers_that_request_no_gpu_see_none(helm: Path, scenario: str) -> None:
    # The Ollama image sets NVIDIA_VISIBLE_DEVICES=all: under the NVIDIA runtime a container the
    # device plugin gave no GPU would see every GPU of the node. The device plugin sets it where
    # a container requests GPUs.
    documents = render_scenario(helm, scenario)
    checked: set[str] = set()
    for document in select(documents, "Deployment") + select(documents, "StatefulSet"):
        checked.add(document["kind"])
        for item in _containers(document):
            visible = env(item).get("NVIDIA_VISIBLE_DEVICES")
            assert visible == (None if _requests_a_device(item) else "void"), item["name"]
    (test_pod,) = select(documents, "Pod")
    assert env(container(test_pod, "test-models"))["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert checked


def test_only_the_gpu_server_is_left_to_the_device_plugin(helm: Path, tmp_path: Path) -> None:
    gpu = workload(render_scenario(helm, "gpu"))
    assert env(container(gpu, "pull-models"))["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert "NVIDIA_VISIBLE_DEVICES" not in env(container(gpu, "ollama"))
    cpu = workload(render(helm))
    for name in ("pull-models", "ollama"):
        assert env(container(cpu, name))["NVIDIA_VISIBLE_DEVICES"] == "void"
    # A device asked for outside gpu.*: the device plugin owns the variable there too.
    values = {
        "resources": {"limits": {"memory": "8Gi", "nvidia.com/gpu": 1}},
        "pull": {"resources": {"limits": {"example.com/fpga": 1}}},
    }
    explicit = workload(render(helm, values, tmp_path))
    for name in ("pull-models", "ollama"):
        assert "NVIDIA_VISIBLE_DEVICES" not in env(container(explicit, name))


# --- probes and startup budget -----------------------------------------------------------------


def test_probes_run_the_shipped_scripts(helm: Path) -> None:
    documents = render(helm)
    server = container(workload(documents), "ollama")
    ready = ["/bin/sh", f"{CONFIG_DIR}/probe-ready.sh"]
    assert server["startupProbe"]["exec"]["command"] == ready
    assert server["readinessProbe"]["exec"]["command"] == ready
    assert server["livenessProbe"]["exec"]["command"] == ["/bin/sh", f"{CONFIG_DIR}/probe-live.sh"]
    pull = container(workload(documents), "pull-models")
    assert pull["command"] == ["/bin/sh", f"{CONFIG_DIR}/pull-models.sh"]
    (test_pod,) = select(documents, "Pod")
    assert container(test_pod, "test-models")["command"] == [
        "/bin/sh",
        f"{CONFIG_DIR}/test-models.sh",
    ]
    (config_map,) = select(documents, "ConfigMap")
    for script in ("probe-ready.sh", "probe-live.sh", "pull-models.sh", "test-models.sh"):
        assert config_map["data"][script] == (CHART / "files" / script).read_text()


def test_every_file_under_files_is_shipped(helm: Path) -> None:
    (config_map,) = select(render(helm), "ConfigMap")
    shipped = {name for name in config_map["data"] if name.endswith(".sh")}
    assert shipped == {path.name for path in (CHART / "files").iterdir()}


@pytest.mark.parametrize(("budget", "period"), [(900, 10), (1000, 30), (61, 60), (3600, 15)])
def test_startup_budget_drives_probe_and_progress_deadline(
    helm: Path, tmp_path: Path, budget: int, period: int
) -> None:
    values = {
        "startup": {"budgetSeconds": budget, "progressMarginSeconds": 120},
        "probes": {"startup": {"periodSeconds": period}},
    }
    deployment = workload(render(helm, values, tmp_path))
    startup = container(deployment, "ollama")["startupProbe"]
    assert startup["periodSeconds"] == period
    assert startup["failureThreshold"] == math.ceil(budget / period)
    assert deployment["spec"]["progressDeadlineSeconds"] == budget + 120
    assert env(container(deployment, "ollama"))["OIL_LOAD_TIMEOUT_SECONDS"] == str(budget)


def test_liveness_never_depends_on_models(helm: Path) -> None:
    server = container(workload(render_scenario(helm, "multi-model")), "ollama")
    assert "probe-ready" not in " ".join(server["livenessProbe"]["exec"]["command"])


# --- environment, security, images -------------------------------------------------------------


def test_server_and_script_environment(helm: Path) -> None:
    deployment = workload(render(helm))
    server = env(container(deployment, "ollama"))
    assert server["OLLAMA_HOST"] == "0.0.0.0:11434"
    assert server["OLLAMA_KEEP_ALIVE"] == "-1"
    assert server["OLLAMA_NUM_PARALLEL"] == "1"
    assert server["OLLAMA_MAX_QUEUE"] == "512"
    assert "OLLAMA_MAX_LOADED_MODELS" not in server
    assert "OLLAMA_CONTEXT_LENGTH" not in server
    assert server["OLLAMA_MODELS"] == "/models"
    assert server["HOME"] == "/home/ollama"
    assert server["OIL_CONFIG_DIR"] == CONFIG_DIR
    assert server["OIL_LOAD_KEEPALIVE"] == "-1s"
    pull = env(container(deployment, "pull-models"))
    # The pull's temporary server listens on loopback only.
    assert pull["OLLAMA_HOST"] == "127.0.0.1:11434"
    assert pull["OLLAMA_MODELS"] == "/models"
    for name, default in {
        "OIL_POLL_INTERVAL_SECONDS": "2",
        "OIL_SERVER_START_TIMEOUT_SECONDS": "120",
        "OIL_PULL_RETRIES": "5",
        "OIL_PULL_BACKOFF_SECONDS": "5",
        "OIL_PULL_BACKOFF_MAX_SECONDS": "120",
        "OIL_CLI_TIMEOUT_SECONDS": "4",
    }.items():
        assert pull[name] == default
        assert server[name] == default


def test_gpu_scenario_ollama_settings(helm: Path) -> None:
    server = env(container(workload(render_scenario(helm, "gpu")), "ollama"))
    assert server["OLLAMA_NUM_PARALLEL"] == "4"
    assert server["OLLAMA_MAX_LOADED_MODELS"] == "1"
    assert server["OLLAMA_CONTEXT_LENGTH"] == "8192"
    assert server["OLLAMA_LOAD_TIMEOUT"] == "10m"


def test_custom_port_reaches_container_service_route_and_probes(helm: Path, tmp_path: Path) -> None:
    values = {
        "ollama": {"port": 8080},
        "service": {"port": 80},
        "httpRoute": {
            "enabled": True,
            "parentRefs": [{"name": "gw"}],
            "hostnames": ["a.example.com"],
        },
    }
    documents = render(helm, values, tmp_path)
    deployment = workload(documents)
    server = container(deployment, "ollama")
    assert server["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert env(server)["OLLAMA_HOST"] == "0.0.0.0:8080"
    assert env(container(deployment, "pull-models"))["OLLAMA_HOST"] == "127.0.0.1:8080"
    (service,) = select(documents, "Service")
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    (route,) = select(documents, "HTTPRoute")
    assert route["spec"]["rules"][0]["backendRefs"] == [
        {"name": service["metadata"]["name"], "port": 80}
    ]
    (test_pod,) = select(documents, "Pod")
    host = env(container(test_pod, "test-models"))["OLLAMA_HOST"]
    assert host == f"http://{service['metadata']['name']}.ollama.svc:80"


def test_secure_defaults(helm: Path) -> None:
    documents = render(helm)
    for document in select(documents, "Deployment") + select(documents, "Pod"):
        spec = document["spec"] if document["kind"] == "Pod" else pod_spec(document)
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] >= 10000
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for item in [*spec.get("initContainers", []), *spec["containers"]]:
            context = item["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            # Writable paths on a read-only root: HOME (id_ed25519), /tmp, the model store.
            assert {"/home/ollama", "/tmp"} <= set(mounts(item).values())
            assert mounts(item)["scripts"] == CONFIG_DIR
    (account,) = select(documents, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False


def test_root_remains_possible_by_values(helm: Path, tmp_path: Path) -> None:
    values = {
        "podSecurityContext": {"runAsNonRoot": False, "runAsUser": 0, "runAsGroup": 0},
        "securityContext": {"runAsNonRoot": False, "readOnlyRootFilesystem": False},
    }
    spec = pod_spec(workload(render(helm, values, tmp_path)))
    # Values merge over the defaults: only the keys given change.
    assert spec["securityContext"]["runAsNonRoot"] is False
    assert spec["securityContext"]["runAsUser"] == 0
    assert spec["securityContext"]["runAsGroup"] == 0
    for item in [*spec["initContainers"], *spec["containers"]]:
        assert item["securityContext"]["runAsNonRoot"] is False
        assert item["securityContext"]["readOnlyRootFilesystem"] is False


def test_image_defaults_to_app_version(helm: Path) -> None:
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    deployment = workload(render(helm))
    assert container(deployment, "ollama")["image"] == f"docker.io/ollama/ollama:{app_version}"
    assert container(deployment, "pull-models")["image"] == f"docker.io/ollama/ollama:{app_version}"


def test_air_gapped_registry_digest_and_ca_bundle(helm: Path) -> None:
    documents = render_scenario(helm, "airgapped")
    deployment = workload(documents)
    digest = "sha256:0d8b1b43ea61bf06fe06d6a3b3e5dd8c5e8e3c27fd4d3b2f2a0e9c6b1d2e3f40"
    expected = f"registry.internal.example.com:5000/mirror/ollama/ollama:0.32.0@{digest}"
    for name in ("ollama", "pull-models"):
        item = container(deployment, name)
        assert item["image"] == expected
        assert mounts(item)["internal-ca"] == "/etc/ssl/internal"
        assert env(item)["SSL_CERT_DIR"] == "/etc/ssl/internal"
    (test_pod,) = select(documents, "Pod")
    assert container(test_pod, "test-models")["image"].startswith(
        "registry.internal.example.com:5000/"
    )
    assert pod_spec(deployment)["imagePullSecrets"] == [{"name": "internal-registry"}]
    (config_map,) = select(documents, "ConfigMap")
    assert config_map["data"]["models.tsv"].splitlines()[1:] == [
        "models.internal.example.com:5000/library/qwen2.5:0.5b\t"
        "5a3c9f1a7b2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7\ttrue\tgenerate\t-"
    ]


# --- the scripts ConfigMap ---------------------------------------------------------------------


def test_model_lists_follow_the_interface(helm: Path) -> None:
    (config_map,) = select(render_scenario(helm, "multi-model"), "ConfigMap")
    data = config_map["data"]
    assert data["models.tsv"].splitlines() == [
        "# name\tdigest-or-dash\tinsecure\tkind (generate/embed)\tkeep-alive (Go duration or -)",
        "llama3.2:3b\ta80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72\tfalse\tgenerate\t-",
        "nomic-embed-text:latest\t-\tfalse\tembed\t-",
    ]
    assert data["derived.tsv"].splitlines() == [
        "# name\tmodelfile",
        "support-bot:latest\tmodelfile-0",
    ]
    assert data["modelfile-0"].startswith("FROM llama3.2:3b\n")
    assert 'SYSTEM """You answer support questions briefly and politely."""' in data["modelfile-0"]


def test_no_models_still_renders_empty_lists(helm: Path) -> None:
    (config_map,) = select(render(helm), "ConfigMap")
    assert [
        line for line in config_map["data"]["models.tsv"].splitlines() if not line.startswith("#")
    ] == []
    assert [
        line for line in config_map["data"]["derived.tsv"].splitlines() if not line.startswith("#")
    ] == []


def _checksum(documents: list[Document]) -> str:
    annotations = workload(documents)["spec"]["template"]["metadata"]["annotations"]
    checksum: str = annotations["checksum/scripts"]
    return checksum


def test_checksum_changes_when_a_script_changes(helm: Path, tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    before = _checksum(render(helm, chart=chart))
    assert before == _checksum(render(helm, chart=chart))
    script = chart / "files" / "probe-ready.sh"
    script.write_text(script.read_text() + "# changed\n")
    assert _checksum(render(helm, chart=chart)) != before


def test_checksum_changes_with_the_models_not_with_labels(helm: Path, tmp_path: Path) -> None:
    before = _checksum(render(helm))
    assert _checksum(render(helm, {"models": [{"name": "phi"}]}, tmp_path)) != before
    assert _checksum(render(helm, {"commonLabels": {"team": "ml"}}, tmp_path)) == before


def test_the_test_pod_takes_its_own_labels_and_annotations(helm: Path, tmp_path: Path) -> None:
    """test.podLabels and test.podAnnotations (a mesh's opt-out: an injected sidecar that never
    exits keeps the pod from completing), beside the chart's, which they cannot replace, and
    not the server pods' podLabels and podAnnotations."""
    values = {
        "models": [{"name": "phi"}],
        "commonLabels": {"team": "ml"},
        "podLabels": {"scrape": "yes"},
        "podAnnotations": {"prometheus.io/scrape": "true"},
        "test": {
            "podLabels": {"team": "other", "mesh": "off"},
            "podAnnotations": {"sidecar.istio.io/inject": "false"},
        },
    }
    documents = render(helm, values, tmp_path)
    (test_pod,) = select(documents, "Pod")
    labels, annotations = test_pod["metadata"]["labels"], test_pod["metadata"]["annotations"]
    assert labels["mesh"] == "off"
    assert labels["team"] == "ml"  # commonLabels win, as over podLabels
    assert labels["app.kubernetes.io/component"] == "test"
    assert "scrape" not in labels
    assert annotations["sidecar.istio.io/inject"] == "false"
    assert annotations["helm.sh/hook"] == "test"
    assert "prometheus.io/scrape" not in annotations
    server = workload(documents)["spec"]["template"]["metadata"]
    assert "mesh" not in server["labels"]
    assert "sidecar.istio.io/inject" not in server["annotations"]


def test_the_test_pod_runs_where_the_releases_pods_may_run(helm: Path, tmp_path: Path) -> None:
    """Their PriorityClass, node selector, tolerations (the GPU one too) and node affinity, not
    their pod anti-affinity nor podLabels (review: it took none, and stayed Pending where every
    node is tainted)."""
    node_affinity = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "Exists"}]}]
        }
    }
    anti = {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "x"}]}
    values = {
        "models": [{"name": "phi"}],
        "gpu": {"count": 1},
        "priorityClassName": "ml-high",
        "nodeSelector": {"pool": "ml"},
        "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": node_affinity, "podAntiAffinity": anti},
        "podLabels": {"team": "ml"},
    }
    documents = render(helm, values, tmp_path)
    (test_pod,) = select(documents, "Pod")
    spec = test_pod["spec"]
    server = pod_spec(workload(documents))
    for key in ("priorityClassName", "nodeSelector", "tolerations"):
        assert spec[key] == server[key], key
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert spec["affinity"] == {"nodeAffinity": node_affinity}
    assert "team" not in test_pod["metadata"]["labels"]
    bare = select(render(helm, {"models": [{"name": "phi"}]}, tmp_path), "Pod")[0]["spec"]
    assert not {"priorityClassName", "nodeSelector", "tolerations", "affinity"} & set(bare)
