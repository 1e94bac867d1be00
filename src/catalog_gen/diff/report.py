"""A Comparison printed: unified diffs for a terminal, or a pull-request comment in Markdown.

Both are deterministic: services by key, resources by kind, namespace and name, no times.
The comment stays under GitHub's limit of 65,536 characters: the diffs that do not fit are cut,
with a note saying how to see them in full.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from catalog_gen.diff.compare import ADDED, CHANGED, REMOVED, Comparison, ServiceDiff
from catalog_gen.diff.render import Footprint
from catalog_gen.emit.argocd import DEPLOY_DIR
from catalog_gen.sizing import format_bytes

MARKER = "<!-- catalog-gen diff -->"  # finds the comment to update (tools/diff_pr.sh)
COMMENT_LIMIT = 65_536
COMMENT_RESERVE = 1_000  # room for the notes that close a cut comment


def summary(comparison: Comparison) -> str:
    """One line: how many services differ, how, and how many helm rendered."""
    counts = [
        f"{sum(service.status == status for service in comparison.services)} {status}"
        for status in (ADDED, REMOVED, CHANGED)
    ]
    differ = len(comparison.services)
    rendered = len(comparison.rendered)
    files = len(comparison.deploy)
    deploy = f"; {files} Argo CD file{' differs' if files == 1 else 's differ'}" if files else ""
    refused = sum(bool(service.refused) for service in comparison.services)
    if refused:
        deploy += (
            f"; {refused} service{' has' if refused == 1 else 's have'} changes the cluster "
            "refuses in place, or that delete a claim or leave an object running (marked in the "
            "diff)"
        )
    return (
        f"{differ} service{' has' if differ == 1 else 's have'} manifest changes between "
        f"{comparison.base.label} and the {comparison.head.label} ({', '.join(counts)}); "
        f"{rendered} service{'' if rendered == 1 else 's'} rendered (inputs changed), "
        f"{rendered - differ} of them to identical manifests{deploy}"
    )


def base_source(comparison: Comparison) -> str | None:
    """One line: where the base side's values came from, when any came from the commit's
    generated tree (else every service was planned, as in a repository without one)."""
    base = comparison.base
    if base.committed is None:
        return None
    read, planned = len(base.committed.services), len(base.services) - len(base.committed.services)
    unlike = len(base.committed.unlike_plan)
    differ = (
        f", {unlike} of them unlike this catalog-gen's plan of {base.label}: written by an "
        "older catalog-gen or by hand"
        if unlike
        else ""
    )
    why = f": no values file at {base.label}" if planned else ""
    return (
        f"base: committed {base.committed.folder}/ values ({read} "
        f"service{'' if read == 1 else 's'}{differ}), planned ({planned} "
        f"service{'' if planned == 1 else 's'}{why})"
    )


def _blocks(comparison: Comparison) -> list[ServiceDiff]:
    """What the diff shows, in order: the Argo CD files (as one block), then each service."""
    if not comparison.deploy:
        return list(comparison.services)
    # The bootstrap Application syncs the AppProject and the ApplicationSet, not itself.
    by_hand = tuple(
        f"{change.title}: the bootstrap Application does not sync itself: apply it again by "
        f"hand (kubectl apply -f {change.title})"
        for change in comparison.deploy
        if change.status != REMOVED and change.title.rsplit("/", 1)[-1].startswith("bootstrap-")
    )
    deploy = ServiceDiff(DEPLOY_DIR, "", CHANGED, comparison.deploy, by_hand)
    return [deploy, *comparison.services]


def text(comparison: Comparison) -> str:
    """Per service a header line, then each resource's unified diff."""
    out: list[str] = []
    for service in _blocks(comparison):
        out.append(f"# {service.key}: {service.status} ({service.counts()})")
        out.extend(f"! {line}" for line in service.refused)
        for change in service.changes:
            out.extend(change.lines)
        out.append("")
    return "\n".join(out)


def markdown(comparison: Comparison) -> str:
    """The pull-request comment: a table per environment, then one <details> per service."""
    head = [
        MARKER,
        f"### catalog-gen diff against `{comparison.base.label}`",
        "",
        summary(comparison) + ".",
        "",
        *([f"{source}.", ""] if (source := base_source(comparison)) else []),
        *_refused_list(comparison),
        *_table(comparison),
    ]
    body = "\n".join(head) + "\n"
    budget = COMMENT_LIMIT - COMMENT_RESERVE - len(body)
    label = comparison.base.label
    shown_blocks = _blocks(comparison)
    diffs = [_comment_lines(service, label) for service in shown_blocks]
    blocks = [_details(service, lines) for service, lines in zip(shown_blocks, diffs, strict=True)]
    shown: list[str] = []
    for index, block in enumerate(blocks):
        if len(block) > budget:
            shown.append(_cut(shown_blocks[index], diffs[index], budget))
            left = len(blocks) - index - 1
            more = f": {left} more service{'s' if left != 1 else ''} not shown" if left else ""
            shown.append(
                f"\n**The comment is cut at GitHub's size limit**{more}. Run `catalog-gen diff "
                f"--base {label}` for every diff in full.\n"
            )
            break
        shown.append(block)
        budget -= len(block)
    return body + "".join(shown)


