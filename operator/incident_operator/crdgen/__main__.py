"""`python -m incident_operator.crdgen [OUT_DIR]` — regenerate the CRDs (default: crds/)."""

from __future__ import annotations

import sys
from pathlib import Path

from .generate import generate


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path("crds")
    for path in generate(out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
