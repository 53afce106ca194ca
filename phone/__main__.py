"""``python -m phone ...``: the phone command line (see phone.cli)."""
import sys

from phone.cli import main

if __name__ == "__main__":
    sys.exit(main())
