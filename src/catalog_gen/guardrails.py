"""The chart's guardrails, checked on the effective values so `validate` fails before Argo CD.

Conditions the chart's templates `fail` on (cache modes against replicas, maxLoadedModels below
the service's load groups) and one the API server refuses (requests above limits), placed on the
leaf keys that decide them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from catalog_gen.fit import weights_roots
from catalog_gen.loader import Document
from catalog_gen.problems import Report
from catalog_gen.rules import LeafDerivedModel, quantity_text
from catalog_gen.sizing import parse_quantity


def check_effective(
    document: Document,
    report: Report,
    *,
    model_names: Sequence[str],
    derived: Sequence[LeafDerivedModel],
    replicas: int,
    cache: Mapping[str, Any],
    resources: Mapping[str, Any],
    ollama: Mapping[str, Any],
) -> None:
    """The chart's guardrails, on the effective values, so `validate` fails before Argo CD does."""
    mode = cache.get("mode")
    modes = list(cache.get("accessModes") or [])
    cache_at = document.first_present(
        [
            ("chartValues", "cache"),
            ("cache", "accessModes"),
            ("cache", "mode"),
            ("cache",),
            ("container", "replicas"),
        ],
    )
    if (
        mode == "sharedPVC"
        and modes
        and set(modes) <= {"ReadWriteOnce", "ReadWriteOncePod"}
        and replicas > 1
    ):
        document.add(
            report,
            cache_at,
            f"cache.mode=sharedPVC with accessModes {json.dumps(modes)} attaches to one node only, "
            "but "
            f"replicas is {replicas}: set cache.mode=perReplica (one volume per replica), or "
            "cache.accessModes=[ReadWriteMany] with a storage class that supports it, or "
            "replicas=1",
        )
    if cache.get("existingClaim") and mode != "sharedPVC":
        document.add(
            report,
            document.first_present([("cache", "existingClaim")]) or cache_at,
            f"cache.existingClaim is only used with cache.mode=sharedPVC (cache.mode is {mode}): "
            "set cache.mode=sharedPVC or remove cache.existingClaim",
        )
    if modes == ["ReadOnlyMany"]:
        document.add(
            report,
            cache_at,
            "cache.accessModes is [ReadOnlyMany], but the init container writes the models into "
            "the cache: add ReadWriteMany or ReadWriteOnce",
        )
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
    groups = len(set(weights_roots(model_names, derived).values()))
    max_loaded = int(ollama.get("maxLoadedModels") or 0)
    if max_loaded and max_loaded < groups:
        shared = f", and {len(derived)} derived model(s) share their weights" if derived else ""
        document.add(
            report,
            document.first_present(
                [("ollama", "maxLoadedModels"), ("chartValues", "ollama", "maxLoadedModels")],
            ),
            f"ollama.maxLoadedModels is {max_loaded} but the service loads {groups} models at "
            f"once ({len(model_names)} pulled model(s){shared}); the models would evict each other "
            f"and a pod is ready only when every model is loaded: raise it to {groups} or "
            "leave it 0 (catalog-gen then sets it to the number of models when Ollama's default "
            "of 3 is too low)",
        )
