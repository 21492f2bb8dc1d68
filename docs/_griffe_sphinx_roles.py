"""A griffe extension for the API reference: the docstrings' reST markup, as Markdown.

The package's docstrings are written for Sphinx-style field lists (which mkdocstrings
parses with ``docstring_style: sphinx``), with cross-reference roles and ``::`` literal
blocks in the text. This turns ``:class:`~anyio_eventhubs.PublishError``` into a code span
(``PublishError``), ``:raises ~anyio_eventhubs.X:`` into ``:raises X:`` (and a bare
``:raises: text``, which the parser rejects, into ``:raises Exception: text``), and a paragraph
ending with ``::`` into one ending with ``:`` (the indented block after it is a code block
in Markdown too).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|mod|exc|data|obj|ref):`(~?)([^`]+)`")
_RAISES = re.compile(r"^(\s*:raises\s+)~?(?:[\w]+\.)*(\w+):", re.MULTILINE)
#: a ``:raises:`` field without an exception class, which the Sphinx parser rejects
_BARE_RAISES = re.compile(r"^([ \t]*):raises:[ \t]*(.*)$", re.MULTILINE)
_LITERAL_ALONE = re.compile(r"^[ \t]*::[ \t]*\n", re.MULTILINE)
_LITERAL = re.compile(r"::$", re.MULTILINE)


def _code_span(match: re.Match[str]) -> str:
    shorten, target = match.groups()
    if shorten:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def markdown(text: str) -> str:
    """*text* with Sphinx roles as code spans and ``::`` paragraphs ending in ``:``."""
    text = _ROLE.sub(_code_span, text)
    text = _RAISES.sub(r"\1\2:", text)
    text = _BARE_RAISES.sub(r"\1:raises Exception: \2", text)
    text = _LITERAL_ALONE.sub("", text)
    return _LITERAL.sub(":", text)


class SphinxRoles(griffe.Extension):
    """Rewrite every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
