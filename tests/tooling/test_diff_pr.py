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
    tmp_path: Path,
    *,
    existing: str = "",
    head_repo: str = "org/repo",
    diff_exit: int = 0,
    diff_stdout: str | None = None,
    diff_stderr: str = "",
    gh_fails: str = "",
) -> tuple[subprocess.CompletedProcess[str], list[str], str]:
    """The script; what gh was asked (one line per call) and the job summary. gh_fails: a
    pattern of the calls gh fails (after logging them); every body it is sent is kept."""
    log = tmp_path / "gh.log"
    output = COMMENT if diff_exit == 0 else "catalog/dev/ml/a.yaml:1:1: error: $: bad\n"
    if diff_stdout is not None:
        output = diff_stdout
    catalog_gen = stub(
        tmp_path / "catalog-gen",
        f'echo "$*" > {tmp_path / "catalog-gen.args"}\n'
        f'cat <<"END"\n{output}END\nprintf "%s" "{diff_stderr}" >&2\nexit {diff_exit}\n',
    )
    gh = stub(
        tmp_path / "gh",
        f'echo "$*" >> {log}\n'
        'for arg in "$@"; do case "$arg" in body=@*) cp "${arg#body=@}" '
        f'{tmp_path / "posted.md"}; cat "${{arg#body=@}}" >> {tmp_path / "bodies.md"};; '
        "esac; done\n"
        + (f'if [[ "$*" == {gh_fails} ]]; then exit 1; fi\n' if gh_fails else "")
        + f'if [[ "$*" == *--jq* ]]; then printf "%s" "{existing}"; fi\n',
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


def test_only_the_bots_marked_comment_is_updated(tmp_path: Path) -> None:
    # A comment anyone else starts with the marker is not the one to update (the bot may not).
    _, calls, _ = run(tmp_path)
    assert '.user.login == "github-actions[bot]"' in calls[0]


def test_a_service_helm_cannot_render_is_posted_with_helms_words(tmp_path: Path) -> None:
    # catalog-gen diff writes helm's error on stderr, exit 1, nothing on stdout.
    error = "catalog-gen: helm template failed for dev/ml/a: parse error in deployment.yaml"
    result, _, _ = run(tmp_path, diff_exit=1, diff_stdout="", diff_stderr=error)
    assert result.returncode == 1
    posted = (tmp_path / "posted.md").read_text(encoding="utf-8")
    assert f"```text\n{error}```\n" in posted


def test_a_huge_problem_list_is_cut_below_githubs_limit(tmp_path: Path) -> None:
    problems = "catalog/dev/ml/a.yaml:1:1: error: $: bad\n" * 3000  # about 130,000 bytes
    result, _, _ = run(tmp_path, diff_exit=1, diff_stdout=problems)
    assert result.returncode == 1
    posted = (tmp_path / "posted.md").read_text(encoding="utf-8")
    assert len(posted) < 65_536
    assert posted.endswith("Cut at 60000 bytes: the job log has them all.\n")


def test_comments_that_cannot_be_listed_get_no_second_comment(tmp_path: Path) -> None:
    result, calls, summary = run(tmp_path, gh_fails="*--jq*")
    assert result.returncode == 0
    assert len(calls) == 1  # the listing only: no POST beside a comment it could not see
    assert "could not be listed" in result.stdout
    assert summary == COMMENT


def test_a_comment_too_big_to_post_is_replaced_by_a_pointer_to_the_run(tmp_path: Path) -> None:
    # An older diff must not stand as this one's: the comment says where this one is.
    result, calls, _ = run(tmp_path, existing="111", gh_fails="*--method*PATCH*" + "*body=@*")
    assert result.returncode == 0
    assert len(calls) == 3  # list, the diff (refused), the pointer (refused too here)
    bodies = (tmp_path / "bodies.md").read_text(encoding="utf-8")
    assert "This diff could not be posted here; it is in the summary of " in bodies
    assert "could not be written" in result.stdout
