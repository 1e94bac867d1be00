"""`catalog-gen diff`'s marks of the changes the cluster refuses on objects that exist
(`diff/compare.py` `refused_in_place`), held to the API server's own update validation
(tools/apiserver-validate -previous: the three-way patch an upgrade sends, then kube-apiserver
1.34's update strategies): for each change of values, diff marks a refusal exactly where the
API server refuses the update. Two marks are no refusal of the update validation and are held to
what they say: a claim that grows (allowed by the validation; the StorageClass decides, in
admission) and a claim the change deletes (no update at all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from catalog_gen.diff.compare import refused_in_place
from catalog_gen.diff.render import split_resources
from tests.chart.conftest import API_VERSIONS, CHART, NAMESPACE, RELEASE, scenario_file
from tests.conftest import HELM_VERSIONS, helm_binary
from tests.support.kube import apiserver_errors, helm_template_text

# Fixed object names, so that a nameOverride changes the selector only, not what is updated.
NAMED: dict[str, Any] = {"fullnameOverride": "chat"}
GROWS = "its size grows, which Kubernetes allows only where the StorageClass"
DELETES = "the change deletes this claim"

# (id, scenario, values before, values after)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("replica-claims-resized", "per-replica", {}, {"cache": {"size": "26Gi"}}),
    ("replica-claims-same-size-other-unit", "per-replica", {}, {"cache": {"size": "25600Mi"}}),
    ("replica-claims-other-class", "per-replica", {}, {"cache": {"storageClass": "fast"}}),
    (
        "replica-claims-other-modes",
        "per-replica",
        {},
        {"cache": {"accessModes": ["ReadWriteOnce"]}},
    ),
    ("statefulset-new-image", "per-replica", {}, {"image": {"tag": "0.99.1"}}),
    ("statefulset-more-replicas", "per-replica", {}, {"replicaCount": 4}),
    ("statefulset-selector", "per-replica", {}, {"nameOverride": "other"}),
    ("deployment-selector", "default-cpu", {}, {"nameOverride": "other"}),
    ("deployment-pod-labels", "default-cpu", {}, {"podLabels": {"rollout": "2"}}),
    ("claim-shrinks", "shared-pvc", {}, {"cache": {"size": "29Gi"}}),
    ("claim-grows", "shared-pvc", {}, {"cache": {"size": "31Gi"}}),
    ("claim-other-class", "shared-pvc", {}, {"cache": {"storageClass": "slow"}}),
    ("claim-other-modes", "shared-pvc", {}, {"cache": {"accessModes": ["ReadWriteMany"]}}),
    ("claim-deleted", "shared-pvc", {}, {"cache": {"mode": "emptyDir"}}),
]


def _render(scenario: str, values: dict[str, Any], tmp_path: Path, name: str) -> str:
    values_file = tmp_path / f"{name}.json"
    values_file.write_text(json.dumps({**NAMED, **values}))
    return helm_template_text(
        helm_binary(HELM_VERSIONS[0]),
        CHART,
        [scenario_file(scenario), values_file],
        release=RELEASE,
        namespace=NAMESPACE,
        api_versions=API_VERSIONS,
    )


@pytest.mark.parametrize(
    ("scenario", "before", "after"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_diff_marks_a_refusal_where_the_api_server_refuses_the_update(
    scenario: str, before: dict[str, Any], after: dict[str, Any], tmp_path: Path, shared_dir: Path
) -> None:
    old = _render(scenario, before, tmp_path, "before")
    new = _render(scenario, after, tmp_path, "after")
    assert new != old  # else the case proves nothing
    (server,) = apiserver_errors([new], NAMESPACE, shared_dir / "crds", previous=[old])
    marks = list(refused_in_place(split_resources(old, NAMESPACE), split_resources(new, NAMESPACE)))
    refusals = [mark for mark in marks if GROWS not in mark and DELETES not in mark]
    assert bool(refusals) == bool(server), (refusals, server)
    # Each refused object is the one diff names.
    for error in server:
        kind, name = error.split(":", 1)[0].split("/")
        assert any(mark.startswith(f"{kind}/{NAMESPACE}/{name}:") for mark in refusals), marks
    if scenario == "shared-pvc" and after["cache"].get("size") == "31Gi":
        assert [GROWS in mark for mark in marks] == [True]
    if after.get("cache", {}).get("mode") == "emptyDir":
        assert [DELETES in mark for mark in marks] == [True]
