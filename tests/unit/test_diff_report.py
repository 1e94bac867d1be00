"""diff/: resources split and diffed by kind, namespace and name; the footprint of a service;
the pull-request comment's table, fences and size limit (no helm, no git)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from catalog_gen.check.chart_contract import ChartContractError
from catalog_gen.diff.compare import (
    ADDED,
    CHANGED,
    Comparison,
    ResourceChange,
    ServiceDiff,
    Side,
    diff_resources,
    refused_in_place,
)
from catalog_gen.diff.render import (
    Footprint,
    Resource,
    ServiceInputs,
    canonical_yaml,
    chart_api_versions,
    effective_footprint,
    footprint,
    split_resources,
)
from catalog_gen.diff.report import COMMENT_LIMIT, markdown, text
from catalog_gen.plan.service_plan import ServicePlan
from tests.unit.helpers import CHART

GI = 1024**3
MANIFESTS = """\
---
# Source: chart/templates/service.yaml
apiVersion: v1
kind: Service
metadata: {name: svc}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: svc, namespace: other}
data: {script: "line one\\nline two\\n"}
---
apiVersion: v1
kind: Pod
metadata: {name: test}
---
apiVersion: v1
kind: Pod
metadata: {name: test}
"""


def test_resources_are_sorted_canonical_and_numbered_when_repeated() -> None:
    resources = split_resources(MANIFESTS, "ns")
    assert [r.title for r in resources] == [
        "Deployment/other/svc",
        "Pod/ns/test",
        "Pod/ns/test#2",
        "Service/ns/svc",
    ]
    assert resources[0].text.startswith("apiVersion: apps/v1\ndata:\n  script: |\n    line one\n")
    assert "# Source" not in resources[3].text


def test_only_differing_resources_are_diffed() -> None:
    before = split_resources(MANIFESTS, "ns")
    after = split_resources(MANIFESTS.replace("port: 80", "port: 8080"), "ns")
    changes = list(diff_resources(before, after))
    assert [(c.title, c.status) for c in changes] == [("Service/ns/svc", CHANGED)]
    assert "-  - port: 80" in changes[0].lines
    assert "+  - port: 8080" in changes[0].lines
    assert list(diff_resources(before, before)) == []
    added = list(diff_resources([], after[:1]))
    assert added[0].status == ADDED
    assert added[0].lines[:2] == ("--- /dev/null", "+++ b/Deployment/other/svc")


TABBED = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: scripts}
data:
  models.tsv: "phi:latest\\t-1s\\nllama3:8b\\t5m\\n"
  pull-models.sh: "#!/bin/sh\\nif true; then\\n\\techo one\\nfi\\n"
"""


def test_text_with_tabs_is_a_literal_block_so_a_one_word_change_is_one_line() -> None:
    # The chart's scripts and model lists hold tabs; PyYAML alone quotes such text as one line.
    before = split_resources(TABBED, "ns")
    assert "  models.tsv: |\n    phi:latest\t-1s\n    llama3:8b\t5m\n" in before[0].text
    after = split_resources(TABBED.replace("echo one", "echo two"), "ns")
    (change,) = diff_resources(before, after)
    changed = [line for line in change.lines if line[:1] in "+-" and line[:3] not in "+++---"]
    assert changed == ["-    \techo one", "+    \techo two"]


@given(st.text(alphabet=st.sampled_from("ab \t\n:#|-'\""), max_size=30))
def test_canonical_text_reads_back_as_the_same_strings(text: str) -> None:
    assert yaml.safe_load(canonical_yaml({"data": {"k": text}, "list": [text]})) == {
        "data": {"k": text},
        "list": [text],
    }


def plan(replicas: int, gpus: int, autoscaling: dict[str, Any] | None) -> ServicePlan:
    """A plan as footprint reads it: its effective chart values (defaults coalesced)."""
    effective: dict[str, Any] = {
        "replicaCount": replicas,
        "gpu": {"count": gpus},
        "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}},
    }
    if autoscaling is not None:
        effective["autoscaling"] = autoscaling
    return cast(ServicePlan, SimpleNamespace(effective=effective))


def test_footprint_uses_max_replicas_under_autoscaling_only() -> None:
    assert footprint(plan(3, 2, None)) == Footprint(6, 3 * GI, 6 * GI)
    assert footprint(plan(3, 2, {"enabled": False, "maxReplicas": 5})) == Footprint(
        6, 3 * GI, 6 * GI
    )
    assert footprint(plan(1, 2, {"enabled": True, "maxReplicas": 5})) == Footprint(
        10, 5 * GI, 10 * GI
    )


def test_footprint_of_values_without_gpu_or_resources_is_zero() -> None:
    """A committed values file coalesced with an older chart's defaults may lack them."""
    assert effective_footprint({"replicaCount": 2}) == Footprint(0, 0, 0)
    assert effective_footprint({"gpu": "one", "resources": []}) == Footprint(0, 0, 0)


def side(label: str, **services: Footprint) -> Side:
    return Side(
        label,
        Path("chart"),
        {
            key: ServiceInputs(key, key.split("/")[0], "r", "ns", b"", value)
            for key, value in services.items()
        },
    )


