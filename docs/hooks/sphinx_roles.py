"""griffe extension: the docstrings' Sphinx roles (:class:`GP`, :func:`~datgan_lightning.x.f`) become links.

The docstrings are written for Sphinx-style readers and for `help()`; mkdocstrings renders Markdown, where
a role would show as ``:class:`` followed by code. Each role becomes the name in code, linked to the
object's entry in the API reference when it has one. The name is resolved in the docstring's own scope
(a bare ``GP`` in ``regularizers/__init__.py`` is ``datgan_lightning.regularizers.GP``); the link is an
*optional* autoref, so a name without a page (a private helper, a method) stays plain code instead of
failing the strict build. User-written references in the guides stay strict.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|obj|exc):`(~?)([\w.]+)(?:\(\))?`")


def resolve(obj: griffe.Object, name: str) -> str | None:
    """The dotted path ``name`` means inside ``obj``'s scope, or None."""
    if name.startswith("datgan_lightning."):
        return name
    first, _, rest = name.partition(".")
    scope = obj
    while scope is not None:
        try:
            path = scope.resolve(first)
        except (griffe.NameResolutionError, KeyError, AttributeError):
            path = None
        if path:
            return f"{path}.{rest}" if rest else path
        scope = scope.parent
    return None


def linked(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match) -> str:
        short, name = match.group(1), match.group(2)
        shown = name.rsplit(".", 1)[-1] if short else name
        path = resolve(obj, name)
        if path is None:
            return f"`{shown}`"
        return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        def visit(obj: griffe.Object) -> None:
            if obj.docstring is not None:
                obj.docstring.value = linked(obj, obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    visit(member)

        visit(pkg)
