"""`python -m pipeline …` runs the command-line interface."""

import sys

from pipeline.jobs.cli import main

sys.exit(main())
