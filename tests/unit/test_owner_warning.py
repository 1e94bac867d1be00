"""A service without a Backstage owner renders and deploys but gets no Component: every command
that plans the catalog says so, as a warning at the leaf (emit/checks.py), without changing its
exit status."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.unit.helpers import FIXTURES, leaf, make_catalog, run_cli

FIXTURE = FIXTURES / "valid" / "backstage-owner" / "catalog"
UNOWNED = "catalog/sandbox/ml/unowned.yaml"
NO_OWNER = (
    "warning: $.owner: no owner: the service is not published to Backstage (a Component needs "
    "an owner); set owner, e.g. group:ml-platform, in the leaf or for every service of the "
    "environment in its environment file"
)
# The leaf names no owner: the warning stands where its mapping starts (line 2, below a comment).
WARNING = f"{UNOWNED}:2:1: {NO_OWNER}"


def owner_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if ": warning: $.owner: " in line]


def test_validate_warns_at_the_leaf_and_exits_0(tmp_path: Path) -> None:
    make_catalog(tmp_path, overlay=FIXTURE)
    outcome = run_cli(tmp_path, "validate")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert owner_lines(outcome.stdout) == [WARNING]  # owned.yaml's own owner silences it
    assert outcome.stderr.endswith(": valid\n")


def test_validate_json_lists_the_warning(tmp_path: Path) -> None:
    make_catalog(tmp_path, overlay=FIXTURE)
    outcome = run_cli(tmp_path, "validate", "--format", "json")
    assert outcome.code == 0
    found = [p for p in json.loads(outcome.stdout) if p["json_path"] == "$.owner"]
    assert [(p["path"], p["line"], p["column"], p["severity"]) for p in found] == [
        (UNOWNED, 2, 1, "warning")
    ]


def test_validate_of_one_file_reports_only_that_files_warning(tmp_path: Path) -> None:
    make_catalog(tmp_path, overlay=FIXTURE)
    owned = run_cli(tmp_path, "validate", "catalog/sandbox/ml/owned.yaml")
    assert owned.code == 0
    assert owner_lines(owned.stdout) == []
    unowned = run_cli(tmp_path, "validate", UNOWNED)
    assert owner_lines(unowned.stdout) == [WARNING]


def test_render_and_check_warn_and_only_the_owned_service_gets_a_component(
    tmp_path: Path,
) -> None:
    make_catalog(tmp_path, overlay=FIXTURE)
    for command in ("render", "check"):
        outcome = run_cli(tmp_path, command, "--no-cache")
        assert outcome.code == 0, outcome.stdout + outcome.stderr
        assert owner_lines(outcome.stdout) == [WARNING], command
    components = sorted(
        path.parent.name for path in tmp_path.rglob("generated/**/catalog-info.yaml")
    )
    assert components == ["owned"]
    assert (tmp_path / "generated/sandbox/ml/unowned/values.yaml").is_file()  # still deployed


def test_backstage_warns_too(tmp_path: Path) -> None:
    """Its form needs an environment with argocd.repoURL: the shipped dev one, without owner."""
    catalog = make_catalog(
        tmp_path, {"dev/ml/svc.yaml": leaf()}, environments=REPO_ROOT / "catalog/environments"
    )
    dev = catalog / "environments" / "dev.yaml"
    dev.write_text(dev.read_text().replace("owner: group:ml-platform\n", ""), encoding="utf-8")
    outcome = run_cli(tmp_path, "backstage", "--out", "template")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert [line.split(": warning:")[0] for line in owner_lines(outcome.stdout)] == [
        "catalog/dev/ml/svc.yaml:1:1"
    ]
    assert "wrote" in outcome.stderr


def test_a_cached_render_still_warns(tmp_path: Path) -> None:
    make_catalog(tmp_path, overlay=FIXTURE)
    first = run_cli(tmp_path, "render")
    second = run_cli(tmp_path, "render")
    assert (first.code, second.code) == (0, 0)
    assert owner_lines(first.stdout) == owner_lines(second.stdout) == [WARNING]


def test_the_shipped_catalog_has_no_owner_warning(tmp_path: Path) -> None:
    make_catalog(
        tmp_path, overlay=REPO_ROOT / "catalog", environments=REPO_ROOT / "catalog/environments"
    )
    outcome = run_cli(tmp_path, "render", "--no-cache")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert ": warning: " in outcome.stdout  # its unpinned models: the warnings are printed
    assert owner_lines(outcome.stdout) == []


def test_new_without_any_owner_is_one_error_not_also_the_warning(tmp_path: Path) -> None:
    make_catalog(tmp_path, overlay=FIXTURE)
    outcome = run_cli(tmp_path, "new", "sandbox/ml/fresh", "--model", "phi")
    assert outcome.code == 1
    at_owner = [line for line in outcome.stdout.splitlines() if "$.owner" in line]
    assert at_owner == [
        "catalog/sandbox/ml/fresh.yaml:4:1: error: $.owner: no owner: environment 'sandbox' "
        "names none and a Backstage Component needs one (the form asks for it); pass --owner, "
        "e.g. group:ml-platform"
    ]
    owned = run_cli(
        tmp_path, "new", "sandbox/ml/fresh", "--model", "phi", "--owner", "group:ml-platform"
    )
    assert owned.code == 0, owned.stdout
    assert owner_lines(owned.stdout) == []


def test_promote_into_an_environment_without_owner_warns(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, overlay=FIXTURE)
    (catalog / "dev/ml").mkdir(parents=True)
    (catalog / "dev/ml/chat.yaml").write_text(
        (catalog / "sandbox/ml/unowned.yaml")
        .read_text()
        .replace("environment: sandbox", "environment: dev")
        .replace("serviceName: unowned", "serviceName: chat"),
        encoding="utf-8",
    )
    assert owner_lines(run_cli(tmp_path, "validate").stdout) == [WARNING]  # dev names an owner
    outcome = run_cli(tmp_path, "promote", "ml/chat", "--from", "dev", "--to", "sandbox")
    assert outcome.code == 0, outcome.stdout + outcome.stderr
    assert owner_lines(outcome.stdout) == [f"catalog/sandbox/ml/chat.yaml:2:1: {NO_OWNER}"]
    assert (catalog / "sandbox/ml/chat.yaml").is_file()


def test_an_owner_too_long_for_the_cost_label_is_reported_at_the_leafs_owner(
    tmp_path: Path,
) -> None:
    """The chart's cost label team is the owner's name: a leaf's owner too long for a label was
    reported at the leaf's first line, saying the value came from the environment or the
    chart (a differential review)."""
    name = "a" * 64
    make_catalog(tmp_path, {"dev/ml/svc.yaml": leaf(f"model: phi\nowner: group:{name}\n")})
    outcome = run_cli(tmp_path, "validate", "--no-cache")
    assert outcome.code == 1
    (line,) = [line for line in outcome.stdout.splitlines() if ": error: " in line]
    assert line.startswith(
        "catalog/dev/ml/svc.yaml:7:8: error: $.owner: chart value costLabels.team: "
        f"'{name}' is too long"
    )
    assert "comes from the environment" not in line
