"""`python -m incident_operator.app` == `incident-operator`."""

import sys

from .operator_main import main

sys.exit(main())
