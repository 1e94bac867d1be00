"""Upgrades Kubernetes would refuse: a StatefulSet's volumeClaimTemplates and a workload's selector
cannot change, so neither may follow what changes between upgrades of one release (chart
version, appVersion, image tag, commonLabels, Backstage id, pod and cost labels). Every ci/
scenario is upgraded through the API server's own update validation (tools/apiserver-validate
-previous), and a change it refuses is shown refused."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from tests.chart.conftest import (
    API_VERSIONS,
    CHART,
    NAMESPACE,
    RELEASE,
    SCENARIOS,
    render,
    render_scenario,
    render_scenario_text,
    scenario_file,
)
from tests.support.kube import (
    Document,
    apiserver_errors,
    helm_template_text,
    load_documents,
    select,
)

STATEFULSET = "templates/statefulset.yaml"
# What an upgrade may change, all at once, on top of the per-replica scenario.
CHANGED: dict[str, Any] = {
    "image": {"tag": "0.99.1"},
    "commonLabels": {"team": "other", "example.com/added": "x"},
    "backstage": {"kubernetesId": "another-id"},
    "podLabels": {"rollout": "2"},
    "costLabels": {"team": "finance"},
}


def _bumped_chart(tmp_path: Path, *, app_version: bool = True) -> Path:
    """A copy of the chart with another version and (app_version) appVersion: a chart upgrade."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    metadata = chart / "Chart.yaml"
    text = metadata.read_text()
    text, versions = re.subn(r"(?m)^version: .*$", "version: 99.1.0", text)
    if app_version:
        text, app_versions = re.subn(r"(?m)^appVersion: .*$", 'appVersion: "0.99.0"', text)
        assert app_versions == 1
    assert versions == 1
    metadata.write_text(text)
    return chart


def _statefulset_text(helm: Path, chart: Path, values: list[Path]) -> str:
    return helm_template_text(
        helm,
        chart,
        [scenario_file("per-replica"), *values],
        release=RELEASE,
        namespace=NAMESPACE,
        extra_args=["--show-only", STATEFULSET],
    )


def _claim_templates_text(text: str) -> str:
    """The volumeClaimTemplates block of the StatefulSet, as helm wrote it."""
    start = text.index("\n  volumeClaimTemplates:\n")
    end = text.find("\n---", start)
    return text[start : end if end >= 0 else len(text)]


def test_claim_templates_are_byte_identical_across_upgrades(helm: Path, tmp_path: Path) -> None:
    changed_values = tmp_path / "changed.yaml"
    changed_values.write_text(json.dumps(CHANGED))
    before = _statefulset_text(helm, CHART, [])
    after = _statefulset_text(helm, _bumped_chart(tmp_path), [changed_values])
    (old,) = load_documents(before)
    (new,) = load_documents(after)
    # The upgrade does change the StatefulSet's own labels and its pods' (allowed)...
    assert old["metadata"]["labels"] != new["metadata"]["labels"]
    assert new["metadata"]["labels"]["helm.sh/chart"] == "ollama-inference-load-99.1.0"
    assert new["metadata"]["labels"]["app.kubernetes.io/version"] == "0.99.1"
    old_pod, new_pod = (item["spec"]["template"]["metadata"]["labels"] for item in (old, new))
    assert old_pod != new_pod
    # ...never the claim templates or the selector (refused by the API server).
    assert _claim_templates_text(before) == _claim_templates_text(after)
    assert old["spec"]["volumeClaimTemplates"] == new["spec"]["volumeClaimTemplates"]
    assert old["spec"]["selector"] == new["spec"]["selector"]


def _claim_labels(statefulset: Document) -> dict[str, str]:
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    labels: dict[str, str] = claim["metadata"]["labels"]
    return labels


def test_claim_templates_carry_the_selector_labels_only(helm: Path, tmp_path: Path) -> None:
    for documents in (
        render_scenario(helm, "per-replica"),
        render(helm, {"cache": {"mode": "perReplica"}, **CHANGED}, tmp_path),
    ):
        (statefulset,) = select(documents, "StatefulSet")
        assert _claim_labels(statefulset) == statefulset["spec"]["selector"]["matchLabels"]
        assert _claim_labels(statefulset) == {
            "app.kubernetes.io/name": "ollama-inference-load",
            "app.kubernetes.io/instance": RELEASE,
            "app.kubernetes.io/component": "inference",
        }


def test_a_chart_release_that_changes_nothing_the_pods_run_does_not_roll_them(
    helm: Path, tmp_path: Path
) -> None:
    """Only the chart's version changes: the workload's own labels say so, its pod template is
    byte-identical, so neither helm nor Argo CD restarts a pod (a GPU server on Recreate would be
    down meanwhile, and pull every model again into an emptyDir cache)."""
    before, after = (
        helm_template_text(helm, chart, release=RELEASE, namespace=NAMESPACE)
        for chart in (CHART, _bumped_chart(tmp_path, app_version=False))
    )
    old, new = (select(load_documents(text), "Deployment")[0] for text in (before, after))
    assert new["metadata"]["labels"]["helm.sh/chart"] == "ollama-inference-load-99.1.0"
    assert old["metadata"]["labels"] != new["metadata"]["labels"]
    assert "helm.sh/chart" not in new["spec"]["template"]["metadata"]["labels"]
    assert old["spec"]["template"] == new["spec"]["template"]


