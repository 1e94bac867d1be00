"""load/document.py: plain data plus marks, and every YAML feature beyond plain data refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_gen.load.document import MAX_FILE_BYTES, Document, discover, parse_document
from catalog_gen.problems import Report


def parse(text: str | bytes) -> tuple[Document | None, Report]:
    report = Report()
    raw = text.encode() if isinstance(text, str) else text
    return parse_document(raw, Path("leaf.yaml"), "leaf.yaml", report), report


def only_problem(report: Report) -> str:
    assert len(report.problems) == 1, report.format_text()
    return report.problems[0].format()


def test_values_and_marks_are_one_based_for_values_and_keys() -> None:
    document, report = parse("# comment\na: 1\nb:\n  - x\n  - {c: true}\n")
    assert report.ok
    assert document is not None
    assert document.data == {"a": 1, "b": ["x", {"c": True}]}
    assert document.position(("a",)) == (2, 4)
    assert document.key_position(("b",)) == (3, 1)
    assert document.position(("b", 1, "c")) == (5, 9)
    assert document.key_position(("b", 1, "c")) == (5, 6)
    # A path that does not exist points at the nearest enclosing node that does.
    assert document.position(("b", 1, "missing")) == (5, 5)


def test_dates_stay_text_and_plain_scalars_read_as_both_yaml_versions_read_them() -> None:
    document, report = parse(
        "when: 2024-01-31\nflag: true\nnum: 0x10\nratio: 1.5\nnothing: ~\nmemory: 2Gi\n"
        "quoted: 'yes'\n"
    )
    assert report.ok, report.format_text()
    assert document is not None
    assert document.data == {
        "when": "2024-01-31",
        "flag": True,
        "num": 16,
        "ratio": 1.5,
        "nothing": None,
        "memory": "2Gi",
        "quoted": "yes",
    }


@pytest.mark.parametrize(
    ("value", "readings"),
    [
        ("yes", "'yes' is true in YAML 1.1, which catalog-gen reads, but a text in YAML 1.2"),
        ("Off", "'Off' is false in YAML 1.1, which catalog-gen reads, but a text in YAML 1.2"),
        ("010", "'010' is the integer 8 in YAML 1.1, which catalog-gen reads, but the integer 10"),
        ("08", "'08' is a text in YAML 1.1, which catalog-gen reads, but the integer 8"),
        ("1:20", "'1:20' is the integer 80 in YAML 1.1, which catalog-gen reads, but a text"),
        ("1_000", "'1_000' is the integer 1000 in YAML 1.1, which catalog-gen reads, but a text"),
        ("0b11", "'0b11' is the integer 3 in YAML 1.1, which catalog-gen reads, but a text"),
        ("-0x1F", "'-0x1F' is the integer -31 in YAML 1.1, which catalog-gen reads, but a text"),
        ("0o17", "'0o17' is a text in YAML 1.1, which catalog-gen reads, but the integer 15"),
        (
            "1e3",
            "'1e3' is a text in YAML 1.1, which catalog-gen reads, but the number 1000.0 in YAML "
            '1.2 (editors checking the file against its JSON schema): quote it ("1e3") for the '
            "text, or write 1000.0 for the number 1000.0",
        ),
        ("1_0.5", "'1_0.5' is the number 10.5 in YAML 1.1, which catalog-gen reads, but a text"),
    ],
)
def test_a_plain_scalar_the_yaml_versions_read_apart_is_refused_with_both_readings(
    value: str, readings: str
) -> None:
    """catalog-gen reads YAML 1.1; editors check leaves against the JSON schema with YAML 1.2:
    a value meaning two things is refused where it is, naming both (load/yaml12.py)."""
    document, report = parse(f"container:\n  replicas: {value}\n")
    assert document is None  # judged no further: a later problem could be false about it
    assert only_problem(report).startswith(
        f"leaf.yaml:2:13: error: $.container.replicas: {readings}"
    )
    assert "quote it" in only_problem(report)


def test_a_plain_equals_sign_or_merge_marker_value_is_refused_and_quoted_is_text() -> None:
    """PyYAML and ruamel.yaml (check-jsonschema) resolve a plain `=` or `<<` value to YAML 1.1's
    "value" or "merge" tag (ruamel cannot build it), YAML 1.2 to the text: read apart, so
    refused; quoted, it is text to all. A `<<` key stays
    refused, and so do the tags written out."""
    document, report = parse("description: =\nlist: [=, '=', <<]\nother: <<\n")
    assert document is None
    assert [(problem.line, problem.column) for problem in report.problems] == [
        (1, 14),
        (2, 8),
        (2, 16),
        (3, 8),
    ]
    assert "quote it" in report.problems[0].message
    _, report = parse("a: !!value x\nb: !!merge y\n")
    assert [problem.message[:30] for problem in report.problems] == [
        "YAML tag 'tag:yaml.org,2002:va",
        "YAML tag 'tag:yaml.org,2002:me",
    ]


def test_duplicate_key_points_at_the_second_and_names_the_first() -> None:
    _, report = parse("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert only_problem(report) == (
        "leaf.yaml:4:3: error: $.b.c: duplicate key 'c' (first defined on line 3); "
        "YAML keeps only the last of them, so say it once"
    )


def test_billion_laughs_is_refused_without_expanding() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
    _, report = parse(bomb)
    # None expanded (9 levels of 9 would be 9**9 items); the first 20 reported where they stand,
    # the 20th counting the other 61.
    assert len(report.problems) == 20
    first = report.problems[0].format()
    assert first.startswith("leaf.yaml:2:8: error: $.b[0]: YAML anchors and aliases")
    assert report.problems[-1].format().startswith("leaf.yaml:4:")
    assert report.problems[-1].message.endswith("(and 61 more aliases in this file)")


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {k: 1}\nb: *x\n",
        "a: [&x 1, *x]\n",
        "a: !!str &x 1\nb: *x\n",
        "&x a: 1\nb: *x\n",  # a key's node, as a value
        "&x a: 1\n*x : 2\n",  # and as a key
    ],
)
def test_every_alias_is_refused_wherever_its_anchor_is(text: str) -> None:
    _, report = parse(text)
    assert "YAML anchors and aliases are not allowed" in only_problem(report)


def test_an_alias_without_an_anchor_is_not_yaml() -> None:
    # The walk remembers nodes only where the text holds an anchor ('&'): an alias needs one.
    _, report = parse("a: 1\nb: *a\n")
    assert "invalid YAML" in only_problem(report)


def test_unused_anchor_is_harmless() -> None:
    document, report = parse("a: &x 1\n")
    assert report.ok
    assert document is not None
    assert document.data == {"a": 1}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: !!binary aGk=\n", "leaf.yaml:1:4: error: $.a: YAML tag 'tag:yaml.org,2002:binary'"),
        ("a: !custom x\n", "leaf.yaml:1:4: error: $.a: YAML tag '!custom' is not allowed"),
        ("a: !!set {x}\n", "leaf.yaml:1:4: error: $.a: YAML tag 'tag:yaml.org,2002:set'"),
        ("? [a]\n: 1\n", "leaf.yaml:1:3: error: $: mapping keys must be strings"),
        ("- 1\n", "leaf.yaml:1:1: error: $: top level must be a mapping, not a list"),
        ("just text\n", "leaf.yaml:1:1: error: $: top level must be a mapping, not a single value"),
        ("", "leaf.yaml:1:1: error: $: file is empty"),
        ("a: 1\n---\nb: 2\n", "leaf.yaml:2:1: error: $: invalid YAML: file holds several"),
        # Left open: reported where it opens, with where the parser stopped (it gives up at the
        # end of the file or lines later, where nothing is wrong).
        (
            "a: [1\n",
            "leaf.yaml:1:4: error: $: invalid YAML: while parsing a flow sequence did not find "
            "expected ',' or ']' (it starts here; the parser stopped at the end of the file)",
        ),
        (
            "a: 1\nb: {c: 1\nd: 2\n",
            "leaf.yaml:2:4: error: $: invalid YAML: while parsing a flow mapping did not find "
            "expected ',' or '}' (it starts here; the parser stopped at line 3, column 2)",
        ),
        (
            'a: 1\nb: "abc\nc: 2\nd: 3\n',
            "leaf.yaml:2:4: error: $: invalid YAML: while scanning a quoted scalar found "
            "unexpected end of stream (it starts here; the parser stopped at the end of the file)",
        ),
        (
            "a: 1\nb\nc: 2\n",
            "leaf.yaml:2:1: error: $: invalid YAML: while scanning a simple key could not find "
            "expected ':' (it starts here; the parser stopped at line 3, column 1)",
        ),
        (
            "a: 1\n" + "k" * 1100 + ": 1\n",
            "leaf.yaml:2:1: error: $: invalid YAML: while scanning a simple key could not find "
            "expected ':' (it starts here; the parser stopped at line 2, column 1101) (a key "
            "without quotes is at most 1024 characters: quote it)",
        ),
        (b"a: \xff\n", "leaf.yaml:1:4: error: $: file is not valid UTF-8"),
        # In characters, as every other column (a byte offset said 8 here), a BOM not counted.
        (
            "a: 1\nb: \u00e9\u00e9".encode() + b"\xff\n",
            "leaf.yaml:2:6: error: $: file is not valid UTF-8",
        ),
        (
            "\ufeffb: \u00e9".encode() + b"\xff\n",
            "leaf.yaml:1:5: error: $: file is not valid UTF-8",
        ),
        # Explicit scalar tags on text that is not of that type (was an internal error).
        (
            "a:\n  b: !!int 'abc'\n",
            "leaf.yaml:2:6: error: $.a.b: 'abc' is tagged !!int but is not an integer",
        ),
        ("a: !!float x\n", "leaf.yaml:1:4: error: $.a: 'x' is tagged !!float but is not a number"),
        (
            "a: !!bool maybe\n",
            "leaf.yaml:1:4: error: $.a: 'maybe' is tagged !!bool but is not a boolean",
        ),
        # A control character: located at the character (after multi-byte text), on one line.
        (
            "a: \u00e9\u00e9\nb: x\x00y\n",
            "leaf.yaml:2:5: error: $: invalid YAML: character U+0000 is not allowed in a YAML "
            'file; write it as the escape "\\u0000" inside a double-quoted string',
        ),
        (
            "a:\n\tb: 1\n",
            "leaf.yaml:2:1: error: $: invalid YAML: while scanning for the next token found "
            "character that cannot start any token (YAML does not allow tabs for indentation: "
            "use spaces)",
        ),
    ],
)
def test_refusals_are_located(text: str | bytes, expected: str) -> None:
    document, report = parse(text)
    assert document is None
    assert only_problem(report).startswith(expected)


def test_size_limit() -> None:
    _, report = parse("a: " + "x" * MAX_FILE_BYTES + "\n")
    assert "catalog files are limited to" in only_problem(report)


def test_nesting_limit() -> None:
    text = "".join("  " * depth + f"k{depth}:\n" for depth in range(80)) + "  " * 80 + "v: 1\n"
    _, report = parse(text)
    assert "nested deeper than" in only_problem(report)


def test_utf8_bom_is_accepted() -> None:
    document, report = parse(b"\xef\xbb\xbfa: 1\n")
    assert report.ok
    assert document is not None
    assert document.data == {"a": 1}


def test_discover_finds_leaves_and_environments_and_reports_misplaced_files(
    tmp_path: Path,
) -> None:
    for relative in (
        "environments/dev.yaml",
        "dev/ml/a.yaml",
        "dev/ml/b.yml",
        "dev/c.yaml",
        "README.md",
        "models.lock.yaml",
        "dev/ml/.hidden.yaml",
        "dev/ml/notes.txt",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("a: 1\n")
    report = Report()
    files = discover(tmp_path, "cat", report)
    assert files.environments == {"dev": tmp_path / "environments/dev.yaml"}
    assert files.leaves == [tmp_path / "dev/ml/a.yaml"]
    assert [problem.path for problem in report.sorted()] == [
        "cat/dev/c.yaml",
        "cat/dev/ml/.hidden.yaml",
        "cat/dev/ml/b.yml",
    ]


def test_discover_reports_what_looks_like_a_yaml_file_but_is_not_one(tmp_path: Path) -> None:
    (tmp_path / "environments" / "qa.yaml").mkdir(parents=True)
    (tmp_path / "dev" / "ml" / "dir.yaml").mkdir(parents=True)
    (tmp_path / "dev" / "ml" / "broken.yaml").symlink_to(tmp_path / "missing.yaml")
    (tmp_path / "dev" / "ml" / "upper.YAML").write_text("a: 1\n")
    (tmp_path / "dev" / "ml" / "notes.md").write_text("# notes\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "dev" / "ml" / "linked.yaml").symlink_to(tmp_path / "elsewhere")  # once, not twice
    report = Report()
    files = discover(tmp_path, "cat", report)
    assert files.environments == {}
    assert files.leaves == []
    assert report.format_text() == (
        "cat/dev/ml/broken.yaml:1:1: error: $: is a broken symbolic link; leaves are files "
        "<environment>/<namespace>/<serviceName>.yaml\n"
        "cat/dev/ml/dir.yaml:1:1: error: $: is a directory; leaves are files "
        "<environment>/<namespace>/<serviceName>.yaml\n"
        "cat/dev/ml/linked.yaml:1:1: error: $: is a directory; leaves are files "
        "<environment>/<namespace>/<serviceName>.yaml\n"
        "cat/dev/ml/upper.YAML:1:1: error: $: catalog leaves use the .yaml extension; "
        "rename to upper.yaml\n"
        "cat/environments/qa.yaml:1:1: error: $: is a directory; environment files are files "
        "environments/<environment>.yaml\n"
    )


def test_yaml_is_read_as_pyyaml_defines_it_whatever_else_is_loaded() -> None:
    """yamllint adds `0o` octals to PyYAML's shared resolver when it is imported: catalog-gen,
    run in the same process (tests, a pre-commit hook), still reads YAML 1.1 as PyYAML does."""
    import yaml
    import yamllint.rules.quoted_strings  # noqa: F401 - imported for its side effect

    assert yaml.safe_load("a: 0o17\n") == {"a": 15}, "yamllint no longer changes PyYAML"
    document, report = parse("a: 0o17\nb: '0o17'\n")
    assert document is None
    assert only_problem(report).startswith(
        "leaf.yaml:1:4: error: $.a: '0o17' is a text in YAML 1.1, which catalog-gen reads, but "
        "the integer 15 in YAML 1.2"
    )


def test_path_resolvers_another_library_adds_to_pyyaml_change_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A path resolver added to PyYAML's shared resolver (yaml.add_path_resolver) would tag
    the nodes it names for every loader (`a: '1'` an integer): catalog-gen's loader has none
    of its own, so a quoted text stays text."""
    import yaml.resolver

    resolver = yaml.resolver.Resolver  # what PyYAML's loaders, the C ones too, resolve with
    monkeypatch.setattr(resolver, "yaml_path_resolvers", dict(resolver.yaml_path_resolvers))
    resolver.add_path_resolver("tag:yaml.org,2002:int", [(yaml.MappingNode, "a")], yaml.ScalarNode)
    loaded = yaml.load("a: '1'\n", Loader=yaml.CSafeLoader)
    assert loaded == {"a": 1}, "the path resolver took"
    document, report = parse("a: '1'\nb: x\nc: [1, 'y']\nd: {e: true, a: '2'}\n")
    assert report.problems == []
    assert document is not None
    assert document.data == {"a": "1", "b": "x", "c": [1, "y"], "d": {"e": True, "a": "2"}}


