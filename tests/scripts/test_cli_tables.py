"""lib.sh reads `ollama list` and `ollama ps` the way the real CLI prints them, and stays right
when an Ollama (or another double) prints more columns, spaces inside later cells, or names in
another of their equivalent spellings.

The tables below are laid out as ollama/ollama cmd/cmd.go ListHandler and ListRunningHandler
print them: tablewriter without borders, left-aligned cells, `SetTablePadding("    ")`, names in
DisplayShortest form, ID = the first 12 hex of the manifest digest, UNTIL from format.HumanTime
("Forever", "4 minutes from now") or "Stopping..." once the expiry has passed. They are fed to
the shipped lib.sh through a stand-in `ollama` that prints them, so no server is involved.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.scripts.conftest import FILES


def tablewriter(header: list[str], rows: list[list[str]]) -> str:
    """tablewriter with SetBorder(false), SetNoWhiteSpace(true), SetTablePadding("    ")."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "".join(
        "".join(cell.ljust(widths[i]) + "    " for i, cell in enumerate(row)) + "\n"
        for row in [header, *rows]
    )


LIST = tablewriter(
    ["NAME", "ID", "SIZE", "MODIFIED"],
    [
        ["llama3.2:3b", "a80c4f17acd5", "2.0 GB", "2 days ago"],
        ["team/phi:q4", "0123456789ab", "1.6 GB", "3 weeks ago"],
        ["registry.internal:5000/library/phi:q8", "fedcba987654", "2.9 GB", "About an hour ago"],
    ],
)
PS = tablewriter(
    ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"],
    [
        ["llama3.2:3b", "a80c4f17acd5", "3.1 GB", "100% GPU", "4096", "Forever"],
        ["team/phi:q4", "0123456789ab", "2.0 GB", "48%/52% CPU/GPU", "8192", "4 minutes from now"],
        ["nomic-embed-text:latest", "0a109f422b47", "849 MB", "100% CPU", "2048", "Stopping..."],
    ],
)
# What a server with an extra column, upper-case names and full names would print.
PS_VARIANT = (
    "NAME                                    ID              TYPE      SIZE    UNTIL\n"
    "registry.ollama.ai/library/Llama3.2:3b  a80c4f17acd5    chat      3 GB    Forever\n"
    "registry.ollama.ai/team/phi:q4          0123456789ab    chat      2 GB    Stopping...\n"
)


