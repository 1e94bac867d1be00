"""`catalog-gen new` and the Backstage form agree: the leaf `new` writes is what the form's
fetch:template step writes for the same answers (Backstage's own templating), every page of the
committed form accepts it, and the form refuses what `new` refuses (a bad model name, a host
the catalog already routes)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from catalog_gen.load.document import parse_document
from catalog_gen.problems import Report
from tests.conftest import REPO_ROOT
from tests.gitops.test_roundtrip import TEMPLATE_DIR, fetch_values, template
from tests.support.backstage import SkeletonRequest, render_skeleton, render_skeletons
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


def _probe_points() -> list[int]:
    """Code points where what the form's dump writes and what the leaf's YAML takes can
    differ: ASCII and Latin-1 (DEL, C1), the general punctuation block (LS, PS), both ends of
    the surrogates, the noncharacters U+FDD0.. and U+FFFE/U+FFFF, and beyond the BMP."""
    spans = [(0x20, 0x250), (0x2000, 0x2070), (0xD7F0, 0xD810), (0xDBF0, 0xDC10), (0xDFF0, 0xE010)]
    spans += [(0xFDC0, 0xFDF0), (0xFFF0, 0x10000)]
    return [point for low, high in spans for point in range(low, high)] + [0x1F999, 0x10FFFF]


def _dumped(text: str) -> str:
    """Nunjucks' dump (JSON.stringify): what Python's json.dumps leaves raw JavaScript leaves
    raw too, but a lone surrogate JavaScript writes as an escape (well-formed JSON.stringify)."""
    dumped = json.dumps(text, ensure_ascii=False)
    return re.sub("[\ud800-\udfff]", lambda match: f"\\u{ord(match.group()):04x}", dumped)


def _leaf_yaml_refuses(text: str) -> bool:
    """catalog-gen's loader on a description as the form's dump writes it."""
    report = Report()
    line = f"description: {_dumped(text)}\n".encode("utf-8", "surrogatepass")
    return parse_document(line, Path("leaf.yaml"), "leaf.yaml", report) is None


def test_the_form_refuses_exactly_the_descriptions_the_leaf_refuses() -> None:
    """Every probe character in a description: the form's description field refuses exactly
    the texts catalog-gen's loader refuses once dumped into the leaf (a form that accepts more
    opens a pull request CI fails; one that refuses more stops valid services)."""
    field = template()["spec"]["parameters"][0]["properties"]["description"]
    form = jsonschema.Draft7Validator(field)
    for point in _probe_points():
        text = f"a{chr(point)}b"
        assert bool(list(form.iter_errors(text))) == _leaf_yaml_refuses(text), f"U+{point:04X}"


# One of each kind the sweep above tells apart, through Backstage's own dump and the whole of
# `catalog-gen validate`: the sweep's model of both holds.
_SAMPLES = [0x7F, 0x85, 0x9F, 0x2028, 0x2029, 0xD800, 0xFFFE, 0xFFFF]
_SAMPLES += [0x09, 0xE9, 0xA0, 0x2027, 0xFDD0, 0xFFFD, 0x1F999]


def test_the_form_and_validate_agree_on_samples_written_by_backstage(tmp_path: Path) -> None:
    repository_catalog(tmp_path)
    requests = []
    for point in _SAMPLES:
        name = f"probe-{point:x}"
        answers = {
            **ANSWERS,
            "serviceName": name,
            "description": f"a{chr(point)}b",
            "gpu": {"count": 0},  # fifteen more services: dev's GPU budget is not probed here
            "ingress": {"enabled": True, "host": f"{name}.dev.inference.example.com"},
        }
        requests.append(SkeletonRequest(TEMPLATE_DIR, fetch_values(answers)))
    for rendered in render_skeletons(requests):
        assert isinstance(rendered, dict), rendered
        for relative, content in rendered.items():
            (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / relative).write_bytes(content.encode("utf-8", "surrogatepass"))
    outcome = run_cli(tmp_path, "validate", "--no-cache", "--format", "json")
    refused = {p["path"] for p in json.loads(outcome.stdout) if p["severity"] == "error"}
    assert refused <= {f"catalog/dev/team-form/probe-{point:x}.yaml" for point in _SAMPLES}
    field = template()["spec"]["parameters"][0]["properties"]["description"]
    form = jsonschema.Draft7Validator(field)
    for point in _SAMPLES:
        leaf_path = f"catalog/dev/team-form/probe-{point:x}.yaml"
        form_refuses = bool(list(form.iter_errors(f"a{chr(point)}b")))
        assert form_refuses == (leaf_path in refused), f"U+{point:04X}"
    assert len(refused) == 8  # the first eight samples
