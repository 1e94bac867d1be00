"""The emit-stage checks of a planned catalog (catalog_gen/emit/checks.py): Argo CD's errors and
Backstage's warnings together, read from the services' LeafFacts, kept to the files a command
reports on."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import yaml

from catalog_gen.check.chart_contract import ChartContract
from catalog_gen.emit.checks import check_planned
from catalog_gen.plan.across import LeafFacts
from catalog_gen.plan.pipeline import CatalogPlan, plan_catalog
from catalog_gen.plan.service_plan import ServicePlan
from catalog_gen.problems import Report, Severity
from tests.gitops.conftest import CHART_DIR, FIXTURE_CATALOG, Rendered, plan

DEFAULT_SERVER = "https://kubernetes.default.svc"
NO_OWNER = (
    "no owner: the service is not published to Backstage (a Component needs an owner); set "
    "owner, e.g. group:ml-platform, in the leaf or for every service of the environment in its "
    "environment file"
)


def copied(tmp_path: Path) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE_CATALOG, catalog)
    return catalog


def without_plans(catalog: CatalogPlan) -> CatalogPlan:
    """catalog whose plans cannot be asked for: the checks must not need them."""

    def refuse(service: LeafFacts) -> ServicePlan:
        raise AssertionError(f"the plan of {service.leaf_path} was asked for")

    return dataclasses.replace(catalog, plan_of=refuse)


def test_a_service_without_owner_is_one_warning_at_its_leaf(rendered: Rendered) -> None:
    report = Report()
    check_planned(without_plans(rendered.catalog), report)
    assert [problem.format() for problem in report.problems] == [
        f"catalog/sandbox/play/tiny.yaml:1:1: warning: $.owner: {NO_OWNER}"
    ]
    assert report.ok  # a warning: the service still renders and deploys


def test_an_owner_in_the_leaf_or_the_environment_silences_it(tmp_path: Path) -> None:
    catalog = copied(tmp_path)
    leaf = catalog / "sandbox/play/tiny.yaml"
    leaf.write_text(leaf.read_text() + "owner: group:ml-platform\n")
    other = catalog / "sandbox/play/other.yaml"
    other.write_text(
        leaf.read_text().replace(": tiny\n", ": other\n").replace("owner:", "# owner:")
    )
    planned, report = plan(catalog)
    check_planned(planned, report)
    assert [(problem.path, problem.line) for problem in report.problems] == [
        ("catalog/sandbox/play/other.yaml", 1)
    ]
    environment = catalog / "environments/sandbox.yaml"
    environment.write_text(environment.read_text() + "owner: group:default/sandbox-team\n")
    planned, report = plan(catalog)
    check_planned(planned, report)
    assert report.problems == []


def test_the_warning_stands_at_an_explicit_null_owner(tmp_path: Path) -> None:
    catalog = copied(tmp_path)
    leaf = catalog / "sandbox/play/tiny.yaml"
    leaf.write_text(leaf.read_text() + "description: tiny\nowner: null\n")
    planned, report = plan(catalog)
    check_planned(planned, report)
    (problem,) = report.problems
    assert (problem.line, problem.column, problem.json_path) == (8, 8, "$.owner")


def test_a_name_backstage_cannot_use_is_a_warning_at_the_service_name(tmp_path: Path) -> None:
    # A DNS label may hold "--"; a Backstage entity name may not (runs joined by one of -_.).
    catalog = copied(tmp_path)
    source = catalog / "dev/team-a/phi.yaml"
    data = yaml.safe_load(source.read_text())
    data["serviceName"] = "phi--mini"
    (catalog / "dev/team-a/phi--mini.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    planned, report = plan(catalog)
    assert report.ok, report.format_text()
    check_planned(planned, report)
    (problem,) = [p for p in report.problems if p.path == "catalog/dev/team-a/phi--mini.yaml"]
    assert problem.severity is Severity.WARNING
    assert problem.json_path == "$.serviceName"
    assert problem.message == "Backstage cannot name the service 'dev-team-a-phi--mini'"


def test_argo_cd_errors_and_backstage_warnings_come_together(tmp_path: Path) -> None:
    catalog = copied(tmp_path)
    environment = catalog / "environments/dev.yaml"
    data = yaml.safe_load(environment.read_text())
    data["argocd"]["namespacePrefix"] = "p" * 60 + "-"
    environment.write_text(yaml.safe_dump(data))
    planned, report = plan(catalog)
    check_planned(without_plans(planned), report)
    assert {(p.path, p.json_path, p.severity) for p in report.problems} == {
        ("catalog/dev/team-a/phi.yaml", "$.namespace", Severity.ERROR),
        ("catalog/dev/team-b/phi.yaml", "$.namespace", Severity.ERROR),
        ("catalog/sandbox/play/tiny.yaml", "$.owner", Severity.WARNING),
    }


def test_only_the_files_the_command_reports_on_are_kept(tmp_path: Path) -> None:
    catalog = copied(tmp_path)
    tiny = catalog / "sandbox/play/tiny.yaml"
    (catalog / "sandbox/play/other.yaml").write_text(
        tiny.read_text().replace(": tiny\n", ": other\n")
    )
    report = Report()
    planned = plan_catalog(catalog, "catalog", ChartContract.load(CHART_DIR), report, only=[tiny])
    assert {service.service_name for service in planned.services} == {"tiny", "other"}
    check_planned(planned, report)
    assert [problem.path for problem in report.problems] == ["catalog/sandbox/play/tiny.yaml"]


def set_argocd(catalog: Path, environment: str, **values: str) -> None:
    path = catalog / f"environments/{environment}.yaml"
    data = yaml.safe_load(path.read_text())
    data["argocd"].update(values)
    path.write_text(yaml.safe_dump(data))


def clashes(catalog: Path) -> set[tuple[str, str]]:
    planned, report = plan(catalog)
    check_planned(without_plans(planned), report)
    found = [p for p in report.problems if "would fight over its objects" in p.message]
    return {(p.path, p.message) for p in found}


def with_staging_twin(tmp_path: Path) -> Path:
    """The fixture catalog with dev's team-a/phi also in staging (same namespace and name)."""
    catalog = copied(tmp_path)
    text = (catalog / "dev/team-a/phi.yaml").read_text()
    twin = text.replace("environment: dev", "environment: staging")
    (catalog / "staging/team-a/phi.yaml").write_text(
        twin.replace("ingress:\n  enabled: true\n", "")
    )
    return catalog


