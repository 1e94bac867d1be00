"""`fail` guardrails: combinations the schema cannot express stop the render with a message that
names the value to change."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.chart.conftest import CHART, container, env, render
from tests.support.kube import HelmError, select

# Rules values.schema.json owns: helm reports each at the value to change (the schema's
# description of the failing subschema, the why, is what catalog-gen prints).
SCHEMA_RULES: list[tuple[dict[str, Any], list[str]]] = [
    ({"cache": {"mode": "sharedPVC"}, "replicaCount": 2}, ["/replicaCount", "maximum"]),
    (
        {"cache": {"mode": "sharedPVC", "accessModes": ["ReadWriteOncePod"]}, "replicaCount": 3},
        ["/replicaCount"],
    ),
    (
        {"cache": {"mode": "sharedPVC"}, "updateStrategy": {"type": "RollingUpdate"}},
        ["/updateStrategy/type"],
    ),
    ({"cache": {"mode": "sharedPVC", "accessModes": ["ReadOnlyMany"]}}, ["/cache/accessModes"]),
    ({"cache": {"mode": "emptyDir", "existingClaim": "models"}}, ["/cache/existingClaim"]),
    (
        {"cache": {"mode": "perReplica"}, "updateStrategy": {"type": "Recreate"}},
        ["/updateStrategy/type"],
    ),
    ({"cache": {"mode": "perReplica", "accessModes": []}}, ["/cache/accessModes", "minItems"]),
    ({"httpRoute": {"enabled": True}}, ["/httpRoute/parentRefs"]),
    ({"gateway": {"enabled": True}}, ["/gateway/className"]),
    (
        {"gateway": {"enabled": True, "className": "eg", "tls": {"enabled": False}}},
        ["/gateway/http/enabled"],
    ),
    (
        {
            "gateway": {
                "enabled": True,
                "className": "eg",
                "tls": {"certificate": {"enabled": True}},
            },
            "httpRoute": {"enabled": True, "hostnames": ["a.example.com"]},
        },
        ["/gateway/tls/certificate/issuerRef/name"],
    ),
    (
        {
            "gateway": {
                "enabled": True,
                "className": "eg",
                "tls": {"certificate": {"enabled": True, "issuerRef": {"name": "ca"}}},
            }
        },
        ["/httpRoute/hostnames"],
    ),
    ({"ingress": {"enabled": True}}, ["/ingress/hosts"]),
    (
        {
            "networkPolicy": {"enabled": True},
            "ingress": {
                "enabled": True,
                "hosts": [{"host": "a.b"}],
            },
        },
        ["/networkPolicy/ingressFrom"],
    ),
    (
        {
            "networkPolicy": {"enabled": True},
            "httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}]},
        },
        ["/networkPolicy/ingressFrom"],
    ),
    ({"extraEnv": [{"name": "OLLAMA_HOST", "value": "0.0.0.0:11434"}]}, ["/extraEnv/0/name"]),
    ({"extraEnv": [{"name": "OIL_PULL_RETRIES", "value": "9"}]}, ["/extraEnv/0/name"]),
    ({"extraEnv": [{"name": "OLLAMA_KEEP_ALIVE", "value": "5m"}]}, ["/extraEnv/0/name"]),
    ({"extraEnv": [{"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]}, ["/extraEnv/0/name"]),
    ({"ollama": {"keepAlive": "0s"}}, ["/ollama/keepAlive", "not"]),
    ({"ollama": {"keepAlive": 0}}, ["/ollama/keepAlive", "not"]),
    ({"models": [{"name": "phi", "keepAlive": "0m0s"}]}, ["/models/0/keepAlive", "not"]),
    ({"models": [{"name": "phi", "keepAlive": "-0.0h"}]}, ["/models/0/keepAlive", "not"]),
    (
        {"derivedModels": [{"name": "x", "modelfile": "SYSTEM hi\nFROMAGE phi\n"}]},
        ["/derivedModels/0/modelfile", "pattern"],
    ),
    (
        {"derivedModels": [{"name": "x", "modelfile": "FROM phi\nSYSTEM \u0007hi\n"}]},
        ["/derivedModels/0/modelfile", "pattern"],
    ),
]

# Rules only a template can decide (templates/_validate.tpl): the message names the value.
TEMPLATE_RULES: list[tuple[dict[str, Any], list[str]]] = [
    (
        {"models": [{"name": "phi"}], "derivedModels": [{"name": "phi", "modelfile": "FROM phi"}]},
        ["derivedModels: phi is defined twice"],
    ),
    ({"models": [{"name": "phi"}, {"name": "phi"}]}, ["models: phi is listed twice"]),
    (
        {
            "models": [
                {"name": "llama3.2", "digest": "a" * 64},
                {"name": "other", "digest": "b" * 64},
                {"name": "llama3.2:3b", "digest": "a" * 64},
            ]
        },
        ["models: llama3.2 and llama3.2:3b are pinned to one digest", "List it once"],
    ),
    (
        {"probes": {"readiness": {"timeoutSeconds": 4}}},
        ["probes.readiness.timeoutSeconds is 4", "lifecycle.cliTimeoutSeconds=4", "at least 6"],
    ),
    (
        {"probes": {"liveness": {"timeoutSeconds": 1}}},
        ["probes.liveness.timeoutSeconds is 1", "at least 6"],
    ),
    (
        {"lifecycle": {"cliTimeoutSeconds": 9}},
        ["probes.startup.timeoutSeconds is 10", "at least 11"],
    ),
    (
        {"models": [{"name": "a"}, {"name": "b"}], "ollama": {"maxLoadedModels": 1}},
        ["ollama.maxLoadedModels is 1 but the models form 2 load groups", "to 2 or leave it 0"],
    ),
    (
        {
            "httpRoute": {
                "enabled": True,
                "parentRefs": [{"name": "gw"}],
                "timeouts": {"request": "60s", "backendRequest": "1m1ms"},
            }
        },
        [
            "httpRoute.timeouts.backendRequest is 1m1ms but httpRoute.timeouts.request is 60s",
            "at most 60s",
        ],
    ),
]
TEMPLATE_RULES.append(
    (
        {
            "models": [{"name": "phi"}],
            "derivedModels": [
                {"name": "x", "modelfile": "FROM phi\nSYSTEM \u65e5\u3000\u00a0a\u200db\u2028c\n"}
            ],
        },
        ['derivedModels[0] (x): its modelfile holds "\\u3000", "\\u00a0", "\\u200d", "\\u2028"'],
    )
)
TEMPLATE_RULES.append(
    (
        {
            "httpRoute": {"enabled": True, "hostnames": ["chat.example.com", "api.example.com"]},
            "gateway": {"enabled": True, "className": "eg"},
        },
        [
            "httpRoute.hostnames has api.example.com, but the chart's Gateway (gateway.enabled) "
            "listens for chat.example.com only"
        ],
    )
)
GUARDRAILS = SCHEMA_RULES + TEMPLATE_RULES


@pytest.mark.parametrize(("values", "expected"), GUARDRAILS, ids=[e[0] for _, e in GUARDRAILS])
def test_guardrail_fails_with_a_message_naming_the_value(
    helm: Path, tmp_path: Path, values: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path)
    for text in expected:
        assert text in failure.value.stderr


@pytest.mark.parametrize(
    ("values", "expected"), TEMPLATE_RULES, ids=[e[0] for _, e in TEMPLATE_RULES]
)
def test_template_rules_are_blamed_on_validate_yaml(
    helm: Path, tmp_path: Path, values: dict[str, Any], expected: list[str]
) -> None:
    # perReplica renders a StatefulSet: helm must still name validate.yaml, not a workload.
    with pytest.raises(HelmError) as failure:
        render(helm, {**values, "cache": {"mode": "perReplica"}}, tmp_path)
    assert "templates/validate.yaml" in failure.value.stderr
    assert "statefulset.yaml" not in failure.value.stderr
    assert "deployment.yaml" not in failure.value.stderr


def test_every_broken_rule_is_reported_in_one_run(helm: Path, tmp_path: Path) -> None:
    schema_values: dict[str, Any] = {
        "cache": {"mode": "sharedPVC"},
        "replicaCount": 2,
        "httpRoute": {"enabled": True},
        "gateway": {"enabled": False},
        "ingress": {"enabled": True},
        "extraEnv": [{"name": "OIL_PULL_RETRIES", "value": "9"}],
    }
    with pytest.raises(HelmError) as failure:
        render(helm, schema_values, tmp_path)
    for path in (
        "/replicaCount",
        "/httpRoute/parentRefs",
        "/ingress/hosts",
        "/extraEnv/0/name",
    ):
        assert path in failure.value.stderr
    template_values = {
        "models": [{"name": "a"}, {"name": "a"}, {"name": "b"}],
        "ollama": {"maxLoadedModels": 1},
        "probes": {"startup": {"timeoutSeconds": 1}, "liveness": {"timeoutSeconds": 2}},
    }
    with pytest.raises(HelmError) as failure:
        render(helm, template_values, tmp_path)
    assert "4 chart value(s) to change" in failure.value.stderr
    for text in (
        "probes.startup.timeoutSeconds is 1",
        "probes.liveness.timeoutSeconds is 2",
        "ollama.maxLoadedModels is 1",
        "models: a is listed twice",
    ):
        assert text in failure.value.stderr


def test_values_at_the_boundary_render(helm: Path, tmp_path: Path) -> None:
    values = {
        "probes": {name: {"timeoutSeconds": 6} for name in ("startup", "readiness", "liveness")},
        "models": [{"name": "a"}, {"name": "b"}],
        "ollama": {"maxLoadedModels": 2},
        "cache": {"mode": "sharedPVC", "accessModes": ["ReadOnlyMany", "ReadWriteOnce"]},
        "replicaCount": 3,
    }
    assert select(render(helm, values, tmp_path), "Deployment")


def test_chart_derives_max_loaded_models_past_three_models(helm: Path, tmp_path: Path) -> None:
    models = [{"name": name} for name in "abcd"]
    (deployment,) = select(render(helm, {"models": models}, tmp_path), "Deployment")
    assert env(container(deployment, "ollama"))["OLLAMA_MAX_LOADED_MODELS"] == "4"
    (three,) = select(render(helm, {"models": models[:3]}, tmp_path), "Deployment")
    assert "OLLAMA_MAX_LOADED_MODELS" not in env(container(three, "ollama"))
    explicit = {"models": models, "ollama": {"maxLoadedModels": 6}}
    (six,) = select(render(helm, explicit, tmp_path), "Deployment")
    assert env(container(six, "ollama"))["OLLAMA_MAX_LOADED_MODELS"] == "6"


def test_single_attach_shared_pvc_picks_recreate_by_itself(helm: Path, tmp_path: Path) -> None:
    documents = render(helm, {"cache": {"mode": "sharedPVC"}}, tmp_path)
    (deployment,) = select(documents, "Deployment")
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}


def test_read_write_many_shared_pvc_scales_and_rolls(helm: Path, tmp_path: Path) -> None:
    values = {"cache": {"mode": "sharedPVC", "accessModes": ["ReadWriteMany"]}, "replicaCount": 3}
    documents = render(helm, values, tmp_path)
    (deployment,) = select(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    (claim,) = select(documents, "PersistentVolumeClaim")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_per_replica_cache_scales_with_read_write_once(helm: Path, tmp_path: Path) -> None:
    values = {"cache": {"mode": "perReplica", "accessModes": ["ReadWriteOnce"]}, "replicaCount": 4}
    (statefulset,) = select(render(helm, values, tmp_path), "StatefulSet")
    assert statefulset["spec"]["replicas"] == 4


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ({"httpRoute": {"enabled": True, "parentRefs": [{"name": "gw"}]}}, "HTTPRoute"),
        (
            {
                "gateway": {
                    "enabled": True,
                    "className": "eg",
                    "tls": {"enabled": False},
                    "http": {"enabled": True},
                }
            },
            "Gateway",
        ),
        (
            {
                "gateway": {
                    "enabled": True,
                    "className": "eg",
                    "tls": {
                        "hostname": "a.example.com",
                        "certificate": {"enabled": True, "issuerRef": {"name": "ca"}},
                    },
                },
            },
            "Certificate",
        ),
    ],
    ids=["HTTPRoute", "Gateway", "Certificate"],
)
def test_custom_resources_need_their_api_or_an_explicit_assumption(
    helm: Path, tmp_path: Path, values: dict[str, Any], kind: str
) -> None:
    with pytest.raises(HelmError) as failure:
        render(helm, values, tmp_path, api_versions=())
    assert "does not serve" in failure.value.stderr
    assert "--api-versions" in failure.value.stderr
    assert "assumeApiVersions" in failure.value.stderr
    group = "cert-manager.io/v1" if kind == "Certificate" else "gateway.networking.k8s.io/v1"
    # A Certificate belongs to the chart's Gateway, so it needs the Gateway API as well.
    needed = {f"{group}/{kind}"}
    if kind != "HTTPRoute":
        needed.add("gateway.networking.k8s.io/v1/Gateway")
    capability = render(helm, values, tmp_path, api_versions=sorted(needed))
    assert select(capability, kind)
    groups = sorted({api.rsplit("/", 1)[0] for api in needed})
    assumed = render(helm, {**values, "assumeApiVersions": groups}, tmp_path, api_versions=())
    assert select(assumed, kind)


def test_a_modelfile_in_any_script_with_symbols_and_tabs_renders(
    helm: Path, tmp_path: Path
) -> None:
    """Printable text of any script, marks, symbols (emoji), tabs and newlines reach Ollama's
    Modelfile parser whole: only what it drops is refused."""
    system = "\u65e5\u672c\u8a9e \u00e9\u0301 \U0001f999 \u00bd\tr\u00e9sum\u00e9\nline 2"
    values = {
        "models": [{"name": "phi"}],
        "derivedModels": [{"name": "x", "modelfile": f'FROM phi\nSYSTEM """{system}"""\n'}],
    }
    assert render(helm, values, tmp_path)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {
                "extraVolumes": [{"name": "a", "emptyDir": {}}],
                "extraVolumeMounts": [{"name": "a", "mountPath": "/models/"}],
            },
            "extraVolumeMounts[0] mounts at /models/, where the chart's models volume",
        ),
        (
            {
                "extraVolumes": [{"name": "a", "emptyDir": {}}],
                "extraVolumeMounts": [{"name": "a", "mountPath": "//tmp/."}],
            },
            "extraVolumeMounts[0] mounts at //tmp/., where the chart's tmp volume",
        ),
        (
            {"homeDir": "/data", "cache": {"mountPath": "/data/"}},
            "volumes would both be mounted at /data",
        ),
    ],
    ids=["trailing-slash", "double-slash-dot", "home-and-cache"],
)
def test_mount_paths_are_compared_as_the_runtime_mounts_them(
    helm: Path, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    # The API server compares mount paths as text and let two volumes meet at one directory.
    with pytest.raises(HelmError) as failure:
        render(helm, {"models": [{"name": "phi"}], **values}, tmp_path)
    assert message in failure.value.stderr


def test_every_value_a_template_rule_blames_is_a_chart_value() -> None:
    """catalog-gen places a rule's message at the first value it names that the leaf sets
    (several where the rule is between values): each must be a value of the chart's schema."""
    schema = json.loads((CHART / "values.schema.json").read_text())

    def resolved(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        return node

    text = (CHART / "templates" / "_validate.tpl").read_text()
    named = re.findall(r'\(dict "value" (?:\(printf )?"([^"]+)"', text)
    assert len(named) > 15
    for values in named:
        for value in values.split():
            node = schema
            filled = value.replace("probes.%s", "probes.liveness").replace("%s", "request")
            for part in filled.split("."):
                properties = resolved(node).get("properties", {})
                assert part in properties, (values, value)
                node = properties[part]
