"""``python -m cyclr``: the command-line interface."""

from cyclr.cli import main

raise SystemExit(main())
