"""``python -m nvr`` runs the same CLI as the ``nvr`` console script."""

import sys

from nvr.cli import main

sys.exit(main())
