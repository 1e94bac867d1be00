"""A small Go text/template renderer: the subset Argo CD ApplicationSet templates use here.

Argo CD renders an ApplicationSet's ``template`` by running every string field (and every string
map key) of the Application through Go's text/template with the generator's parameters, with the
Sprig functions and the ``goTemplateOptions`` given. This module reproduces that for the tests,
so the Applications Argo CD would create can be validated against the Application CRD.

Supported: text, ``{{ }}`` actions with ``{{-``/``-}}`` trimming, ``/* comments */``, field chains
(``.a.b``, ``.``), string/number/bool literals, parenthesised pipelines, ``|`` pipelines and the
functions ``index``, ``default``, ``lower``, ``upper``, ``trunc``, ``printf`` (``%s %d %v %%``).
Control actions (``if``, ``range``, ``with``, ``define``, ...) and variables are rejected with an
error instead of being rendered wrongly. ``missingkey=error`` makes a missing map key an error,
as in Go; without it a missing key prints ``<no value>``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NO_VALUE = "<no value>"
ARGOCD_RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"


class GoTemplateError(Exception):
    """A template that Go would refuse to parse or execute."""


_MISSING = object()


@dataclass(frozen=True)
class _Field:
    names: tuple[str, ...]  # () is the dot itself


@dataclass(frozen=True)
class _Literal:
    value: Any


@dataclass(frozen=True)
class _FunctionName:
    name: str


@dataclass(frozen=True)
class _Pipeline:
    commands: tuple[tuple[Any, ...], ...]  # each command: operands; the first may be a function


_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<raw>`[^`]*`)
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
    | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<variable>\$[A-Za-z0-9_]*)
    | (?P<punct>[|()])
    )""",
    re.VERBOSE,
)

_CONTROL_WORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break"}
_CONTROL_WORDS |= {"continue"}
_GO_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "r": "\r", "a": "\a", "b": "\b"}


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1]
            if escaped not in _GO_ESCAPES:
                raise GoTemplateError(f"unsupported escape \\{escaped} in {text}")
            out.append(_GO_ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _tokenize(action: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(action):
        if action[position:].strip() == "":
            break
        match = _TOKEN.match(action, position)
        if match is None or match.end() == position:
            raise GoTemplateError(f"unexpected {action[position:].strip()!r} in action")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def _parse_pipeline(tokens: list[tuple[str, str]], start: int) -> tuple[_Pipeline, int]:
    commands: list[tuple[Any, ...]] = []
    operands: list[Any] = []
    index = start
    while index < len(tokens):
        kind, text = tokens[index]
        if kind == "punct" and text == ")":
            break
        if kind == "punct" and text == "|":
            if not operands:
                raise GoTemplateError("missing command before '|'")
            commands.append(tuple(operands))
            operands = []
            index += 1
            continue
        if kind == "punct" and text == "(":
            inner, index = _parse_pipeline(tokens, index + 1)
            if index >= len(tokens) or tokens[index] != ("punct", ")"):
                raise GoTemplateError("unclosed left paren")
            operands.append(inner)
        elif kind == "string":
            operands.append(_Literal(_unquote(text)))
        elif kind == "raw":
            operands.append(_Literal(text[1:-1]))
        elif kind == "number":
            operands.append(_Literal(float(text) if "." in text else int(text)))
        elif kind == "field":
            names = () if text == "." else tuple(text[1:].split("."))
            operands.append(_Field(names))
        elif kind == "variable":
            raise GoTemplateError(f"variables ({text}) are not supported by this renderer")
        elif kind == "ident":
            if text in _CONTROL_WORDS:
                raise GoTemplateError(f"control action {text!r} is not supported by this renderer")
            if text in ("true", "false"):
                operands.append(_Literal(text == "true"))
            elif text == "nil":
                operands.append(_Literal(None))
            elif text in _FUNCTIONS:
                operands.append(_FunctionName(text))
            else:
                raise GoTemplateError(f'function "{text}" not defined')
        index += 1
    if not operands:
        raise GoTemplateError("missing value for command")
    commands.append(tuple(operands))
    return _Pipeline(tuple(commands)), index


def _parse(template: str) -> list[str | _Pipeline]:
    parts: list[str | _Pipeline] = []
    position = 0
    trim_next = False
    while True:
        open_at = template.find("{{", position)
        text = template[position:] if open_at < 0 else template[position:open_at]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if open_at < 0:
            parts.append(text)
            return parts
        close_at = template.find("}}", open_at + 2)
        if close_at < 0:
            raise GoTemplateError("unclosed action")
        inner = template[open_at + 2 : close_at]
        if inner.startswith("- "):
            text = text.rstrip(" \t\r\n")
            inner = inner[2:]
        trim_next = inner.endswith(" -")
        if trim_next:
            inner = inner[:-2]
        parts.append(text)
        position = close_at + 2
        stripped = inner.strip()
        if stripped.startswith("/*") and stripped.endswith("*/"):
            continue
        tokens = _tokenize(inner)
        pipeline, consumed = _parse_pipeline(tokens, 0)
        if consumed != len(tokens):
            raise GoTemplateError("unexpected ')' in action")
        parts.append(pipeline)


# --- execution ---------------------------------------------------------------------------------


def _truthy(value: Any) -> bool:
    return value not in (None, "", 0, False) and not (
        isinstance(value, Sequence | Mapping) and len(value) == 0
    )


def _default(default: Any, *given: Any) -> Any:
    # Sprig: `default D V` (or `V | default D`) returns V unless V is empty, then D.
    if len(given) != 1:
        raise GoTemplateError("wrong number of args for default: want 2")
    return given[0] if _truthy(given[0]) else default


def _index(collection: Any, *keys: Any) -> Any:
    value = collection
    for key in keys:
        if isinstance(value, Mapping):
            # Go's index returns the zero value for a missing map key, even with missingkey=error.
            value = value.get(key)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            if not isinstance(key, int) or isinstance(key, bool):
                raise GoTemplateError(f"cannot index slice/array with type {type(key).__name__}")
            if not 0 <= key < len(value):
                raise GoTemplateError(f"error calling index: index out of range: {key}")
            value = value[key]
        else:
            raise GoTemplateError(f"can't index item of type {type(value).__name__}")
    return value


def _trunc(length: Any, text: Any) -> str:
    if not isinstance(length, int):
        raise GoTemplateError("trunc wants an integer length")
    string = str(text)
    return string[:length] if length >= 0 else string[length:]


def _printf(fmt: Any, *args: Any) -> str:
    values = list(args)

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "%%":
            return "%"
        if not values:
            return f"%!{match.group(1)}(MISSING)"
        return _go_print(values.pop(0))

    return re.sub(r"%([sdv])|%%", substitute, str(fmt))


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "index": _index,
    "default": _default,
    "lower": lambda text: str(text).lower(),
    "upper": lambda text: str(text).upper(),
    "trunc": _trunc,
    "printf": _printf,
}


def _go_print(value: Any) -> str:
    """fmt.Sprint as text/template prints a value."""
    if value is None:
        return NO_VALUE
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, Mapping):
        inner = " ".join(f"{key}:{_go_print(value[key])}" for key in sorted(value))
        return f"map[{inner}]"
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "[" + " ".join(_go_print(item) for item in value) + "]"
    return str(value)


