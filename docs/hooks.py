"""MkDocs hook (mkdocs.yml: ``hooks: [docs/hooks.py]``): fills the generated
pages. The CLI page gets ``phone``'s argparse help (docs/cli_reference.py),
the API page the signatures and docstrings of the public objects
(docs/api_reference.py), each in place of its marker line, so neither page
can drift from the code."""
import os
import sys

from mkdocs.exceptions import PluginError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import api_reference  # noqa: E402
import cli_reference  # noqa: E402

#: page (path under docs/) -> (marker line, generator)
GENERATED = {
    "cli.md": ("<!-- phone-cli-reference -->", cli_reference.cli_markdown),
    "api.md": ("<!-- phone-api-reference -->", api_reference.api_markdown),
}


def on_page_markdown(markdown, page, **kwargs):
    entry = GENERATED.get(page.file.src_uri)
    if entry is None:
        return markdown
    marker, generate = entry
    if marker not in markdown:
        raise PluginError(f"{page.file.src_uri}: the marker line {marker} is missing")
    return markdown.replace(marker, generate())
