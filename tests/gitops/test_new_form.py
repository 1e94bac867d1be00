"""`catalog-gen new` and the Backstage form agree: the leaf `new` writes is what the form's
fetch:template step writes for the same answers (Backstage's own templating), every page of the
committed form accepts it, and the form refuses what `new` refuses (a bad model name, a host
the catalog already routes)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.gitops.test_roundtrip import TEMPLATE_DIR, fetch_values, template
from tests.support.backstage import render_skeleton
from tests.unit.helpers import run_cli

ANSWERS: dict[str, Any] = {
    "serviceName": "form-twin",
    "environment": "dev",
    "namespace": "team-form",
    "serviceCatalog": "ml-inference",
    "owner": "group:ml-platform",
    "model": "qwen2.5:0.5b",
    "gpu": {"count": 1},
    "ingress": {"enabled": True, "host": "form-twin.dev.inference.example.com"},
}


def new_arguments(answers: dict[str, Any]) -> list[str]:
    place = f"{answers['environment']}/{answers['namespace']}/{answers['serviceName']}"
    return [
        "new", place, "--model", answers["model"], "--gpus", str(answers["gpu"]["count"]),
        "--host", answers["ingress"]["host"], "--owner", answers["owner"],
        "--service-catalog", answers["serviceCatalog"],
    ]  # fmt: skip


def form_errors(answers: dict[str, Any]) -> list[str]:
    """What the form's pages say of the answers (the form holds every page's answers at once,
    which the Exposure page's per-environment host rules read)."""
    return [
        error.message
        for page in template()["spec"]["parameters"]
        for error in jsonschema.Draft7Validator(page).iter_errors(answers)
    ]


def repository_catalog(root: Path) -> Path:
    """The committed catalog: the one the committed form was generated from."""
    shutil.copytree(REPO_ROOT / "catalog", root / "catalog")
    return root / "catalog"


def test_new_writes_the_leaf_the_form_writes(tmp_path: Path) -> None:
    catalog = repository_catalog(tmp_path)
    outcome = run_cli(tmp_path, *new_arguments(ANSWERS))
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    written = (catalog / "dev/team-form/form-twin.yaml").read_text(encoding="utf-8")
    (skeleton,) = render_skeleton(TEMPLATE_DIR, fetch_values(ANSWERS)).values()
    assert yaml.safe_load(written) == yaml.safe_load(skeleton)
    assert written.splitlines()[0] == skeleton.splitlines()[0]  # the same modeline
    assert form_errors(yaml.safe_load(written)) == []


@pytest.mark.parametrize(
    "change",
    [
        {"model": "Bad Model!"},
        {"ingress": {"enabled": True, "host": "text.hypermedia.au"}},  # ollama-phi routes it
    ],
    ids=["bad-model", "taken-host"],
)
def test_new_refuses_what_the_form_refuses(tmp_path: Path, change: dict[str, Any]) -> None:
    catalog = repository_catalog(tmp_path)
    answers = {**ANSWERS, **change}
    assert form_errors(answers) != []
    outcome = run_cli(tmp_path, *new_arguments(answers))
    assert outcome.code == 1
    assert not (catalog / "dev/team-form").exists()
