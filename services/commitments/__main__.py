"""`python -m services.commitments <command>`: the command line is in cli.py, the relay and the scanner it
starts in workers/."""

import sys

from services.commitments.cli import main

if __name__ == "__main__":
    sys.exit(main())
