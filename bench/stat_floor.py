#!/usr/bin/env python3
"""What a render after a one-leaf edit cannot avoid, timed in one process: starting catalog-gen
(importing what `render` imports), a stat of every leaf (how the cache knows a leaf unchanged,
unread), reading the write record, and render's proof that it wrote every file of the output
tree (write/walk.py: a scandir per folder and an lstat per file, in as many processes as render
uses). A hand edit of a generated file in place changes neither its folder nor its name, so
nothing cheaper than a stat per file can see it; render must see it to leave the tree as a full
render would. bench/generator.py runs this beside its one-leaf edit to show how much of that
render is this floor (a render after a one-leaf edit can only be as constant as it is).

    .venv/bin/python bench/stat_floor.py CATALOG OUTPUT-TREE
"""

from __future__ import annotations

import gc
import os
import sys
import time
from pathlib import Path

import catalog_gen.cli  # noqa: F401  (every module a render imports: start-up is part of the floor)
from catalog_gen.cache import default_directory
from catalog_gen.write import walk, writer
from catalog_gen.write.written import WriteRecord


def main(argv: list[str]) -> int:
    gc.disable()  # as catalog-gen runs
    started = time.perf_counter()
    catalog, tree = Path(argv[0]), Path(argv[1])
    leaves = 0
    for folder, _, names in os.walk(catalog):
        for name in names:
            os.stat(os.path.join(folder, name))
            leaves += 1
    statted = time.perf_counter()
    stamps = WriteRecord(default_directory(catalog)).stamps(tree)
    read = time.perf_counter()
    owned = walk.ownership(str(tree), stamps, writer._stamp_if_ours)
    walked = time.perf_counter()
    print(
        f"{leaves} catalog files, {len(owned.stamped) + len(owned.read)} output files: "
        f"leaf stats {statted - started:.3f} s, record "
        f"{read - statted:.3f} s, ownership walk {walked - read:.3f} s",
        file=sys.stderr,
    )
    # Whatever the walk found: the floor only times it. A tree that is not render's own (no
    # record) is read whole, which is what render would do too.
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