def comparison(size: int, **after: Footprint) -> Comparison:
    """prod/a changes (a diff of size lines of 100 characters); dev/b's totals stay."""
    lines = ("--- a/X/ns/x", "+++ b/X/ns/x", *(("+" + "y" * 99) for _ in range(size)))
    services = tuple(
        ServiceDiff(f"prod/s{index}", "prod", CHANGED, (ResourceChange("X/ns/x", CHANGED, lines),))
        for index in range(3)
    )
    base = side("main", **{"prod/s0": Footprint(1, GI, 2 * GI), "dev/b": Footprint(1, GI, GI)})
    head = side("work tree", **after)
    return Comparison(base, head, services, tuple(s.key for s in services))


def test_markdown_table_shows_deltas_and_unchanged_totals() -> None:
    result = comparison(
        2, **{"prod/s0": Footprint(3, 3 * GI, GI // 2), "dev/b": Footprint(1, GI, GI)}
    )
    assert "| prod | 0 | 0 | 3 | 1 → 3 (+2) | 1Gi → 3Gi (+2Gi) | 2Gi → 512Mi (-1536Mi) |" in (
        markdown(result)
    )
    assert "| dev |" not in markdown(result)


def test_markdown_stays_under_the_comment_limit() -> None:
    result = comparison(400, **{"prod/s0": Footprint(1, GI, 2 * GI), "dev/b": Footprint(1, GI, GI)})
    full = text(result)
    assert len(full) > COMMENT_LIMIT
    comment = markdown(result)
    assert len(comment) <= COMMENT_LIMIT
    assert "more lines cut" in comment
    assert "1 more service not shown" in comment
    assert comment.count("<details>") == comment.count("</details>") == 2
    assert comment.count("```diff") == 2


def test_a_small_comment_is_whole_and_fences_outlast_backticks() -> None:
    result = comparison(3, **{"prod/s0": Footprint(1, GI, 2 * GI), "dev/b": Footprint(1, GI, GI)})
    comment = markdown(result)
    assert "cut" not in comment
    assert comment.count("<details>") == 3
    fenced = Comparison(
        result.base,
        result.head,
        tuple(
            ServiceDiff(s.key, s.environment, s.status, (ResourceChange("X", CHANGED, ("+````",)),))
            for s in result.services
        ),
        result.rendered,
    )
    assert "`````diff\n+````\n`````\n" in markdown(fenced)


def test_an_added_resource_shows_its_first_lines_in_the_comment_and_whole_in_text() -> None:
    """An added service's scripts ConfigMap (the chart's ~1,500 lines of scripts) no longer
    fills the comment before its Deployment: added and removed resources show their first
    lines there, changed ones their hunks whole; the text diff keeps everything."""
    long = ("--- /dev/null", "+++ b/ConfigMap/ns/s-scripts", *(f"+line {n}" for n in range(1500)))
    short = ("--- /dev/null", "+++ b/Deployment/ns/s", "+kind: Deployment")
    changes = (
        ResourceChange("ConfigMap/ns/s-scripts", ADDED, long),
        ResourceChange("Deployment/ns/s", ADDED, short),
    )
    base = side("main")
    head = side("work tree", **{"dev/s": Footprint(1, GI, GI)})
    result = Comparison(base, head, (ServiceDiff("dev/s", "dev", ADDED, changes),), ("dev/s",))
    comment = markdown(result)
    assert "+line 57\n" in comment
    assert "+line 58\n" not in comment  # 2 header lines + 58 added lines shown
    assert (
        "... 1442 more lines of added ConfigMap/ns/s-scripts: `catalog-gen diff --base main` "
        "shows it whole\n"
    ) in comment
    assert "+kind: Deployment\n" in comment
    assert "cut at GitHub's size limit" not in comment
    assert "+line 1499\n" in text(result)


def test_a_comment_cut_in_its_last_service_counts_no_services_left() -> None:
    comment = markdown(comparison(400, **{"prod/s0": Footprint(1, GI, 2 * GI)}))
    head_only = Comparison(
        side("main"),
        side("work tree"),
        (
            ServiceDiff(
                "prod/s0",
                "prod",
                CHANGED,
                (ResourceChange("X/ns/x", CHANGED, tuple(f"+{'y' * 99}" for _ in range(1000))),),
            ),
        ),
        ("prod/s0",),
    )
    cut = markdown(head_only)
    assert "**The comment is cut at GitHub's size limit**. Run `catalog-gen diff" in cut
    assert "0 more services" not in cut
    assert "1 more service not shown" in comment


def _claim(size: str, storage_class: str = "fast") -> Resource:
    spec = {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": storage_class,
        "resources": {"requests": {"storage": size}},
    }
    document = {"kind": "PersistentVolumeClaim", "metadata": {"name": "m"}, "spec": spec}
    return Resource("PersistentVolumeClaim", "ns", "m", canonical_yaml(document))


@pytest.mark.parametrize(
    ("after", "said"),
    [
        (_claim("5Gi"), ["its size shrinks, which Kubernetes refuses (a claim never shrinks)"]),
        (_claim("20Gi"), ["its size grows, which Kubernetes allows only where the StorageClass "
                          "sets allowVolumeExpansion: true"]),
        (_claim("10Gi", "slow"), ["its storageClassName changes, which Kubernetes refuses on an "
                                  "existing claim"]),
        (_claim("10Gi"), []),
    ],
)  # fmt: skip
def test_claim_changes_the_api_server_refuses_are_named(after: Resource, said: list[str]) -> None:
    found = list(refused_in_place([_claim("10Gi")], [after]))
    assert found == [f"PersistentVolumeClaim/ns/m: {line}" for line in said]
    assert list(refused_in_place([], [after])) == []  # a claim created: nothing to refuse


def _stateful_set(size: str) -> Resource:
    template = {
        "metadata": {"name": "models"},
        "spec": {"resources": {"requests": {"storage": size}}},
    }
    document = {"kind": "StatefulSet", "metadata": {"name": "s"}, "spec": {
        "replicas": 1, "volumeClaimTemplates": [template]}}  # fmt: skip
    return Resource("StatefulSet", "ns", "s", canonical_yaml(document))


def test_a_size_spelled_otherwise_is_no_refused_change() -> None:
    # The API server compares quantities by value: 10Gi and 10240Mi are one size.
    assert list(refused_in_place([_stateful_set("10Gi")], [_stateful_set("10240Mi")])) == []
    assert list(refused_in_place([_stateful_set("10Gi")], [_stateful_set("12Gi")]))


def test_a_claim_the_change_deletes_is_marked_with_its_models() -> None:
    # Leaving sharedPVC deletes the claim; keepOnUninstall set in the same change keeps nothing.
    (line,) = refused_in_place([_claim("10Gi")], [])
    assert line.startswith("PersistentVolumeClaim/ns/m: the change deletes this claim")
    assert "set it and sync before this change" in line


def _deployment(name: str) -> Resource:
    selector = {"matchLabels": {"app.kubernetes.io/name": name}}
    document = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"selector": selector}}
    return Resource("Deployment", "ns", "d", canonical_yaml(document))


