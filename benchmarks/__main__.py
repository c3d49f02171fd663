"""``python -m benchmarks [options]``: run from the repository root (``--help`` lists the workloads)."""

import sys

from benchmarks.command import main

if __name__ == "__main__":
    sys.exit(main())
