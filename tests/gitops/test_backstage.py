"""Backstage files: Components, the root Location and the scaffolder Template, checked with
Backstage's own validators (node, one process for the whole batch) and its JSON schemas."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml

from catalog_gen.emit.backstage import (
    FORM_PAGES,
    TEMPLATE_NAME,
    Repository,
    backstage_service,
    check_catalog,
    component,
    is_valid_entity_name,
    parse_repository,
    shared_repository,
    taken_hosts,
    taken_services,
    template_tree,
)
from catalog_gen.emit.schema import json_schema
from catalog_gen.models import CatalogLeaf
from catalog_gen.problems import Report, Severity
from tests.conftest import REPO_ROOT, helm_binary
from tests.gitops.conftest import FIXTURE_CATALOG, Rendered
from tests.support import backstage as backstage_support
from tests.support.backstage import schema_validator, validate_entities
from tests.unit.helpers import CHART, leaf, make_catalog, run_cli

LEAF_SCHEMA = json_schema(CatalogLeaf, "catalog-leaf.schema.json")


def leaf_properties() -> dict[str, Any]:
    properties: dict[str, Any] = LEAF_SCHEMA["properties"]
    return properties


def components(rendered: Rendered) -> dict[str, dict[str, Any]]:
    return {
        f"generated/{path}": yaml.safe_load(content)
        for path, content in rendered.generated.items()
        if path.name == "catalog-info.yaml"
    }


def template_files(rendered: Rendered) -> dict[PurePosixPath, bytes]:
    report = Report()
    files = template_tree(
        LEAF_SCHEMA,
        rendered.catalog.environments,
        rendered.catalog.environment_documents,
        report,
        rendered.catalog.plans,
    )
    assert files is not None, report.format_text()
    return files


def template(rendered: Rendered) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(template_files(rendered)[PurePosixPath("template.yaml")])
    return data


@pytest.fixture(scope="module")
def entities(rendered: Rendered) -> dict[str, dict[str, Any]]:
    everything = dict(components(rendered))
    everything["catalog-info.yaml"] = yaml.safe_load(rendered.root_location)
    everything["template.yaml"] = template(rendered)
    return everything


@pytest.fixture(scope="module")
def backstage_errors(entities: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    return validate_entities(entities)


# --- Backstage's own validators --------------------------------------------------------------


def test_every_generated_entity_passes_backstage_policies_and_kind_validators(
    entities: dict[str, dict[str, Any]], backstage_errors: dict[str, list[str]]
) -> None:
    assert set(backstage_errors) == set(entities)
    assert {key: errors for key, errors in backstage_errors.items() if errors} == {}


def test_the_validators_reject_what_backstage_rejects(rendered: Rendered) -> None:
    component_path, good = next(iter(components(rendered).items()))
    bad_name = {**good, "metadata": {**good["metadata"], "name": "x" * 64}}
    no_owner = {**good, "spec": {key: v for key, v in good["spec"].items() if key != "owner"}}
    foreign = {**good, "extra": True}
    location = yaml.safe_load(rendered.root_location)
    bad_location = {**location, "spec": {"targets": "./one-string"}}
    errors = validate_entities(
        {"bad_name": bad_name, "no_owner": no_owner, "foreign": foreign, "loc": bad_location}
    )
    assert all(errors[key] for key in errors), (component_path, errors)
    assert "metadata.name" in " ".join(errors["bad_name"])


@pytest.mark.parametrize(
    ("schema_id", "key"),
    [("LocationV1alpha1", "catalog-info.yaml"), ("TemplateV1beta3", "template.yaml")],
)
def test_root_location_and_template_match_backstage_json_schemas(
    entities: dict[str, dict[str, Any]], schema_id: str, key: str
) -> None:
    errors = list(schema_validator(schema_id).iter_errors(entities[key]))
    assert errors == []


def test_components_match_backstage_json_schema(rendered: Rendered) -> None:
    validator = schema_validator("ComponentV1alpha1")
    for path, entity in components(rendered).items():
        assert list(validator.iter_errors(entity)) == [], path


def test_backstage_schemas_are_draft_07(rendered: Rendered) -> None:
    for schema in backstage_support.backstage_schemas().values():
        jsonschema.Draft7Validator.check_schema(schema)


# --- Components -----------------------------------------------------------------------------


def test_component_names_follow_backstage_rules_and_do_not_collide(rendered: Rendered) -> None:
    names = [entity["metadata"]["name"] for entity in components(rendered).values()]
    assert len(names) == len(set(names))
    assert all(backstage_support.is_valid_entity_name(name) for name in names)
    assert all(is_valid_entity_name(name) for name in names)
    assert any(len(name) == 63 for name in names)  # the long prod service, cut with a hash


def test_components_point_at_the_app_the_namespace_and_the_leaf(rendered: Rendered) -> None:
    records = rendered.app_records()
    for path, entity in components(rendered).items():
        directory = path.removesuffix("/catalog-info.yaml")
        record = records[f"{directory}/app.json"]
        values = yaml.safe_load(
            rendered.generated[PurePosixPath(directory).relative_to("generated") / "values.yaml"]
        )
        annotations = entity["metadata"]["annotations"]
        assert annotations["backstage.io/kubernetes-id"] == values["backstage"]["kubernetesId"]
        assert annotations["backstage.io/kubernetes-namespace"] == record["namespace"]
        assert annotations["argocd/app-name"] == record["appName"]
        assert entity["metadata"]["name"] == record["appName"]
        leaf = record["source"]
        assert annotations["backstage.io/edit-url"] == (
            f"https://github.com/example/ollama-catalog/edit/main/{leaf}"
        )
        assert annotations["backstage.io/source-location"] == (
            "url:https://github.com/example/ollama-catalog/tree/main/"
            + leaf.rsplit("/", 1)[0]
            + "/"
        )
        assert (FIXTURE_CATALOG.parent / leaf).is_file()


def test_component_spec_comes_from_leaf_and_environment(rendered: Rendered) -> None:
    by_leaf = {plan.leaf_path: plan for plan in rendered.catalog.plans}
    for entity in components(rendered).values():
        leaf = entity["metadata"]["annotations"]["backstage.io/edit-url"].split("/main/", 1)[1]
        plan = by_leaf[leaf]
        assert entity["spec"] == {
            "type": "service",
            "lifecycle": plan.environment.lifecycle,
            "owner": plan.owner,
            "system": plan.service_catalog,
        }
        assert entity["metadata"].get("description") == plan.description


def test_a_service_without_owner_is_a_warning_and_gets_no_component(rendered: Rendered) -> None:
    assert "generated/sandbox/play/tiny/catalog-info.yaml" not in components(rendered)
    report = Report()
    check_catalog(rendered.catalog, report)
    (problem,) = report.problems
    assert problem.severity is Severity.WARNING
    assert (problem.path, problem.json_path) == ("catalog/sandbox/play/tiny.yaml", "$.owner")
    assert report.ok


def test_a_service_outside_argo_cd_has_no_argo_or_source_links(rendered: Rendered) -> None:
    plan = next(plan for plan in rendered.catalog.plans if plan.environment_name == "sandbox")
    entity = component(dataclasses.replace(backstage_service(plan), owner="group:me"))
    assert set(entity["metadata"]["annotations"]) == {
        "backstage.io/kubernetes-id",
        "backstage.io/kubernetes-namespace",
        "backstage.io/kubernetes-label-selector",
    }


def test_root_location_finds_every_component_and_the_template(rendered: Rendered) -> None:
    location = yaml.safe_load(rendered.root_location)
    assert location["kind"] == "Location"
    assert location["spec"]["targets"] == [
        "./generated/*/*/*/catalog-info.yaml",
        f"./backstage/templates/{TEMPLATE_NAME}/location.yaml",
    ]
    for path in components(rendered):
        assert PurePosixPath(path).match("generated/*/*/*/catalog-info.yaml")


# What Backstage allows without catalog.rules (CatalogRulesEnforcer.defaultRules); create-app's
# app-config adds System and Resource. Neither allows Template.
DEFAULT_ALLOWED_KINDS = {"Component", "API", "Location"}


def test_the_root_location_emits_only_kinds_backstage_allows_by_default(rendered: Rendered) -> None:
    """Backstage checks every entity one Location's targets emit against catalog.rules and
    drops them all at the first kind not allowed (DefaultCatalogProcessingOrchestrator): the
    Template, which default rules refuse, comes through a Location of its own, so refusing it
    leaves every Component registered."""
    emitted = [entity["kind"] for entity in components(rendered).values()]
    files = template_files(rendered)
    nested = yaml.safe_load(files[PurePosixPath("location.yaml")])
    emitted.append(nested["kind"])
    assert set(emitted) <= DEFAULT_ALLOWED_KINDS, set(emitted)
    assert nested["spec"]["targets"] == ["./template.yaml"]
    template = yaml.safe_load(files[PurePosixPath("template.yaml")])
    assert template["kind"] == "Template"


@pytest.mark.parametrize(
    ("url", "web"),
    [
        ("https://github.com/org/repo.git", "https://github.com/org/repo"),
        ("https://github.com/org/repo", "https://github.com/org/repo"),
        ("git@github.com:org/repo.git", "https://github.com/org/repo"),
        ("ssh://git@ghe.example.com:2222/org/repo.git", "https://ghe.example.com/org/repo"),
        (
            "https://gitlab.example.com/group/sub/repo.git",
            "https://gitlab.example.com/group/sub/repo",
        ),
    ],
)
def test_repository_urls_become_web_links(url: str, web: str) -> None:
    repository = parse_repository(url, "main")
    assert repository is not None
    assert repository.web_url == web


def test_a_repository_url_without_owner_is_not_linked() -> None:
    assert parse_repository("https://example.com/repo.git", "main") is None


# --- the Template's form ---------------------------------------------------------------------


def test_form_fields_carry_the_leaf_schema_over(rendered: Rendered) -> None:
    pages = template(rendered)["spec"]["parameters"]
    assert [page["title"] for page in pages] == [title for title, _, _ in FORM_PAGES]
    carried = ("description", "pattern", "maxLength", "minLength", "minimum", "default", "type")
    for page in pages:
        for key, field in page["properties"].items():
            source = leaf_properties()[key]
            if "$ref" in source:
                source = LEAF_SCHEMA["$defs"][source["$ref"].rsplit("/", 1)[1]] | source
            for word in carried:
                assert field.get(word) == source.get(word), (key, word)
            assert field["title"]


def test_environment_is_an_enum_of_the_existing_environments(rendered: Rendered) -> None:
    environment = template(rendered)["spec"]["parameters"][0]["properties"]["environment"]
    assert environment["enum"] == ["dev", "prod", "sandbox", "staging"]


def test_owner_uses_the_owner_picker(rendered: Rendered) -> None:
    owner = template(rendered)["spec"]["parameters"][0]["properties"]["owner"]
    assert owner["ui:field"] == "OwnerPicker"
    assert "owner" in template(rendered)["spec"]["parameters"][0]["required"]


def test_form_pages_are_valid_json_schemas(rendered: Rendered) -> None:
    for page in template(rendered)["spec"]["parameters"]:
        jsonschema.Draft7Validator.check_schema(page)


def test_steps_fetch_the_skeleton_open_a_pull_request_and_register(rendered: Rendered) -> None:
    steps = template(rendered)["spec"]["steps"]
    assert [step["action"] for step in steps] == [
        "fetch:template",
        "publish:github:pull-request",
        "catalog:register",
    ]
    fetch, publish, register = steps
    assert fetch["input"]["url"] == "./skeleton"
    form_keys = [key for _, _, keys in FORM_PAGES for key in keys]
    assert fetch["input"]["values"] == {key: f"${{{{ parameters.{key} }}}}" for key in form_keys}
    assert publish["input"]["repoUrl"] == "github.com?owner=example&repo=ollama-catalog"
    assert publish["input"]["targetBranchName"] == "main"
    assert register["input"]["catalogInfoUrl"] == (
        "https://github.com/example/ollama-catalog/blob/main/generated/"
        "${{ parameters.environment }}/${{ parameters.namespace }}/"
        "${{ parameters.serviceName }}/catalog-info.yaml"
    )


def test_the_skeleton_writes_the_leaf_at_its_catalog_path(rendered: Rendered) -> None:
    paths = [path for path in template_files(rendered) if path.parts[0] == "skeleton"]
    assert paths == [
        PurePosixPath(
            "skeleton/catalog/${{ values.environment }}/${{ values.namespace }}/"
            "${{ values.serviceName }}.yaml"
        )
    ]


def test_environments_on_several_repositories_cannot_share_one_template(rendered: Rendered) -> None:
    environments = dict(rendered.catalog.environments)
    prod = environments["prod"]
    assert prod.argocd is not None
    environments["prod"] = prod.model_copy(
        update={
            "argocd": prod.argocd.model_copy(
                update={"repo_url": "https://github.com/other/repo.git"}
            )
        }
    )
    report = Report()
    files = template_tree(
        LEAF_SCHEMA, environments, rendered.catalog.environment_documents, report, []
    )
    assert files is None
    assert "several argocd.repoURL" in report.format_text()


@pytest.mark.parametrize(
    ("revision", "branch"),
    [
        ("main", "main"),
        ("release-1", "release-1"),
        ("HEAD", None),
        ("3f2a" * 10, None),
        ("3F2A" * 10, None),
        ("9d921f6", None),
    ],
)
def test_the_templates_pull_request_targets_a_branch_never_a_commit(
    revision: str, branch: str | None
) -> None:
    """Every environment at one commit (a pinned rollout): a pull request cannot target a
    commit, and a new service's catalog-info.yaml never appears at it (review)."""
    repository = Repository("github.com", "example", "catalog", revision)
    found, target = shared_repository([("dev", repository), ("prod", repository)])
    assert target == branch
    assert found is not None
    assert found.revision == (branch or "HEAD")