def test_an_upgrade_keeps_the_scripts_configmap_the_previous_pods_mount(
    helm: Path, tmp_path: Path
) -> None:
    """A new model list gives the pods a new scripts ConfigMap (named by its content); the one
    the previous revision's pods mount must survive the upgrade (helm) and the sync (Argo CD),
    or a pod of that revision (a rollout undone, an eviction during a stuck rollout) never
    starts: the kubelet refuses a pod whose ConfigMap is gone."""
    names = []
    for models in ([{"name": "phi:latest"}], [{"name": "phi:latest"}, {"name": "tinyllama"}]):
        documents = render(helm, {"models": models}, tmp_path)
        (config_map,) = select(documents, "ConfigMap")
        names.append(config_map["metadata"]["name"])
        (workload,) = select(documents, "Deployment")
        volumes = workload["spec"]["template"]["spec"]["volumes"]
        assert {
            "name": "scripts",
            "configMap": {"name": names[-1], "defaultMode": 0o444},
        } in volumes
        assert config_map["metadata"]["annotations"] == {
            "helm.sh/resource-policy": "keep",
            "argocd.argoproj.io/sync-options": "Prune=false",
            "argocd.argoproj.io/compare-options": "IgnoreExtraneous",
        }
    assert names[0] != names[1]


def test_the_readme_command_for_an_upgrade_from_047_annotates_what_the_chart_writes(
    helm: Path, tmp_path: Path
) -> None:
    """Charts up to 0.3.47 wrote the scripts ConfigMap without the keep annotations, and helm and
    Argo CD judge the live object: the README's command, run before the first upgrade, must
    select that ConfigMap by a label the chart puts on it and give it the chart's annotations."""
    readme = (CHART / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"kubectl -n NAMESPACE annotate configmap -l (\S+)=RELEASE \\\n((?:.*\\\n)*.*)\n", readme
    )
    assert found, "the README has no annotate command for an upgrade from 0.3.47"
    label, arguments = found.group(1), found.group(2).replace("\\\n", " ").split()
    (config_map,) = select(
        render(helm, {"models": [{"name": "phi:latest"}]}, tmp_path), "ConfigMap"
    )
    assert config_map["metadata"]["labels"][label] == RELEASE
    annotations = dict(argument.split("=", 1) for argument in arguments)
    assert annotations == config_map["metadata"]["annotations"]


def _scenario_text(helm: Path, chart: Path, scenario: str, values: list[Path]) -> str:
    return helm_template_text(
        helm,
        chart,
        [scenario_file(scenario), *values],
        release=RELEASE,
        namespace=NAMESPACE,
        api_versions=API_VERSIONS,
    )


def test_every_scenario_upgrades_through_the_api_servers_update_validation(
    helm: Path, tmp_path: Path, shared_dir: Path
) -> None:
    """Each ci/ scenario as this chart renders it, upgraded to a later chart and appVersion with
    CHANGED on top: every object both revisions hold is an update the API server accepts."""
    changed_values = tmp_path / "changed.yaml"
    changed_values.write_text(json.dumps(CHANGED))
    bumped = _bumped_chart(tmp_path)
    before = [render_scenario_text(helm, scenario) for scenario in SCENARIOS]
    after = [_scenario_text(helm, bumped, scenario, [changed_values]) for scenario in SCENARIOS]
    errors = apiserver_errors(after, NAMESPACE, shared_dir / "crds", previous=before)
    assert dict(zip(SCENARIOS, errors, strict=True)) == {scenario: [] for scenario in SCENARIOS}


def test_a_claim_template_change_is_an_upgrade_the_api_server_refuses(
    helm: Path, tmp_path: Path, shared_dir: Path
) -> None:
    """What test_claim_templates_are_byte_identical_across_upgrades guards against, shown real:
    a per-replica cache of another size is a StatefulSet update the API server refuses (the
    claims of a running StatefulSet are resized on the claims themselves, docs/operations.md)."""
    resized = tmp_path / "resized.yaml"
    resized.write_text(json.dumps({"cache": {"size": "999Gi"}}))
    before = render_scenario_text(helm, "per-replica")
    after = _scenario_text(helm, CHART, "per-replica", [resized])
    (errors,) = apiserver_errors([after], NAMESPACE, shared_dir / "crds", previous=[before])
    assert errors == [
        f"StatefulSet/{RELEASE}-ollama-inference-load: spec: Forbidden: updates to statefulset "
        "spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
        "'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
        "are forbidden"
    ]
