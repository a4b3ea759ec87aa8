"""mkdocs hook: the build fails when a public object is missing from the API reference.

Public objects are read statically with griffe (as mkdocstrings reads them, no torch import):

* every name in the ``__all__`` of a package or module of ``datgan_lightning``;
* every public name defined in the modules of ``PUBLIC_MODULES`` (modules without an ``__all__``
  whose contents are API).

Each must be an anchor on some rendered page, which is what a ``::: datgan_lightning.pkg`` block of
mkdocstrings produces: under the exported path (``id="datgan_lightning.nets.MLPGenerator"``) or under
the path it is defined at (``datgan_lightning.nets.mlp.MLPGenerator``), so an object exported by two
packages is documented once. Broken cross-references are failed by
mkdocs-autorefs itself under ``strict: true``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import griffe
from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "datgan_lightning"
# modules without __all__ whose public names are API; the others without __all__ (cli, compare,
# train_classifier: commands, documented in the guides; checks, errors, utils, plots: internals) are not
PUBLIC_MODULES = ("losses", "objective", "checkpoint_io", "distributed", "evaluation", "nets.heads")
# added on another branch at the same time as this site; until it is merged its page says so instead
NOT_YET_MERGED = {"api/objective.md": "objective"}

log = logging.getLogger("mkdocs.hooks.api_coverage")
ANCHOR = re.compile(r'id="(datgan_lightning(?:\.\w+)+)"')
rendered_anchors: set[str] = set()


def load_package() -> griffe.Module:
    return griffe.load(PACKAGE, search_paths=[str(ROOT)], resolve_aliases=False)


def public_objects(package: griffe.Module) -> dict[str, set[str]]:
    """The objects the reference must show (see the module docstring): ``{exported path: {the paths
    under which its entry counts}}``."""
    expected: dict[str, set[str]] = {}

    def visit(module: griffe.Module) -> None:
        for name in module.exports or ():
            expected[f"{module.path}.{name}"] = {f"{module.path}.{name}", *import_chain(package, module.members.get(name))}
        for sub in module.modules.values():
            if not sub.is_alias and not sub.name.startswith("_"):
                visit(sub)

    visit(package)
    for dotted in PUBLIC_MODULES:
        try:
            module = package[dotted]
        except KeyError:
            continue
        if module.exports is None:
            expected.update((m.path, {m.path}) for m in module.members.values() if is_defined_here(m, module))
    return expected


def import_chain(package: griffe.Module, member) -> list[str]:
    """The paths an exported alias is imported through, down to where it is defined."""
    paths = []
    while member is not None and member.is_alias and len(paths) < 10:
        paths.append(member.target_path)
        try:
            member = package[member.target_path.removeprefix(f"{PACKAGE}.")]
        except KeyError:
            break
    return paths


def is_defined_here(member, module) -> bool:
    return not member.is_alias and not member.name.startswith("_") and member.parent is module and not member.is_module


def on_config(config):
    rendered_anchors.clear()
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:
    module = NOT_YET_MERGED.get(page.file.src_uri)
    if module is not None and not any((ROOT / PACKAGE / module).with_suffix(suffix).exists() for suffix in (".py", "")):
        log.info("%s: %s.%s is not in this checkout; its page says so", page.file.src_uri, PACKAGE, module)
        return f"# {PACKAGE}.{module}\n\n!!! note\n    `{PACKAGE}.{module}` is not in this checkout yet.\n"
    return markdown


def on_page_content(html: str, page, config, files) -> str:
    rendered_anchors.update(ANCHOR.findall(html))
    return html


def on_post_build(config) -> None:
    missing = sorted(name for name, anchors in public_objects(load_package()).items() if not anchors & rendered_anchors)
    if missing:
        raise PluginError(
            f"the API reference misses {len(missing)} public object(s): {', '.join(missing)}; "
            "add a `::: <module>` block (or the name to its `members:`) on a page under docs/api/."
        )