def test_the_environment_owner_applies_where_the_leaf_names_none(rendered: Rendered) -> None:
    entities = components(rendered)
    own = entities["generated/dev/team-a/phi/catalog-info.yaml"]
    inherited = entities["generated/dev/team-b/phi/catalog-info.yaml"]
    assert own["spec"]["owner"] == "group:ml-platform"  # the leaf's owner wins
    assert inherited["spec"]["owner"] == "user:default/jane.doe"  # dev's environment owner


def not_refusals(validator: jsonschema.Draft7Validator, instance: Any) -> list[Any]:
    """The `not` schemas instance breaks, nested ones (allOf, if/then) included."""
    return [
        error.validator_value
        for error in validator.iter_errors(instance)
        for error in [error, *(error.context or [])]
        if error.validator == "not"
    ]


def test_the_form_refuses_a_host_routed_in_the_same_environment_only(rendered: Rendered) -> None:
    exposure = template(rendered)["spec"]["parameters"][2]
    taken = taken_hosts(rendered.catalog.plans)
    assert taken  # the fixture catalog routes hosts
    environment, hosts = next(iter(taken.items()))
    host, _ = hosts[0]
    other = next(name for name in rendered.catalog.environments if name not in taken)
    validator = jsonschema.Draft7Validator(exposure)
    refused = {"environment": environment, "ingress": {"enabled": True, "host": host}}
    # Python's jsonschema has no ajv-errors: the refusal is the `not` of the host's const (the
    # browser test checks the message Backstage's form shows).
    assert {"const": host} in not_refusals(validator, refused)
    assert list(validator.iter_errors({**refused, "environment": other})) == []
    fresh = {"enabled": True, "host": "new.example.com"}
    assert list(validator.iter_errors({**refused, "ingress": fresh})) == []
    for rule in exposure["allOf"]:
        for refusal in rule["then"]["properties"]["ingress"]["properties"]["host"]["allOf"]:
            assert refusal["errorMessage"].startswith(refusal["not"]["const"] + " is already")


