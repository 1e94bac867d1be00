"""From Backstage form to chart: the committed Template's form accepts a parameter set, its
skeleton (rendered by Backstage's fetch:template action and by nunjucks as SecureTemplater)
writes a leaf that `catalog-gen validate` accepts, `catalog-gen render` turns it into values,
app.json and a Component, and the chart renders those values into valid manifests on both
helm versions."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from catalog_gen.cli import main
from tests.chart.conftest import API_VERSIONS
from tests.conftest import REPO_ROOT
from tests.support.backstage import render_skeleton, validate_entities
from tests.support.kube import helm_template, validate_manifests

TEMPLATE_DIR = REPO_ROOT / "backstage" / "templates" / "ollama-inference-load"
CHART = REPO_ROOT / "charts" / "ollama-inference-load"

# What the scaffolder hands fetch:template: keys the user left empty are absent, and the form
# creates every object field even when nothing in it was filled (the empty {} below).
PARAMETER_SETS: dict[str, dict[str, Any]] = {
    "minimal": {
        "serviceName": "rt-minimal",
        "environment": "dev",
        "namespace": "team-rt",
        "serviceCatalog": "ml-inference",
        "owner": "group:default/ml-platform",
        "model": "qwen2.5:0.5b",
        "gpu": {},
        "ingress": {},
    },
    "tricky-text": {
        "serviceName": "rt-tricky",
        "environment": "dev",
        "namespace": "team-rt",
        "serviceCatalog": "ml-inference",
        "owner": "user:jane.doe",
        "description": 'He said "yes": #1 priority\n- not a list\nkey: not a map {x} & ünïcødé',
        "model": "registry.example.com:5000/team/model:v1.2",
        "gpu": {"count": 1, "type": "l4"},
        "ingress": {"enabled": True, "host": "rt-tricky.dev.inference.example.com"},
    },
    "cpu-only-not-exposed": {
        "serviceName": "rt-cpu",
        "environment": "dev",
        "namespace": "team-rt",
        "serviceCatalog": "ml-inference",
        "owner": "group:ml-platform",
        "description": "",
        "model": "tinyllama",
        "gpu": {"count": 0},
        "ingress": {"enabled": False},
    },
}


def template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((TEMPLATE_DIR / "template.yaml").read_text())
    return data


def fetch_values(parameters: dict[str, Any]) -> dict[str, Any]:
    """The fetch:template step's values: each `${{ parameters.x }}` keeps its type; an unset
    parameter is undefined (left out)."""
    (fetch,) = [step for step in template()["spec"]["steps"] if step["id"] == "fetch"]
    values = {}
    for key, expression in fetch["input"]["values"].items():
        assert expression == f"${{{{ parameters.{key} }}}}"
        if key in parameters:
            values[key] = parameters[key]
    return values


def cli(*arguments: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(arguments), stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_the_form_accepts_the_parameter_set(name: str) -> None:
    parameters = PARAMETER_SETS[name]
    for page in template()["spec"]["parameters"]:
        page_values = {key: parameters[key] for key in page["properties"] if key in parameters}
        jsonschema.Draft7Validator(page).validate(page_values)


@pytest.mark.parametrize(
    ("key", "value"),
    [("serviceName", "Bad_Name"), ("environment", "qa"), ("model", "phi@sha256:abc")],
)
def test_the_form_rejects_what_the_leaf_schema_rejects(key: str, value: str) -> None:
    parameters = {**PARAMETER_SETS["minimal"], key: value}
    errors = [
        error
        for page in template()["spec"]["parameters"]
        for error in jsonschema.Draft7Validator(page).iter_errors(
            {name: parameters[name] for name in page["properties"] if name in parameters}
        )
    ]
    assert errors


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_skeleton_leaf_validates_renders_and_deploys(
    name: str, tmp_path: Path, helm: Path, shared_dir: Path
) -> None:
    parameters = PARAMETER_SETS[name]
    files = render_skeleton(TEMPLATE_DIR, fetch_values(parameters))
    leaf_path = (
        f"catalog/{parameters['environment']}/{parameters['namespace']}/"
        f"{parameters['serviceName']}.yaml"
    )
    assert list(files) == [leaf_path]
    leaf = yaml.safe_load(files[leaf_path])
    for key in ("serviceName", "owner", "model"):
        assert leaf[key] == parameters[key]
    assert leaf.get("description") == parameters.get("description")

    catalog = tmp_path / "catalog"
    shutil.copytree(REPO_ROOT / "catalog", catalog)
    (tmp_path / leaf_path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / leaf_path).write_text(files[leaf_path])

    code, output = cli("validate", "--catalog", str(catalog), "--chart", str(CHART))
    assert code == 0, output
    out = tmp_path / "generated"
    code, output = cli(
        "render", "--catalog", str(catalog), "--chart", str(CHART), "--out", str(out)
    )
    assert code == 0, output

    service_dir = out / parameters["environment"] / parameters["namespace"]
    service_dir = service_dir / parameters["serviceName"]
    record = json.loads((service_dir / "app.json").read_text())
    assert record["source"] == leaf_path
    component = yaml.safe_load((service_dir / "catalog-info.yaml").read_text())
    assert validate_entities({"component": component}) == {"component": []}

    documents = helm_template(
        helm,
        CHART,
        [service_dir / "values.yaml"],
        release=record["service"],
        namespace=record["namespace"],
        api_versions=API_VERSIONS,
    )
    assert {document["kind"] for document in documents} >= {"Deployment", "Service"}
    # A long first pull must read as Progressing in Argo CD, not Degraded.
    budget = yaml.safe_load((service_dir / "values.yaml").read_text())["startup"]["budgetSeconds"]
    (deployment,) = [document for document in documents if document["kind"] == "Deployment"]
    assert deployment["spec"]["progressDeadlineSeconds"] > budget
    assert validate_manifests(documents, crd_dir=shared_dir / "crds") == []