def test_a_mapping_key_the_yaml_versions_read_apart_is_refused() -> None:
    """`1e3:` is the key "1e3" to YAML 1.1 and the number 1000.0 to YAML 1.2."""
    document, report = parse("labels:\n  1e3: x\n  '0o17': y\n")
    assert document is None
    assert only_problem(report).startswith(
        "leaf.yaml:2:3: error: $.labels[\"1e3\"]: '1e3' is a text in YAML 1.1, which catalog-gen "
        "reads, "
        "but the number 1000.0 in YAML 1.2"
    )


def test_a_number_the_versions_read_as_two_numbers_offers_both() -> None:
    # An editor (YAML 1.2) shows 10 replicas; catalog-gen (YAML 1.1) reads 8.
    _, report = parse("replicas: 010\n")
    assert only_problem(report).endswith(
        ": write 8 for the integer 8 or 10 for the integer 10, or quote it for the text"
    )


def test_every_refusal_of_a_file_is_reported_in_one_run() -> None:
    document, report = parse(
        "a: 1\na: 2\nb: &x 1\nc: *x\nd: !!binary aGk=\ne: [1, *x]\nf: 1\nf: 3\n"
    )
    assert document is None  # an alias or a tag leaves no data to judge
    assert [problem.format()[:30] for problem in report.problems] == [
        "leaf.yaml:2:1: error: $.a: dup",
        "leaf.yaml:4:4: error: $.c: YAM",
        "leaf.yaml:5:4: error: $.d: YAM",
        "leaf.yaml:6:8: error: $.e[1]: ",
        "leaf.yaml:8:1: error: $.f: dup",
    ]


