"""Small, faithful evaluators of Gateway API HTTPRoute and Kubernetes Ingress request matching,
and a model of how Ollama's Go server treats the path it is sent.

HTTPRoute (gateway.networking.k8s.io/v1, the CRD descriptions in ../shared/crds/gateway-api):
- hostnames: exact, or a leading `*.` label that matches one or more labels; no hostnames: any;
- a rule matches when ANY of its matches does; a match when ALL its conditions do;
- path Exact: the whole path, case-sensitive; PathPrefix: "matches full path elements. A path
  element refers to the list of labels in the path split by the `/` separator. When specified,
  a trailing `/` is ignored" (`/abc` matches `/abc`, `/abc/`, `/abc/def`, not `/abcd`);
  RegularExpression: implementation-specific, evaluated as a full match (Envoy's RE2 semantics);
  a match without path is a PathPrefix `/`;
- method: exact (Support: Extended); headers: names case-insensitive, Exact or RegularExpression
  values; queryParams: Exact or RegularExpression.

Ingress (networking.k8s.io/v1): Exact is the whole path, case-sensitive; Prefix is element-wise
like PathPrefix; ImplementationSpecific is up to the controller and so is UNKNOWN here: it makes
any request "may match", which fails every test that needs a request not to match (fail closed).
An Ingress cannot match methods: every method of a routed path is routed.

Gateways differ in what they do to the path before matching: Envoy Gateway by default normalizes
it (RFC 3986 dot segments, merged slashes, decoded unreserved characters), ingress-nginx matches
nginx's normalized $uri, and a gateway may also match the raw path. The tests evaluate both forms.
Whatever a gateway forwards, Ollama 0.32 serves only a clean path: Go's http.ServeMux decodes the
path, and "redirect[s] any request containing . or .. elements or repeated slashes to an
equivalent, cleaner URL" (net/http documentation), gin redirects a trailing slash
(RedirectTrailingSlash) and routes case-sensitively. A redirect goes back to the client, whose
next request goes through the gateway again.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class UnknownMatchError(Exception):
    """A match whose outcome this model cannot know (implementation-specific)."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as sent on the wire, percent-encoding and dot segments included
    host: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)


# --- paths ----------------------------------------------------------------------------------------


def _elements(path: str) -> list[str]:
    """Path elements for element-wise prefix matching: split by `/`, a trailing `/` ignored."""
    trimmed = path[:-1] if path.endswith("/") and path != "/" else path
    return trimmed.split("/")


def prefix_matches(prefix: str, path: str) -> bool:
    if prefix == "/":
        return path.startswith("/")
    wanted, got = _elements(prefix), _elements(path)
    return got[: len(wanted)] == wanted


def normalize(path: str) -> str:
    """What a normalizing gateway matches on: unreserved characters decoded (RFC 3986 6.2.2.2),
    repeated slashes merged, dot segments removed (RFC 3986 5.2.4); `%2F` stays encoded."""
    decoded = re.sub(
        r"%([0-9A-Fa-f]{2})",
        lambda m: chr(int(m.group(1), 16)) if chr(int(m.group(1), 16)) in UNRESERVED else m[0],
        path,
    )
    merged = re.sub(r"/{2,}", "/", decoded)
    cleaned = posixpath.normpath(merged)
    if merged.endswith("/") and cleaned != "/":
        cleaned += "/"
    return "/" + cleaned.lstrip("/")


def gateway_views(path: str) -> tuple[str, ...]:
    """The paths a gateway may match on: the raw path and the normalized one."""
    return tuple(dict.fromkeys((path, normalize(path))))


def _go_clean(path: str) -> str:
    """Go's path.Clean as http.ServeMux applies it: a trailing slash is kept."""
    cleaned = "/" + posixpath.normpath(re.sub(r"/{2,}", "/", path)).lstrip("/")
    return cleaned + "/" if path.endswith("/") and cleaned != "/" else cleaned


def ollama_serves(path: str) -> str | None:
    """The path Ollama 0.32's handler runs for, or None when its server answers with a redirect
    instead: ServeMux for a path that is not clean once decoded, gin for a trailing slash."""
    decoded = unquote(path)
    if not decoded.startswith("/") or _go_clean(decoded) != decoded:
        return None
    if decoded.endswith("/") and decoded != "/":
        return None
    return decoded


# --- HTTPRoute ------------------------------------------------------------------------------------