def lib(
    tmp_path: Path,
    function: str,
    *args: str,
    stdin: str = "",
    listed: str = "",
    result_variable: str = "",
) -> str:
    """Runs one lib.sh function under sh with an `ollama` that prints `listed` for `list`;
    prints its output, or the variable it sets its result in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "list.txt").write_text(listed)
    fake = bin_dir / "ollama"
    fake.write_text(f'#!/bin/sh\n[ "$1" = list ] && exec cat {tmp_path / "list.txt"}\nexit 1\n')
    fake.chmod(0o755)
    show = f' && printf "%s\\n" "${result_variable}"' if result_variable else ""
    result = subprocess.run(
        ["sh", "-c", f'. "{FILES / "lib.sh"}" && {function} "$@"{show}', "sh", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "OLLAMA_MODELS": str(tmp_path / "models"),
            "OIL_CLI_TIMEOUT_SECONDS": "5",
            "LANG": "C.UTF-8",
        },
        timeout=20,
        check=True,
    )
    return result.stdout


LLAMA = ("llama3.2:3b", "a80c4f17acd5", "registry.ollama.ai/library/llama3.2/3b")


@pytest.mark.parametrize(
    ("wanted", "row"),
    [
        ("llama3.2:3b", LLAMA),
        # Every spelling Ollama resolves to the same model finds it.
        ("LLAMA3.2:3B", LLAMA),
        ("registry.ollama.ai/library/llama3.2:3b", LLAMA),
        ("team/phi:q4", ("team/phi:q4", "0123456789ab", "registry.ollama.ai/team/phi/q4")),
        (
            "registry.internal:5000/library/phi:q8",
            (
                "registry.internal:5000/library/phi:q8",
                "fedcba987654",
                "registry.internal:5000/library/phi/q8",
            ),
        ),
        ("phi", None),
        ("team/phi", None),
        ("llama3.2", None),
    ],
)
def test_list_rows_are_found_by_name_key(
    tmp_path: Path, wanted: str, row: tuple[str, str, str] | None
) -> None:
    found = lib(tmp_path, "oil_list_find", wanted, stdin=LIST)
    if row is None:
        assert found == ""
    else:
        listed, model_id, parts = row
        assert found == f"{listed}\t{model_id}\t{tmp_path}/models/manifests/{parts}\n"


def test_list_without_a_header_is_read_as_name_then_id(tmp_path: Path) -> None:
    found = lib(tmp_path, "oil_list_find", "phi", stdin="phi:latest  abcdef012345  1 GB\n")
    assert found.split("\t")[:2] == ["phi:latest", "abcdef012345"]


def test_list_columns_are_found_by_their_header(tmp_path: Path) -> None:
    table = "TYPE    NAME          ID\nchat    phi:latest    ABCDEF012345\n"
    found = lib(tmp_path, "oil_list_find", "phi", stdin=table)
    # IDs are compared as lower-case hex.
    assert found.split("\t")[:2] == ["phi:latest", "abcdef012345"]


def test_ps_states_loaded_forever_soon_and_stopping(tmp_path: Path) -> None:
    assert lib(tmp_path, "oil_ps_states", stdin=PS).splitlines() == [
        "llama3.2:3b\tloaded",
        "team/phi:q4\tloaded",
        "nomic-embed-text:latest\tstopping",
    ]


def test_ps_states_with_extra_columns_and_full_names(tmp_path: Path) -> None:
    assert lib(tmp_path, "oil_ps_states", stdin=PS_VARIANT).splitlines() == [
        "llama3.2:3b\tloaded",
        "team/phi:q4\tstopping",
    ]


def test_ps_with_nothing_loaded(tmp_path: Path) -> None:
    header_only = "NAME    ID    SIZE    PROCESSOR    CONTEXT    UNTIL    \n"
    assert lib(tmp_path, "oil_ps_states", stdin=header_only) == ""
    assert lib(tmp_path, "oil_ps_states", stdin="") == ""


def _store_manifest(tmp_path: Path, parts: str, content: bytes) -> str:
    path = tmp_path / "models" / "manifests" / parts
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return hashlib.sha256(content).hexdigest()


def test_local_digest_is_the_whole_manifest_hash_found_by_the_listed_spelling(
    tmp_path: Path,
) -> None:
    digest = _store_manifest(tmp_path, "registry.ollama.ai/team/Phi/q4", b'{"schemaVersion":2}\n')
    listed = f"NAME           ID              SIZE\nteam/Phi:q4    {digest[:12]}    2 GB\n"
    planned = str(tmp_path / "models/manifests/registry.ollama.ai/team/phi/q4")
    # Configured as team/phi:q4; the server keeps its own spelling of the model part.
    assert lib(tmp_path, "oil_local_digest", "team/phi:q4", planned, listed=listed) == (
        f"full {digest}\n"
    )


def test_local_digest_of_an_absent_model_is_empty(tmp_path: Path) -> None:
    assert lib(tmp_path, "oil_local_digest", "phi", "/nowhere", listed=LIST) == ""


def test_local_digest_never_trusts_a_file_the_server_does_not_list(tmp_path: Path) -> None:
    _store_manifest(tmp_path, "registry.ollama.ai/team/phi/q4", b"a stale copy\n")
    planned = str(tmp_path / "models/manifests/registry.ollama.ai/team/phi/q4")
    # LIST says team/phi:q4 has ID 0123456789ab; the file hashes to something else.
    assert lib(tmp_path, "oil_local_digest", "team/phi:q4", planned, listed=LIST) == (
        "id 0123456789ab\n"
    )


def test_local_digest_takes_a_full_id_as_is(tmp_path: Path) -> None:
    full = "ab" * 32
    listed = f"NAME          ID    SIZE\nphi:latest    {full}    1 GB\n"
    assert lib(tmp_path, "oil_local_digest", "phi", "/nowhere", listed=listed) == f"full {full}\n"


@pytest.mark.parametrize(
    ("have", "expected", "verdict"),
    [
        ("full " + "a" * 64, "a" * 64, "match"),
        ("full " + "a" * 64, "a" * 63 + "b", "mismatch"),
        # Twelve matching hex digits are not a verified pin.
        ("id " + "a" * 12, "a" * 64, "unverifiable"),
        ("id " + "b" * 12, "a" * 64, "mismatch"),
        ("id unknown", "a" * 64, "unverifiable"),
    ],
)
def test_digest_verdict(tmp_path: Path, have: str, expected: str, verdict: str) -> None:
    found = lib(tmp_path, "oil_digest_verdict", have, expected, result_variable="OIL_VERDICT")
    assert found == verdict + "\n"


@pytest.mark.parametrize("text", ["é" * 400, "a" * 700, "Error: " + "漢" * 300])
def test_a_long_cli_error_is_cut_whole_characters_to_600_bytes(tmp_path: Path, text: str) -> None:
    (tmp_path / "err.txt").write_text(f"progress\nError: {text}\n", encoding="utf-8")
    shown = lib(
        tmp_path, "oil_cli_error", str(tmp_path / "err.txt"), result_variable="OIL_CLI_ERROR"
    )
    raw = shown.rstrip("\n").encode("utf-8")  # the output decoded as UTF-8: whole characters
    assert len(raw) <= 600
    assert shown.startswith("Error: ")
    assert shown.rstrip("\n").endswith("...")