def test_values_read_apart_and_duplicate_keys_are_all_reported_and_judged_no_further() -> None:
    # What YAML 1.1 reads may not be what the author meant (an editor shows 10 replicas, YAML 1.1
    # reads 8; of two keys one wins): a later stage judging it could say something false.
    document, report = parse("enabled: yes\nx: 1\nx: 2\nreplicas: 010\n")
    assert document is None
    assert [(problem.line, problem.json_path) for problem in report.problems] == [
        (1, "$.enabled"),
        (3, "$.x"),
        (4, "$.replicas"),
    ]


def test_a_key_read_apart_is_reported_at_that_key() -> None:
    _, report = parse("labels:\n  name: x\n  0o17: y\n")
    assert [(problem.line, problem.column, problem.json_path) for problem in report.problems] == [
        (3, 3, '$.labels["0o17"]')
    ]


def test_a_file_of_duplicate_keys_gets_twenty_problems_and_is_read_at_once() -> None:
    # Each duplicate used to cost a walk of every mark: 10,000 of them took minutes.
    text = "tolerations:\n" + "  - 1\n" * 20_000 + "description: a\n" * 2_000
    _, report = parse(text)
    assert len(report.problems) == 20
    assert report.problems[-1].message.endswith("(and 1979 more duplicate keys in this file)")


