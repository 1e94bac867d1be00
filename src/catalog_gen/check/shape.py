"""Shape validation: a document against a pydantic model, every error as a located Problem.

pydantic's errors become `path:line:col` Problems on the offending key or value, with messages
in YAML's words (via fields.describe) and "did you mean" hints for unknown keys.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ValidationError

from catalog_gen.fields import describe
from catalog_gen.load.document import DataPath, Document
from catalog_gen.models import MAPPING_TAG, NAME_TAG
from catalog_gen.problems import JsonPathPart, Report

ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_document(model: type[ModelT], document: Document, report: Report) -> ModelT | None:
    """The document as a model, or None with every shape problem added to the report."""
    try:
        return model.model_validate(document.data)
    except ValidationError as error:
        for detail in error.errors(include_url=False):
            _report_error(model, document, report, detail)
        return None


def shape_errors(model: type[BaseModel], data: object) -> list[str]:
    """Messages only, for tests that compare this model with the JSON schema."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        return [f"{detail['loc']}: {detail['msg']}" for detail in error.errors()]
    return []


def _report_error(model: type[BaseModel], document: Document, report: Report, detail: Any) -> None:
    kind: str = detail["type"]
    parts = _data_path(document.data, detail["loc"])
    value = detail.get("input")
    context: dict[str, Any] = detail.get("ctx") or {}
    if kind == "extra_forbidden":
        key = str(parts[-1])
        known = allowed_keys(model, parts[:-1])
        hint = _elsewhere_hint(model, key, parts[:-1]) or _unknown_key_hint(key, known)
        document.add(report, parts, f"unknown key {key!r}", at_key=True, hint=hint)
        return
    if kind == "missing":
        key = str(parts[-1])
        document.add(report, parts[:-1], f"missing required key {key!r}")
        return
    if "key" in context:
        parts = (*parts, context["key"])
        document.add(report, parts, detail["msg"], at_key=True)
        return
    document.add(report, parts, _message(kind, value, context, detail["msg"]))


def _data_path(data: object, loc: Sequence[int | str]) -> DataPath:
    """pydantic's loc without its union labels: the path of the value in the document."""
    parts: list[JsonPathPart] = []
    current = data
    for part in loc:
        if part in (NAME_TAG, MAPPING_TAG):
            continue
        parts.append(part)
        if isinstance(current, dict) and isinstance(part, str):
            current = current.get(part)
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            current = current[part]
        else:
            current = None
    return tuple(parts)


_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "a boolean (true or false)",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def _message(kind: str, value: object, context: Mapping[str, Any], fallback: str) -> str:
    if kind in _TYPE_NAMES:
        return f"must be {_TYPE_NAMES[kind]} (got {describe(value)})"
    if kind in ("literal_error", "enum"):
        return f"must be one of {context.get('expected', '')} (got {describe(value)})"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"must be {words} {context.get(key)} (got {describe(value)})"
    if kind == "too_short":
        return f"must have at least {context.get('min_length')} item(s)"
    if kind == "too_long":
        return f"must have at most {context.get('max_length')} item(s)"
    if kind == "string_too_long":
        return f"must be at most {context.get('max_length')} characters"
    return fallback


def allowed_keys(model: type[BaseModel], parts: Sequence[JsonPathPart]) -> list[str]:
    """The keys a mapping at parts may have (aliases), found by walking the model's fields."""
    current: Any = model
    for part in parts:
        current = _step(current, part)
        if current is None:
            return []
    model_class = _as_model(current)
    if model_class is None:
        return []
    return [field.alias or name for name, field in model_class.model_fields.items()]


def _step(annotation: Any, part: JsonPathPart) -> Any:
    for candidate in _members(annotation):
        model_class = _as_model(candidate)
        if model_class is not None and isinstance(part, str):
            for name, field in model_class.model_fields.items():
                if (field.alias or name) == part:
                    return field.annotation
        origin = typing.get_origin(candidate)
        arguments = typing.get_args(candidate)
        if origin is list and isinstance(part, int):
            return arguments[0]
        if origin is dict and isinstance(part, str):
            return arguments[1]
    return None


def _members(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is Annotated:
        return _members(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members: list[Any] = []
        for argument in typing.get_args(annotation):
            members.extend(_members(argument))
        return members
    return [annotation]


def _as_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in _members(annotation):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    """A hint naming the closest choice (difflib, or the same word in other case), if any."""
    matches = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not matches:
        lowered = {choice.lower(): choice for choice in choices}
        if word.lower() in lowered:
            matches = [lowered[word.lower()]]
    return f"did you mean {matches[0]!r}?" if matches else None


def _elsewhere_hint(model: type[BaseModel], key: str, parent: Sequence[JsonPathPart]) -> str | None:
    """ "it belongs one level down: container.resources" when the key, as written, is a key of
    exactly one mapping one level below parent (a misplaced key is likelier than a typo)."""
    found = []
    for child in allowed_keys(model, parent):
        if key in allowed_keys(model, [*parent, child]):
            found.append(".".join(str(part) for part in (*parent, child, key)))
    if len(found) != 1:
        return None
    return f"it belongs one level down: {found[0]}"


def _unknown_key_hint(key: str, known: Sequence[str]) -> str | None:
    hint = did_you_mean(key, known)
    if hint is None and known and len(known) <= 24:
        hint = "allowed keys: " + ", ".join(sorted(known))
    return hint