def test_the_form_refuses_a_service_the_environment_and_namespace_have(rendered: Rendered) -> None:
    # The skeleton would write over the leaf (`catalog-gen new` refuses to).
    page = template(rendered)["spec"]["parameters"][0]
    taken = taken_services(rendered.catalog.plans)
    environment, services = next(iter(taken.items()))
    namespace, service = services[0]
    validator = jsonschema.Draft7Validator(page)
    existing = {"environment": environment, "namespace": namespace, "serviceName": service}
    assert {"const": service} in not_refusals(validator, existing)
    for elsewhere in ({"namespace": "another"}, {"serviceName": "another"}):
        assert not not_refusals(validator, {**existing, **elsewhere})


def _form_refusals(page: dict[str, Any], answers: dict[str, str]) -> list[str]:
    """The messages of the page's rules the answers break (if all its consts hold, then a
    field's `not const` is the answer)."""
    found = []
    for rule in page.get("allOf", ()):
        condition = rule["if"]["properties"]
        if all(answers.get(key) == spec.get("const") for key, spec in condition.items()):
            for key, spec in rule["then"]["properties"].items():
                if "const" in spec.get("not", {}) and answers.get(key) == spec["not"]["const"]:
                    found.append(spec["errorMessage"])
    return found


@pytest.mark.parametrize(
    ("namespace", "service", "refused_at"),
    [
        ("keda", "x", "$.namespace"),  # dev's KEDA HTTP add-on namespace
        ("argocd", "x", "$.namespace"),  # dev's Argo CD namespace
        ("ml", "workloads-ollama-phi", "$.serviceName"),  # dev-ml-workloads-ollama-phi is taken
        ("ml-workloads-ollama", "phi", "$.serviceName"),
        ("ml", "another", None),
    ],
)
def test_the_shipped_form_refuses_what_catalog_gen_new_refuses(
    tmp_path: Path, namespace: str, service: str, refused_at: str | None
) -> None:
    """The committed template against the shipped catalog: a form that lets through what CI
    then refuses opens a pull request that goes red (review: an add-on's namespace, a name
    taken by another split of namespace and service)."""
    committed = REPO_ROOT / "backstage" / "templates" / "ollama-inference-load" / "template.yaml"
    page = yaml.safe_load(committed.read_text(encoding="utf-8"))["spec"]["parameters"][0]
    answers = {"environment": "dev", "namespace": namespace, "serviceName": service}
    in_form = _form_refusals(page, answers)
    make_catalog(tmp_path, overlay=REPO_ROOT / "catalog")
    outcome = run_cli(tmp_path, "new", f"dev/{namespace}/{service}", "--model", "phi:latest")
    errors = [line for line in outcome.stdout.splitlines() if ": error: " in line]
    refused = [line for line in errors if refused_at and f": error: {refused_at}: " in line]
    assert bool(in_form) == bool(refused), (in_form, outcome.stdout, outcome.stderr)
    if refused_at == "$.namespace":  # the same words
        assert any(message in refused[0] for message in in_form), (in_form, refused)


