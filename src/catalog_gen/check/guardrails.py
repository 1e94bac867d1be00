"""A rule of the Kubernetes API server the chart cannot see: requests above limits.

The chart renders such a pod and the API server refuses it, so catalog-gen is stricter than the
chart here, on purpose (docs/interfaces.md, "Who owns which rule"). Every rule the chart has on
its values lives in the chart (values.schema.json, templates/_validate.tpl) and is not copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalog_gen.check.rules import quantity_text
from catalog_gen.load.document import Document
from catalog_gen.problems import Report
from catalog_gen.sizing import parse_quantity


def check_requests_within_limits(
    document: Document, report: Report, *, resources: Mapping[str, Any]
) -> None:
    """requests.cpu/memory above limits.cpu/memory, placed on the leaf key that set them."""
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    for resource in ("cpu", "memory"):
        request, limit = requests.get(resource), limits.get(resource)
        if request is None or limit is None:
            continue
        if parse_quantity(request) > parse_quantity(limit):
            where = document.first_present(
                [
                    ("chartValues", "resources", "requests", resource),
                    ("container", "resources", "requests", resource),
                    ("chartValues", "resources", "limits", resource),
                    ("container", "resources", "limits", resource),
                    ("container", "resources"),
                ],
            )
            document.add(
                report,
                where,
                f"requests.{resource} {quantity_text(request)} is more than limits.{resource} "
                f"{quantity_text(limit)}; Kubernetes rejects such a pod",
            )
