"""Rules of the Kubernetes API server the chart cannot see: each container's requests against
its limits, and each NetworkPolicy ipBlock's `except` inside its `cidr`.

The chart renders such a pod and the API server refuses it, so catalog-gen is stricter than the
chart here, on purpose (docs/interfaces.md, "Who owns which rule"): JSON schema cannot compare
quantities. Every container the chart renders is judged on its effective values (the chart's
defaults coalesced with the leaf's, so a leaf that lowers a limit under a default request is
caught): the server (`resources`, with the GPUs the chart adds to its limits: `server_resources`
assembles them as the chart's `oil.resources` does, and a test holds the two equal), the
`pull-models` init container (`pull.resources`) and the `helm test` pod (`test.resources`). What
the API server checks (ValidateResourceRequirements): a request no larger than its limit; an
extended resource (a name with a prefix outside kubernetes.io: a GPU) is a whole number, and it
or hugepages is not overcommitted, so its request needs a limit and equals it; a hugepages
request or limit is a whole number of pages (IsHugePageResourceValueDivisible: the quantity, in
whole bytes rounded up, a multiple of the page size its name ends with: hugepages-2Mi is counted
in pages of 2Mi; 0 is a multiple; `tests/chart/test_apiserver_refusals.py` holds it to the API
server's code). Every other rule on values lives in the chart
(values.schema.json, templates/_validate.tpl) and is not copied.
An ipBlock's `except` must be a strict subset of its `cidr` (ValidateIPBlock: the cidr contains
the except's address and has a shorter prefix), which no JSON schema or sprig function can
compute; `tests/chart/test_apiserver_refusals.py` holds this check to the API server's code.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from catalog_gen.load.document import DataPath, Document
from catalog_gen.problems import Report
from catalog_gen.sizing import parse_quantity, quantity_text

# Each container's resources in the chart values (named in messages, but the server's), and the
# leaf fields that may set them.
_CONTAINERS: tuple[tuple[str | None, tuple[str, ...], tuple[DataPath, ...]], ...] = (
    (None, ("resources",), (("container", "resources"),)),
    ("the pull-models init container", ("pull", "resources"), ()),
    ("the helm test pod", ("test", "resources"), ()),
)


def server_resources(effective: Mapping[str, Any]) -> dict[str, Any]:
    """The server container's resources as the chart renders them (`oil.resources` in
    templates/_pod.tpl): `resources`, with the limits `gpu_limits` gives set over its own."""
    return _with_limits(effective.get("resources") or {}, gpu_limits(effective))


def _with_limits(resources: Mapping[str, Any], limits: Mapping[str, Any]) -> dict[str, Any]:
    found = dict(resources)
    if limits:
        found["limits"] = {**(resources.get("limits") or {}), **limits}
    return found


def gpu_limits(effective: Mapping[str, Any]) -> dict[str, Any]:
    """The limits the chart sets on the server from the gpu values: `gpu.count` of
    `gpu.resourceName`, then each of `gpu.extraResources`, when gpu.count is above zero."""
    gpu = effective.get("gpu") or {}
    if int(gpu.get("count") or 0) <= 0:
        return {}
    return {str(gpu["resourceName"]): int(gpu["count"]), **(gpu.get("extraResources") or {})}


def check_requests_within_limits(
    document: Document, report: Report, *, effective: Mapping[str, Any]
) -> None:
    """Each container's requests against its limits, placed on the leaf key that set the
    request (else the limit, else the container's resources, else the leaf's start)."""
    for container, path, leaf_paths in _CONTAINERS:
        server = container is None
        from_gpu = gpu_limits(effective) if server else {}
        resources = _with_limits(_at(effective, path), from_gpu)
        for resource, why, side in _refusals(resources):
            by_gpu = resource in from_gpu
            candidates = _candidates(path, leaf_paths, resource, side=side, by_gpu=by_gpu)
            where = document.first_present(candidates)
            prefix = "" if server else f"{'.'.join(path)} ({container}): "
            message = f"{prefix}{why}{_GPU_SET.format(resource) if by_gpu else ''}"
            document.add(report, where, f"{message}; Kubernetes rejects such a pod{_origin(where)}")


_GPU_SET = " (the gpu values set limits.{})"


def _origin(where: DataPath) -> str:
    """Where the values came from, when no key of the leaf set them."""
    if where:
        return ""
    return " (both come from the environment's or the chart's defaults: set them in the leaf)"


def _refusals(resources: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """(resource, why, side) for each request or limit the API server refuses, side being
    where it is wrong (requests or limits). Judged once per distinct requests and limits: most
    leaves share their environment's."""
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    try:
        return _judged(_typed_items(requests), _typed_items(limits))
    except TypeError:  # a value that cannot be a key (the schema refuses such a quantity)
        return tuple(_judge(requests, limits))


