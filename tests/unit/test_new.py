"""`catalog-gen new`: a minimal leaf with the modeline, checked with every rule before it is
written; nothing is written when a rule refuses it or the file exists."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from catalog_gen.scaffold.leaf_file import MODELINE
from tests.conftest import REPO_ROOT
from tests.unit.helpers import error_lines, leaf, make_catalog, run_cli, without_owner

LEAF_SCHEMA = REPO_ROOT / "schemas" / "catalog-leaf.schema.json"
OWNER = ("--owner", "group:ml-platform")


def leaf_files(catalog: Path) -> set[str]:
    return {
        path.relative_to(catalog).as_posix()
        for path in catalog.rglob("*")
        if path.is_file() and path.parent.name != "environments"
    }


def test_new_writes_a_minimal_leaf_that_validates(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    outcome = run_cli(
        tmp_path, "new", "dev/ml/chat", "--model", "phi:latest", "--gpus", "1",
        "--host", "chat.dev.example.com", *OWNER,
    )  # fmt: skip
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert outcome.stderr.endswith("catalog-gen: catalog/dev/ml/chat.yaml: written\n")
    text = (catalog / "dev/ml/chat.yaml").read_text(encoding="utf-8")
    assert text.startswith(MODELINE)
    assert MODELINE == "# yaml-language-server: $schema=../../../schemas/catalog-leaf.schema.json\n"
    data = yaml.safe_load(text)
    assert data == {
        "workloadType": "OLLAMA_INFERENCE_LOAD",
        "serviceName": "chat",
        "serviceCatalog": "ml",
        "namespace": "ml",
        "environment": "dev",
        "owner": "group:ml-platform",
        "model": "phi:latest",
        "gpu": {"count": 1},
        "ingress": {"enabled": True, "host": "chat.dev.example.com"},
    }
    assert list(data) == ["workloadType", "serviceName", "serviceCatalog", "namespace",
                          "environment", "owner", "model", "gpu", "ingress"]  # fmt: skip
    jsonschema.validate(data, json.loads(LEAF_SCHEMA.read_text(encoding="utf-8")))
    assert run_cli(tmp_path, "validate", "catalog/dev/ml/chat.yaml").code == 0
    assert run_cli(tmp_path, "render", "--no-cache").code == 0


def test_new_writes_only_what_was_given(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    outcome = run_cli(
        tmp_path, "new", "dev/team-a/cpu-only", "--model", "qwen2.5:0.5b", "--gpus", "0",
        "--service-catalog", "search", *OWNER,
    )  # fmt: skip
    assert outcome.code == 0, outcome.stdout
    data = yaml.safe_load((catalog / "dev/team-a/cpu-only.yaml").read_text(encoding="utf-8"))
    assert data["gpu"] == {"count": 0}
    assert data["serviceCatalog"] == "search"
    assert set(data) & {"ingress", "container", "description", "owner"} == {"owner"}


def test_new_expose_derives_the_host_from_the_base_domain(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    outcome = run_cli(tmp_path, "new", "dev/ml/web", "--model", "phi", "--expose", *OWNER)
    assert outcome.code == 0, outcome.stdout
    data = yaml.safe_load((catalog / "dev/ml/web.yaml").read_text(encoding="utf-8"))
    assert data["ingress"] == {"enabled": True}
    assert run_cli(tmp_path, "render", "--no-cache").code == 0
    values = yaml.safe_load((tmp_path / "generated/dev/ml/web/values.yaml").read_text())
    assert values["httpRoute"]["hostnames"] == ["web.dev.example.com"]


def test_new_host_in_an_ingress_environment_writes_an_ingress(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    outcome = run_cli(
        tmp_path, "new", "edge/ml/web", "--model", "phi", "--host", "web.edge.example.com", *OWNER
    )
    assert outcome.code == 0, outcome.stdout
    assert (catalog / "edge/ml/web.yaml").is_file()
    assert run_cli(tmp_path, "render", "--no-cache").code == 0
    values = yaml.safe_load((tmp_path / "generated/edge/ml/web/values.yaml").read_text())
    assert values["ingress"]["enabled"] is True
    assert [host["host"] for host in values["ingress"]["hosts"]] == ["web.edge.example.com"]


def test_new_refuses_an_existing_file(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    before = (catalog / "dev/ml/svc.yaml").read_bytes()
    outcome = run_cli(tmp_path, "new", "dev/ml/svc", "--model", "phi", *OWNER)
    assert outcome.code == 1
    assert outcome.stdout == (
        "catalog/dev/ml/svc.yaml:1:1: error: $: already exists; `catalog-gen new` never "
        "overwrites a leaf: edit it instead\n"
    )
    assert (catalog / "dev/ml/svc.yaml").read_bytes() == before


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        (
            ("dev/ml/svc", "--model", "Bad_Model!"),
            "catalog/dev/ml/svc.yaml:10:8: error: $.model: not a valid Ollama model name; "
            "expected [registry/][namespace/]name[:tag] using letters, digits, '_', '-' and '.'\n",
        ),
        (
            ("nowhere/ml/svc", "--model", "phi"),
            "catalog/nowhere/ml/svc.yaml:8:14: error: $.environment: unknown environment "
            "'nowhere': catalog-gen found no environments/nowhere.yaml in the catalog (known: "
            "dev, edge, locked)\n",
        ),
        (
            ("dev/Team_A/svc", "--model", "phi"),
            "catalog/dev/Team_A/svc.yaml:7:12: error: $.namespace: must be a DNS-1123 label: "
            "lowercase letters, digits and '-', starting and ending with a letter or digit\n",
        ),
        (
            ("dev/ml/9svc", "--model", "phi"),
            "catalog/dev/ml/9svc.yaml:5:14: error: $.serviceName: must be a DNS-1035 label (it "
            "names a Kubernetes Service and is the Helm release name, at most 53 characters): "
            "lowercase letters, digits and '-', starting with a letter and ending with a letter "
            "or digit\n",
        ),
        (
            ("dev/ml/svc", "--model", "phi", "--gpus", "-1"),
            "catalog/dev/ml/svc.yaml:12:10: error: $.gpu.count: must be at least 0 (got integer "
            "-1)\n",
        ),
        (
            ("dev/ml/svc", "--model", "phi", "--host", "10.0.0.1"),
            "catalog/dev/ml/svc.yaml:13:9: error: $.ingress.host: must be a DNS name, not an IP "
            "address\n",
        ),
        (  # given empty, not replaced by the namespace
            ("dev/ml/svc", "--model", "phi", "--service-catalog", ""),
            "catalog/dev/ml/svc.yaml:6:17: error: $.serviceCatalog: must be a Backstage entity "
            "name: letters, digits, '-', '_' and '.', starting and ending with a letter or "
            "digit\n",
        ),
        (
            ("edge/ml/svc", "--model", "phi", "--expose"),
            "catalog/edge/ml/svc.yaml:12:3: error: $.ingress: ingress.host is required: "
            "environment 'edge' has no baseDomain to derive <serviceName>.<baseDomain> from\n",
        ),
    ],
)
def test_new_refuses_what_the_rules_refuse_and_writes_nothing(
    tmp_path: Path, arguments: tuple[str, ...], expected: str
) -> None:
    catalog = make_catalog(tmp_path)
    outcome = run_cli(tmp_path, "new", *arguments, *OWNER)
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    errors = [line for line in outcome.stdout.splitlines(keepends=True) if ": error: " in line]
    assert len(errors) == 1, outcome.stdout
    assert errors[0] == expected
    assert leaf_files(catalog) == set()
    assert sorted(path.name for path in catalog.iterdir()) == ["environments"]


def test_new_refuses_a_gpu_budget_overrun_at_the_environment(tmp_path: Path) -> None:
    catalog = make_catalog(
        tmp_path, {"dev/ml/big.yaml": leaf("model: phi\ngpu: {count: 3}\n", name="big")}
    )
    outcome = run_cli(tmp_path, "new", "dev/ml/svc", "--model", "phi", "--gpus", "2", *OWNER)
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        "catalog/environments/dev.yaml:10:11: error: $.gpu.budget: services of environment "
        "'dev' request 5 GPUs (GPUs per pod x replicas), over the budget of 4; largest: ml/big 3, "
        "ml/svc 2"
    ]
    assert leaf_files(catalog) == {"dev/ml/big.yaml"}


def test_new_refuses_a_host_another_service_routes(tmp_path: Path) -> None:
    body = "model: phi\ningress: {enabled: true, host: chat.dev.example.com}\n"
    catalog = make_catalog(tmp_path, {"dev/ml/other.yaml": leaf(body, name="other")})
    outcome = run_cli(
        tmp_path, "new", "dev/ml/svc", "--model", "phi", "--host", "chat.dev.example.com", *OWNER
    )
    assert outcome.code == 1
    assert error_lines(outcome.stdout) == [
        "catalog/dev/ml/svc.yaml:13:9: error: $.ingress.host: host 'chat.dev.example.com' is "
        "also used by catalog/dev/ml/other.yaml (service ml/other); hosts are unique per "
        "environment"
    ]  # reported at both leaves; only the new leaf's problems are shown
    assert leaf_files(catalog) == {"dev/ml/other.yaml"}


def test_new_refuses_a_host_a_leaf_sorting_after_it_routes(tmp_path: Path) -> None:
    # The clash is the same whichever leaf sorts first: the new leaf is refused either way.
    body = "model: phi\ningress: {enabled: true, host: chat.example.com}\n"
    catalog = make_catalog(tmp_path, {"dev/ml/b.yaml": leaf(body, name="b")})
    outcome = run_cli(
        tmp_path, "new", "dev/ml/a", "--model", "phi", "--gpus", "0", "--host",
        "chat.example.com", *OWNER,
    )  # fmt: skip
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert error_lines(outcome.stdout) == [
        "catalog/dev/ml/a.yaml:15:9: error: $.ingress.host: host 'chat.example.com' is also "
        "used by catalog/dev/ml/b.yaml (service ml/b); hosts are unique per environment"
    ]
    assert leaf_files(catalog) == {"dev/ml/b.yaml"}
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0


def test_new_refuses_an_argocd_name_a_leaf_sorting_after_it_takes(tmp_path: Path) -> None:
    # qa-a/b/chat and qa/a-b/chat both join to qa-a-b-chat; qa-a/b/chat sorts first.
    case = REPO_ROOT / "tests/fixtures/leaves/invalid/argocd-names-collide/catalog"
    catalog = make_catalog(tmp_path, overlay=case)
    (catalog / "qa-a/b/chat.yaml").unlink()
    project = catalog / "environments/qa-a.yaml"  # that fixture's other mistake, set apart
    project.write_text(project.read_text().replace("ml-inference", "qa-a-project"))
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0
    outcome = run_cli(tmp_path, "new", "qa-a/b/chat", "--model", "phi", *OWNER)
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert error_lines(outcome.stdout) == [
        "catalog/qa-a/b/chat.yaml:5:14: error: $.serviceName: its Argo CD Application and "
        "Backstage Component would be named 'qa-a-b-chat' (<environment>-<namespace>-"
        "<serviceName>), like those of catalog/qa/a-b/chat.yaml: rename the service or its "
        "namespace"
    ]
    assert not (catalog / "qa-a/b/chat.yaml").exists()


def test_new_needs_an_owner_where_the_environment_names_none(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    without_owner(catalog)
    outcome = run_cli(tmp_path, "new", "dev/ml/svc", "--model", "phi")
    assert outcome.code == 1
    assert outcome.stdout.splitlines(keepends=True)[0] == (
        "catalog/dev/ml/svc.yaml:4:1: error: $.owner: no owner: environment 'dev' names none "
        "and a Backstage Component needs one (the form asks for it); pass --owner, e.g. "
        "group:ml-platform\n"
    )
    assert leaf_files(catalog) == set()


def test_new_takes_the_environment_owner_in_the_real_catalog(tmp_path: Path) -> None:
    catalog = make_catalog(
        tmp_path, overlay=REPO_ROOT / "catalog", environments=REPO_ROOT / "catalog/environments"
    )
    outcome = run_cli(tmp_path, "new", "dev/ml/svc", "--model", "phi", "--gpus", "1")
    assert outcome.code == 0, outcome.stdout
    assert "owner" not in yaml.safe_load((catalog / "dev/ml/svc.yaml").read_text())


def test_new_dry_run_prints_the_leaf_and_writes_nothing(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    outcome = run_cli(tmp_path, "new", "dev/ml/svc", "--model", "phi", "--dry-run", *OWNER)
    assert outcome.code == 0
    assert outcome.stdout.startswith(MODELINE)
    assert yaml.safe_load(outcome.stdout)["model"] == "phi"
    assert "nothing written" in outcome.stderr
    assert leaf_files(catalog) == set()
    blocked = run_cli(tmp_path, "new", "dev/ml/svc", "--model", "Bad!", "--dry-run", *OWNER)
    assert blocked.code == 1
    assert "error: $.model" in blocked.stderr
    assert "error:" not in blocked.stdout


@pytest.mark.parametrize(
    ("place", "message"),
    [
        ("dev/svc", "'dev/svc' is not ENV/NAMESPACE/SERVICE (e.g. dev/ml/my-llm)"),
        ("dev/ml/svc/extra", "'dev/ml/svc/extra' is not ENV/NAMESPACE/SERVICE"),
        ("../ml/svc", "environment '..' is not a name"),
        ("dev//svc", "namespace '' is not a name"),
    ],
)
def test_new_place_that_is_no_path_is_a_usage_error(
    tmp_path: Path, place: str, message: str
) -> None:
    catalog = make_catalog(tmp_path)
    outcome = run_cli(tmp_path, "new", place, "--model", "phi", *OWNER)
    assert outcome.code == 2
    assert outcome.stderr.startswith(f"catalog-gen: {message}")
    assert leaf_files(catalog) == set()


# What Python makes of a command-line argument that is not UTF-8 (os.fsdecode: surrogateescape).
NOT_UTF8 = b"ph\xffi".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (("dev/ml/svc", "--model", NOT_UTF8), "--model"),
        (("dev/ml/svc", "--model", "phi", "--description", NOT_UTF8), "--description"),
        (("dev/ml/svc", "--model", "phi", "--owner", NOT_UTF8), "--owner"),
        (("dev/ml/svc", "--model", "phi", "--host", NOT_UTF8), "--host"),
        (("dev/ml/svc", "--model", "phi", "--service-catalog", NOT_UTF8), "--service-catalog"),
        ((f"dev/ml/{NOT_UTF8}", "--model", "phi"), "ENV/NAMESPACE/SERVICE"),
    ],
)
def test_new_an_argument_that_is_not_utf8_is_a_usage_error(
    tmp_path: Path, arguments: tuple[str, ...], option: str
) -> None:
    """Named as the option it came in, not as a YAML escape error in a leaf never written."""
    catalog = make_catalog(tmp_path)
    outcome = run_cli(tmp_path, "new", *arguments, "--dry-run")
    assert (outcome.code, outcome.stdout) == (2, "")
    shown = "dev/ml/ph\\xffi" if option.startswith("ENV") else "ph\\xffi"
    assert outcome.stderr == f"catalog-gen: {option} '{shown}' is not valid UTF-8\n"
    assert leaf_files(catalog) == set()


def test_new_needs_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = make_catalog(tmp_path)
    assert run_cli(tmp_path, "new", "dev/ml/svc").code == 2
    assert "the following arguments are required: --model" in capsys.readouterr().err
    assert leaf_files(catalog) == set()


def test_new_problems_as_json(tmp_path: Path) -> None:
    make_catalog(tmp_path)
    outcome = run_cli(tmp_path, "new", "dev/ml/svc", "--model", "Bad!", "--format", "json", *OWNER)
    assert outcome.code == 1
    (problem,) = [item for item in json.loads(outcome.stdout) if item["severity"] == "error"]
    assert (problem["path"], problem["line"], problem["json_path"]) == (
        "catalog/dev/ml/svc.yaml",
        10,
        "$.model",
    )


def broken_environment(catalog: Path) -> None:
    """dev.yaml with a misspelled key: invalid, so none of dev's rules can run."""
    path = catalog / "environments" / "dev.yaml"
    path.write_text(path.read_text() + "baseDomian: typo.example.com\n")


