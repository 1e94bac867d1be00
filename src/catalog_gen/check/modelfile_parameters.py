"""A derived model's PARAMETER values, read as `ollama create` reads them.

Ollama parses each PARAMETER value by the type of its field in api.Options (api/types.go at
v0.32.0, FormatParams): strconv.ParseInt(text, 10, 64) for an int, ParseFloat(text, 32) for a
float32, ParseBool for a bool, any text for `stop`. A value it cannot parse fails `ollama create`
in the init container ("invalid float value [hot]"), after Argo CD has synced; catalog-gen refuses
it at the leaf instead. The text is the one the Modelfile carries (plan/merge.py modelfile: a
string as written, true/false, a number as quantity_text writes it).
"""

from __future__ import annotations

import math
import re

from catalog_gen.sizing import quantity_text

INT, FLOAT, BOOL, TEXT = "int", "float", "bool", "text"
# api/types.go v0.32.0: Runner (loaded with the model) and Options (per request).
PARAMETER_KINDS: dict[str, str] = {
    "draft_num_predict": INT,
    "frequency_penalty": FLOAT,
    "main_gpu": INT,
    "min_p": FLOAT,
    "num_batch": INT,
    "num_ctx": INT,
    "num_gpu": INT,
    "num_keep": INT,
    "num_predict": INT,
    "num_thread": INT,
    "presence_penalty": FLOAT,
    "repeat_last_n": INT,
    "repeat_penalty": FLOAT,
    "seed": INT,
    "stop": TEXT,
    "temperature": FLOAT,
    "top_k": INT,
    "top_p": FLOAT,
    "typical_p": FLOAT,
    "use_mmap": BOOL,
}
REPEATABLE = frozenset({"stop"})  # Options.Stop is a []string: one PARAMETER line per value

_INT = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_HEX = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")
_SPECIAL = re.compile(r"[+-]?(inf|infinity)|nan", re.IGNORECASE)
_BOOLS = frozenset(
    {"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"}
)
# Above this a float32 rounds to infinity (the largest float32 plus half its last unit): ErrRange.
_FLOAT32_OVERFLOW = 3.4028235677973366e38
_WANTED = {INT: "a whole number", FLOAT: "a number", BOOL: "true or false"}


def parameter_text(value: object) -> str:
    """A PARAMETER value as Ollama reads it (the Modelfile quotes a string: plan/merge.py)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return quantity_text(value) if isinstance(value, int | float) else str(value)


def parameter_refusal(name: str, text: str) -> str | None:
    """Why `ollama create` refuses text as the value of the known parameter name; None when it
    parses it."""
    kind = PARAMETER_KINDS[name]
    if kind == TEXT or _parses(kind, text):
        return None
    return (
        f"parameter {name!r} must be {_WANTED[kind]}: `ollama create` refuses {text!r} "
        f"(invalid {kind} value)"
    )


def _parses(kind: str, text: str) -> bool:
    if kind == BOOL:
        return text in _BOOLS
    if kind == INT:
        digits = text.lstrip("+-").lstrip("0")
        return _INT.fullmatch(text) is not None and (
            len(digits) < 19 or -(2**63) <= int(text) < 2**63
        )
    if _SPECIAL.fullmatch(text):
        return True
    if "_" in text:
        if not _underscores_ok(text):
            return False
        text = text.replace("_", "")
    if _DECIMAL.fullmatch(text):
        value = float(text)
    elif _HEX.fullmatch(text):
        value = float.fromhex(text)
    else:
        return False
    return math.isfinite(value) and abs(value) < _FLOAT32_OVERFLOW


def _underscores_ok(text: str) -> bool:
    """strconv's underscoreOK: each '_' between two digits (or after a base prefix), as in a Go
    literal; ParseFloat then reads the number without them."""
    body = text[1:] if text[:1] in "+-" else text
    hexadecimal = body[:2].lower() == "0x"
    last = "0" if hexadecimal else "^"  # a base prefix counts as a digit
    for char in body[2:] if hexadecimal else body:
        if char.isascii() and (char.isdigit() or (hexadecimal and char.lower() in "abcdef")):
            last = "0"
        elif char == "_":
            if last != "0":
                return False
            last = "_"
        elif last == "_":
            return False
        else:
            last = "!"
    return last != "_"
