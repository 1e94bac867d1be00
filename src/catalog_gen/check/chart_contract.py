"""The chart's side of the contract: its defaults and values.schema.json.

ChartContract coalesces values with the chart's defaults the way helm does and validates the
result against the chart's schema (cheaply, for thousands of services); report_schema_errors
places each schema error on the leaf line that set the value: the leaf's chartValues node, else
the leaf field the value comes from (LEAF_SOURCES), else the leaf itself. The schema is the
chart's, not a copy: its rules across values (root `allOf`) and the `description` of a failing
subschema (the reason and the fix) come from values.schema.json. The rules only a template can
decide run through helm (chart_templates.py).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import yaml

from catalog_gen.check.chart_templates import ChartTemplates
from catalog_gen.check.ecma_pattern import compiled, with_ecma_patterns
from catalog_gen.check.fast_schema import (
    Verdict,
    fast_validator,
    per_key_verdict,
    schema_patterns,
)
from catalog_gen.check.shape import did_you_mean
from catalog_gen.load.document import DataPath, Document
from catalog_gen.models import CatalogLeaf
from catalog_gen.problems import Report

if TYPE_CHECKING:  # python-jsonschema is imported when a verdict needs its words (0.1 s)
    import jsonschema


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
# Keywords that hold rules across top-level values: checked on the whole effective values
# (`required`: the top-level values a chartValues null must not delete).
_CROSS_KEY_KEYWORDS = frozenset({"allOf", "required"})

# libyaml's, where PyYAML has it: the same data as the pure-Python one, which took 20 ms of every
# command's start to read the chart's commented values.yaml.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Helm reads values as JSON numbers, 64-bit floats, whatever the YAML says (helm 3.19.0 and
# 4.3.1 alike): an integer is held exactly up to 2^53 in size, larger ones are rounded
# (123456789012345678 renders 123456789012345680), and the chart's `int` turns 2^63 - 1 (which
# rounds to 2^63) and anything larger into -9223372036854775808, while toYaml writes -2^63 as
# -9.223372036854776e+18; the API server refuses both (tests/chart/test_helm_numbers.py).
# check/rules.py check_helm_numbers refuses the others in chartValues, their one owner.
HELM_EXACT_INTEGER = 2**53

# Where a chart value comes from in a leaf, longest chart path first: the leaf fields that map
# to chart values (docs/interfaces.md section 1). A value set in chartValues is placed there.
LEAF_SOURCES: tuple[tuple[tuple[str, ...], tuple[tuple[str, ...], ...]], ...] = (
    (("replicaCount",), (("container", "replicas"), ("container",))),
    (("resources",), (("container", "resources"), ("container",))),
    (("gpu",), (("gpu",),)),
    (("cache",), (("cache",),)),
    # The chart counts load groups from the models: a limit the leaf does not set is theirs.
    (("ollama", "maxLoadedModels"), (("ollama", "maxLoadedModels"), ("models",), ("model",))),
    (("ollama",), (("ollama",),)),
    (("models",), (("models",), ("model",))),
    (("derivedModels",), (("derivedModels",),)),
    (("ingress",), (("ingress",),)),
    (("httpRoute",), (("ingress",), ("gateway",))),
    (("startup",), (("resourcesPreset",),)),
    (("autoscaling",), (("autoscaling",),)),
    # plan/merge.py cost_labels: the team is the owner's name, the service the catalog's.
    (("costLabels", "team"), (("owner",),)),
    (("costLabels", "service"), (("serviceCatalog",),)),
)


@dataclass(frozen=True)
class ChartContract:
    """The chart's defaults and values.schema.json, loaded once and compiled once.

    Validation is what helm does (the defaults coalesced with the values, against the schema),
    made cheap for thousands of services: when the schema constrains top-level keys only one by
    one and the defaults are valid, a top-level value left at its default (the very same object,
    since coalesce shares untouched subtrees) needs no check, and a value already seen valid
    (models, resources... repeat across services) is not checked again. jsonschema-rs gives the
    verdicts (fast_schema.py); python-jsonschema, which words the errors, is loaded only when
    a verdict is "invalid" (or jsonschema-rs cannot compile the schema).
    """

    directory: Path
    defaults: Mapping[str, Any]
    schema: Mapping[str, Any]
    per_key: bool
    templates: ChartTemplates | None = field(default=None, compare=False)  # _validate.tpl
    fast: Verdict | None = field(default=None, repr=False, compare=False)  # fast_schema.py
    _seen_valid: set[str] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def load(cls, directory: Path) -> ChartContract:
        try:
            text = (directory / "values.yaml").read_text(encoding="utf-8")
            defaults = yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - the safe one
            schema = json.loads((directory / "values.schema.json").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError, ValueError) as error:
            raise ChartContractError(
                f"cannot read the chart at {directory} (values.yaml and values.schema.json): "
                f"{error}"
            ) from error
        if not isinstance(defaults, dict) or not isinstance(schema, dict):
            raise ChartContractError(f"{directory}: values.yaml or values.schema.json is empty")
        # jsonschema-rs checks the schema against its metaschema as it compiles it, and its
        # patterns are compiled by Python's re here (what python-jsonschema's check adds);
        # where jsonschema-rs cannot compile it, python-jsonschema says why (or judges alone).
        whole = fast_validator(schema)
        if whole is not None:
            _check_patterns(directory, schema)
        judge = whole or _python_validator(directory, schema).is_valid
        per_key = set(schema) <= _PER_KEY_KEYWORDS | _CROSS_KEY_KEYWORDS and bool(judge(defaults))
        fast = whole
        if per_key:
            fast = per_key_verdict(*_split(schema), defaults) or fast
        return cls(directory, defaults, schema, per_key, ChartTemplates(directory), fast)

    @cached_property
    def validator(self) -> Any:
        """python-jsonschema's validator: of the whole schema, or of its per-key part."""
        per_key_part = _split(self.schema)[0]
        schema = per_key_part if self.per_key and "allOf" in self.schema else dict(self.schema)
        return _python_validator(self.directory, schema)

    @cached_property
    def cross_validator(self) -> Any:
        """python-jsonschema's validator of the rules across top-level values (per_key only)."""
        cross_schema = _split(self.schema)[1]
        if not self.per_key or cross_schema is None:
            return None
        # Rules across top-level values are checked on the whole effective values, the rest
        # per top-level key (cheap when most keys keep the chart's defaults).
        return _python_validator(self.directory, cross_schema)

    def effective(self, values: Mapping[str, Any], before: Known | None = None) -> dict[str, Any]:
        """What helm validates and renders: the defaults coalesced with values. before: values
        a little different and their effective values (a top-level value that is the very
        object it was there is not coalesced again)."""
        if before is not None:
            return coalesce_again(self.defaults, values, *before)
        return coalesce(self.defaults, values)

    def errors(
        self, effective: Mapping[str, Any], known_valid: Mapping[str, Any] | None = None
    ) -> list[jsonschema.ValidationError]:
        """Every schema error of the effective values, sorted by the value's path. known_valid:
        effective values found valid (a top-level value that is the very object it was there
        is not judged again by the fast verdict)."""
        if self.fast is not None and self.fast(effective, known_valid):
            return []  # python-jsonschema still judges, and words, everything else
        found = self._errors(effective)
        if self.cross_validator is not None:
            found += list(self.cross_validator.iter_errors(effective))
        return sorted(found, key=lambda error: [str(part) for part in error.absolute_path])

    def _errors(self, effective: Mapping[str, Any]) -> list[jsonschema.ValidationError]:
        instance: Mapping[str, Any] = effective
        if self.per_key:
            changed = {
                key: value
                for key, value in effective.items()
                if value is not self.defaults.get(key, _NEW)  # a null the defaults lack counts
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
        return list(self.validator.iter_errors(instance))

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


def _split(schema: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The schema's per-key part (all but the root allOf, and the root allOf's rules that judge
    each top-level value on its own) and its rules across top-level values (the rest of the
    root allOf with what its references and its draft need; None without any). The defaults,
    found valid against the whole schema, are valid against both."""
    per_key = {key: value for key, value in schema.items() if key not in _CROSS_KEY_KEYWORDS}
    rules = schema.get("allOf")
    each = [rule for rule in rules if _judges_each_value(schema, rule)] if rules else []
    if each:  # a rule on every value and key (yamlText): only the values a leaf changed
        per_key["allOf"] = each
    cross = {**schema, "allOf": [rule for rule in rules or () if rule not in each]}
    if not cross["allOf"]:
        del cross["allOf"]
    if not any(key in cross for key in _CROSS_KEY_KEYWORDS):
        return per_key, None
    kept = ("$schema", "$id", "definitions", "$defs", *sorted(_CROSS_KEY_KEYWORDS))
    return per_key, {key: cross[key] for key in kept if key in cross}


# Keywords of a schema that says nothing of an object but through its members, one at a time.
_MEMBERWISE = frozenset(
    {"description", "pattern", "items", "additionalProperties", "propertyNames"}
)


def _judges_each_value(schema: Mapping[str, Any], rule: Any) -> bool:
    """rule (a root allOf entry) is a reference to a definition that judges an object member
    by member (yamlText): on the root, each top-level value and key on its own."""
    if not isinstance(rule, Mapping) or set(rule) != {"$ref"}:
        return False
    reference = str(rule["$ref"])
    if not reference.startswith("#/definitions/"):
        return False
    found = (schema.get("definitions") or {}).get(reference.removeprefix("#/definitions/"))
    return isinstance(found, Mapping) and set(found) <= _MEMBERWISE


def _check_patterns(directory: Path, schema: Mapping[str, Any]) -> None:
    """Every pattern of the schema compiled by Python's re, as python-jsonschema's schema
    check does (it is loaded only for an invalid verdict): a pattern jsonschema-rs takes but re
    does not is refused here, before any leaf."""
    for pattern in schema_patterns(schema):
        try:
            compiled(pattern)
        except re.error as error:
            raise ChartContractError(
                f"{directory}/values.schema.json is not a valid JSON schema: {pattern!r} is "
                f"not a 'regex' ({error})"
            ) from error


def _python_validator(directory: Path, schema: dict[str, Any]) -> Any:
    """python-jsonschema's validator of schema (formats checked); ChartContractError when the
    schema is not a valid JSON schema."""
    import jsonschema  # noqa: PLC0415 - only where a verdict needs python-jsonschema's words

    validator_class = with_ecma_patterns(jsonschema.validators.validator_for(schema))
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as error:
        raise ChartContractError(
            f"{directory}/values.schema.json is not a valid JSON schema: {error.message}"
        ) from error
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def coalesce(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's merge of user values over chart defaults: maps merge, null deletes a key the
    defaults have, else replace. A null where the defaults have no such key stays, as helm
    leaves it (chartutil coalesceValues and coalesceTablesFullKey walk the defaults' keys), for
    the schema to judge: `podAnnotations: {a: null}` is refused by helm, so it is here too.

    Untouched subtrees are shared with base, not copied: callers must not mutate the result.
    """
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            if key in merged:
                del merged[key]
            else:
                merged[key] = None
        elif type(value) in NOT_MAPPINGS:  # most values: no call at all
            merged[key] = value
        else:
            merged[key] = _coalesced(merged.get(key), value)
    return merged


def _coalesced(current: Any, value: Any) -> Any:
    """One key's value after coalesce (value not null)."""
    if type(value) in NOT_MAPPINGS:
        return value
    if is_mapping(value) and is_mapping(current):
        return coalesce(current, value)
    return value


# Values and their effective values, known (ChartContract.effective, errors).
Known = tuple[Mapping[str, Any], Mapping[str, Any]]


def coalesce_again(
    base: Mapping[str, Any],
    override: Mapping[str, Any],
    before: Mapping[str, Any],
    before_merged: Mapping[str, Any],
) -> dict[str, Any]:
    """coalesce(base, override), given before_merged = coalesce(base, before): a top-level
    value of override that is the very object it was in before keeps before_merged's value
    (the same, computed once). Where override has before's keys in before's order, then new
    ones (as overlay leaves them), and no null came or went; else coalesce itself (the result's
    order would differ)."""
    if list(override)[: len(before)] != list(before):
        return coalesce(base, override)
    merged = dict(before_merged)
    for key, value in override.items():
        previous = before.get(key, _NEW)
        if value is previous:
            continue
        if value is None or previous is None:
            return coalesce(base, override)
        merged[key] = _coalesced(base.get(key), value)
    return merged


_NEW = object()  # a key before did not have


# The types of plain values, never mappings (a set lookup, not a call, for each value).
NOT_MAPPINGS = frozenset({str, int, float, bool, list, type(None)})


def is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """isinstance(value, Mapping), without the ABC's Python-level check for plain values (the
    merges call it for every value of every service)."""
    kind = type(value)
    return kind is dict or (kind not in NOT_MAPPINGS and isinstance(value, Mapping))


def report_schema_errors(
    document: Document,
    leaf: CatalogLeaf,
    chart: ChartContract,
    effective: Mapping[str, Any],
    report: Report,
    *,
    origins: Mapping[tuple[str | int, ...], DataPath] | None = None,
    known_valid: Mapping[str, Any] | None = None,
) -> None:
    """Schema errors of the chart's values.schema.json, placed in the leaf where possible.

    origins: the leaf node each generated value comes from (values path -> leaf path), for
    errors in values chartValues did not set (e.g. a bound on models placed on the leaf's models).
    """
    from_leaf = leaf.chart_values or {}
    for error in _leaves(chart.errors(effective, known_valid)):
        parts = tuple(error.absolute_path)
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = chart.property_names(parts)
            for key in sorted(set(error.instance) - set(known)):
                place_chart_value(
                    document,
                    from_leaf,
                    (*parts, key),
                    report,
                    f"unknown chart value {_dotted((*parts, key))!r}",
                    hint=did_you_mean(key, known),
                    at_key=True,
                    origins=origins,
                )
            continue
        if error.validator == "required" and _report_deleted(document, from_leaf, error, report):
            continue
        if helm_cannot_hold(error.instance) and set_by(from_leaf, parts):
            continue  # check_helm_numbers said so at the leaf already: one problem, not two
        where, message, at_key = _worded(error)
        place_chart_value(
            document, from_leaf, where, report, message, at_key=at_key, origins=origins
        )


def _worded(error: jsonschema.ValidationError) -> tuple[tuple[str | int, ...], str, bool]:
    """Where a chart schema error is, its message, and whether that place is a key: a rule on
    keys (propertyNames) judges the key, so it is placed at the key, which names it (the
    error's path stops at its mapping)."""
    parts = tuple(error.absolute_path)
    if "propertyNames" in error.absolute_schema_path and isinstance(error.instance, str):
        message = f"chart value {_dotted(parts)}: key {_message(error)}"
        return (*parts, error.instance), message, True
    return parts, f"chart value {_dotted(parts) or '(root)'}: {_message(error)}", False


def report_environment_values(
    document: Document, values: Mapping[str, Any], chart: ChartContract, report: Report
) -> bool:
    """The chart values an environment file gives every service, judged by the chart's schema
    (the owner of what the chart takes) at the environment's lines: each value sits at the same
    path in the file as in the values (its ingress.annotations). False when one is refused."""
    errors = _leaves(chart.errors(chart.effective(values)))
    for error in errors:
        where, message, at_key = _worded(error)
        if not at_key:
            where = document.first_present([where, where[:-1], ()])
        document.add(report, where, message, at_key=at_key)
    return not errors


def _report_deleted(
    document: Document,
    from_leaf: Mapping[str, Any],
    error: jsonschema.ValidationError,
    report: Report,
) -> bool:
    """A required value the leaf's chartValues deleted (null), reported at its key; False when
    it was not a null of the leaf's that took it away."""
    parts = tuple(error.absolute_path)
    required: Any = error.validator_value
    if not isinstance(required, list) or not isinstance(error.instance, dict):
        return False
    missing = [key for key in required if key not in error.instance]
    deleted = [key for key in missing if _nulled(from_leaf, (*parts, key))]
    for key in deleted:
        place_chart_value(
            document,
            from_leaf,
            (*parts, key),
            report,
            f"chart value {_dotted((*parts, key))} cannot be deleted: a null in chartValues "
            "removes the chart's default, and the chart's templates need a value here (set "
            "one, or leave the key out to keep the default)",
            at_key=True,
        )
    return bool(deleted) and deleted == missing


def _nulled(chart_values: Mapping[str, Any], parts: Sequence[str | int]) -> bool:
    """Whether chartValues sets the value at parts to null."""
    current: Any = chart_values
    for part in parts:
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return current is None


def _leaves(errors: Iterable[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    """The errors that name a value: an `allOf` or `$ref` wrapper (a rule across values, an
    extraEnv entry) is replaced by the errors of its parts."""
    found: list[jsonschema.ValidationError] = []
    for error in errors:
        if error.validator in ("allOf", "$ref") and error.context:
            found += _leaves(error.context)
        else:
            found.append(error)
    return found


# An instance longer than this is described by its size instead of quoted in the message.
_QUOTABLE = 80


def _message(error: jsonschema.ValidationError) -> str:
    """jsonschema's message (only the size of a long list or text), with the chart's reason (the
    failing subschema's description)."""
    message = str(error.message)
    too_long_to_quote = len(repr(error.instance)) > _QUOTABLE
    if error.validator == "maxItems" and isinstance(error.instance, list) and too_long_to_quote:
        message = f"has {len(error.instance)} items, at most {error.validator_value} are allowed"
    elif error.validator == "maxLength" and isinstance(error.instance, str) and too_long_to_quote:
        message = (
            f"is {len(error.instance)} characters long, at most {error.validator_value} are allowed"
        )
    elif error.validator == "not":
        message = f"{error.instance!r} is not allowed"
    elif error.validator == "const":  # as YAML and JSON spell it (true, not Python's True)
        message = f"{json.dumps(error.validator_value)} was expected"
    elif error.validator == "type" and error.instance is None:
        # A null the defaults lack stays for the schema (coalesce): said as YAML says it.
        message = message.replace("None is not", "null is not", 1)
    description = error.schema.get("description") if isinstance(error.schema, Mapping) else None
    return f"{message}: {description}" if description else message


def blamed_value(document: Document, from_leaf: Mapping[str, Any], values: str) -> tuple[str, ...]:
    """The value a template message is placed at: of the values it names (space-separated,
    dotted: a rule between two values names both), the first the leaf sets, else the first."""
    named = [tuple(value.split(".")) for value in values.split()] or [()]
    for parts in named:
        if set_by(from_leaf, parts) or leaf_source(document, parts)[0]:
            return parts
    return named[0]


def place_chart_value(
    document: Document,
    from_leaf: Mapping[str, Any],
    parts: Sequence[str | int],
    report: Report,
    message: str,
    *,
    hint: str | None = None,
    at_key: bool = False,
    origins: Mapping[tuple[str | int, ...], DataPath] | None = None,
) -> None:
    """A problem with the chart value at parts, at the leaf line that set it."""
    origin = _origin(tuple(parts), origins or {})
    if parts and set_by(from_leaf, parts):
        document.add(report, _deepest_present(document, parts), message, hint=hint, at_key=at_key)
        return
    hint = hint or _leaf_field_hint(document, parts)
    if origin is not None:  # the plan knows exactly which leaf node produced this value
        document.add(report, origin, message, hint=hint)
        return
    where, whole = leaf_source(document, parts)
    if not where and len(parts) > 1 and document.has(("chartValues", *parts[:-1])):
        # The leaf's chartValues sets the mapping that holds this value (a rule on the mapping
        # blames a key the leaf left to the defaults: capabilities.add judged with
        # allowPrivilegeEscalation): there, not at the top of the file.
        document.add(report, ("chartValues", *parts[:-1]), message, hint=hint)
        return
    if where and not whole:  # the leaf holds a mapping above the value, not the value
        message += (
            " (the value comes from the environment (its defaults or settings) or the chart's "
            "defaults; setting it here overrides them)"
        )
    if where:
        document.add(report, where, message, hint=hint)
        return
    document.add(
        report,
        (),
        f"{message} (the value comes from the environment (its defaults or settings) or the "
        "chart's defaults, not from this leaf: change it in the environment's file, or in the "
        "leaf's chartValues where the environment lets a leaf set it)",
        hint=hint,
    )


def _leaf_field_hint(document: Document, parts: Sequence[str | int]) -> str | None:
    """Which leaf field sets a chart value the leaf's own fields set (LEAF_SOURCES), where the
    leaf has none of them: the chart's words name its values (review: keda-http's `set
    httpRoute.enabled=true` sent leaf authors to chartValues, where the HTTPRoute then lacked
    its parentRefs, not to ingress.enabled)."""
    fields = leaf_fields_of(tuple(parts))
    if not fields or any(document.has(field) or field == tuple(parts) for field in fields):
        return None  # the leaf has it, or it is spelt as the chart spells it: nothing to add
    named = " or ".join(_dotted(field) for field in fields)
    return f"a leaf sets {_dotted(parts)} with its {named}"


def leaf_fields_of(parts: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
    """The leaf fields LEAF_SOURCES says set the chart value at parts, each as deep as the leaf
    schema goes along the value's path; those that reach the value itself, if any."""
    for chart_path, leaf_paths in LEAF_SOURCES:
        if parts[: len(chart_path)] != chart_path:
            continue
        rest = parts[len(chart_path) :]
        reached = [_schema_depth((*leaf_path, *rest), len(leaf_path)) for leaf_path in leaf_paths]
        whole = [found for found, exact in reached if exact]
        found = whole or [found for found, _ in reached]
        # The most precise: a field that is the start of another found is left out.
        return [
            field
            for field in found
            if not any(other[: len(field)] == field and other != field for other in found)
        ]
    return []


def _schema_depth(path: tuple[str | int, ...], least: int) -> tuple[tuple[str | int, ...], bool]:
    """The longest prefix of path (at least least parts) the leaf schema has, and whether that
    is path itself."""
    node: Any = _leaf_schema()
    for depth, part in enumerate(path):
        node = _schema_child(node, part)
        if node is None:
            return path[: max(depth, least)], False
    return path, True


def _schema_child(node: Any, part: str | int, depth: int = 0) -> Any:
    """The subschema of node's property (or item, for an index) part, through $ref and each
    branch of an anyOf or oneOf (an optional field, a model named or described); None without
    one."""
    if not isinstance(node, dict) or depth > 8:
        return None
    if "$ref" in node:
        definitions = _leaf_schema().get("$defs", {})
        return _schema_child(definitions.get(str(node["$ref"]).rsplit("/", 1)[-1]), part, depth + 1)
    for branch in [*node.get("anyOf", ()), *node.get("oneOf", ())]:
        if (found := _schema_child(branch, part, depth + 1)) is not None:
            return found
    child = node.get("items") if isinstance(part, int) else node.get("properties", {}).get(part)
    return child if isinstance(child, dict) else None


@functools.cache
def _leaf_schema() -> dict[str, Any]:
    return CatalogLeaf.model_json_schema(by_alias=True)


def _deepest_present(document: Document, parts: Sequence[str | int]) -> tuple[str | int, ...]:
    """("chartValues", *parts), cut to what the leaf has (chartValues may replace a subtree)."""
    for end in range(len(parts), 0, -1):
        if document.has(("chartValues", *parts[:end])):
            return ("chartValues", *parts[:end])
    return ("chartValues",)


def leaf_source(
    document: Document, parts: Sequence[str | int]
) -> tuple[tuple[str | int, ...], bool]:
    """The leaf field a chart value comes from (LEAF_SOURCES), as deep as the leaf has it, and
    whether that is the value itself (not a mapping above it); () when the leaf sets none (the
    environment's defaults or the chart's apply)."""
    for chart_path, leaf_paths in LEAF_SOURCES:
        if tuple(parts[: len(chart_path)]) != chart_path:
            continue
        rest = tuple(parts[len(chart_path) :])
        for leaf_path in leaf_paths:
            for end in range(len(rest), -1, -1):
                candidate = (*leaf_path, *rest[:end])
                if document.has(candidate):
                    return candidate, end == len(rest)
    return (), False


def _origin(
    parts: tuple[str | int, ...], origins: Mapping[tuple[str | int, ...], DataPath]
) -> DataPath | None:
    """The leaf node of the longest prefix of parts that origins knows."""
    for end in range(len(parts), 0, -1):
        if parts[:end] in origins:
            return origins[parts[:end]]
    return None


def helm_cannot_hold(value: object) -> TypeGuard[int | float]:
    """A number helm would not render back as written: an integer (or a float as large) beyond
    +-2^53."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and abs(value) > HELM_EXACT_INTEGER
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
