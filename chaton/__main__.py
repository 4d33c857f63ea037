import sys

from chaton.cli import main

sys.exit(main())
