"""``python -m tests.chaos``: the full chaos run (``make chaos``)."""

import sys

from tests.chaos.harness import main

sys.exit(main())