def test_an_untouched_page_sends_no_object_the_leaf_would_refuse(rendered: Rendered) -> None:
    # The form fills defaults in: a nested default (ingress.administration: false) made an
    # untouched Exposure page send ingress without its required `enabled`.
    for page in template(rendered)["spec"]["parameters"]:
        for name, field in page["properties"].items():
            for sub, spec in field.get("properties", {}).items():
                assert "default" not in spec, f"{name}.{sub}"


def test_a_partly_set_page_is_refused_an_untouched_one_is_not(rendered: Rendered) -> None:
    # A GPU type without a count, or a host without Enabled, made a leaf CI refused (the
    # objects' required keys are left out so that an untouched page stays valid).
    pages = template(rendered)["spec"]["parameters"]
    model = jsonschema.Draft7Validator(pages[1]["properties"]["gpu"])
    exposure = jsonschema.Draft7Validator(pages[2])
    assert [e.validator for e in model.iter_errors({"type": "l4"})] == ["dependencies"]
    assert not list(model.iter_errors({"type": "l4", "count": 1}))
    assert not list(model.iter_errors({"count": 0}))
    for partial in ({"host": "a.example.com"}, {"administration": True}):
        errors = list(exposure.iter_errors({"ingress": partial}))
        assert [error.validator for error in errors] == ["dependencies"], partial
    assert not list(exposure.iter_errors({"ingress": {"enabled": True, "host": "a.example.com"}}))
    assert not list(exposure.iter_errors({}))
    assert pages[2]["properties"]["ingress"]["errorMessage"] == {
        "dependencies": "set Enabled too: the other fields here need it"
    }