def hostname_matches(pattern: str, host: str) -> bool:
    host = host.lower().split(":", 1)[0]
    pattern = pattern.lower()
    if pattern.startswith("*."):
        suffix = pattern[1:]
        return host.endswith(suffix) and len(host) > len(suffix)
    return host == pattern


def _value_matches(kind: str, expected: str, actual: str | None) -> bool:
    if actual is None:
        return False
    if kind == "Exact":
        return actual == expected
    if kind == "RegularExpression":
        return re.fullmatch(expected, actual) is not None
    raise UnknownMatchError(f"match type {kind!r}")


def http_route_match(match: Mapping[str, Any], request: Request, path: str) -> bool:
    path_match = match.get("path", {"type": "PathPrefix", "value": "/"})
    kind, value = path_match.get("type", "PathPrefix"), path_match.get("value", "/")
    if kind == "Exact":
        path_ok = path == value
    elif kind == "PathPrefix":
        path_ok = prefix_matches(value, path)
    elif kind == "RegularExpression":
        path_ok = re.fullmatch(value, path) is not None
    else:
        raise UnknownMatchError(f"path type {kind!r}")
    if not path_ok:
        return False
    if "method" in match and match["method"] != request.method:
        return False
    headers = {name.lower(): text for name, text in request.headers.items()}
    for header in match.get("headers", ()):
        actual = headers.get(header["name"].lower())
        if not _value_matches(header.get("type", "Exact"), header["value"], actual):
            return False
    for param in match.get("queryParams", ()):
        actual = request.query.get(param["name"])
        if not _value_matches(param.get("type", "Exact"), param["value"], actual):
            return False
    return True


def http_route_matches(route: Mapping[str, Any], request: Request) -> list[str]:
    """Where the request matches the route, on any path a gateway may match on: one
    'rules[i].matches[j] (path)' entry per hit; empty when it matches nothing."""
    spec = route["spec"]
    hostnames = spec.get("hostnames") or []
    if hostnames and not any(hostname_matches(name, request.host) for name in hostnames):
        return []
    hits: list[str] = []
    for path in gateway_views(request.path):
        for i, rule in enumerate(spec.get("rules", ())):
            matches = rule.get("matches") or [{}]
            for j, match in enumerate(matches):
                if http_route_match(match, request, path):
                    hits.append(f"rules[{i}].matches[{j}] ({path})")
    return hits


# --- Ingress --------------------------------------------------------------------------------------


def ingress_path_matches(kind: str, value: str, path: str) -> bool:
    if kind == "Exact":
        return path == value
    if kind == "Prefix":
        return prefix_matches(value, path)
    raise UnknownMatchError(f"pathType {kind!r} is up to the ingress controller")


def ingress_matches(ingress: Mapping[str, Any], request: Request) -> list[str]:
    """Where the request matches the Ingress (methods never count), on any path a controller
    may match on; an unknown pathType raises UnknownMatchError."""
    spec = ingress["spec"]
    if spec.get("defaultBackend"):
        return ["defaultBackend"]
    hits: list[str] = []
    for path in gateway_views(request.path):
        for i, rule in enumerate(spec.get("rules", ())):
            host = rule.get("host")
            if host and not hostname_matches(host, request.host):
                continue
            for j, item in enumerate(rule.get("http", {}).get("paths", ())):
                if ingress_path_matches(item["pathType"], item["path"], path):
                    hits.append(f"rules[{i}].http.paths[{j}] ({path})")
    return hits


# --- request tables -------------------------------------------------------------------------------


def variants(path: str) -> list[str]:
    """Spellings of a path that a client can send to reach it, for the denial tests."""
    head, _, last = path.rpartition("/")
    encoded_first = f"{head}/%{ord(last[0]):02X}{last[1:]}" if last else path
    return [
        path,
        path + "/",
        path.upper(),
        path.title(),
        "/" + path,
        path.replace("/", "//"),
        f"/api/chat/..{path}",
        f"/v1/models/../..{path}",
        f"/v1/models/%2e%2e/%2e%2e{path}",
        f"/v1/models/..%2F..{path.replace('/', '%2F')}",
        f"/api/./{path.lstrip('/').removeprefix('api/')}",
        encoded_first,
        path.replace("/", "%2F"),
    ]


def expand(
    requests: Iterable[tuple[str, str]], hosts: Sequence[str], with_variants: bool
) -> list[Request]:
    expanded: list[Request] = []
    for method, path in requests:
        for spelling in variants(path) if with_variants else [path]:
            for host in hosts or [""]:
                expanded.append(Request(method, spelling, host))
    return expanded
