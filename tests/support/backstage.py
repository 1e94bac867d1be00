"""Backstage in the tests: its own validators (in node) and the scaffolder's skeleton templating.

- ``validate_entities`` runs ``backstage_validate.mjs`` once for a whole batch of entities: the
  catalog's default entity policies plus the kind validators of ``@backstage/catalog-model`` and
  ``@backstage/plugin-scaffolder-common``, the same code a Backstage catalog runs on ingestion.
- ``backstage_schemas`` reads the JSON schemas those packages compile (Draft-07), each checked
  against a pinned sha256, for validation with Python's jsonschema.
- ``render_skeleton`` renders a ``fetch:template`` skeleton the way Backstage's SecureTemplater
  does for the subset the skeleton uses: ``${{ values.x }}``, ``${{ values.x | dump }}``,
  ``{% if values.x is defined %}...{% endif %}``, ``{# comments #}``, ``-`` whitespace control,
  file names templated too, autoescape off.

The npm packages are installed by ``make bootstrap`` (``npm ci`` from
``tools/backstage/package-lock.json``, whose integrity hashes pin the exact tarballs).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import shutil
import subprocess
from collections.abc import Mapping
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


# --- the scaffolder's skeleton templating (Nunjucks subset) -----------------------------------


class SkeletonError(Exception):
    pass


_UNDEFINED = object()
_TAG = re.compile(r"(\$\{\{-?|\{%-?|\{#)(.*?)(-?\}\}|-?%\}|#\})", re.DOTALL)
_EXPRESSION = re.compile(r"^\s*values((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:\|\s*(dump)\s*)?$")
_CONDITION = re.compile(r"^values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)(\s+is\s+defined)?$")


def _lookup(values: Mapping[str, Any], chain: str) -> Any:
    value: Any = values
    for name in chain.split(".")[1:]:
        if not isinstance(value, Mapping) or name not in value:
            return _UNDEFINED
        value = value[name]
    return value


def _js_string(value: Any) -> str:
    """String(value) as JavaScript prints it; undefined and null print as '' in Nunjucks."""
    if value is _UNDEFINED or value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join(_js_string(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


def _json_stringify(value: Any) -> str:
    """JSON.stringify(value), the Nunjucks dump filter without indentation."""
    if value is _UNDEFINED:
        return ""  # JSON.stringify(undefined) is undefined, which Nunjucks prints as ''
    if isinstance(value, float) and not math.isfinite(value):
        return "null"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _truthy(value: Any) -> bool:
    return value is not _UNDEFINED and value not in (None, "", 0, False)


def _condition(text: str, values: Mapping[str, Any]) -> bool:
    """`values.a is defined or values.b ...`: tests joined by `or` only (no and, not, parens)."""
    outcomes = []
    for part in re.split(r"\s+or\s+", text.strip()):
        condition = _CONDITION.match(part.strip())
        if condition is None:
            raise SkeletonError(f"unsupported condition {part!r}")
        value = _lookup(values, "values" + condition.group(1))
        outcomes.append(value is not _UNDEFINED if condition.group(2) else _truthy(value))
    return any(outcomes)


def render_nunjucks(template: str, values: Mapping[str, Any]) -> str:
    output: list[str] = []
    # Stack of "is this branch emitting" flags; the bottom one is the document.
    emitting = [True]
    position = 0
    strip_next = False
    for match in _TAG.finditer(template):
        text = template[position : match.start()]
        opener, body, closer = match.groups()
        if strip_next:
            text = text.lstrip()
        if opener.endswith("-"):
            text = text.rstrip()
        if all(emitting):
            output.append(text)
        strip_next = closer.startswith("-")
        position = match.end()
        if opener == "{#":
            continue
        if opener.startswith("${{"):
            expression = _EXPRESSION.match(body)
            if expression is None:
                raise SkeletonError(f"unsupported expression ${{{{{body}}}}}")
            if all(emitting):
                value = _lookup(values, "values" + expression.group(1))
                text_value = _json_stringify(value) if expression.group(2) else _js_string(value)
                output.append(text_value)
            continue
        statement = body.strip()
        if statement == "endif":
            if len(emitting) == 1:
                raise SkeletonError("endif without if")
            emitting.pop()
            continue
        if not statement.startswith("if "):
            raise SkeletonError(f"unsupported tag {{% {statement} %}}")
        emitting.append(_condition(statement[3:], values))
    if len(emitting) != 1:
        raise SkeletonError("unclosed if")
    tail = template[position:]
    output.append(tail.lstrip() if strip_next else tail)
    return "".join(output)


def render_skeleton(skeleton: Path, values: Mapping[str, Any]) -> dict[str, str]:
    """{relative output path: content} for every file of a fetch:template skeleton."""
    rendered: dict[str, str] = {}
    for path in sorted(p for p in skeleton.rglob("*") if p.is_file()):
        relative = render_nunjucks(path.relative_to(skeleton).as_posix(), values)
        if "" in relative.split("/"):
            raise SkeletonError(f"{path}: templated path {relative!r} has an empty part")
        rendered[relative] = render_nunjucks(path.read_text(encoding="utf-8"), values)
    return rendered
