"""The ``oda`` executable: a query the embedded store's adjacency index answers alone is answered before the full
command line (typer, rich and every command package) loads; anything else goes to ``oda.cli``."""

from __future__ import annotations

import os
import sys


def main() -> None:
    from graph_store.quick_query import answer

    try:
        code = answer(sys.argv[1:])
    except BrokenPipeError:
        # the reader stopped early (``oda query … --json | head``): end quietly, as a pipeline expects
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    if code is not None:
        sys.exit(code)
    from oda.cli import main as full_command_line

    full_command_line()


if __name__ == "__main__":
    main()
