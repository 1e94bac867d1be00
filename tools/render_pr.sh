#!/usr/bin/env bash
# shellcheck shell=bash
# Render what a pull request's catalog change implies and commit it to the pull request's branch,
# so a pull request holding only a leaf (e.g. from the Backstage template) goes green on its own.
# Run by .github/workflows/render-pr.yaml in a checkout of the pull request's head branch.
#
# Environment:
#   HEAD_REPO            owner/name of the pull request's head repository (required)
#   BASE_REPO            owner/name of the repository the pull request targets (required)
#   HEAD_REF             the pull request's branch, where the commit is pushed (required)
#   RENDER_PR_REMOTE     git remote of the head repository (default: origin)
#   RENDER_PR_BOOTSTRAP  command that installs the tools (default: make bootstrap; empty: none)
#   CATALOG_GEN          the catalog-gen command (default: .venv/bin/catalog-gen)
#
# Exit status: 0 the generated files are up to date (already, or by the pushed commit);
# 1 the catalog is invalid, the push failed, or the pull request comes from a fork (a token of
# the base repository cannot push there: the exact commands to run instead are printed);
# 2 usage or a failing tool.
set -euo pipefail

# What catalog-gen render and catalog-gen backstage write (docs/catalog-gen.md, "Output").
OUTPUTS=(generated deploy/argocd catalog-info.yaml backstage/templates)
BOT_NAME="github-actions[bot]"
BOT_EMAIL="41898282+github-actions[bot]@users.noreply.github.com"
MESSAGE="Render generated files for the catalog change"

fail_usage() {
    printf 'render_pr: %s\n' "$1" >&2
    exit 2
}

for name in HEAD_REPO BASE_REPO HEAD_REF; do
    [[ -n "${!name:-}" ]] || fail_usage "$name is not set (see the header of tools/render_pr.sh)"
done
remote="${RENDER_PR_REMOTE:-origin}"
bootstrap="${RENDER_PR_BOOTSTRAP-make bootstrap}"
catalog_gen="${CATALOG_GEN:-.venv/bin/catalog-gen}"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || fail_usage "not inside a git work tree"

if [[ -n "$bootstrap" ]]; then
    echo "render_pr: $bootstrap"
    bash -c "$bootstrap" || fail_usage "the bootstrap failed: $bootstrap"
fi

echo "render_pr: $catalog_gen render"
status=0
"$catalog_gen" render || status=$?
if ((status == 1)); then
    echo "render_pr: the catalog has errors (above); fix the leaf, nothing was committed" >&2
    exit 1
elif ((status != 0)); then
    fail_usage "catalog-gen render exited $status"
fi
echo "render_pr: $catalog_gen backstage"
"$catalog_gen" backstage || fail_usage "catalog-gen backstage failed"

changed="$(git status --porcelain --untracked-files=all -- "${OUTPUTS[@]}")"
if [[ -z "$changed" ]]; then
    echo "render_pr: the generated files are up to date; nothing to commit"
    exit 0
fi
echo "render_pr: generated files that change:"
printf '%s\n' "$changed"

if [[ "$HEAD_REPO" != "$BASE_REPO" ]]; then
    cat >&2 <<EOF
render_pr: this pull request comes from the fork $HEAD_REPO; the workflow cannot push to it.
Run these commands in your clone of $HEAD_REPO, on branch $HEAD_REF, from the repository root:

    make bootstrap
    .venv/bin/catalog-gen render
    .venv/bin/catalog-gen backstage
    git add -A -- ${OUTPUTS[*]}
    git commit -m "$MESSAGE"
    git push
EOF
    exit 1
fi

git add -A -- "${OUTPUTS[@]}"
git -c user.name="$BOT_NAME" -c user.email="$BOT_EMAIL" commit --quiet -m "$MESSAGE"
commit="$(git rev-parse --short HEAD)"
echo "render_pr: committed $commit; pushing to $remote $HEAD_REF"
if ! git push "$remote" "HEAD:refs/heads/$HEAD_REF"; then
    echo "render_pr: the push failed (was the branch updated meanwhile? the next run renders again)" >&2
    exit 1
fi