def test_two_environments_deploying_one_release_into_one_namespace_are_refused(
    tmp_path: Path,
) -> None:
    # dev and staging both deploy to one named cluster without a prefix: the same service name
    # in the same namespace is one Helm release that two Applications would own.
    catalog = with_staging_twin(tmp_path)
    for environment in ("dev", "staging"):
        set_argocd(catalog, environment, destinationServer="https://gpu.example.com:6443")
    found = clashes(catalog)
    assert {path for path, _ in found} == {
        "catalog/dev/team-a/phi.yaml",
        "catalog/staging/team-a/phi.yaml",
    }
    assert any(
        "also deployed by catalog/staging/team-a/phi.yaml (environment 'staging')" in message
        for _, message in found
    )

    set_argocd(catalog, "staging", namespacePrefix="staging-")  # a namespace of its own
    assert clashes(catalog) == set()


def test_the_in_cluster_address_is_each_argo_cds_own_cluster(tmp_path: Path) -> None:
    # One Argo CD per environment's cluster, each deploying to its own in-cluster address: the
    # same release and namespace in two environments is then no clash.
    catalog = with_staging_twin(tmp_path)
    for environment in ("dev", "staging"):
        set_argocd(catalog, environment, destinationServer=DEFAULT_SERVER)
    assert clashes(catalog) == set()


def test_kubernetes_and_argo_cd_namespaces_are_refused(tmp_path: Path) -> None:
    catalog = copied(tmp_path)
    text = (catalog / "dev/team-a/phi.yaml").read_text()
    for namespace, name in (("kube-system", "svc-a"), ("argocd", "argocd-server")):
        leaf = catalog / "dev" / namespace / f"{name}.yaml"
        leaf.parent.mkdir()
        leaf.write_text(
            text.replace("namespace: team-a", f"namespace: {namespace}")
            .replace("serviceName: phi", f"serviceName: {name}")
            .replace("ingress:\n  enabled: true\n", "")
        )
    planned, report = plan(catalog)
    check_planned(without_plans(planned), report)
    refused = {
        (p.path, p.message.split(":")[0]) for p in report.problems if p.json_path == "$.namespace"
    }
    assert refused == {
        (
            "catalog/dev/kube-system/svc-a.yaml",
            "namespace 'kube-system' belongs to Kubernetes itself",
        ),
        (
            "catalog/dev/argocd/argocd-server.yaml",
            "namespace 'argocd' is Argo CD's own (argocd.namespace)",
        ),
    }


def test_the_keda_http_add_ons_namespace_is_refused_only_where_keda_http_scales(
    tmp_path: Path,
) -> None:
    """A service in the add-on's namespace, named as its interceptor Service, would replace it
    for every autoscaled route; an environment scaling with keda-prometheus has no such add-on
    (its kedaHttp block is unused) and keeps the namespace open."""
    catalog = copied(tmp_path)
    environment = catalog / "environments/dev.yaml"
    namespace = yaml.safe_load(environment.read_text())["autoscaling"]["kedaHttp"][
        "interceptorNamespace"
    ]
    text = (catalog / "dev/team-a/phi.yaml").read_text()
    leaf = catalog / "dev" / namespace / "keda-add-ons-http-interceptor-proxy.yaml"
    leaf.parent.mkdir()
    leaf.write_text(
        text.replace("namespace: team-a", f"namespace: {namespace}")
        .replace("serviceName: phi", "serviceName: keda-add-ons-http-interceptor-proxy")
        .replace("ingress:\n  enabled: true\n", "")
    )

    def refused() -> list[str]:
        planned, report = plan(catalog)
        check_planned(without_plans(planned), report)
        return [p.message for p in report.problems if p.json_path == "$.namespace"]

    assert refused() == [
        f"namespace {namespace!r} is the KEDA HTTP add-on's (autoscaling.kedaHttp."
        "interceptorNamespace): a service there could replace the interceptor every autoscaled "
        "route goes through; choose a namespace of your own"
    ]
    data = yaml.safe_load(environment.read_text())
    data["autoscaling"]["engine"] = "keda-prometheus"
    data["autoscaling"]["prometheus"] = {"serverAddress": "http://prometheus.monitoring:9090"}
    environment.write_text(yaml.safe_dump(data))
    assert refused() == []
