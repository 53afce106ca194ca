"""The ``phone`` command-line reference, generated from its argparse parser.

``docs/hooks.py`` puts :func:`cli_markdown` into the CLI page of the docs
site at build time, so the page always says what ``phone CMD --help`` says;
``tests/test_docs.py`` imports this module too. Cheap: ``phone.commands``
does not import TensorFlow.
"""
import argparse
import functools
import os
import sys

#: the repository root (this file is ROOT/docs/cli_reference.py)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: help text width, fixed so that the page does not depend on the terminal
WIDTH = 100


def ensure_import_path():
    """Make this checkout's ``phone`` and ``mrcnn`` importable (the docs
    describe the code beside them, installed or not)."""
    for path in (os.path.join(ROOT, "Mask_RCNN"), ROOT):
        if path not in sys.path:
            sys.path.insert(0, path)


def build_parser():
    """``phone.commands.build_parser()``."""
    ensure_import_path()
    from phone.commands import build_parser as build
    return build()


def subcommands(parser):
    """(name, parser) of each sub-command of ``parser``, in ``--help`` order
    (aliases listed once)."""
    seen = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield name, sub


def _fixed_width(parser):
    """Format ``parser``'s help at WIDTH columns, whatever $COLUMNS says."""
    if not isinstance(parser.formatter_class, functools.partial):
        parser.formatter_class = functools.partial(parser.formatter_class, width=WIDTH)
    if hasattr(parser, "color"):        # Python 3.14: no ANSI colours in the page
        parser.color = False
    return parser


def _portable(text):
    """Replace this machine's paths in defaults (``--logs`` defaults to the
    checkout's logs/ folder) with placeholders."""
    text = text.replace(ROOT, "<repo>")
    home = os.path.expanduser("~")
    if home and home != "/":
        text = text.replace(home, "~")
    return text


def _fence(text, lang="text"):
    """``text`` in a fenced code block whose fence no line of it can close."""
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}\n"


def command_helps(parser=None):
    """[(title, help text)]: ``phone`` first, then every command (and
    sub-command of a command, if any) in ``--help`` order."""
    parser = build_parser() if parser is None else parser
    out = []

    def walk(p, title):
        out.append((title, _portable(_fixed_width(p).format_help())))
        for name, sub in subcommands(p):
            walk(sub, f"{title} {name}")

    walk(parser, parser.prog)
    return out


def cli_markdown(parser=None, level=3):
    """The reference as Markdown: one heading and one code block per
    command."""
    hashes = "#" * level
    parts = []
    for title, text in command_helps(parser):
        parts.append(f"{hashes} {title}\n\n{_fence(text)}")
    return "\n".join(parts)


if __name__ == "__main__":
    print(cli_markdown())
