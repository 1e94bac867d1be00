"""The render-pr workflow's script (tools/render_pr.sh) on a scratch git repository: a pull
request holding only a leaf gets the generated files committed and pushed to its branch, after
which the drift check is green; a fork's pull request is refused with the commands to run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.support.scratch_git import git

SCRIPT = REPO_ROOT / "tools" / "render_pr.sh"
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "render-pr.yaml"
CATALOG_GEN = REPO_ROOT / ".venv" / "bin" / "catalog-gen"
# What a checkout holds that catalog-gen reads or writes (the rest of the repository plays no part).
COPIED = (
    "catalog",
    "charts",
    "backstage",
    "generated",
    "deploy",
    "catalog-info.yaml",
    "schemas",
)
OUTPUTS = ("generated", "deploy/argocd", "catalog-info.yaml", "backstage/templates")
BRANCH = "add-qwen"
NEW_LEAF = "catalog/dev/ml-workloads/ollama-qwen.yaml"
LEAF = """\
workloadType: OLLAMA_INFERENCE_LOAD
serviceName: ollama-qwen
serviceCatalog: ml-inference
namespace: ml-workloads
environment: dev
model: "qwen2.5:0.5b"
gpu: {count: 1}
ingress: {enabled: true, host: qwen.hypermedia.au}
"""


def catalog_gen(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CATALOG_GEN), *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def run_script(work: Path, head_repo: str = "org/repo") -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "HEAD_REPO": head_repo,
        "BASE_REPO": "org/repo",
        "HEAD_REF": BRANCH,
        "RENDER_PR_BOOTSTRAP": "",  # this checkout's tools are already installed
        "CATALOG_GEN": str(CATALOG_GEN),
    }
    return subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def pull_request(tmp_path: Path) -> tuple[Path, Path]:
    """(origin, work): a bare origin whose branch add-qwen holds one commit with only a new
    leaf on top of an up-to-date main, and a clone of it checked out on that branch."""
    seed = tmp_path / "seed"
    seed.mkdir()
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, seed / name)
        else:
            shutil.copy2(source, seed / name)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", "--initial-branch=main", str(origin))
    git(seed, "init", "--quiet", "--initial-branch=main")
    git(seed, "add", "-A")
    git(seed, "commit", "--quiet", "-m", "main")
    git(seed, "push", "--quiet", str(origin), "main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(origin), str(work))
    assert catalog_gen(work, "check").returncode == 0, "the copied repository starts up to date"
    git(work, "checkout", "--quiet", "-b", BRANCH)
    (work / NEW_LEAF).write_text(LEAF, encoding="utf-8")
    git(work, "add", NEW_LEAF)
    git(work, "commit", "--quiet", "-m", "Add ollama-qwen (from the Backstage template)")
    git(work, "push", "--quiet", "origin", BRANCH)
    return origin, work


def test_workflow_runs_the_script_on_catalog_changes_with_write_access() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = workflow[True]  # PyYAML reads the key `on` as YAML 1.1's boolean
    assert triggers["pull_request"]["paths"] == ["catalog/**"]
    assert workflow["permissions"] == {"contents": "write"}
    (job,) = workflow["jobs"].values()
    checkout = job["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["ref"] == "${{ github.event.pull_request.head.ref }}"
    (render,) = [step for step in job["steps"] if step.get("run")]
    assert render["run"] == "tools/render_pr.sh"
    assert set(render["env"]) == {"HEAD_REPO", "BASE_REPO", "HEAD_REF"}
    assert os.access(SCRIPT, os.X_OK)


def test_a_leaf_only_pull_request_gets_its_generated_files_and_goes_green(
    pull_request: tuple[Path, Path], tmp_path: Path
) -> None:
    origin, work = pull_request
    before = catalog_gen(work, "check")
    assert before.returncode == 1, "a leaf without its generated files is red"

    outcome = run_script(work)
    assert outcome.returncode == 0, outcome.stdout + outcome.stderr
    assert "committed" in outcome.stdout

    # The pushed commit holds only generated files, by the bot, on top of the leaf's commit.
    log = git(origin, "log", "--format=%an|%s", BRANCH).splitlines()
    assert log[0] == "github-actions[bot]|Render generated files for the catalog change"
    assert log[1] == "Dev|Add ollama-qwen (from the Backstage template)"
    files = git(origin, "show", "--name-only", "--format=", BRANCH).split()
    assert files
    assert all(file.startswith(OUTPUTS) for file in files), files
    assert "generated/dev/ml-workloads/ollama-qwen/values.yaml" in files
    assert "backstage/templates/ollama-inference-load/template.yaml" in files  # its hosts

    # A fresh clone of the pull request's branch passes the drift checks the ci workflow runs.
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "--quiet", "--branch", BRANCH, str(origin), str(fresh))
    for command in (("check",), ("backstage", "--check")):
        result = catalog_gen(fresh, *command)
        assert result.returncode == 0, result.stdout + result.stderr

    # Run again (the workflow runs on its own push too): nothing to do, no new commit.
    again = run_script(work)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "up to date" in again.stdout
    assert git(origin, "rev-parse", BRANCH) == git(work, "rev-parse", "HEAD")


def test_a_fork_pull_request_fails_with_the_commands_to_run(
    pull_request: tuple[Path, Path],
) -> None:
    origin, work = pull_request
    head = git(origin, "rev-parse", BRANCH)
    outcome = run_script(work, head_repo="contributor/repo")
    assert outcome.returncode == 1
    assert "fork contributor/repo" in outcome.stderr
    for command in (
        "make bootstrap",
        ".venv/bin/catalog-gen render",
        ".venv/bin/catalog-gen backstage",
        "git add -A -- generated deploy/argocd catalog-info.yaml backstage/templates",
        'git commit -m "Render generated files for the catalog change"',
        "git push",
    ):
        assert f"\n    {command}\n" in outcome.stderr
    assert git(origin, "rev-parse", BRANCH) == head  # nothing pushed
    assert git(work, "log", "-1", "--format=%an") == "Dev\n"  # nothing committed


def test_an_invalid_leaf_fails_without_a_commit(pull_request: tuple[Path, Path]) -> None:
    origin, work = pull_request
    (work / NEW_LEAF).write_text(LEAF.replace("gpu: {count: 1}", "gpu: {cont: 1}"))
    git(work, "commit", "--quiet", "-am", "typo")
    outcome = run_script(work)
    assert outcome.returncode == 1
    assert "$.gpu.cont: unknown key 'cont'" in outcome.stdout
    assert "nothing was committed" in outcome.stderr
    assert git(work, "log", "-1", "--format=%s") == "typo\n"
    assert git(origin, "log", "-1", "--format=%an", BRANCH) == "Dev\n"


@pytest.mark.parametrize("missing", ["HEAD_REPO", "BASE_REPO", "HEAD_REF"])
def test_missing_settings_are_a_usage_error(pull_request: tuple[Path, Path], missing: str) -> None:
    _, work = pull_request
    environment = {
        **os.environ,
        "HEAD_REPO": "org/repo",
        "BASE_REPO": "org/repo",
        "HEAD_REF": BRANCH,
        "RENDER_PR_BOOTSTRAP": "",
        "CATALOG_GEN": str(CATALOG_GEN),
    }
    del environment[missing]
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert f"{missing} is not set" in result.stderr
