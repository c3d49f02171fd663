"""A Griffe extension for the API reference: Keras-style ``Example:`` sections render as examples.

Griffe's Google-style parser reads ``Examples:`` (plural) as an examples section, with ``>>>`` lines shown
as code, but ``Example:`` as a free-text admonition, where those lines would be run together as prose.
"""

import re

import griffe

_SINGULAR = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Renames a docstring's ``Example:`` section to ``Examples:`` before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _SINGULAR.sub(r"\1Examples:", obj.docstring.value)