def test_the_form_refuses_kube_namespaces_and_unknown_presets(rendered: Rendered) -> None:
    # What catalog-gen refuses past the leaf schema, refused before a pull request is opened.
    pages = template(rendered)["spec"]["parameters"]
    namespace = jsonschema.Draft7Validator(pages[0]["properties"]["namespace"])
    assert list(namespace.iter_errors("kube-system"))
    assert not list(namespace.iter_errors("ml-workloads"))
    preset = jsonschema.Draft7Validator(pages[1]["properties"]["resourcesPreset"])
    assert list(preset.iter_errors("large"))
    assert not list(preset.iter_errors("auto"))


def test_the_form_refuses_characters_its_dump_would_write_raw(rendered: Rendered) -> None:
    # DEL and C1 controls reach the leaf unescaped, which YAML refuses (NEL: read apart).
    field = template(rendered)["spec"]["parameters"][0]["properties"]["description"]
    validator = jsonschema.Draft7Validator(field)
    for text in ("a\x7fb", "a\x85b", "a\x9fb"):
        assert list(validator.iter_errors(text)), repr(text)
    assert not list(validator.iter_errors('Tabs\tquotes "x", #hash, é and 中文\nlines'))


@pytest.mark.parametrize(
    "body",
    [
        "model: phi:latest\n",
        # The chart then labels nothing with backstage.io/kubernetes-id: selected by release.
        'model: phi:latest\nchartValues: {backstage: {kubernetesId: ""}}\n',
    ],
    ids=["kubernetes-id", "no-kubernetes-id"],
)
def test_a_service_in_two_environments_shows_each_component_only_its_own_resources(
    tmp_path: Path, body: str
) -> None:
    """Backstage's Kubernetes backend lists what the Component's label selector selects in every
    cluster it knows (KubernetesFanOutHandler: backstage.io/kubernetes-label-selector, else
    backstage.io/kubernetes-id=<id>): the same service in two environments, judged on the
    labels helm really renders from each generated values.yaml."""
    make_catalog(
        tmp_path,
        {
            "dev/ml/svc.yaml": leaf(body, environment="dev"),
            "edge/ml/svc.yaml": leaf(body, environment="edge"),
        },
    )
    assert run_cli(tmp_path, "render", "--out", "generated").code == 0
    rendered: dict[str, list[dict[str, str]]] = {}  # environment -> labels of each resource
    selectors: dict[str, str] = {}
    for environment in ("dev", "edge"):
        folder = tmp_path / "generated" / environment / "ml" / "svc"
        component = yaml.safe_load((folder / "catalog-info.yaml").read_text())
        annotations = component["metadata"]["annotations"]
        selectors[environment] = annotations["backstage.io/kubernetes-label-selector"]
        assert annotations["backstage.io/kubernetes-id"] == "svc"
        manifests = subprocess.run(
            [
                str(helm_binary("3.19.0")),
                "template",
                "svc",
                str(CHART),
                "--namespace",
                "ml",
                "--values",
                str(folder / "values.yaml"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rendered[environment] = [
            document["metadata"].get("labels") or {}
            for document in yaml.safe_load_all(manifests)
            if document
        ]

    def selects(selector: str, labels: dict[str, str]) -> bool:
        return all(
            labels.get(key) == value
            for key, _, value in (term.partition("=") for term in selector.split(","))
        )

    for environment, other in (("dev", "edge"), ("edge", "dev")):
        own = [
            labels for labels in rendered[environment] if selects(selectors[environment], labels)
        ]
        assert any(labels.get("app.kubernetes.io/component") == "inference" for labels in own)
        assert not any(selects(selectors[environment], labels) for labels in rendered[other])