_TypedItems = tuple[tuple[str, type, Any], ...]


def _typed_items(quantities: Mapping[str, Any]) -> _TypedItems:
    """The quantities as a key: with each value's type, since 1, 1.0 and True are equal keys
    that read differently."""
    return tuple((name, type(value), value) for name, value in quantities.items())


@functools.lru_cache(maxsize=1024)
def _judged(requests: _TypedItems, limits: _TypedItems) -> tuple[tuple[str, str, str], ...]:
    return tuple(
        _judge(
            {name: value for name, _, value in requests},
            {name: value for name, _, value in limits},
        )
    )


def _judge(
    requests: Mapping[str, Any], limits: Mapping[str, Any]
) -> Iterator[tuple[str, str, str]]:
    if not _quantities(requests) or not _quantities(limits):
        return  # the schema reports what is no quantity
    for side, quantities in (("requests", requests), ("limits", limits)):
        for resource in sorted(quantities):
            if _extended(resource) and parse_quantity(quantities[resource]) % 1:
                shown = quantity_text(quantities[resource])
                yield (
                    resource,
                    (
                        f"{side}.{resource} {shown} is no whole number, and {resource} is counted "
                        "in whole units"
                    ),
                    side,
                )
            why = hugepages_refusal(resource, quantities[resource])
            if why is not None:
                yield resource, f"{side}.{resource} {why}", side
    for resource in sorted(requests):
        why = _refusal(resource, requests[resource], limits.get(resource))
        if why is not None:
            yield resource, why, "requests"
    yield from _hugepages_alone(requests, limits)


def _hugepages_alone(
    requests: Mapping[str, Any], limits: Mapping[str, Any]
) -> Iterator[tuple[str, str, str]]:
    """Hugepages in a container with neither cpu nor memory in its requests or limits, which
    validateResourceRequirements refuses ("HugePages require cpu or memory")."""
    named = {*requests, *limits}
    pages = sorted(name for name in named if name.startswith(_HUGEPAGES))
    if not pages or named & {"cpu", "memory"}:
        return
    side = "requests" if pages[0] in requests else "limits"
    yield (
        pages[0],
        f"{side}.{pages[0]} needs a cpu or memory request or limit in the same container "
        "(hugepages alone are refused)",
        side,
    )


def _quantities(quantities: Mapping[str, Any]) -> bool:
    """Every value is a quantity catalog-gen can read."""
    try:
        for value in quantities.values():
            parse_quantity(value)
    except (ValueError, TypeError, ArithmeticError):
        return False
    return True


def _extended(resource: str) -> bool:
    """An extended resource (a GPU): a name with a prefix outside kubernetes.io."""
    return "/" in resource and "kubernetes.io/" not in resource


_HUGEPAGES = "hugepages-"


def hugepages_refusal(resource: str, quantity: Any) -> str | None:
    """Why the API server refuses quantity of a hugepages resource (None when it does not, or
    when resource is no hugepages): a whole number of pages, as IsHugePageResourceValueDivisible
    (k8s.io/kubernetes pkg/apis/core/helper) computes it. The page size is the name's suffix as
    a quantity, positive and whole (its milli-value, rounded up, a multiple of 1000); the
    quantity and the page size count in whole bytes, rounded up, as Quantity.Value() does."""
    if not resource.startswith(_HUGEPAGES):
        return None
    shown = quantity_text(quantity)
    size = resource.removeprefix(_HUGEPAGES)
    try:
        page = parse_quantity(size)
    except (ValueError, TypeError, ArithmeticError):
        page = None
    if page is None or page <= 0 or math.ceil(page * 1000) % 1000:
        return f"{shown} cannot be set: {resource} names no page size of whole bytes ({size})"
    amount = parse_quantity(quantity)
    if amount < 0:
        return None  # the schema refuses a negative quantity
    if math.ceil(amount) % math.ceil(page):
        return (
            f"{shown} is no whole number of pages, and {resource} is counted in pages of "
            f"{size}: make it a multiple of {size}"
        )
    return None


