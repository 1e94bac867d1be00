"""Strings that YAML readers disagree about, for the quoting tests (chart and generator)."""

from __future__ import annotations

from hypothesis import strategies as st

# YAML 1.1 (helm, Argo CD, kubectl) or 1.2 (Backstage) read each of these plain as a non-string,
# or as structure.
HOSTILE = (
    "y",
    "Y",
    "n",
    "N",
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "False",
    "null",
    "~",
    "",
    " ",
    "1e3",
    "1E3",
    "0x1f",
    "0o7",
    "0777",
    "1_000",
    "12:30",
    "12:30:00",
    "2001-12-14",
    ".inf",
    "-.Inf",
    ".NaN",
    "+1",
    "1.",
    ".5",
    "#",
    "# x",
    "a #b",
    ": ",
    "a: b",
    "- a",
    "[a]",
    "{a: b}",
    "*a",
    "&a",
    "!a",
    "!!str",
    "%a",
    "@a",
    "`a",
    "|",
    ">",
    "'",
    '"',
    "'a'",
    '"a"',
    "\\",
    "=",
    "<<",
    "?",
    "? a",
    ",",
    "a\nb",
    "a\n",
    "\n",
    "a\tb",
    " a",
    "a ",
    "---",
    "...",
    "\u00e9",
)
# Those a Kubernetes label value accepts (letters, digits, '-', '_', '.').
LABEL_HOSTILE = tuple(
    text
    for text in HOSTILE
    if text
    and text[0].isalnum()
    and text[-1].isalnum()
    and all(c.isascii() and (c.isalnum() or c in "-_.") for c in text)
)

_printable = st.characters(
    blacklist_categories=("Cs", "Cc", "Co", "Cn", "Zl", "Zp"), blacklist_characters="\ufeff"
)
hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE), min_size=2, max_size=4).map("".join),
    st.text(alphabet=st.one_of(_printable, st.sampled_from("\n\t")), max_size=12),
)
one_line_text = hostile_text.map(lambda text: text.replace("\n", " ").replace("\t", " "))