@pytest.mark.parametrize("point", ["\u2028", "\u2029", "\u0085"])
def test_a_yaml_11_line_break_editors_do_not_show_is_refused(point: str) -> None:
    # After '#', YAML 1.1 ends the comment there: a value hidden from every reviewer is read.
    document, report = parse(f"a: 1\n# two replicas need more GPUs{point}  b: 2\nc: 'x{point}y'\n")
    assert document is None
    assert [(problem.line, problem.column) for problem in report.problems] == [(2, 30), (3, 6)]
    assert f"character U+{ord(point):04X}" in report.problems[0].message


@pytest.mark.parametrize(
    "text",
    [
        "0x_",
        "0b_",
        "-0x_",
        "+0b_",
        "0x__",
        "!!int 0x_",
        "9" * 5000,
        "1" + ":00" * 2500,
        "0b" + "1" * 20000,
    ],
)
def test_a_number_yaml_11_cannot_build_or_print_is_a_located_refusal(text: str) -> None:
    # They matched YAML 1.1's number patterns, then failed in int() or in printing the message:
    # internal errors (exit 2) in a leaf, an environment file or the lock.
    _, report = parse(f"a: 1\nx: {text}\n")
    (problem,) = report.problems
    assert (problem.line, problem.column, problem.json_path) == (2, 4, "$.x")
    assert len(problem.message) < 400