def _refusal(resource: str, request: Any, limit: Any) -> str | None:
    """Why the API server refuses request against limit (None when it does not): an extended
    resource or hugepages cannot be overcommitted."""
    exact = _extended(resource) or resource.startswith(_HUGEPAGES)
    if limit is None:
        if not exact:
            return None
        why = f"has no limit, and {_EXACT.format(resource)}: set limits.{resource} to the same"
    elif exact and parse_quantity(request) != parse_quantity(limit):
        limited = _shown("limits", resource, limit)
        why = f"differs from {limited}, and {_EXACT.format(resource)}: make them equal"
    elif parse_quantity(request) > parse_quantity(limit):
        why = f"is more than {_shown('limits', resource, limit)}"
    else:
        return None
    return f"{_shown('requests', resource, request)} {why}"


_EXACT = "{} cannot be overcommitted"


def _shown(side: str, resource: str, quantity: Any) -> str:
    return f"{side}.{resource} {quantity_text(quantity)}"


def _candidates(
    path: Sequence[str],
    leaf_paths: Sequence[DataPath],
    resource: str,
    *,
    side: str,
    by_gpu: bool,
) -> list[DataPath]:
    """Where a leaf may have set the request or the limit, most precise first: the side that
    is wrong (requests or limits) before the other (by_gpu: the chart may have set the server's
    limit from the gpu values, over the leaf's own limit)."""
    chart_values = ("chartValues", *path)
    extra = ("chartValues", "gpu", "extraResources")
    found: list[DataPath] = []
    if by_gpu and side == "limits":
        found.append((*extra, resource))
    for each in sorted(("requests", "limits"), key=lambda each: each != side):
        found.append((*chart_values, each, resource))
        found += [(*leaf, each, resource) for leaf in leaf_paths]
    if by_gpu:
        found += [(*extra, resource), extra, ("chartValues", "gpu"), ("gpu",)]
    found += [chart_values, *leaf_paths]
    return found


def value_at(values: object, path: Sequence[str]) -> object:
    """The value at path in nested mappings; None where a key is missing or a step is no
    mapping."""
    node = values
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def _at(values: Mapping[str, Any], path: Sequence[str]) -> Mapping[str, Any]:
    node = value_at(values, path)
    return node if isinstance(node, Mapping) else {}


# The NetworkPolicy's peer lists in the chart values.
_PEER_LISTS = (
    ("networkPolicy", "ingressFrom"),
    ("networkPolicy", "dns", "peers"),
    ("networkPolicy", "registry", "peers"),
)


def ip_block_refusals(effective: Mapping[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(chart value path, why) of each ipBlock `except` the API server refuses, where the
    chart renders its NetworkPolicy."""
    if value_at(effective, ("networkPolicy", "enabled")) is not True:
        return
    for path in _PEER_LISTS:
        peers = value_at(effective, path)
        for index, peer in enumerate(peers if isinstance(peers, list) else ()):
            block = peer.get("ipBlock") if isinstance(peer, Mapping) else None
            if not isinstance(block, Mapping):
                continue
            for position, excluded in enumerate(block.get("except") or ()):
                why = _except_refusal(str(block.get("cidr")), str(excluded))
                if why is not None:
                    yield (*path, index, "ipBlock", "except", position), why


@functools.lru_cache(maxsize=1024)  # every leaf repeats its environment's peers
def _except_refusal(cidr: str, excluded: str) -> str | None:
    try:
        whole = ipaddress.ip_network(cidr, strict=False)
        part = ipaddress.ip_network(excluded, strict=False)
    except ValueError:
        return None  # the schema refuses a malformed one
    longer = part.version == whole.version and part.prefixlen > whole.prefixlen
    if longer and part.network_address in whole:
        return None
    return (
        f"ipBlock except {excluded} is not a strict subset of its cidr {cidr} (inside it, with a "
        "longer prefix): the API server refuses the NetworkPolicy"
    )
