"""Print the `docs` extra of pyproject.toml, one requirement a line (for `pip install -r`).

Read the Docs and `make docs-deps` install the documentation toolchain without the package itself
(torch is not needed to build the site); the extra in pyproject.toml stays the one list of it.
"""

from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

if __name__ == "__main__":
    print("\n".join(tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]["docs"]))
