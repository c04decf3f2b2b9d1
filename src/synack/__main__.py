"""`python -m synack` runs the command line."""

from synack.cli import main

raise SystemExit(main())
