#!/usr/bin/env bash
# shellcheck shell=bash
# Post what a pull request does to the cluster: `catalog-gen diff --base origin/<base branch>
# --format markdown` (services added, removed and changed, GPU and memory deltas per environment,
# the manifest diff per service) as one comment on the pull request, updated on every push.
# Run by the manifest-diff job of .github/workflows/ci.yaml in a checkout of the merge commit
# with the base branch fetched.
#
# The comment always goes to the job summary ($GITHUB_STEP_SUMMARY) too. A pull request from a
# fork gets no comment: its token cannot write to the pull request (the summary has the diff).
#
# Environment:
#   BASE_REF           the pull request's base branch (required)
#   BASE_REPO          owner/name of the repository the pull request targets (required)
#   HEAD_REPO          owner/name of the pull request's head repository (required)
#   PR_NUMBER          the pull request's number (required)
#   GH_TOKEN           token for gh, with pull-requests: write
#   DIFF_PR_REMOTE     the remote holding the base branch (default: origin)
#   DIFF_PR_BOOTSTRAP  command that installs the tools (default: make bootstrap; empty: none)
#   CATALOG_GEN        the catalog-gen command (default: .venv/bin/catalog-gen)
#   GH                 the gh command (default: gh)
#   DIFF_PR_AUTHOR     the login whose marked comment is updated (default: github-actions[bot],
#                      who GH_TOKEN=github.token writes as): a comment anyone else starts with
#                      the marker is left alone
#
# Exit status: 0 the diff is posted (or summarized, for a fork, or the comment could not be
# written: a warning, and the comment says where the diff is); 1 a side's catalog is invalid or
# a service cannot be rendered (its problems, or helm's error, are posted); 2 usage or a failing
# tool.
set -euo pipefail

# The first line of the comment: how the next run finds it (catalog_gen/diff/report.py MARKER).
MARKER="<!-- catalog-gen diff -->"
# GitHub refuses a comment above 65,536 characters (report.py COMMENT_LIMIT): an invalid
# catalog's problems are cut to this many bytes.
MOST_PROBLEM_BYTES=60000

fail_usage() {
    printf 'diff_pr: %s\n' "$1" >&2
    exit 2
}

for name in BASE_REF BASE_REPO HEAD_REPO PR_NUMBER; do
    [[ -n "${!name:-}" ]] || fail_usage "$name is not set (see the header of tools/diff_pr.sh)"
done
remote="${DIFF_PR_REMOTE:-origin}"
bootstrap="${DIFF_PR_BOOTSTRAP-make bootstrap}"
catalog_gen="${CATALOG_GEN:-.venv/bin/catalog-gen}"
gh="${GH:-gh}"
base="$remote/$BASE_REF"

if [[ -n "$bootstrap" ]]; then
    echo "diff_pr: $bootstrap"
    bash -c "$bootstrap" || fail_usage "the bootstrap failed: $bootstrap"
fi

body="$(mktemp)"
output="$(mktemp)"
errors="$(mktemp)"
trap 'rm -f "$body" "$output" "$errors"' EXIT
echo "diff_pr: $catalog_gen diff --base $base --format markdown"
status=0
"$catalog_gen" diff --base "$base" --format markdown >"$output" 2>"$errors" || status=$?
cat "$errors" >&2
if ((status == 0)); then
    cp "$output" "$body"
elif ((status == 1)); then
    # The problems are on stdout; a service helm cannot render says so on stderr.
    cat "$output" "$errors" >"$output.all"
    mv "$output.all" "$output"
    {
        # shellcheck disable=SC2016 # backquotes are Markdown here
        printf '%s\n### catalog-gen diff against `%s`\n\n' "$MARKER" "$base"
        printf 'The catalog is invalid, or a service cannot be rendered, so no diff was made:\n\n'
        printf '```text\n'
        head -c "$MOST_PROBLEM_BYTES" "$output"
        printf '```\n'
        size="$(wc -c <"$output")"
        if ((size > MOST_PROBLEM_BYTES)); then
            printf '\nCut at %s bytes: the job log has them all.\n' "$MOST_PROBLEM_BYTES"
        fi
    } >"$body"
else
    fail_usage "catalog-gen diff exited $status"
fi

if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    cat "$body" >>"$GITHUB_STEP_SUMMARY"
fi
if [[ "$HEAD_REPO" != "$BASE_REPO" ]]; then
    echo "diff_pr: the pull request comes from the fork $HEAD_REPO: no comment (read-only token); the diff is in the job summary"
    exit "$status"
fi

author="${DIFF_PR_AUTHOR:-github-actions[bot]}"
# A failed listing posts nothing: a second marked comment would go stale beside the first.
if ! ids="$("$gh" api --paginate "repos/$BASE_REPO/issues/$PR_NUMBER/comments" \
    --jq ".[] | select(.user.login == \"$author\" and (.body | startswith(\"$MARKER\"))) | .id")"; then
    echo "::warning::diff_pr: the pull request's comments could not be listed; the diff is in the job summary"
    exit "$status"
fi
id="${ids%%$'\n'*}"
if [[ -n "$id" ]]; then
    echo "diff_pr: updating comment $id"
    request=(--method PATCH "repos/$BASE_REPO/issues/comments/$id")
else
    echo "diff_pr: adding a comment to #$PR_NUMBER"
    request=(--method POST "repos/$BASE_REPO/issues/$PR_NUMBER/comments")
fi
if ! "$gh" api "${request[@]}" -F "body=@$body" >/dev/null; then
    # Not an older diff left standing as if it were this one's: say where this one is.
    run_url="${GITHUB_SERVER_URL:-https://github.com}/$BASE_REPO/actions/runs/${GITHUB_RUN_ID:-}"
    # shellcheck disable=SC2016 # backquotes are Markdown here
    printf '%s\n### catalog-gen diff against `%s`\n\nThis diff could not be posted here; it is in the summary of %s\n' \
        "$MARKER" "$base" "$run_url" >"$body"
    if ! "$gh" api "${request[@]}" -F "body=@$body" >/dev/null; then
        echo "::warning::diff_pr: the comment could not be written; the diff is in the job summary"
    fi
fi
exit "$status"
