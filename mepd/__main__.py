"""`python -m mepd` runs the command line, like the `mepd` console script."""

import sys

from mepd.cli import main

sys.exit(main())
