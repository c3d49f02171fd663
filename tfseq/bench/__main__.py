"""``python -m tfseq.bench [options]``: the ``tfseq bench`` command (same parser and options)."""

import sys

from tfseq.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
