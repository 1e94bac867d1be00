"""Backstage in the tests: its own validators (in node) and the scaffolder's skeleton templating.

- ``validate_entities`` runs ``backstage_validate.mjs`` once for a whole batch of entities: the
  catalog's default entity policies plus the kind validators of ``@backstage/catalog-model`` and
  ``@backstage/plugin-scaffolder-common``, the same code a Backstage catalog runs on ingestion.
- ``backstage_schemas`` reads the JSON schemas those packages compile (Draft-07), each checked
  against a pinned sha256, for validation with Python's jsonschema.
- ``render_skeletons`` renders a ``fetch:template`` skeleton with Backstage's own code
  (``backstage_fetch_template.cjs``): the scaffolder-backend 4.2.0 action itself (nunjitsu) and
  the real nunjucks configured as scaffolder-backend 3.x's SecureTemplater; both must agree.

The npm packages are installed by ``make bootstrap`` (``npm ci`` from
``tools/backstage/package-lock.json``, whose integrity hashes pin the exact tarballs).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from tests.conftest import REPO_ROOT

VALIDATORS_DIR = REPO_ROOT / "tools" / "backstage"
VALIDATE_SCRIPT = Path(__file__).with_name("backstage_validate.mjs")

PINNED_PACKAGES = {
    "@backstage/catalog-model": "1.10.1",
    "@backstage/plugin-scaffolder-common": "2.3.0",
    "@backstage/plugin-scaffolder-backend": "4.2.0",
    "nunjucks": "3.2.4",
    "@rjsf/core": "5.24.13",
    "@rjsf/validator-ajv8": "5.24.13",
    "playwright-core": "1.65.2",
}
# sha256 of each schema as canonical JSON (sorted keys, no spaces), as extracted from the pinned
# packages; a different build of the packages must be reviewed before these change.
PINNED_SCHEMA_SHA256 = {
    "ComponentV1alpha1": "47902cda420579681b543e60f3929433b8a522cadab1647ae3e8270d2d3d1383",
    "Entity": "757602f30e0df0949510b437ad47f08a90681d7ac9abe678d96ad394f6e4822a",
    "EntityEnvelope": "81ae2cea377701883c333ebc529162381461f9ee53160341878599e19d51cf2b",
    "EntityMeta": "d971290360d40de0c1ff65e98c3a409acb7fcedab0e2e7542f3bc367f861dceb",
    "LocationV1alpha1": "df1ae05e7c3dec0ce3c8ba4da89d0d624dfd3a1d5d083920e32f12c380de7f06",
    "TemplateV1beta3": "09b73b0ae47e5427245cd3c362d775011b876ee560affe822592814e89d29ce3",
    "common": "d4de5bd92316aa1ca788d7c67888f20b7e9b4dbe6a02e50b22eb48ac3c73214c",
}

# Backstage's rules for metadata.name outside the JSON schema (FieldFormatEntityPolicy with
# KubernetesValidatorFunctions.isValidObjectName): at most 63 characters, [a-zA-Z0-9] runs
# separated by single '-', '_' or '.'.
ENTITY_NAME_MAX = 63
ENTITY_NAME = re.compile(r"^[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*$")


def is_valid_entity_name(name: str) -> bool:
    return len(name) <= ENTITY_NAME_MAX and ENTITY_NAME.match(name) is not None


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for Backstage's validators; install Node.js 20+")
    for package, version in PINNED_PACKAGES.items():
        manifest = VALIDATORS_DIR / "node_modules" / package / "package.json"
        if not manifest.is_file():
            pytest.fail(f"{package} missing in {VALIDATORS_DIR}: run `make bootstrap`")
        installed = json.loads(manifest.read_text())["version"]
        if installed != version:
            pytest.fail(f"{package} is {installed}, pinned {version}: run `make bootstrap`")
    return node


def _run_node(arguments: list[str], stdin: str = "") -> str:
    result = subprocess.run(
        [_node(), str(VALIDATE_SCRIPT), *arguments],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"backstage_validate.mjs failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def validate_entities(entities: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """{id: entity} -> {id: errors}; one node process for the whole batch."""
    batch = [{"id": key, "entity": entity} for key, entity in entities.items()]
    results = json.loads(_run_node([], json.dumps(batch)))
    return {result["id"]: result["errors"] for result in results}


@functools.cache
def backstage_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = json.loads(_run_node(["--schemas"]))
    for schema_id, schema in schemas.items():
        canonical = json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()
        digest = hashlib.sha256(canonical).hexdigest()
        if PINNED_SCHEMA_SHA256.get(schema_id) != digest:
            pytest.fail(
                f"Backstage schema {schema_id} changed (sha256 {digest}); review and re-pin"
            )
    return schemas


def schema_validator(schema_id: str) -> jsonschema.Draft7Validator:
    """A Draft-07 validator for one Backstage schema with its $refs (Entity, common...) resolved."""
    schemas = backstage_schemas()
    registry: Registry[Any] = Registry().with_resources(
        (key, Resource.from_contents(schema, default_specification=DRAFT7))
        for key, schema in schemas.items()
    )
    return jsonschema.Draft7Validator(schemas[schema_id], registry=registry)


# --- the scaffolder's skeleton templating: Backstage's fetch:template and nunjucks ------------

FETCH_TEMPLATE_SCRIPT = Path(__file__).with_name("backstage_fetch_template.cjs")


class SkeletonError(Exception):
    """Backstage's templating refused the skeleton or the values."""


@dataclass(frozen=True)
class SkeletonRequest:
    template_dir: Path  # the folder of template.yaml
    values: Mapping[str, Any]
    url: str = "./skeleton"


def render_skeletons(requests: Sequence[SkeletonRequest]) -> list[dict[str, str] | SkeletonError]:
    """Each request rendered by Backstage's fetch:template action (scaffolder-backend 4.2.0,
    nunjitsu) and by nunjucks configured as SecureTemplater (scaffolder-backend 3.x); the two
    must agree. One node process for the batch. {relative output path: content} or the error."""
    batch = [
        {"templateDir": str(request.template_dir), "url": request.url, "values": request.values}
        for request in requests
    ]
    node = _node()
    result = subprocess.run(
        [node, str(FETCH_TEMPLATE_SCRIPT)],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"backstage_fetch_template.cjs failed ({result.returncode}):\n{result.stderr}")
    rendered: list[dict[str, str] | SkeletonError] = []
    for request, answer in zip(requests, json.loads(result.stdout), strict=True):
        if "error" in answer:
            rendered.append(SkeletonError(answer["error"]))
            continue
        if answer["nunjitsu"] != answer["nunjucks"]:
            pytest.fail(
                f"Backstage 4.x (nunjitsu) and 3.x (nunjucks) render {request} differently:\n"
                f"{answer['nunjitsu']!r}\n{answer['nunjucks']!r}"
            )
        rendered.append(answer["nunjitsu"])
    return rendered


def render_skeleton(template_dir: Path, values: Mapping[str, Any]) -> dict[str, str]:
    """One skeleton rendered (see render_skeletons); a templating error fails the test."""
    (answer,) = render_skeletons([SkeletonRequest(template_dir, values)])
    if isinstance(answer, SkeletonError):
        raise answer
    return answer