def test_a_workload_selector_change_is_marked() -> None:
    # nameOverride: the API server refuses the Deployment and applies the Service, which then
    # selects no pod (a review found the outage unmarked).
    (line,) = refused_in_place([_deployment("a")], [_deployment("b")])
    assert line.startswith("Deployment/ns/d: its selector changes")
    assert list(refused_in_place([_deployment("a")], [_deployment("a")])) == []


def test_a_class_named_where_none_was_may_be_the_clusters_default() -> None:
    was = _claim("10Gi")
    document = yaml.safe_load(was.text)
    del document["spec"]["storageClassName"]
    unset = Resource("PersistentVolumeClaim", "ns", "m", canonical_yaml(document))
    assert list(refused_in_place([unset], [_claim("10Gi")])) == [
        "PersistentVolumeClaim/ns/m: its storageClassName is set now, which Kubernetes refuses "
        "on an existing claim unless it names the default class the cluster gave it"
    ]


def test_many_refused_changes_leave_the_comment_under_the_limit() -> None:
    """An environment's defaults.cache edit refuses every perReplica service at once: the list
    at the top is capped, and the comment stays within GitHub's limit."""
    line = (
        "StatefulSet/ns/s: its volumeClaimTemplates change, which Kubernetes refuses " + "x" * 150
    )
    changes = (ResourceChange("StatefulSet/ns/s", CHANGED, ("-a", "+b")),)
    services = tuple(
        ServiceDiff(f"prod/ns/s{index:03d}", "prod", CHANGED, changes, (line,))
        for index in range(400)
    )
    result = Comparison(side("main"), side("work tree"), services, tuple(s.key for s in services))
    comment = markdown(result)
    assert len(comment) <= COMMENT_LIMIT
    assert "- ... and 380 more, each marked in its service's diff\n" in comment


def test_the_apis_helm_is_told_of_are_the_ones_the_charts_templates_ask_for(
    tmp_path: Path,
) -> None:
    """Read from the templates (their one owner), every call read: one the pattern cannot read
    is an error, never an API left out."""
    found = chart_api_versions(CHART)
    templates = "".join(path.read_text() for path in (CHART / "templates").glob("*.yaml"))
    assert len(found) == 7
    for api in found:
        group_version, _, kind = api.rpartition("/")
        assert f'"{group_version}" "{kind}"' in templates, api
    (tmp_path / "templates" / "tests").mkdir(parents=True)
    (tmp_path / "templates" / "tests" / "x.yaml").write_text(
        '{{- if not (include "oil.hasApi" (list $ "example.com/v1" "Thing")) }}{{ end }}\n'
    )
    assert chart_api_versions(tmp_path) == ("example.com/v1/Thing",)  # `$` is `.` there
    (tmp_path / "templates" / "y.yaml").write_text(
        '{{- if not (include "oil.hasApi" (list $root "example.com/v1" "Other")) }}{{ end }}\n'
    )
    with pytest.raises(ChartContractError, match="an API check catalog-gen cannot read"):
        chart_api_versions.__wrapped__(tmp_path)
