"""`python -m trainer`: the trainer's command line (run by `picsift` as a separate process)."""

from trainer.cli import main

raise SystemExit(main())
