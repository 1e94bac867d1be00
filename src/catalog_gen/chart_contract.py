"""The chart's side of the contract: its defaults and values.schema.json.

ChartContract coalesces values with the chart's defaults the way helm does and validates the
result against the chart's schema (cheaply, for thousands of services); report_schema_errors
places each schema error on the leaf's chartValues node that caused it, or on the leaf as a
disagreement between the catalog and the chart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from catalog_gen.fast_schema import Verdict, fast_validator
from catalog_gen.loader import Document
from catalog_gen.models import CatalogLeaf
from catalog_gen.problems import Report
from catalog_gen.shape import did_you_mean


class ChartContractError(Exception):
    pass


# Top-level schema keywords under which each top-level value can be validated on its own.
_PER_KEY_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "type",
        "additionalProperties",
        "properties",
        "definitions",
        "$defs",
    }
)


@dataclass(frozen=True)
class ChartContract:
    """The chart's defaults and values.schema.json, loaded once and compiled once.

    Validation is what helm does (the defaults coalesced with the values, against the schema),
    made cheap for thousands of services: when the schema constrains top-level keys only one by
    one and the defaults are valid, a top-level value left at its default (the very same object,
    since coalesce shares untouched subtrees) needs no check, and a value already seen valid
    (models, resources... repeat across services) is not checked again.
    """

    directory: Path
    defaults: Mapping[str, Any]
    schema: Mapping[str, Any]
    validator: Any
    per_key: bool
    fast: Verdict | None = field(default=None, repr=False, compare=False)  # fast_schema.py
    _seen_valid: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def load(cls, directory: Path) -> ChartContract:
        try:
            defaults = yaml.safe_load((directory / "values.yaml").read_text(encoding="utf-8"))
            schema = json.loads((directory / "values.schema.json").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, ValueError) as error:
            raise ChartContractError(
                f"cannot read the chart at {directory} (values.yaml and values.schema.json): "
                f"{error}"
            ) from error
        if not isinstance(defaults, dict) or not isinstance(schema, dict):
            raise ChartContractError(f"{directory}: values.yaml or values.schema.json is empty")
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except jsonschema.SchemaError as error:
            raise ChartContractError(
                f"{directory}/values.schema.json is not a valid JSON schema: {error.message}"
            ) from error
        validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
        per_key = set(schema) <= _PER_KEY_KEYWORDS and validator.is_valid(defaults)
        return cls(directory, defaults, schema, validator, per_key, fast_validator(schema))

    def effective(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What helm validates and renders: the defaults coalesced with values."""
        return coalesce(self.defaults, values)

    def errors(self, effective: Mapping[str, Any]) -> list[jsonschema.ValidationError]:
        if self.fast is not None and self.fast(effective):
            return []  # python-jsonschema still judges, and words, everything else
        instance: Mapping[str, Any] = effective
        if self.per_key:
            changed = {
                key: value
                for key, value in effective.items()
                if value is not self.defaults.get(key)
            }
            fingerprints = {
                key: json.dumps([key, value], sort_keys=True, default=repr)
                for key, value in changed.items()
            }
            instance = {
                key: value
                for key, value in changed.items()
                if fingerprints[key] not in self._seen_valid
            }
            if not instance:
                return []
            if self.validator.is_valid(instance):
                self._seen_valid.update(fingerprints[key] for key in instance)
                return []
        elif self.validator.is_valid(instance):
            return []
        return sorted(
            self.validator.iter_errors(instance),
            key=lambda error: [str(part) for part in error.absolute_path],
        )

    def property_names(self, parts: Sequence[str | int]) -> list[str]:
        node: Any = self.schema
        for part in parts:
            node = self._resolve(node)
            if isinstance(part, int):
                node = node.get("items", {})
            else:
                node = node.get("properties", {}).get(part, {})
        return sorted(self._resolve(node).get("properties", {}))

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            target: Any = self.schema
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target.get(part, {})
            node = target
        return node if isinstance(node, dict) else {}


def coalesce(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of user values over chart defaults: maps merge, null deletes, else replace.

    Untouched subtrees are shared with base, not copied: callers must not mutate the result.
    """
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = coalesce(merged[key], value)
        else:
            merged[key] = value
    return merged


def report_schema_errors(
    document: Document,
    leaf: CatalogLeaf,
    chart: ChartContract,
    effective: Mapping[str, Any],
    report: Report,
) -> None:
    """Schema errors of the chart's values.schema.json, placed in the leaf where possible."""
    from_leaf = leaf.chart_values or {}
    for error in chart.errors(effective):
        parts = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = chart.property_names(parts)
            for key in sorted(set(error.instance) - set(known)):
                _place(
                    document,
                    from_leaf,
                    (*parts, key),
                    report,
                    f"unknown chart value {_dotted((*parts, key))!r}",
                    hint=did_you_mean(key, known),
                    at_key=True,
                )
            continue
        _place(
            document,
            from_leaf,
            parts,
            report,
            f"chart value {_dotted(parts) or '(root)'}: {error.message}",
        )


def _place(
    document: Document,
    from_leaf: Mapping[str, Any],
    parts: Sequence[str | int],
    report: Report,
    message: str,
    *,
    hint: str | None = None,
    at_key: bool = False,
) -> None:
    if parts and set_by(from_leaf, parts):
        document.add(report, ("chartValues", *parts), message, hint=hint, at_key=at_key)
    else:
        document.add(
            report,
            (),
            f"{message} (in the generated values: the catalog and the chart disagree)",
            hint=hint,
        )


def set_by(chart_values: Mapping[str, Any], parts: Sequence[str | int]) -> bool:
    """Whether chartValues decided the value at parts (set it, or replaced a subtree holding it)."""
    current: Any = chart_values
    for part in parts:
        if isinstance(current, Mapping):
            if part not in current:
                return False
            current = current[part]
        else:
            return True
    return True


def _dotted(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
