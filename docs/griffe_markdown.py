"""A Griffe extension for the API reference: reads the package's reST-flavoured docstrings as Markdown.

The docstrings follow Keras' layout (Google-style sections) with a few reStructuredText habits that
Markdown would show literally; before a docstring is parsed this extension

* renames a Keras-style ``Example:`` section to ``Examples:``, which Griffe reads as an examples section
  (``>>>`` lines shown as code) instead of a free-text admonition where they would run together;
* turns a paragraph ending in ``::`` (reST's "a literal block follows") into one ending in ``:``, the
  indented block itself already being Markdown code;
* shows cross-reference roles such as ``:class:`~tfseq.rnn_cell.FusedSpec``` as code: ``FusedSpec``.
"""

import re

import griffe

_SINGULAR_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
_LITERAL_MARKER = re.compile(r"(\S)::$", re.MULTILINE)
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`~?([^`]+)`")


def markdown_docstring(text: str) -> str:
    """The docstring ``text`` with the reST habits above rewritten for Markdown."""
    text = _SINGULAR_EXAMPLE.sub(r"\1Examples:", text)
    text = _LITERAL_MARKER.sub(r"\1:", text)
    return _ROLE.sub(lambda match: f"``{match.group(1).rsplit('.', 1)[-1]}``", text)


class ReSTHabits(griffe.Extension):
    """Applies :func:`markdown_docstring` to every docstring before Griffe parses it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
