"""``python -m phone ...``: the phone command line (see phone.commands)."""
import sys

from phone.commands import main

if __name__ == "__main__":
    sys.exit(main())