# Refused changes named at the top of the comment, at most (an environment's defaults.cache
# edit refuses every perReplica service of it at once: the list must leave room for the diff).
MOST_REFUSED_LISTED = 20


def _refused_list(comparison: Comparison) -> Iterator[str]:
    """The marked changes (refused in place, a claim deleted, an object left running), named at
    the top of the comment (their services' blocks may be cut at the size limit)."""
    lines = [
        f"- ⚠️ `{service.key}`: {line}"
        for service in comparison.services
        for line in service.refused
    ]
    yield from lines[:MOST_REFUSED_LISTED]
    if len(lines) > MOST_REFUSED_LISTED:
        yield (
            f"- ... and {len(lines) - MOST_REFUSED_LISTED} more, each marked in its service's diff"
        )
    if lines:
        yield ""


def _table(comparison: Comparison) -> Iterator[str]:
    before, after = comparison.base.totals(), comparison.head.totals()
    environments = sorted(
        {service.environment for service in comparison.services}
        | {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    )
    if not environments:
        yield (
            "No manifest changes."
            if not comparison.deploy
            else (
                "No service manifest changes; the Argo CD files below differ (where and how each "
                "environment deploys)."
            )
        )
        yield ""
        return
    yield "| environment | added | removed | changed | GPUs | memory requests | memory limits |"
    yield "|---|---:|---:|---:|---|---|---|"
    empty = Footprint(0, 0, 0)
    for name in environments:
        services = [s for s in comparison.services if s.environment == name]
        old, new = before.get(name, empty), after.get(name, empty)
        counts = [sum(s.status == status for s in services) for status in (ADDED, REMOVED, CHANGED)]
        yield (
            f"| {name} | {counts[0]} | {counts[1]} | {counts[2]} | "
            f"{_delta(old.gpus, new.gpus, str)} | "
            f"{_delta(old.memory_requests, new.memory_requests, format_bytes)} | "
            f"{_delta(old.memory_limits, new.memory_limits, format_bytes)} |"
        )
    yield ""
    yield (
        "GPUs and memory: every service of the environment, replicas (`maxReplicas` under "
        "autoscaling) times one replica's GPUs and Ollama container memory."
    )
    yield ""


def _delta(old: int, new: int, show: Callable[[int], str]) -> str:
    if old == new:
        return f"{show(new)}"
    sign = "+" if new > old else "-"
    return f"{show(old)} → {show(new)} ({sign}{show(abs(new - old))})"


# An added or removed resource is shown in a comment by its first lines: the whole object is
# the text diff's, and an added service's scripts ConfigMap (the chart's own scripts, about
# 1,500 lines) would otherwise fill the comment before its Deployment and routes.
WHOLE_RESOURCE_LINES = 60


def _comment_lines(service: ServiceDiff, label: str) -> list[str]:
    """The service's diff for the comment: changed resources whole, added and removed ones by
    their first WHOLE_RESOURCE_LINES lines (label: the base, for the note)."""
    lines: list[str] = []
    for change in service.changes:
        if change.status == CHANGED or len(change.lines) <= WHOLE_RESOURCE_LINES:
            lines += change.lines
            continue
        lines += change.lines[:WHOLE_RESOURCE_LINES]
        left = len(change.lines) - WHOLE_RESOURCE_LINES
        lines.append(
            f"... {left} more lines of {change.status} {change.title}: `catalog-gen diff "
            f"--base {label}` shows it whole"
        )
    return lines


def _details(service: ServiceDiff, lines: list[str]) -> str:
    shown = lines
    fence = "`" * max(3, _longest_backticks(shown) + 1)
    return (
        "\n".join(
            [
                "<details>",
                f"<summary>{'⚠️ ' if service.refused else ''}<b>{service.status}</b> "
                f"<code>{service.key}</code>: {service.counts()}</summary>",
                "",
                *(f"> ⚠️ {line}" for line in service.refused),
                *([""] if service.refused else []),
                f"{fence}diff",
                *shown,
                fence,
                "",
                "</details>",
                "",
            ]
        )
        + "\n"
    )


def _cut(service: ServiceDiff, lines: list[str], budget: int) -> str:
    """The service's block, its diff (lines) cut to fit budget characters (at least its
    header)."""
    kept: list[str] = []
    used = len(_details(service, [])) + 40
    for line in lines:
        if used + len(line) + 1 > budget:
            break
        kept.append(line)
        used += len(line) + 1
    if len(kept) < len(lines):
        kept.append(f"... {len(lines) - len(kept)} more lines cut")
    return _details(service, kept)


def _longest_backticks(lines: list[str]) -> int:
    return max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
