"""Argo CD files: app.json records, ApplicationSets, AppProjects and bootstrap Applications,
validated against the real Argo CD CRDs, and the Applications Argo CD would create from them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from catalog_gen.emit import argocd
from catalog_gen.emit.argocd import (
    CLUSTER_RESOURCES,
    GENERATED_MARKER,
    NAMESPACED_RESOURCES,
    application_name,
    argo_service,
    bounded_name,
    check_catalog,
    plan_argo_service,
)
from catalog_gen.plan.across import leaf_facts
from catalog_gen.problems import Report
from tests.chart.conftest import API_VERSIONS, SCENARIOS, render_scenario
from tests.conftest import helm_binary
from tests.gitops.conftest import CHART_DIR, FIXTURE_CATALOG, Rendered, plan, render
from tests.support.argocd import (
    RESOURCES_FINALIZER,
    git_repository,
    render_applications,
)
from tests.support.kube import helm_template, validate_manifests

ENVIRONMENTS_WITH_ARGOCD = ("dev", "prod", "staging")
# What a cluster with KEDA and its HTTP add-on serves (helm --api-versions).
KEDA_KINDS = (
    "keda.sh/v1alpha1/ScaledObject",
    "http.keda.sh/v1beta1/InterceptorRoute",
    "gateway.networking.k8s.io/v1beta1/ReferenceGrant",
)


def application_set(rendered: Rendered, environment: str) -> dict[str, Any]:
    return rendered.yaml(PurePosixPath(f"applicationset-{environment}.yaml"))


def app_project(rendered: Rendered, environment: str) -> dict[str, Any]:
    return rendered.yaml(PurePosixPath(f"appproject-{environment}.yaml"))


def repository_files(rendered: Rendered) -> dict[PurePosixPath, bytes]:
    files = {
        PurePosixPath("generated") / path: content for path, content in rendered.generated.items()
    }
    files.update(
        {
            PurePosixPath("deploy/argocd") / path: content
            for path, content in rendered.deploy.items()
        }
    )
    return files


def application_set_files(repository: Path) -> list[Path]:
    return sorted((repository / "deploy" / "argocd").glob("applicationset-*.yaml"))


@pytest.fixture(scope="module")
def created(
    rendered: Rendered, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """{app.json path: the Application Argo CD creates from it}, every ApplicationSet rendered by
    tools/argocd-render against a git repository holding the generated files."""
    repository = git_repository(tmp_path_factory.mktemp("repo"), repository_files(rendered))
    result = render_applications(repository, application_set_files(repository), shared_dir / "crds")
    assert (result.exit_code, result.errors) == (0, [])
    return result.applications


# --- app.json --------------------------------------------------------------------------------


def test_every_service_of_an_argocd_environment_has_an_app_json(rendered: Rendered) -> None:
    expected = {
        f"generated/{plan.relative_dir}/app.json"
        for plan in rendered.catalog.plans
        if plan.environment.argocd is not None
    }
    assert set(rendered.app_records()) == expected
    assert len(expected) == 4  # the sandbox environment has no argocd section


def test_app_json_is_sorted_indented_json_with_the_generated_marker(rendered: Rendered) -> None:
    for path, content in rendered.generated.items():
        if path.name != "app.json":
            continue
        record = json.loads(content)
        assert record["_generated"] == GENERATED_MARKER
        assert content == (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


def test_app_json_names_the_leaf_and_the_values_it_came_from(rendered: Rendered) -> None:
    for path, record in rendered.app_records().items():
        directory = path.removesuffix("/app.json")
        assert record["valuesPath"] == f"{directory}/values.yaml"
        assert PurePosixPath(record["valuesPath"]).relative_to("generated") in rendered.generated
        leaf = FIXTURE_CATALOG / PurePosixPath(record["source"]).relative_to("catalog")
        assert leaf.is_file()
        environment, namespace, service = directory.split("/")[1:]
        assert record["environment"] == environment
        assert record["service"] == service
        assert record["appName"] == application_name(environment, namespace, service)


def test_app_json_reads_the_same_facts_of_the_plan_as_the_applicationset(
    rendered: Rendered,
) -> None:
    plans = rendered.catalog.plans
    assert any(service.effective.get("autoscaling", {}).get("enabled") for service in plans)
    for service in plans:
        expected = argo_service(leaf_facts(service), service.environment)
        assert plan_argo_service(service, service.environment) == expected


def test_rendering_twice_gives_identical_bytes(rendered: Rendered) -> None:
    again = render(FIXTURE_CATALOG)
    assert again.generated == rendered.generated
    assert again.deploy == rendered.deploy


# --- validation against the Argo CD CRDs ------------------------------------------------------


def test_applicationsets_appprojects_and_bootstraps_are_valid_argo_cd_resources(
    rendered: Rendered, shared_dir: Path
) -> None:
    documents = [yaml.safe_load(content) for content in rendered.deploy.values()]
    assert sorted(document["kind"] for document in documents) == sorted(
        ["ApplicationSet", "AppProject", "Application"] * len(ENVIRONMENTS_WITH_ARGOCD)
    )
    assert validate_manifests(documents, crd_dir=shared_dir / "crds") == []


def test_applications_rendered_from_every_app_json_are_valid(
    created: dict[str, dict[str, Any]], rendered: Rendered, shared_dir: Path
) -> None:
    assert len(created) == 4
    assert validate_manifests(list(created.values()), crd_dir=shared_dir / "crds") == []


def test_validation_catches_a_broken_application_set(rendered: Rendered, shared_dir: Path) -> None:
    broken = application_set(rendered, "dev")
    broken["spec"]["template"]["spec"]["sources"][0]["helm"]["valueFile"] = ["x.yaml"]
    errors = validate_manifests([broken], crd_dir=shared_dir / "crds")
    assert any("valueFile" in error for error in errors)


# --- what the Applications do ---------------------------------------------------------------


def test_applications_are_multi_source_with_values_from_the_catalog_repository(
    created: dict[str, dict[str, Any]],
    rendered: Rendered,
) -> None:
    for path, application in created.items():
        record = rendered.app_records()[path]
        environment = rendered.catalog.environments[record["environment"]]
        assert environment.argocd is not None
        chart, values = application["spec"]["sources"]
        assert values == {
            "repoURL": environment.argocd.repo_url,
            "targetRevision": environment.argocd.target_revision,
            "ref": "values",
        }
        assert chart["helm"]["valueFiles"] == [f"$values/{record['valuesPath']}"]
        assert chart["helm"]["releaseName"] == record["service"]
        assert application["metadata"]["name"] == record["appName"]
        assert application["spec"]["destination"] == {
            "server": environment.argocd.destination_server,
            "namespace": record["namespace"],
        }


def test_each_chart_source_kind_becomes_the_matching_argo_cd_source(
    created: dict[str, dict[str, Any]], rendered: Rendered
) -> None:
    sources = {
        record["environment"]: application["spec"]["sources"][0]
        for path, application in created.items()
        for record in [rendered.app_records()[path]]
    }
    assert sources["dev"] | {"helm": None} == {
        "repoURL": "https://github.com/example/ollama-catalog.git",
        "path": "charts/ollama-inference-load",
        "targetRevision": "main",
        "helm": None,
    }
    # OCI: Argo CD 3.1+ native OCI source, the chart's repository, path "."
    assert sources["prod"]["repoURL"] == "oci://ghcr.io/example/charts/ollama-inference-load"
    assert sources["prod"]["path"] == "."
    assert sources["prod"]["targetRevision"] == "0.1.0"
    assert sources["staging"]["chart"] == "ollama-inference-load"
    assert sources["staging"]["repoURL"] == "https://charts.example.com/stable"
    assert "path" not in sources["staging"]


def test_sync_options_and_policies_per_environment(rendered: Rendered) -> None:
    for environment in ENVIRONMENTS_WITH_ARGOCD:
        sync = application_set(rendered, environment)["spec"]["template"]["spec"]["syncPolicy"]
        assert sync["syncOptions"] == ["CreateNamespace=true", "ServerSideApply=true"]
    dev = application_set(rendered, "dev")["spec"]
    prod = application_set(rendered, "prod")["spec"]
    staging = application_set(rendered, "staging")["spec"]
    assert dev["template"]["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    assert dev["syncPolicy"] == {"preserveResourcesOnDeletion": False}
    assert prod["template"]["spec"]["syncPolicy"]["automated"] == {
        "prune": False,
        "selfHeal": True,
    }
    assert prod["syncPolicy"] == {"preserveResourcesOnDeletion": True}
    assert "automated" not in staging["template"]["spec"]["syncPolicy"]


def test_resources_are_deleted_with_the_application_only_where_pruning_is_on(
    created: dict[str, dict[str, Any]],
    rendered: Rendered,
) -> None:
    for path, application in created.items():
        environment = rendered.app_records()[path]["environment"]
        finalizers = application["metadata"].get("finalizers", [])
        if environment == "dev":
            assert finalizers == [RESOURCES_FINALIZER]
        else:
            assert finalizers == []


def test_application_set_reads_its_own_environment_with_strict_go_templates(
    rendered: Rendered,
) -> None:
    for environment in ENVIRONMENTS_WITH_ARGOCD:
        spec = application_set(rendered, environment)["spec"]
        assert spec["goTemplate"] is True
        assert spec["goTemplateOptions"] == ["missingkey=error"]
        (generator,) = spec["generators"]
        assert generator["git"]["files"] == [{"path": f"generated/{environment}/**/app.json"}]


def test_a_record_missing_a_field_fails_like_argo_cd_would(
    rendered: Rendered, shared_dir: Path, tmp_path: Path
) -> None:
    files = repository_files(rendered)
    path, record = next(iter(rendered.app_records().items()))
    fields = ("appName", "namespace", "service", "valuesPath", "source", "chart", "values")
    for field in fields:
        incomplete = {key: value for key, value in record.items() if key != field}
        files[PurePosixPath(path).with_name(f"missing-{field}") / "app.json"] = json.dumps(
            incomplete
        ).encode()
    repository = git_repository(tmp_path, files)
    result = render_applications(repository, application_set_files(repository), shared_dir / "crds")
    assert result.exit_code == 1
    failures = {error["file"]: error["error"] for error in result.errors}
    for field in fields:
        failed = str(PurePosixPath(path).with_name(f"missing-{field}") / "app.json")
        assert f'map has no entry for key "{field}"' in failures.pop(failed)
    assert failures == {}


@pytest.mark.parametrize("revision", ["main-{{", "main-{{.service}}", "release/{{x}}"])
def test_a_revision_holding_template_text_reaches_the_applications_as_written(
    shared_dir: Path, tmp_path: Path, revision: str
) -> None:
    """git accepts `{{` in a branch name, and the ApplicationSet reads its template as Go
    template text: the revision comes from app.json's data (review: written into the template,
    `main-{{` stopped every Application of the environment and `main-{{.service}}` followed
    another branch per service)."""
    rendered = render(_catalog_with(tmp_path / "catalog-src", "dev", {"targetRevision": revision}))
    repository = git_repository(tmp_path / "repo", repository_files(rendered))
    result = render_applications(repository, application_set_files(repository), shared_dir / "crds")
    assert (result.exit_code, result.errors) == (0, [])
    dev = {
        path: application
        for path, application in result.applications.items()
        if path.startswith("generated/dev/")
    }
    assert dev
    for application in dev.values():
        values = application["spec"]["sources"][1]
        assert (values["ref"], values["targetRevision"]) == ("values", revision)


def test_project_is_literal_in_the_application_set_and_matches_the_record(
    created: dict[str, dict[str, Any]],
    rendered: Rendered,
) -> None:
    # A templated project would let a generated file pick its own permissions.
    for path, application in created.items():
        record = rendered.app_records()[path]
        appset = application_set(rendered, record["environment"])
        assert "{{" not in appset["spec"]["template"]["spec"]["project"]
        assert application["spec"]["project"] == record["project"]
        assert app_project(rendered, record["environment"])["metadata"]["name"] == record["project"]


# --- AppProjects ------------------------------------------------------------------------------


def test_projects_allow_exactly_the_sources_and_destinations_the_applications_use(
    created: dict[str, dict[str, Any]], rendered: Rendered, tmp_path: Path
) -> None:
    used: dict[str, tuple[set[str], set[tuple[str, str]]]] = {}
    for application in created.values():
        repos, destinations = used.setdefault(application["spec"]["project"], (set(), set()))
        repos.update(source["repoURL"] for source in application["spec"]["sources"])
        destination = application["spec"]["destination"]
        destinations.add((destination["server"], destination["namespace"]))
    for environment in ENVIRONMENTS_WITH_ARGOCD:
        project = app_project(rendered, environment)
        repos, destinations = used[project["metadata"]["name"]]
        assert set(project["spec"]["sourceRepos"]) == repos
        allowed = {(item["server"], item["namespace"]) for item in project["spec"]["destinations"]}
        assert allowed == destinations | written_elsewhere(rendered, environment, tmp_path)


def written_elsewhere(rendered: Rendered, environment: str, tmp: Path) -> set[tuple[str, str]]:
    """(server, namespace) of the resources helm renders from the environment's values outside
    the Application's own namespace (the ReferenceGrant of keda-http autoscaling)."""
    found: set[tuple[str, str]] = set()
    helm = helm_binary("3.19.0")
    for path, content in rendered.generated.items():
        if path.parts[0] != environment or path.name != "values.yaml":
            continue
        release = str(yaml.safe_load(content)["fullnameOverride"])
        values = tmp / f"{environment}-{path.parts[1]}-{release}.yaml"
        values.write_bytes(content)
        for document in helm_template(
            helm,
            CHART_DIR,
            [values],
            release=release,
            namespace=path.parts[1],
            api_versions=[*API_VERSIONS, *KEDA_KINDS],
        ):
            namespace = document.get("metadata", {}).get("namespace")
            if namespace not in (None, path.parts[1]):
                found.add(("https://kubernetes.default.svc", namespace))
    return found


