"""mkdocs hook: the reproduction report is ``benchmarks/RESULTS.md``, included at build time, not copied.

The page ``reproduction.md`` and the figures under ``results/`` are generated from the files in
``benchmarks/``, so the site always shows the report as committed. RESULTS.md names its figures either as
links (``[`results/x.png`](results/x.png)``) or as paths in code (``benchmarks/results/x.png``); each
paragraph that names a figure is followed by the figure itself. ``CHANGELOG.md`` is included the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
FIGURES = ROOT / "benchmarks" / "results"
INCLUDED_PAGES = {"reproduction.md": RESULTS, "changelog.md": ROOT / "CHANGELOG.md"}
FIGURE_NAME = re.compile(r"(?:\]\(|`benchmarks/)results/([\w.-]+\.png)[)`]")
FENCE = re.compile(r"^(```|~~~)", re.M)


def on_files(files: Files, config) -> Files:
    for uri, source in INCLUDED_PAGES.items():
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    for figure in sorted(FIGURES.glob("*.png")):
        files.append(File.generated(config, f"results/{figure.name}", abs_src_path=str(figure)))
    return files


def with_figures(markdown: str) -> str:
    """Append, after each paragraph outside code blocks, the figures it names that exist in benchmarks/results."""
    blocks, inside_code = [], False
    for block in markdown.split("\n\n"):
        starts_inside = inside_code
        inside_code ^= len(FENCE.findall(block)) % 2 == 1
        names = [] if starts_inside else list(dict.fromkeys(FIGURE_NAME.findall(block)))
        figures = [f"![{name}](results/{name})" for name in names if (FIGURES / name).is_file()]
        blocks.append("\n\n".join([block, *figures]))
    return "\n\n".join(blocks)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri == "reproduction.md":
        return with_figures(markdown)
    return markdown
