"""The committed JSON schemas are generated from the pydantic models, and both agree."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, create_model

from catalog_gen import models
from catalog_gen.check.shape import shape_errors
from catalog_gen.emit import schema
from catalog_gen.emit.schema import SCHEMA_FILES, json_schema, schema_text
from catalog_gen.fields import Quantity
from catalog_gen.models import CatalogLeaf, Environment
from tests.conftest import REPO_ROOT
from tests.unit.helpers import FIXTURES

SCHEMAS = REPO_ROOT / "schemas"


@pytest.mark.parametrize("file_name", sorted(SCHEMA_FILES))
def test_committed_schema_is_not_stale(file_name: str) -> None:
    committed = (SCHEMAS / file_name).read_text(encoding="utf-8")
    assert committed == schema_text(SCHEMA_FILES[file_name], file_name), (
        f"schemas/{file_name} is stale: run `catalog-gen schema`"
    )


@pytest.mark.parametrize("file_name", sorted(SCHEMA_FILES))
def test_committed_schema_is_a_valid_draft_2020_12_schema(file_name: str) -> None:
    schema = json.loads((SCHEMAS / file_name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)


# pydantic writes a constraint it cannot place on a union (Field(ge=0) on int | float) under
# its own name: editors ignore "ge", so the published schema let through what catalog-gen refuses.
_PYDANTIC_ONLY = {"ge", "gt", "le", "lt", "min_length", "max_length", "multiple_of"}


_NAMED_SCHEMAS = {"properties", "patternProperties", "$defs", "definitions"}


def _keywords(node: Any) -> set[str]:
    """The keywords of a schema and its subschemas (not the names in properties or $defs)."""
    if isinstance(node, dict):
        found = set(node)
        for key, value in node.items():
            if key in _NAMED_SCHEMAS and isinstance(value, dict):
                found |= {k for sub in value.values() for k in _keywords(sub)}
            else:
                found |= _keywords(value)
        return found
    if isinstance(node, list):
        return {k for item in node for k in _keywords(item)}
    return set()


@pytest.mark.parametrize("file_name", sorted(SCHEMA_FILES))
def test_committed_schema_has_no_constraint_json_schema_does_not_know(file_name: str) -> None:
    schema = json.loads((SCHEMAS / file_name).read_text(encoding="utf-8"))
    assert _keywords(schema) & _PYDANTIC_ONLY == set()


def _load(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None


def _corpus() -> list[tuple[str, Path]]:
    """Every YAML file of the fixture corpus and the shipped catalog that parses to a mapping."""
    files: list[tuple[str, Path]] = []
    for root in (FIXTURES, REPO_ROOT / "catalog"):
        for path in sorted(root.rglob("*.yaml")):
            if "expected" in path.parts or path.name == "models.lock.yaml":
                continue
            if not isinstance(_load(path), dict):
                continue  # the loader refuses it before any schema applies
            kind = "environment" if path.parent.name == "environments" else "leaf"
            files.append((kind, path))
    return files


CORPUS = _corpus()


@pytest.mark.parametrize(
    ("kind", "path"), CORPUS, ids=[str(path.relative_to(REPO_ROOT)) for _, path in CORPUS]
)
def test_json_schema_and_pydantic_model_agree(kind: str, path: Path) -> None:
    data = _load(path)
    model = Environment if kind == "environment" else CatalogLeaf
    file_name = "environment.schema.json" if kind == "environment" else "catalog-leaf.schema.json"
    schema = json.loads((SCHEMAS / file_name).read_text(encoding="utf-8"))
    schema_accepts = jsonschema.Draft202012Validator(schema).is_valid(data)
    model_errors = shape_errors(model, data)
    assert schema_accepts == (not model_errors), model_errors


def test_corpus_exercises_both_answers() -> None:
    """The agreement test means something only if both schema outcomes occur in the corpus."""
    schema = json.loads((SCHEMAS / "catalog-leaf.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    outcomes = {
        validator.is_valid(data)
        for kind, path in CORPUS
        if kind == "leaf" and isinstance(data := _load(path), dict)
    }
    assert outcomes == {True, False}


def test_shipped_leaves_carry_the_schema_modeline() -> None:
    for path in sorted((REPO_ROOT / "catalog").rglob("*.yaml")):
        if path.name == "models.lock.yaml":
            continue
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target.is_file(), f"{path}: modeline points at {target}"


@pytest.mark.parametrize("file_name", sorted(SCHEMA_FILES))
def test_descriptions_are_the_docstrings_pydantic_itself_reads(
    file_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """emit/schema.py reads the field docstrings itself (pydantic's use_attribute_docstrings
    would cost every start): models.py run again, as a module of its own, with pydantic reading
    them gives the same schema."""
    source = Path(models.__file__).read_text(encoding="utf-8")
    setting = "        protected_namespaces=(),\n"
    assert source.count(setting) == 1
    twin_file = tmp_path / "models_read_by_pydantic.py"  # pydantic finds the classes' source
    twin_file.write_text(source.replace(setting, f"{setting}use_attribute_docstrings=True,\n"))
    twin = types.ModuleType("catalog_gen._models_read_by_pydantic")
    twin.__file__ = str(twin_file)
    monkeypatch.setitem(sys.modules, twin.__name__, twin)
    exec(compile(twin_file.read_text(), twin.__file__, "exec"), twin.__dict__)
    assert twin.OllamaSettings.model_fields["num_parallel"].description  # it did read them
    model = SCHEMA_FILES[file_name]
    by_pydantic = getattr(twin, model.__name__).model_json_schema(by_alias=True, mode="validation")
    ours = json_schema(model, file_name)
    header = {"$schema", "$id", "$comment"}
    ours_in_order = json.dumps({key: value for key, value in ours.items() if key not in header})
    assert ours_in_order == json.dumps(schema._clean(by_pydantic))  # the Backstage form's order


def _sample(config: ConfigDict) -> type[BaseModel]:
    class Base(BaseModel):
        model_config = config
        kept: int = 0
        """Base's words for kept."""
        redeclared: int = 0
        """Base's words for redeclared."""

    class Sample(Base):
        model_config = config
        plain: int = 0
        """Plain's words."""
        typed: Quantity | None = None
        """Typed's words, not its type's."""
        explicit: int = Field(default=0, description="Its own.")
        """Not these."""
        extra: int = Field(default=0, json_schema_extra={"description": "Its extra's."})
        """Not these either."""
        redeclared: int = 1
        undocumented: int = 0

    return Sample


def test_a_docstring_describes_its_field_as_pydantic_would() -> None:
    """Inherited, redeclared, typed, explicitly described fields: described as pydantic's own
    use_attribute_docstrings describes them."""
    ours = json_schema(_sample(ConfigDict()), "sample.json")["properties"]
    theirs = _sample(ConfigDict(use_attribute_docstrings=True)).model_json_schema()["properties"]
    described = {name: found.get("description") for name, found in ours.items()}
    assert described == {name: found.get("description") for name, found in theirs.items()}
    assert described == {
        "kept": "Base's words for kept.",
        "redeclared": None,
        "plain": "Plain's words.",
        "typed": "Typed's words, not its type's.",
        "explicit": "Its own.",
        "extra": "Its extra's.",
        "undocumented": None,
    }


def test_a_model_without_source_gets_no_field_descriptions() -> None:
    """A model whose source cannot be read (made at run time, or installed as bytecode only)
    is described by its types alone, as pydantic's own option leaves it."""
    made = create_model("Made", size=(Quantity, "1Gi"))
    assert schema.field_docstrings(made) == {}
    described = json_schema(made, "made.json")["properties"]["size"].get("description")
    assert described == made.model_json_schema()["properties"]["size"].get("description")
