"""The manifest-diff job's script (tools/diff_pr.sh) with stand-ins for catalog-gen and gh: the
comment is added once, then updated in place; a fork's pull request gets the job summary only;
an invalid catalog is posted with its problems and fails the step. (`catalog-gen diff` itself:
tests/e2e/test_diff.py.)"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "tools" / "diff_pr.sh"
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ci.yaml"
MARKER = "<!-- catalog-gen diff -->"
COMMENT = f"{MARKER}\n### catalog-gen diff against `origin/main`\n\n| dev | 1 | 0 | 0 |\n"


def stub(path: Path, body: str) -> Path:
    path.write_text("#!/usr/bin/env bash\nset -eu\n" + body, encoding="utf-8")
    path.chmod(0o755)
    return path


def run(
    tmp_path: Path, *, existing: str = "", head_repo: str = "org/repo", diff_exit: int = 0
) -> tuple[subprocess.CompletedProcess[str], list[str], str]:
    """The script; what gh was asked (one line per call) and the job summary."""
    log = tmp_path / "gh.log"
    output = COMMENT if diff_exit == 0 else "catalog/dev/ml/a.yaml:1:1: error: $: bad\n"
    catalog_gen = stub(
        tmp_path / "catalog-gen",
        f'echo "$*" > {tmp_path / "catalog-gen.args"}\n'
        f'cat <<"END"\n{output}END\nexit {diff_exit}\n',
    )
    gh = stub(
        tmp_path / "gh",
        f'echo "$*" >> {log}\n'
        'for arg in "$@"; do case "$arg" in body=@*) cp "${arg#body=@}" '
        f"{tmp_path / 'posted.md'};; esac; done\n"
        f'if [[ "$*" == *--jq* ]]; then printf "%s" "{existing}"; fi\n',
    )
    summary = tmp_path / "summary.md"
    environment = {
        **os.environ,
        "BASE_REF": "main",
        "BASE_REPO": "org/repo",
        "HEAD_REPO": head_repo,
        "PR_NUMBER": "7",
        "DIFF_PR_BOOTSTRAP": "",
        "CATALOG_GEN": str(catalog_gen),
        "GH": str(gh),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, check=False
    )
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return result, calls, summary.read_text(encoding="utf-8") if summary.exists() else ""


def test_a_new_comment_is_added_with_the_markdown_diff(tmp_path: Path) -> None:
    result, calls, summary = run(tmp_path)
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "catalog-gen.args").read_text(encoding="utf-8")
    assert args == "diff --base origin/main --format markdown\n"
    assert calls[0].startswith("api --paginate repos/org/repo/issues/7/comments --jq")
    assert calls[1].startswith("api --method POST repos/org/repo/issues/7/comments -F body=@")
    assert (tmp_path / "posted.md").read_text(encoding="utf-8") == COMMENT
    assert summary == COMMENT


def test_the_marked_comment_is_updated_in_place(tmp_path: Path) -> None:
    result, calls, _ = run(tmp_path, existing="111\n222")
    assert result.returncode == 0, result.stderr
    assert len(calls) == 2
    assert calls[1].startswith("api --method PATCH repos/org/repo/issues/comments/111 -F body=@")


def test_a_fork_gets_the_summary_and_no_comment(tmp_path: Path) -> None:
    result, calls, summary = run(tmp_path, head_repo="someone/fork")
    assert result.returncode == 0, result.stderr
    assert calls == []
    assert summary == COMMENT
    assert "fork someone/fork" in result.stdout


def test_an_invalid_catalog_is_posted_and_fails(tmp_path: Path) -> None:
    result, calls, summary = run(tmp_path, diff_exit=1)
    assert result.returncode == 1
    posted = (tmp_path / "posted.md").read_text(encoding="utf-8")
    assert posted.startswith(MARKER + "\n")
    assert "```text\ncatalog/dev/ml/a.yaml:1:1: error: $: bad\n```\n" in posted
    assert summary == posted
    assert len(calls) == 2


def test_a_failing_catalog_gen_is_a_usage_error(tmp_path: Path) -> None:
    result, calls, _ = run(tmp_path, diff_exit=2)
    assert result.returncode == 2
    assert calls == []


@pytest.mark.parametrize("missing", ["BASE_REF", "PR_NUMBER"])
def test_missing_environment_is_a_usage_error(missing: str) -> None:
    environment = {key: value for key, value in os.environ.items() if key != missing}
    environment.update({"BASE_REPO": "a/b", "HEAD_REPO": "a/b", "BASE_REF": "main"})
    environment.update({"PR_NUMBER": "1", "DIFF_PR_BOOTSTRAP": ""})
    del environment[missing]
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert f"{missing} is not set" in result.stderr


def test_the_workflow_job_runs_the_script_with_write_access_to_pull_requests() -> None:
    job = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["manifest-diff"]
    assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
    assert job["steps"][0]["with"]["fetch-depth"] == 0
    step = job["steps"][-1]
    assert step["run"] == "tools/diff_pr.sh"
    assert set(step["env"]) == {"GH_TOKEN", "BASE_REF", "BASE_REPO", "HEAD_REPO", "PR_NUMBER"}