def test_autoscaled_applications_ignore_the_replicas_keda_owns(
    created: dict[str, dict[str, Any]],
) -> None:
    autoscaled = created["generated/dev/team-b/phi/app.json"]["spec"]
    assert autoscaled["ignoreDifferences"] == [
        {"group": "apps", "kind": "Deployment", "name": "phi", "jsonPointers": ["/spec/replicas"]}
    ]
    assert autoscaled["syncPolicy"]["syncOptions"] == [
        "CreateNamespace=true",
        "ServerSideApply=true",
        "RespectIgnoreDifferences=true",
    ]
    # The patch replaces the options list only: the rest of the sync policy stays.
    assert autoscaled["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    for path, application in created.items():
        if path != "generated/dev/team-b/phi/app.json":
            assert "ignoreDifferences" not in application["spec"], path
            assert (
                "RespectIgnoreDifferences=true"
                not in (application["spec"]["syncPolicy"]["syncOptions"])
            ), path


def test_the_keda_http_add_on_namespace_is_a_destination_only_where_a_grant_goes(
    rendered: Rendered,
) -> None:
    dev = {item["namespace"] for item in app_project(rendered, "dev")["spec"]["destinations"]}
    assert "keda-addons" in dev
    for environment in ("prod", "staging"):
        project = app_project(rendered, environment)
        assert "keda-addons" not in {item["namespace"] for item in project["spec"]["destinations"]}


def test_namespace_prefix_applies_to_destinations(rendered: Rendered) -> None:
    project = app_project(rendered, "prod")
    assert project["spec"]["destinations"] == [
        {"server": "https://prod-cluster.example.com:6443", "namespace": "prod-search"}
    ]


def test_project_whitelist_covers_every_kind_the_chart_renders() -> None:
    # The chart tests assert the scenarios exercise every kind the chart can render.
    allowed = set(NAMESPACED_RESOURCES)
    rendered_kinds = {
        (document["apiVersion"].rpartition("/")[0], document["kind"])
        for scenario in SCENARIOS
        for document in render_scenario(helm_binary("3.19.0"), scenario)
    }
    assert rendered_kinds <= allowed, rendered_kinds - allowed
    assert set(CLUSTER_RESOURCES) == {("", "Namespace")}


def test_bootstrap_syncs_only_its_environment_files_and_never_prunes(rendered: Rendered) -> None:
    for environment in ENVIRONMENTS_WITH_ARGOCD:
        bootstrap = rendered.yaml(PurePosixPath(f"bootstrap-{environment}.yaml"))
        source = bootstrap["spec"]["source"]
        assert source["path"] == "deploy/argocd"
        assert source["directory"]["include"] == (
            f"{{appproject-{environment}.yaml,applicationset-{environment}.yaml}}"
        )
        assert bootstrap["spec"]["syncPolicy"]["automated"]["prune"] is False
        assert bootstrap["spec"]["syncPolicy"]["syncOptions"] == ["ServerSideApply=true"]


def test_an_appproject_of_thousands_of_namespaces_is_applied_server_side(
    rendered: Rendered,
) -> None:
    """A client-side apply keeps the object in kubectl's last-applied annotation, which the
    API server caps at 262,144 bytes: an AppProject with a destination per namespace outgrows
    it at a few thousand namespaces (4,000 of 12 characters here), so the bootstrap
    Application that syncs it applies server-side, where no such annotation is kept."""
    environment = rendered.catalog.environments["dev"]
    namespaces = [f"team-{index:07d}" for index in range(4000)]
    project = argocd.app_project(environment, namespaces)
    assert len(json.dumps(project, separators=(",", ":"))) > 262_144
    syncs = argocd.bootstrap_application(environment)["spec"]["syncPolicy"]["syncOptions"]
    assert "ServerSideApply=true" in syncs


# --- names ------------------------------------------------------------------------------------


def test_long_names_are_cut_to_63_with_a_stable_hash() -> None:
    long = application_name("prod", "search", "x" * 63)
    assert len(long) == 63
    assert long == application_name("prod", "search", "x" * 63)
    assert long != application_name("prod", "search", "x" * 62 + "y")
    assert application_name("dev", "team-a", "phi") == "dev-team-a-phi"
    assert bounded_name("a-" * 40).count("--") == 0


def test_same_service_in_two_namespaces_gets_two_applications(rendered: Rendered) -> None:
    names = [record["appName"] for record in rendered.app_records().values()]
    assert len(names) == len(set(names))
    assert {"dev-team-a-phi", "dev-team-b-phi"} <= set(names)


# --- environments that cannot be deployed -------------------------------------------------------


def _catalog_with(tmp_path: Path, environment: str, replacement: dict[str, Any]) -> Path:
    catalog = tmp_path / "catalog"
    shutil.copytree(FIXTURE_CATALOG, catalog)
    path = catalog / "environments" / f"{environment}.yaml"
    data = yaml.safe_load(path.read_text())
    data["argocd"].update(replacement)
    path.write_text(yaml.safe_dump(data))
    return catalog


@pytest.mark.parametrize(
    ("replacement", "where", "message"),
    [
        ({"project": "default"}, "$.argocd.project", "Argo CD's built-in project"),
        (
            {"chart": {"chart": "ollama-inference-load", "repoURL": "https://charts.example.com"}},
            "$.argocd.chart",
            "version",
        ),
        (
            {"chart": {"chart": "ollama-inference-load", "version": "0.3.59"}},
            "$.argocd.chart",
            "repoURL",
        ),
        ({"namespacePrefix": "Prod_"}, "$.argocd.namespacePrefix", "DNS label"),
        # Argo CD matches the project's destinations and sourceRepos as globs: brackets never
        # match themselves (a review ran gobwas/glob, which Argo CD pins).
        ({"destinationServer": "https://[fd00::1]:6443"}, "$.argocd.destinationServer", "glob"),
        ({"repoURL": "https://git.example.com/{team}/gitops"}, "$.argocd.repoURL", "glob"),
    ],
)
def test_environment_problems_are_reported_at_their_key(
    tmp_path: Path, replacement: dict[str, Any], where: str, message: str
) -> None:
    # The environment model may catch some of these first; either way, one error at the key
    # (review: an incomplete chart source was reported twice, in two wordings).
    catalog, report = plan(_catalog_with(tmp_path, "dev", replacement))
    check_catalog(catalog, report)
    assert [(problem.path, problem.json_path) for problem in report.errors] == [
        ("catalog/environments/dev.yaml", where)
    ]
    assert any(message in problem.message for problem in report.errors)
    assert all(problem.line > 0 for problem in report.errors)


def test_a_destination_server_is_written_without_a_trailing_slash(tmp_path: Path) -> None:
    """Argo CD looks the cluster up with the slash trimmed and matches the AppProject's
    destinations as globs against that: `https://host:6443/` there allowed no Application."""
    catalog, report = plan(
        _catalog_with(tmp_path, "dev", {"destinationServer": "https://edge.example:6443/"})
    )
    check_catalog(catalog, report)
    assert report.errors == []
    environment = catalog.environments["dev"]
    project = argocd.app_project(environment, ["team-a"])
    assert project["spec"]["destinations"][0]["server"] == "https://edge.example:6443"
    assert environment.argocd is not None
    assert argocd.destination_server(environment.argocd) == "https://edge.example:6443"


def test_a_prefix_that_makes_a_namespace_too_long_is_reported_at_the_leaf(tmp_path: Path) -> None:
    catalog, report = plan(_catalog_with(tmp_path, "dev", {"namespacePrefix": "p" * 60 + "-"}))
    check_catalog(catalog, report)
    assert {problem.path for problem in report.errors} == {
        "catalog/dev/team-a/phi.yaml",
        "catalog/dev/team-b/phi.yaml",
    }
    assert all(problem.json_path == "$.namespace" for problem in report.errors)


def test_the_fixture_catalog_has_no_argocd_problems(rendered: Rendered) -> None:
    report = Report()
    check_catalog(rendered.catalog, report)
    assert report.problems == []


def test_argo_cd_resources_live_in_the_environments_argocd_namespace(rendered: Rendered) -> None:
    expected = {"dev": "argocd", "prod": "argocd", "staging": "gitops-system"}
    assert set(expected) == set(ENVIRONMENTS_WITH_ARGOCD)
    for environment, namespace in expected.items():
        for kind in ("applicationset", "appproject", "bootstrap"):
            document = rendered.yaml(PurePosixPath(f"{kind}-{environment}.yaml"))
            assert document["metadata"]["namespace"] == namespace, (kind, environment)
        bootstrap = rendered.yaml(PurePosixPath(f"bootstrap-{environment}.yaml"))
        assert bootstrap["spec"]["destination"]["namespace"] == namespace


def test_project_defaults_to_one_per_environment(rendered: Rendered) -> None:
    assert app_project(rendered, "dev")["metadata"]["name"] == "ollama-inference-load-dev"
    assert app_project(rendered, "prod")["metadata"]["name"] == "ml-inference-prod"
