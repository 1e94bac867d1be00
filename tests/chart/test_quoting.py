"""Every string the chart writes means the same string to helm's YAML 1.1 reader: hostile
strings (YAML 1.1 booleans, numbers, comments, structure) go into every free-text value the
schema allows and come back unchanged from helm 3 and helm 4."""

from __future__ import annotations

import posixpath
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from tests.chart.conftest import CHART, container, render
from tests.support.kube import Document, select, validate_manifests
from tests.support.yaml11 import LABEL_HOSTILE, hostile_text, one_line_text

_paths = one_line_text.map(lambda text: "/" + text)
SCRIPTS = "/opt/ollama-inference-load"


def _clean(path: str) -> str:
    """Go's path.Clean, as _validate.tpl's `clean` (posixpath keeps a leading "//")."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def _nested(path: str, other: str) -> bool:
    return any(
        inner.startswith(outer.rstrip("/") + "/") for inner, outer in ((path, other), (other, path))
    )


def _env(item: dict[str, Any]) -> dict[str, str]:
    return {env["name"]: env.get("value") for env in item["env"]}


def _mounts(item: dict[str, Any]) -> dict[str, str]:
    return {mount["name"]: mount["mountPath"] for mount in item["volumeMounts"]}


def _render(helm: Path, values: dict[str, Any]) -> list[Document]:
    with tempfile.TemporaryDirectory() as directory:
        return render(helm, values, Path(directory))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a helm run per step: no shrinking
)
@given(
    home=_paths,
    mount=_paths,
    text=hostile_text,
    label=st.sampled_from(LABEL_HOSTILE),
)
def test_free_text_values_round_trip_through_helm(
    helm: Path, *, home: str, mount: str, text: str, label: str
) -> None:
    # One mount per path (the API server refuses two; _validate.tpl says so), compared as the
    # runtime mounts them, and none nested with the scripts folder (_validate.tpl refuses it).
    paths = {_clean(home), _clean(mount)}
    assume(len(paths) == 2 and paths.isdisjoint({"/tmp", SCRIPTS}))
    assume(not any(_nested(path, SCRIPTS) for path in paths))
    values = {
        "homeDir": home,
        "cache": {"mountPath": mount},
        "extraEnv": [{"name": "HOSTILE", "value": text}],
        "podAnnotations": {"example.com/hostile": text},
        "service": {"annotations": {"example.com/hostile": text}},
        "commonLabels": {"example.com/hostile": label},
        "backstage": {"kubernetesId": label},
        "httpRoute": {
            "enabled": True,
            "hostnames": ["a.example.com"],
            "parentRefs": [{"name": "gw"}],
        },
    }
    documents = _render(helm, values)
    deployment = select(documents, "Deployment")[0]
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"]["example.com/hostile"] == text
    for name in ("pull-models", "ollama"):
        item = container(deployment, name)
        env = _env(item)
        assert (env["HOME"], env["OLLAMA_MODELS"], env["HOSTILE"]) == (home, mount, text)
        assert (_mounts(item)["home"], _mounts(item)["models"]) == (home, mount)
    service = select(documents, "Service")[0]
    assert service["metadata"]["annotations"]["example.com/hostile"] == text
    for document in documents:
        labels = document["metadata"]["labels"]
        assert labels["example.com/hostile"] == label
        assert labels["backstage.io/kubernetes-id"] == label


@pytest.mark.parametrize("name", ["y", "n", "on", "off", "no", "yes", "true", "null"])
def test_names_that_yaml_1_1_reads_as_booleans_stay_strings(helm: Path, name: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        documents = render(
            helm,
            {"fullnameOverride": name, "cache": {"mode": "sharedPVC"}},
            Path(directory),
            namespace="on",
        )
    for document in documents:
        assert document["metadata"]["namespace"] == "on"
        assert isinstance(document["metadata"]["name"], str)
        assert document["metadata"]["name"].startswith(name)
    assert select(documents, "Service")[0]["metadata"]["name"] == name
    assert (
        select(documents, "Deployment")[0]["spec"]["template"]["spec"]["serviceAccountName"] == name
    )


# Valid Kubernetes names, hostnames and header names that YAML reads as a number, a boolean or
# null when written plain; a full name must start with a letter.
_SCALAR_NAMES = ["12345", "1e3", "0x1f", "true", "null", "on"]


@pytest.mark.parametrize("name", _SCALAR_NAMES)
def test_user_names_in_custom_resources_stay_strings_the_crds_accept(
    helm: Path, shared_dir: Path, name: str
) -> None:
    fullname = name if name[0].isalpha() else "yes"
    security = ["gateway.networking.k8s.io/v1", "gateway.envoyproxy.io/v1alpha1"]
    shared_gateway = {
        "fullnameOverride": fullname,
        "assumeApiVersions": security,
        "httpRoute": {
            "enabled": True,
            "parentRefs": [{"name": name, "namespace": name, "sectionName": name}],
            "hostnames": [name],
            "authentication": {
                "type": "apiKey",
                "apiKey": {"secretName": name, "forwardClientIDHeader": name},
            },
        },
    }
    own_gateway = {
        "fullnameOverride": fullname,
        "assumeApiVersions": security,
        "gateway": {"enabled": True, "className": name, "http": {"enabled": True}},
        "httpRoute": {
            "enabled": True,
            "hostnames": [name],
            "authentication": {"type": "jwt", "jwt": {"jwksUri": "https://a.example/jwks"}},
        },
    }
    with tempfile.TemporaryDirectory() as directory:
        shared = render(helm, shared_gateway, Path(directory), namespace=name)
        own = render(helm, own_gateway, Path(directory), namespace=name)
    for documents in (shared, own):
        assert validate_manifests(documents, ("1.34",), shared_dir / "crds") == []
        for document in documents:
            assert document["metadata"]["namespace"] == name
    route = select(shared, "HTTPRoute")[0]["spec"]
    assert route["parentRefs"] == [{"name": name, "namespace": name, "sectionName": name}]
    assert route["hostnames"] == [name]
    assert {ref["name"] for rule in route["rules"] for ref in rule["backendRefs"]} == {fullname}
    policy = select(shared, "SecurityPolicy")[0]
    assert policy["metadata"]["name"] == fullname
    assert policy["spec"]["targetRefs"][0]["name"] == fullname
    api_key = policy["spec"]["apiKeyAuth"]
    assert api_key["credentialRefs"][0]["name"] == name
    assert api_key["forwardClientIDHeader"] == name
    own_route = select(own, "HTTPRoute")[0]["spec"]
    assert {ref["name"] for ref in own_route["parentRefs"]} == {fullname}
    (provider,) = select(own, "SecurityPolicy")[0]["spec"]["jwt"]["providers"]
    assert provider["name"] == fullname


# Output actions the chart may write plain: numbers only (a replica count, derived seconds).
_NUMBER_ACTIONS = {
    "{{ . }}",  # replicas: oil.fixedReplicas, an int
    '{{ include "oil.progressDeadlineSeconds" . }}',
    '{{ include "oil.startupFailureThreshold" . }}',
    '{{ include "oil.durationSeconds" $autoscaling.scaleToZero.afterIdle }}',
}
# A YAML value written by one output action: `key: {{ ... }}` or `- {{ ... }}`.
_SCALAR_ACTION = re.compile(r"^\s*(?:- )?(?:[\w./-]+: |- )(\{\{[^-/].*?\}\})\s*$")
_WRITES_YAML_SAFELY = re.compile(r"\|\s*(?:quote|toYaml|toJson|int|int64)\b|\bnindent\b")


def test_every_scalar_the_templates_interpolate_is_quoted() -> None:
    """A name such as 12345 or true is valid for Kubernetes but not a string unless quoted: every
    `key: {{ ... }}` writes a quoted string, or a number it makes itself."""
    plain = []
    for template in sorted((CHART / "templates").rglob("*")):
        if template.suffix not in {".yaml", ".tpl"}:
            continue
        for number, line in enumerate(template.read_text().splitlines(), 1):
            found = _SCALAR_ACTION.match(line)
            if found is None:
                continue
            action = found.group(1)
            if _WRITES_YAML_SAFELY.search(action) or action in _NUMBER_ACTIONS:
                continue
            plain.append(f"{template.relative_to(CHART)}:{number}: {line.strip()}")
    assert plain == []