ENVIRONMENT_TYPO = (
    "catalog/environments/dev.yaml:{line}:1: error: $.baseDomian: unknown key 'baseDomian' "
    "(did you mean 'baseDomain'?)"
)


def test_new_into_an_invalid_environment_reports_it_and_writes_nothing(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path)
    broken_environment(catalog)
    line = len((catalog / "environments" / "dev.yaml").read_text().splitlines())
    outcome = run_cli(tmp_path, "new", "dev/ml/svc", "--model", "phi", *OWNER)
    assert outcome.code == 1, outcome.stdout + outcome.stderr
    assert error_lines(outcome.stdout) == [ENVIRONMENT_TYPO.format(line=line)]
    assert leaf_files(catalog) == set()


@pytest.mark.parametrize("target", ["catalog/environments/dev.yaml", "catalog/dev/ml/svc.yaml"])
def test_validate_file_reports_an_invalid_environment(tmp_path: Path, target: str) -> None:
    # Its problems are the leaf's too: with it invalid, none of the environment's rules ran.
    catalog = make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf()})
    broken_environment(catalog)
    line = len((catalog / "environments" / "dev.yaml").read_text().splitlines())
    whole = run_cli(tmp_path, "validate", "--no-cache")
    one = run_cli(tmp_path, "validate", "--no-cache", target)
    assert whole.code == one.code == 1
    assert error_lines(one.stdout) == error_lines(whole.stdout)
    assert error_lines(one.stdout) == [ENVIRONMENT_TYPO.format(line=line)]


