"""The ``oda`` executable: a query the embedded store's adjacency index answers alone is answered before the full
command line (typer, rich and every command package) loads; anything else goes to ``oda.cli``."""

from __future__ import annotations

import sys


def main() -> None:
    from graph_store.quick_query import answer

    code = answer(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from oda.cli import main as full_command_line

    full_command_line()


if __name__ == "__main__":
    main()
