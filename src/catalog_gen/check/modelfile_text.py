"""The characters of a derived model's Modelfile text that Ollama's Modelfile parser drops.

Ollama's parser (parser/parser.go at v0.32.0, ParseFile) keeps a character only where
strconv.IsPrint holds (Unicode letters, marks, numbers, punctuation, symbols and the ASCII space),
plus the newlines, carriage returns and tabs inside a value; it drops any other silently (a C0 or
C1 control, a no-break or ideographic space, a line separator, a zero-width joiner, a byte order
mark, a private-use or unassigned code point), so the model would not get the text written.

The chart owns the rule on the Modelfile it is given (derivedModels[].modelfile): the C0 controls
and DEL in values.schema.json (SCHEMA_CONTROL_PATTERN), every other such character in
templates/_validate.tpl (CHART_DROPPED_CLASS, a Go regexp). Either would reach a leaf at the
derived model as a whole, the Modelfile being the text catalog-gen writes from its fields
(plan/merge.py modelfile). So catalog-gen judges each leaf field that goes into the Modelfile
(system, template, license, messages[].content, each PARAMETER value) with the same characters
first (check/rules.py), and reports at the field; a leaf it accepts never meets those chart rules.
tests/chart/test_modelfile_characters.py holds the two texts below equal to the chart's and
`dropped` equal to the chart's Go regexps, through helm, on every code point but one kind:
Python's Unicode database may be older than Go's, and a code point it does not know (category
Cn: unassigned to it, perhaps assigned since) is left to the chart, whose Go tables decide
(refused there, at the derived model, when Go does not know it either), rather than refused
here with a reason that may be false.
"""

from __future__ import annotations

import unicodedata

# templates/_validate.tpl: the characters the template rule finds in derivedModels[].modelfile
# (the C0 controls and DEL excluded: they are the schema's).
CHART_DROPPED_CLASS = r"[^\p{L}\p{M}\p{N}\p{P}\p{S} \t\n\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
# values.schema.json derivedModels[].modelfile: no C0 control but tab, newline and carriage
# return, and no DEL.
SCHEMA_CONTROL_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

_KEPT_CATEGORIES = frozenset("LMNPS")  # strconv.IsPrint: the first letter of a general category
_KEPT_SPACES = frozenset(" \t\n\r")
_GO_ESCAPES = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\v": r"\v"}


def dropped(text: str) -> list[str]:
    """The characters of text that Ollama's Modelfile parser drops, each once, in order."""
    if text.isascii() and text.isprintable():
        return []  # printable ASCII: the common case, decided without the Unicode database
    found: dict[str, None] = {}
    for char in text:
        category = unicodedata.category(char)
        if char not in _KEPT_SPACES and category[0] not in _KEPT_CATEGORIES and category != "Cn":
            found[char] = None
    return list(found)


def go_quoted(char: str) -> str:
    """A dropped character as the chart's message shows it (Go's %q): "\\u00a0", "\\x01"."""
    code = ord(char)
    if char in _GO_ESCAPES:
        return f'"{_GO_ESCAPES[char]}"'
    if code < 0x20 or code == 0x7F:
        return f'"\\x{code:02x}"'
    if code < 0x10000:
        return f'"\\u{code:04x}"'
    return f'"\\U{code:08x}"'


def dropped_refusal(what: str, text: str) -> str | None:
    """Why the Modelfile text of `what` (a leaf field) would not reach the model as written;
    None when Ollama's parser keeps all of it."""
    found = dropped(text)
    if not found:
        return None
    shown = ", ".join(go_quoted(char) for char in found)
    return (
        f"{what} holds {shown}, which Ollama's Modelfile parser drops silently (it keeps "
        "printable characters, newlines and tabs only), so the model would not get the text "
        "written: use a plain space, or remove it"
    )
