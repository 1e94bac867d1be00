"""The chart's template rules (templates/_validate.tpl), run by helm on effective values.

Some rules on values cannot be written in JSON schema (arithmetic across values, counts of list
entries); the chart keeps them in `_validate.tpl`, whose "oil.validationMessages" reads .Values
only and returns a JSON list of {"value", "message"}. catalog-gen does not copy them: it puts
that very file (and `_models.tpl`, whose load groups it counts, and `_mounts.tpl`, the chart's own
volumes) into a throw-away driver chart
whose one template calls it for every case of a list, so one `helm template` judges a whole
catalog.

helm is sent only the part of each value set those files read. They reach values only through
chains like `.Values.httpRoute.timeouts` (the header of _validate.tpl says so); `read_paths`
collects the chains from the files' text, and each case keeps exactly the subtrees they end on,
so services that differ only in what the rules never read (names, hosts, labels) are one case.
A chain read only inside `{{ if .Values.a.b }}` (or `if and` of chains; not its `else`) is sent
only for values where that guard holds (`CaseReads`): the hostnames rule of the chart's own
Gateway reads every service's hosts, but only with `gateway.enabled`, so services without it
stay one case (each was a case of its own in chart 0.3.16 to 0.3.19: a cold render of 10,000
`dev` leaves spent 2.5 s of CPU in helm). Where the files reach values any other way that shows
in the text (`.Values` alone, `index .Values "x"`, `tpl`, the root `$` passed whole), nothing is
left out. The texts are read as Go's lexer reads them (an action ends at the first `}}` outside
a string, so strings and comments hide nothing); a block structure this module does not follow
(an `end` too many, an action never closed) makes every chain read always. What the text cannot show
is the root context `.` handed whole to something that walks it (`toJson .`, `$r := .` then
`$r.Values`), since a bare `.` is also each item of a `range`: the header of _validate.tpl
forbids it, and tests/unit/test_chart_templates.py compares the answers with and without the
projection. Results are cached by the content hash of that part's canonical JSON (the very
text helm reads), so a case is sent to helm once per process.

helm is found in $CATALOG_GEN_HELM, else the pinned `.tools/helm/3.19.0/helm` of the repository
holding the chart or catalog-gen itself, else `helm` on PATH (docs/interfaces.md section 3).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HELM_ENV = "CATALOG_GEN_HELM"
VALIDATE_TEMPLATE = "_validate.tpl"
# Helpers _validate.tpl calls (load groups, model names; the chart's own volumes), copied beside it.
VALIDATE_HELPERS = ("_models.tpl", "_mounts.tpl")
PINNED_HELM = Path(".tools") / "helm" / "3.19.0" / "helm"
# The cases travel as chart files read with fromJson (Go's JSON decoder is far faster than helm's
# YAML reading of a values file), in chunks below helm's limit of 5 MiB per chart file; ranging
# over a map visits the names in order.
CHUNK_BYTES = 4 * 1024 * 1024
_DRIVER = """results:
{{- range $path, $_ := .Files.Glob "cases/*.json" }}
{{- range $case := ($.Files.Get $path | fromJson).cases }}
  - {{ include "oil.validationMessages" (dict "Values" $case) }}
{{- end }}
{{- end }}
"""
_ITEM = "  - "


class ChartTemplateError(Exception):
    """helm is missing or failed on values the schema accepted: an internal error."""


@dataclass(frozen=True)
class TemplateMessage:
    # the chart value to change, dotted (probes.liveness.timeoutSeconds); several, space-separated,
    # where a rule is between values (the message goes where the leaf sets one)
    value: str
    message: str


# What a case keeps of the values: {key: the part of its value to keep}; WHOLE keeps it all.
ReadPaths = dict[str, "ReadPaths | None"]
WHOLE = None
_KEY = r"\.[^\W\d]\w*"  # a Go template field name: a letter or _, then letters, digits or _
_CHAIN = re.compile(rf"\$?\.Values((?:{_KEY})+)")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`')
# Ways to read values (or template text) without a `.Values.<key>` chain.
_OTHER_WAYS = re.compile(rf"Values(?!(?:{_KEY})+)|\btpl\b")
_BARE_ROOT = re.compile(r"\$(?![\w.])")  # the root `$` itself, outside strings


def read_paths(texts: Sequence[str]) -> ReadPaths | None:
    """The values the template texts read, as a tree of keys (None: they may read any value)."""
    scanned = _scan_all(texts)
    return WHOLE if scanned is None else _paths_read([code for code, _ in scanned])


def _scan_all(texts: Sequence[str]) -> list[tuple[str, list[str]]] | None:
    """_scan of each text; None when one of them has an action or comment never closed."""
    scanned = []
    for text in texts:
        found = _scan(text)
        if found is None:
            return None
        scanned.append(found)
    return scanned


def _paths_read(code: Sequence[str]) -> ReadPaths | None:
    """read_paths of texts without their comments."""
    for text in code:
        rest = _CHAIN.sub("", text)
        if _OTHER_WAYS.search(rest) or _BARE_ROOT.search(_STRING.sub('""', rest)):
            return WHOLE
    paths: ReadPaths = {}
    for text in code:
        for chain in _CHAIN.findall(text):
            _add_path(paths, chain.split(".")[1:])
    return paths


# A chain of keys under .Values; guarded reads: (the chains that must all be truthy, the
# chains read then).
Chain = tuple[str, ...]
Guarded = tuple[tuple[Chain, ...], tuple[Chain, ...]]
GuardedRead = tuple[tuple[Chain, ...], Chain]  # a chain read, with the guards around it
_QUOTES = "\"`'"  # Go template string, raw string and rune literals
_OPENING = re.compile(r"(?:-(?=\s))?\s*")  # after `{{`: a trim marker, then spaces
_COMMENT_END = re.compile(r"\*/\s*(?:-\s*)?\}\}")  # `*/`, then a trim marker, then `}}`
_OPENERS = frozenset({"if", "range", "with", "define", "block"})
_REBINDS_DOT = frozenset({"range", "with"})  # inside them `.Values` is not the values' root
_TEMPLATES = frozenset({"define", "block"})  # a body that may run anywhere: no guard outside it


@dataclass(frozen=True)
class CaseReads:
    """What the template texts read of a case: `always` whatever the values hold (WHOLE: any
    value), and each `guarded` set only where every one of its guards holds a truthy value."""

    always: ReadPaths | None
    guarded: tuple[Guarded, ...] = ()
    _variants: dict[tuple[bool, ...], ReadPaths | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def paths_for(self, values: Any) -> ReadPaths | None:
        """The paths helm reads of values: always, and the guarded sets whose guards hold."""
        if self.always is WHOLE or not self.guarded:
            return self.always
        held = tuple(all(_holds(values, guard) for guard in guards) for guards, _ in self.guarded)
        paths = self._variants.get(held)
        if paths is None:
            paths = copy.deepcopy(self.always)
            for (_, chains), taken in zip(self.guarded, held, strict=True):
                for chain in chains if taken else ():
                    _add_path(paths, chain)
            self._variants[held] = paths
        return paths


def case_reads(texts: Sequence[str]) -> CaseReads:
    """read_paths, with the chains read only under an `if` guard apart (CaseReads)."""
    scanned = _scan_all(texts)
    every = WHOLE if scanned is None else _paths_read([code for code, _ in scanned])
    if scanned is None or every is WHOLE:
        return CaseReads(WHOLE)
    always: ReadPaths = {}
    guarded: dict[tuple[Chain, ...], list[Chain]] = {}
    for code, actions in scanned:
        reads = _guarded_reads(code, actions)
        if reads is None:  # a structure not followed: every chain is read always
            return CaseReads(every)
        for guards, chain in reads:
            if guards:
                guarded.setdefault(guards, []).append(chain)
            else:
                _add_path(always, chain)
    return CaseReads(always, tuple((guards, tuple(chains)) for guards, chains in guarded.items()))


def _scan(text: str) -> tuple[str, list[str]] | None:
    """text without its comments, and the inside of each of its actions, read as Go's lexer
    reads them: an action ends at the first `}}` outside a string, raw string or rune literal
    (a `}}` or `{{/*` inside one is text); None when an action or comment is never closed."""
    code: list[str] = []
    actions: list[str] = []
    at = 0
    while (start := text.find("{{", at)) >= 0:
        inside = _OPENING.match(text, start + 2)
        assert inside is not None  # the pattern matches the empty string
        if text.startswith("/*", inside.end()):
            comment = _COMMENT_END.search(text, inside.end() + 2)
            if comment is None:
                return None
            code.append(text[at:start])
            at = comment.end()
            continue
        end = _action_end(text, start + 2)
        if end is None:
            return None
        actions.append(text[start + 2 : end].strip().removeprefix("-").removesuffix("-").strip())
        code.append(text[at : end + 2])
        at = end + 2
    code.append(text[at:])
    return "".join(code), actions


def _action_end(text: str, at: int) -> int | None:
    """Where the action whose inside starts at `at` ends (its `}}`), strings skipped."""
    quote = ""
    index = at
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\" and quote != "`":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in _QUOTES:
            quote = char
        elif text.startswith("}}", index):
            return index
        index += 1
    return None


def _guarded_reads(code: str, actions: Sequence[str]) -> list[GuardedRead] | None:
    """Each chain the code reads, with the guards of the `if` blocks around it (their
    then-branches; a define or block body starts without: it may run anywhere); None when the
    actions do not nest (or a chain stands outside them)."""
    frames: list[tuple[str, tuple[Chain, ...]]] = []  # per open block: its word, its guards
    reads: list[GuardedRead] = []
    for action in actions:
        words = action.split()
        word = words[0] if words else ""
        if word in ("else", "end") and not frames:
            return None
        if word == "else":  # an else branch (and its `else if` test) runs where the guard fails
            frames[-1] = (frames[-1][0], ())
        guards: tuple[Chain, ...] = ()
        for kind, own in frames:
            guards = () if kind in _TEMPLATES else guards + own
        reads += [(guards, tuple(chain.split(".")[1:])) for chain in _CHAIN.findall(action)]
        if word in _OPENERS:
            rebound = any(kind in _REBINDS_DOT for kind, _ in frames)
            frames.append((word, () if rebound else _guards(words)))
        elif word == "end":
            frames.pop()
    if frames or len(reads) != len(_CHAIN.findall(code)):
        return None
    return reads


def _guards(words: Sequence[str]) -> tuple[Chain, ...]:
    """The chains an `if` needs truthy to run its then-branch: `if C` or `if and C1 C2...`,
    each a plain chain; () for any other condition or block."""
    if len(words) < 2 or words[0] != "if":
        return ()
    terms = words[2:] if words[1] == "and" else words[1:]
    if not terms or (words[1] != "and" and len(terms) != 1):
        return ()
    chains = []
    for term in terms:
        match = _CHAIN.fullmatch(term)
        if match is None:
            return ()
        chains.append(tuple(match.group(1).split(".")[1:]))
    return tuple(chains)


def _holds(values: Any, chain: Chain) -> bool:
    """Go template truth of the value at chain: false, 0, nil and empty are false. A value
    that is not a mapping where the chain goes on counts as true (helm fails on it anyway,
    and sending more never changes an answer)."""
    node = values
    for key in chain:
        if type(node) is not dict:
            return True
        node = node.get(key)
    if node is None or node is False:
        return False
    if type(node) in (int, float):
        return bool(node != 0)
    if type(node) in (str, list, dict):
        return len(node) > 0
    return True


def _add_path(paths: ReadPaths, keys: Sequence[str]) -> None:
    node = paths
    for index, key in enumerate(keys):
        if key in node and node[key] is WHOLE:
            return  # a shorter chain already keeps all of it
        if index == len(keys) - 1:
            node[key] = WHOLE
            return
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        node = child


def project(values: Any, paths: ReadPaths | None) -> Any:
    """What of values the read paths reach: the whole of what a chain ends on; a value that is
    not a mapping where a chain goes on is kept whole (helm fails on it the same way)."""
    if paths is WHOLE or type(values) is not dict:
        return values
    return {key: project(values[key], below) for key, below in paths.items() if key in values}


@dataclass
class ChartTemplates:
    """Runs the chart's `_validate.tpl` through helm, batched and cached."""

    chart: Path
    helm: Path | None = None
    _cache: dict[str, tuple[TemplateMessage, ...]] = field(default_factory=dict, repr=False)
    _reads: CaseReads | None = field(default=None, init=False, repr=False)

    def messages(self, cases: Sequence[Mapping[str, Any]]) -> list[tuple[TemplateMessage, ...]]:
        """The template rules' messages for each effective value set, in order."""
        if not cases:  # every answer known already (the planning processes asked helm)
            return []
        return self.answers([self.case_text(case) for case in cases])

    def case_text(self, effective: Mapping[str, Any]) -> str:
        """What helm is given of one effective value set: the JSON of what the rules read."""
        return _canonical_json(project(effective, self.case_reads().paths_for(effective)))

    def answers(self, texts: Sequence[str]) -> list[tuple[TemplateMessage, ...]]:
        """The template rules' messages for each case_text, in order; helm asked once, for
        the texts it has not answered yet."""
        keys = [case_key(text) for text in texts]
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._cache:
                missing.setdefault(key, text)
        if missing:
            results = self._run(list(missing.values()))
            self._cache.update(zip(missing, results, strict=True))
        return [self._cache[key] for key in keys]

    def remember(self, answered: Mapping[str, tuple[TemplateMessage, ...]]) -> None:
        """What this chart's template rules answered before, by case_key, as this helm answered
        it (the cache's: catalog_gen/cache.py): those texts are not asked again."""
        self._cache.update(answered)

    def case_reads(self) -> CaseReads:
        """What the driver's template files read of the values (case_reads), read once."""
        if self._reads is None:
            texts = []
            for name in (VALIDATE_TEMPLATE, *VALIDATE_HELPERS):
                source = self.chart / "templates" / name
                try:
                    texts.append(source.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError) as error:
                    raise ChartTemplateError(f"cannot read {source}: {error}") from error
            self._reads = case_reads(texts)
        return self._reads

    def _run(self, cases: list[str]) -> list[tuple[TemplateMessage, ...]]:
        """helm's answers for cases, each the JSON text of one effective value set."""
        helm = self.helm or find_helm(self.chart)
        with tempfile.TemporaryDirectory(prefix="catalog-gen-validate-") as temporary:
            driver = Path(temporary) / "oil-validate"
            (driver / "templates").mkdir(parents=True)
            (driver / "Chart.yaml").write_text(
                "apiVersion: v2\nname: oil-validate\nversion: 0.0.0\n", encoding="utf-8"
            )
            for name in (VALIDATE_TEMPLATE, *VALIDATE_HELPERS):
                source = self.chart / "templates" / name
                try:
                    shutil.copyfile(source, driver / "templates" / name)
                except OSError as error:
                    raise ChartTemplateError(f"cannot read {source}: {error}") from error
            (driver / "templates" / "cases.yaml").write_text(_DRIVER, encoding="utf-8")
            _write_chunks(driver / "cases", cases)
            command = [str(helm), "template", "validate", str(driver)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ChartTemplateError(
                f"helm could not run the chart's {VALIDATE_TEMPLATE}: {result.stderr.strip()}"
            )
        return _parse(result.stdout, len(cases))


def find_helm(chart: Path) -> Path:
    """$CATALOG_GEN_HELM, else the pinned helm of the repository holding the chart, else PATH."""
    configured = os.environ.get(HELM_ENV)
    if configured:
        # As the shell finds it: a bare name on PATH, a path with a '/' as it is (the very file
        # that then runs).
        found = shutil.which(configured)
        if found is None:
            raise ChartTemplateError(
                f"{HELM_ENV}={configured} is not an executable file: point it at a helm binary, "
                "or unset it to use the repository's pinned helm"
            )
        return Path(found)
    # The repository holding the chart, else the one catalog-gen runs from (a checkout).
    for parent in [*chart.resolve().parents, *Path(__file__).resolve().parents]:
        if (parent / PINNED_HELM).is_file():
            return parent / PINNED_HELM
    found = shutil.which("helm")
    if found is None:
        raise ChartTemplateError(
            "catalog-gen needs helm to run the chart's template rules: set "
            f"{HELM_ENV}, run `make bootstrap`, or put helm on PATH"
        )
    return Path(found)


def _write_chunks(folder: Path, cases: Sequence[str]) -> None:
    """The cases (JSON texts) as {"cases": [...]} files, each below CHUNK_BYTES."""
    folder.mkdir()
    chunks: list[list[str]] = [[]]
    size = 0
    for case in cases:
        length = len(case) + 1
        if chunks[-1] and size + length > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(case)
        size += length
    for index, chunk in enumerate(chunks):
        body = '{"cases":[' + ",".join(chunk) + "]}"
        (folder / f"{index:08d}.json").write_text(body, encoding="utf-8")


def _parse(stdout: str, expected: int) -> list[tuple[TemplateMessage, ...]]:
    """One `  - <JSON list>` line per case (the driver's output, after helm's `# Source` line)."""
    try:
        results = [
            json.loads(line[len(_ITEM) :]) for line in stdout.splitlines() if line.startswith(_ITEM)
        ]
    except ValueError as error:
        raise ChartTemplateError(f"unexpected output of {VALIDATE_TEMPLATE}: {error}") from error
    if len(results) != expected:
        raise ChartTemplateError(
            f"{VALIDATE_TEMPLATE} answered {len(results)} of {expected} cases: {stdout[:500]!r}"
        )
    return [
        tuple(TemplateMessage(str(item["value"]), str(item["message"])) for item in messages)
        for messages in results
    ]


def case_key(text: str) -> str:
    """What a case_text's answer is known by: its sha256."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _canonical_json(values: Mapping[str, Any]) -> str:
    """One value set's JSON: what its cache key hashes and what helm reads (JSON, not YAML)."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=repr)
