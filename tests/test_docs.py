"""The docs site and the README.

* ``mkdocs build --strict`` succeeds (a warning is an error: broken links and
  anchors, pages left out of the nav, a missing snippet);
* the generated CLI page holds every option of every ``phone`` command, the
  parser being walked here independently of docs/cli_reference.py;
* the generated API page holds ``PhoneModel.segment``'s signature and
  docstring;
* README.md stays short and every relative link and image in it resolves;
* the nav and the pages in docs/ match.

One build (about 5-10 s on 2 cores, TensorFlow's import included) serves the
page checks.
"""
import argparse
import html
import inspect
import os
import re
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
README = os.path.join(ROOT, "README.md")
README_MAX_LINES = 250


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built as `make docs` builds it (warnings are errors)."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (
        f"mkdocs build --strict failed (exit {proc.returncode}):\n"
        f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return out


def page_text(site, page):
    """The text of a built page's article, tags removed, entities unescaped."""
    path = os.path.join(site, page, "index.html")
    assert os.path.isfile(path), f"{page}: not built"
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    start, end = doc.find("<article"), doc.rfind("</article>")
    assert start >= 0 and end > start, f"{page}: no <article> in the built page"
    return html.unescape(re.sub(r"<[^>]+>", "", doc[start:end]))


def test_site_builds_strict(site):
    assert os.path.isfile(os.path.join(site, "index.html"))


# ----------------------------------------------------------------- CLI page
def _commands():
    """[(prog, parser)] of ``phone`` and each command, walked here."""
    sys.path[:0] = [p for p in (ROOT, os.path.join(ROOT, "Mask_RCNN")) if p not in sys.path]
    from phone.commands import build_parser
    root = build_parser()
    found = [(root.prog, root)]
    for action in root._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((sub.prog, sub))
    return found


def _option_strings(parser):
    return [s for a in parser._actions if a.help != argparse.SUPPRESS
            for s in a.option_strings]


def test_cli_page_has_every_option_of_every_command(site):
    text = page_text(site, "cli")
    commands = _commands()
    assert len(commands) >= 8, "phone and its seven commands expected"
    # each command's section: from its usage line to the next usage line
    starts = {prog: text.find(f"usage: {prog} ") for prog, _ in commands}
    missing_commands = [prog for prog, at in starts.items() if at < 0]
    assert not missing_commands, f"commands without their help on the CLI page: {missing_commands}"
    bounds = sorted(starts.values()) + [len(text)]
    for prog, parser in commands:
        at = starts[prog]
        section = text[at:bounds[bounds.index(at) + 1]]
        options = _option_strings(parser)
        assert options, prog
        missing = [o for o in options if not re.search(re.escape(o) + r"(?![\w-])", section)]
        assert not missing, f"{prog}: options missing from the CLI page: {missing}"


# ----------------------------------------------------------------- API page
def test_api_page_has_phone_model_segment(site):
    sys.path[:0] = [p for p in (ROOT, os.path.join(ROOT, "Mask_RCNN")) if p not in sys.path]
    from phone.model import PhoneModel      # no TensorFlow
    text = page_text(site, "api")
    at = text.find("PhoneModel.segment(")
    assert at >= 0, "no PhoneModel.segment signature on the API page"
    section = text[at:at + 3000]
    params = [p for p in inspect.signature(PhoneModel.segment).parameters if p != "self"]
    assert params
    signature_line = section.splitlines()[0]
    for name in params:
        assert re.search(rf"\b{name}\b", signature_line), \
            f"parameter {name} missing from {signature_line!r}"
    first_line = inspect.getdoc(PhoneModel.segment).splitlines()[0].strip()
    assert first_line in section, f"docstring line {first_line!r} missing"
    for title in ("mrcnn.model.MaskRCNN", "mrcnn.config.Config", "mrcnn.utils.Dataset",
                  "mrcnn.visualize", "MaskRCNN.detect(", "MaskRCNN.load_weights("):
        assert title in text, f"{title} missing from the API page"


# ------------------------------------------------------------------- README
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SRC = re.compile(r"""<(?:img|a)\s[^>]*(?:src|href)=["']([^"']+)["']""")


def test_readme_is_short():
    with open(README, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert len(lines) <= README_MAX_LINES, \
        f"README.md has {len(lines)} lines (at most {README_MAX_LINES}); move text into docs/"


def test_readme_links_and_images_resolve():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"```.*?```", "", text, flags=re.S)     # code blocks hold no links
    targets = LINK.findall(text) + HTML_SRC.findall(text)
    relative = [t for t in targets
                if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("#")]
    assert relative, "README.md links to no file of the repository"
    broken = [t for t in relative
              if not os.path.exists(os.path.join(ROOT, t.split("#")[0].split("?")[0]))]
    assert not broken, f"README.md links to missing files: {broken}"


# --------------------------------------------------------------------- nav
def _nav_pages(nav):
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from _nav_pages(value)
        elif not re.match(r"^[a-z]+://", value):
            yield value


def test_nav_and_docs_pages_match():
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as f:
        config = yaml.safe_load(f)
    nav = list(_nav_pages(config["nav"]))
    missing = [p for p in nav if not os.path.isfile(os.path.join(DOCS, p))]
    assert not missing, f"pages in the nav without a file in docs/: {missing}"
    pages = sorted(os.path.relpath(os.path.join(d, f), DOCS).replace(os.sep, "/")
                   for d, _, files in os.walk(DOCS) for f in files if f.endswith(".md"))
    left_out = [p for p in pages if p not in nav]
    assert not left_out, f"docs pages not in the nav of mkdocs.yml: {left_out}"
