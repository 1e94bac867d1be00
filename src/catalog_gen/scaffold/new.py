"""`catalog-gen new ENV/NAMESPACE/SERVICE --model M`: a minimal leaf, checked, then written.

The leaf holds what the command line gave and the keys a leaf requires; the environment's
defaults do the rest. It is checked with every rule `validate` runs (the leaf schema the
Backstage form is generated from, the path, model and cross-leaf rules: names, hosts, GPU
budget) plus the form's own demand of an owner (a Backstage Component needs one): the leaf's
`owner`, else the environment's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog_gen.models import WORKLOAD_TYPE
from catalog_gen.problems import Report, Severity, json_path
from catalog_gen.scaffold.leaf_file import (
    CatalogAccess,
    LeafPlace,
    Scaffolded,
    ScaffoldUsageError,
    check_leaf,
    leaf_bytes,
    path_part,
    refuse_existing,
    utf8_argument,
    write_leaf,
)

COMMENT = (
    "# Ollama inference service, created with `catalog-gen new`. Edit freely: CI validates this\n"
    "# file with `catalog-gen validate`; the environment's defaults fill in what it leaves out.\n"
)


@dataclass(frozen=True)
class NewLeaf:
    """What `catalog-gen new` was asked for."""

    place: LeafPlace
    model: str
    gpus: int | None = None
    host: str | None = None
    expose: bool = False
    owner: str | None = None
    service_catalog: str | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        for option, text in (
            ("--model", self.model),
            ("--host", self.host),
            ("--owner", self.owner),
            ("--service-catalog", self.service_catalog),
            ("--description", self.description),
        ):
            utf8_argument(option, text)


def parse_place(text: str) -> LeafPlace:
    """ENV/NAMESPACE/SERVICE; ScaffoldUsageError unless it is three names."""
    utf8_argument("ENV/NAMESPACE/SERVICE", text)
    parts = text.split("/")
    if len(parts) != 3:
        raise ScaffoldUsageError(f"{text!r} is not ENV/NAMESPACE/SERVICE (e.g. dev/ml/my-llm)")
    environment, namespace, service = parts
    return LeafPlace(
        path_part(environment, "environment"),
        path_part(namespace, "namespace"),
        path_part(service, "service"),
    )


def leaf_data(request: NewLeaf) -> dict[str, Any]:
    """The leaf, keys in the order of the proof of concept's leaf; only what was given."""
    place = request.place
    data: dict[str, Any] = {
        "workloadType": WORKLOAD_TYPE,
        "serviceName": place.service,
        # Given empty, it stays empty, and the leaf's rules say why (not the namespace instead).
        "serviceCatalog": (
            place.namespace if request.service_catalog is None else request.service_catalog
        ),
        "namespace": place.namespace,
        "environment": place.environment,
    }
    if request.owner is not None:
        data["owner"] = request.owner
    if request.description is not None:
        data["description"] = request.description
    data["model"] = request.model
    if request.gpus is not None:
        data["gpu"] = {"count": request.gpus}
    if request.host is not None:
        data["ingress"] = {"enabled": True, "host": request.host}
    elif request.expose:
        data["ingress"] = {"enabled": True}
    return data


def new_leaf(
    catalog: CatalogAccess, request: NewLeaf, report: Report, *, dry_run: bool = False
) -> Scaffolded:
    """The leaf, written only when report holds no error (and not dry_run)."""
    place = request.place
    content = leaf_bytes(leaf_data(request), COMMENT)
    if refuse_existing(
        catalog, place, report, "`catalog-gen new` never overwrites a leaf: edit it instead"
    ):
        return Scaffolded(place, content, written=False)
    planned, document = check_leaf(catalog, place, content, report)
    environment = planned.environments.get(place.environment)
    if request.owner is None and environment is not None and environment.owner is None:
        where = ("owner",)
        line, column = document.position(where) if document is not None else (1, 1)
        _drop_warnings_at(report, place.display(catalog), where)  # this error says it all
        report.add(
            place.display(catalog),
            line,
            column,
            where,
            f"no owner: environment {place.environment!r} names none and a Backstage "
            "Component needs one (the form asks for it); pass --owner, e.g. group:ml-platform",
        )
    if not report.ok or dry_run:
        return Scaffolded(place, content, written=False)
    return Scaffolded(place, content, write_leaf(catalog, place, content, report))


def _drop_warnings_at(report: Report, display: str, where: tuple[str, ...]) -> None:
    """Without the warnings at where in display: the form's demand of an owner, an error, takes
    the place of the emit checks' warning that the service would not be published."""
    at = json_path(where)
    report.problems[:] = [
        problem
        for problem in report.problems
        if not (
            problem.severity is Severity.WARNING
            and problem.path == display
            and problem.json_path == at
        )
    ]
