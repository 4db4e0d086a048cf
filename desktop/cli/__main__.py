"""`python -m desktop.cli`: the same as the `picsift` command."""

from desktop.cli import main

raise SystemExit(main())