class _Executor:
    def __init__(self, data: Any, *, missing_key_error: bool) -> None:
        self.data = data
        self.missing_key_error = missing_key_error

    def field(self, node: _Field) -> Any:
        value = self.data
        for name in node.names:
            if isinstance(value, Mapping):
                found = value.get(name, _MISSING)
                if found is _MISSING:
                    if self.missing_key_error:
                        raise GoTemplateError(f'map has no entry for key "{name}"')
                    found = None
                value = found
            elif value is None:
                raise GoTemplateError(f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise GoTemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
        return value

    def operand(self, node: Any) -> Any:
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Field):
            return self.field(node)
        if isinstance(node, _Pipeline):
            return self.pipeline(node)
        raise GoTemplateError(f"{node.name} is a function, not a value")

    def pipeline(self, node: _Pipeline) -> Any:
        result: Any = _MISSING
        for command in node.commands:
            head, *rest = command
            args = [self.operand(arg) for arg in rest]
            if result is not _MISSING:
                args.append(result)
            if isinstance(head, _FunctionName):
                result = _FUNCTIONS[head.name](*args)
            elif args:
                raise GoTemplateError("can't give argument to non-function")
            else:
                result = self.operand(head)
        return result


def render(template: str, data: Any, options: Sequence[str] = ()) -> str:
    """Execute a Go text/template (the subset above) against data."""
    missing_key_error = False
    for option in options:
        if option in ("missingkey=error",):
            missing_key_error = True
        elif option in ("missingkey=default", "missingkey=invalid", "missingkey=zero"):
            missing_key_error = False
        else:
            raise GoTemplateError(f"unrecognized option: {option}")
    executor = _Executor(data, missing_key_error=missing_key_error)
    return "".join(
        part if isinstance(part, str) else _go_print(executor.pipeline(part))
        for part in _parse(template)
    )


def render_tree(node: Any, data: Any, options: Sequence[str] = ()) -> Any:
    """Render every string and string map key of a JSON-like tree, as Argo CD's deeplyReplace."""
    if isinstance(node, str):
        return render(node, data, options)
    if isinstance(node, Mapping):
        return {
            render(key, data, options): render_tree(v, data, options) for key, v in node.items()
        }
    if isinstance(node, list):
        return [render_tree(item, data, options) for item in node]
    return node


def git_files_params(file_path: str, content: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters Argo CD's git files generator passes with goTemplate: true.

    The file's top-level keys as they are, plus ``path`` (the directory), ``path.basename``,
    ``path.filename``, ``path.segments`` (applicationset/generators/git.go).
    """
    directory = file_path.rsplit("/", 1)[0] if "/" in file_path else "."
    params: dict[str, Any] = dict(content)
    params["path"] = {
        "path": directory,
        "basename": directory.rsplit("/", 1)[-1],
        "filename": file_path.rsplit("/", 1)[-1],
        "basenameNormalized": _sanitize_name(directory.rsplit("/", 1)[-1]),
        "filenameNormalized": _sanitize_name(file_path.rsplit("/", 1)[-1]),
        "segments": directory.split("/"),
    }
    return params


def _sanitize_name(name: str) -> str:
    # utils.SanitizeName: lower-case, each invalid character to '-', cut at 253, then trimmed.
    return re.sub(r"[^-a-z0-9.]", "-", name.lower())[:253].strip("-.")


def render_application(
    application_set: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The Application the ApplicationSet controller creates for one parameter set."""
    spec = application_set["spec"]
    if spec.get("goTemplate") is not True:
        raise GoTemplateError("this renderer implements goTemplate: true only")
    options = spec.get("goTemplateOptions", [])
    template = render_tree(spec["template"], params, options)
    metadata = dict(template["metadata"])
    preserve = bool(spec.get("syncPolicy", {}).get("preserveResourcesOnDeletion", False))
    if not preserve and not metadata.get("finalizers"):
        metadata["finalizers"] = [ARGOCD_RESOURCES_FINALIZER]
    # The controller creates every Application in the ApplicationSet's own namespace.
    metadata["namespace"] = application_set["metadata"]["namespace"]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": template["spec"],
    }
