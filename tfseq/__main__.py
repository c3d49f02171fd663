import sys

from tfseq.cli.main import main

sys.exit(main())
