"""The ``phone`` console script (``phone = phone.cli:main``).

The parser and the commands live in :mod:`phone.commands`; this module keeps
the entry point's old name.
"""
import sys

from phone.commands import build_parser, main

__all__ = ["main", "build_parser"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