def test_the_lock_refuses_a_number_it_cannot_read_instead_of_failing() -> None:
    from catalog_gen.lock.lockfile import parse_lock

    report = Report()
    assert parse_lock(b"version: 0x_\nmodels: []\n", report, "models.lock.yaml") is None
    assert [problem.line for problem in report.problems] == [1]


def test_every_character_yaml_refuses_is_reported_in_one_pass() -> None:
    # A NEL was reported alone, then the control character only once it was gone.
    _, report = parse("a: 1\nb: x\x01y\nc: z\x85w\nd: \x02\n")
    assert [(p.line, p.column, p.message[:30]) for p in report.problems] == [
        (3, 5, "character U+0085 (NEXT LINE) e"),
        (2, 5, "invalid YAML: character U+0001"),
        (4, 4, "invalid YAML: character U+0002"),
    ]


@pytest.mark.parametrize("text", ["---\n", "---\n...\n", "--- \n# only a comment\n"])
def test_a_document_with_nothing_in_it_is_an_empty_file(text: str) -> None:
    _, report = parse(text)
    assert only_problem(report).startswith("leaf.yaml:1:1: error: $: file is empty")


def test_a_binary_file_shows_its_first_characters_and_counts_the_rest() -> None:
    _, report = parse("a: " + "\x01" * 50 + "\n")
    assert len(report.problems) == 21
    assert report.problems[-1].message == "invalid YAML: 30 more such characters"


def test_a_closer_too_many_is_reported_where_it_is_not_at_the_opener() -> None:
    # Not left open: an extra `}` in a sequence; the opener is lines above and not at fault.
    _, report = parse("a:\n  x: [\n    1,\n    {b: 1}}\n  ]\n")
    assert only_problem(report).startswith("leaf.yaml:4:11: error: $: invalid YAML:")
    assert "it starts here" not in only_problem(report)


def test_a_long_value_holding_a_colon_gets_no_long_key_hint() -> None:
    _, report = parse("description: " + "x" * 1100 + ": tail\n")
    assert only_problem(report).startswith("leaf.yaml:1:1114: error: $: invalid YAML:")
    assert "quote it" not in only_problem(report)