def test_new_writes_nothing_through_a_namespace_linking_outside_the_catalog(
    tmp_path: Path,
) -> None:
    """A namespace folder that links outside the catalog is not read (load/document.py): new
    wrote the leaf there and said "written" (a review)."""
    catalog = make_catalog(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (catalog / "dev").mkdir(exist_ok=True)
    (catalog / "dev" / "nsout").symlink_to(outside)
    outcome = run_cli(tmp_path, "new", "dev/nsout/svc", "--model", "phi:latest", *OWNER)
    assert outcome.code == 1, outcome.stderr
    assert "written" not in outcome.stderr
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_new_refuses_a_namespace_linking_to_another_folder_of_the_catalog(
    tmp_path: Path, dry_run: list[str]
) -> None:
    """edge/shared -> ../dev/shared: the leaf was planned as an edge leaf and said written, and
    the next validate read it as a dev leaf whose environment is not its folder's (review)."""
    catalog = make_catalog(tmp_path)
    (catalog / "dev" / "shared").mkdir(parents=True)
    (catalog / "edge").mkdir(exist_ok=True)
    (catalog / "edge" / "shared").symlink_to(Path("..") / "dev" / "shared")
    arguments = ["new", "edge/shared/svc", "--model", "phi:latest", *OWNER, *dry_run]
    outcome = run_cli(tmp_path, *arguments)
    assert outcome.code == 1, outcome.stderr
    assert (
        "catalog/edge/shared/svc.yaml:1:1: error: $: not written: its folder is a link to "
        "dev/shared in the catalog, where it would be read as a leaf of that folder, not of "
        "edge/shared"
    ) in outcome.stdout + outcome.stderr  # --dry-run: the leaf on stdout, problems apart
    assert list((catalog / "dev" / "shared").iterdir()) == []
    assert run_cli(tmp_path, "validate", "--no-cache").code == 0
