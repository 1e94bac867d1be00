"""The command's entry point: `python -m catalog_gen` runs main, and so does the `catalog-gen`
console script (pyproject.toml [project.scripts]).

The command line is imported here, inside main, not by the caller: importing it takes most of a
short command's time (about 0.2 s), and a Ctrl-C then must end as one during the command does
(cli.main: a line and exit 130), not in a traceback. Nothing else is imported (os and sys are
loaded when Python starts; the package's __init__ holds the two constants): the fast start.
"""

import os
import sys

from catalog_gen import EXIT_INTERRUPTED, INTERRUPTED


def main() -> None:
    """Import the command line and run the command; a Ctrl-C that cli.main does not see (during
    the imports, the parsing of the arguments, or the exit) ends with cli's line and 130."""
    try:
        from catalog_gen.cli import main_entry  # noqa: PLC0415 - where a Ctrl-C is caught

        main_entry()
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # a closed pipe: nothing more can be said
            pass
        # os._exit, as main_entry ends: a Ctrl-C raised in code run by exec (a dataclass being
        # made) counts for CPython as unhandled, and `python -m` would then end by SIGINT.
        os._exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
