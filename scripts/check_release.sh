#!/usr/bin/env bash
# Release check (issue 28): build the sdist and the wheel, `twine check` them, install the wheel alone into an
# empty directory and run its console scripts and `import datgan_lightning` from outside the repository.
#
# The wheel is installed with --no-deps into DIR (no 5 GB torch download); its dependencies come from an
# existing environment's site-packages (RUN_PYTHON's, e.g. the CI venv), put on PYTHONPATH after DIR and run by
# the base interpreter, so that environment's .pth files (an editable install of this project) are not read:
# the only datgan_lightning the commands can import is the wheel's, which is checked.
#   PYTHON       has `build` and `twine` (the docs extra); default: python
#   RUN_PYTHON   has the runtime dependencies (torch, lightning, ...); default: $PYTHON
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
RUN_PYTHON=${RUN_PYTHON:-$PYTHON}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PYTHON" -m build --outdir "$work/dist" . > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
"$PYTHON" -m twine check --strict "$work"/dist/*
wheel=$(ls "$work"/dist/*.whl)
"$PYTHON" -m pip install --quiet --no-deps --no-compile --target "$work/site" "$wheel"

deps=$("$RUN_PYTHON" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
base=$("$RUN_PYTHON" -c "import sys; print(getattr(sys, '_base_executable', sys.executable))")
mkdir "$work/elsewhere" && cd "$work/elsewhere"   # no configs/, no datgan_lightning/ in the working directory
export PYTHONPATH="$work/site:$deps" PYTHONNOUSERSITE=1 OMP_NUM_THREADS=1
"$base" -s - "$work/site" "$wheel" <<'PY'
import sys
from pathlib import Path

import datgan_lightning

site, wheel = Path(sys.argv[1]), Path(sys.argv[2])
where = Path(datgan_lightning.__file__).resolve()
assert site.resolve() in where.parents, f"imported {where}, not the wheel's copy under {site}"
assert f"-{datgan_lightning.__version__}-" in wheel.name, f"{wheel.name} does not carry __version__ {datgan_lightning.__version__}"
print(f"import datgan_lightning: {where} (version {datgan_lightning.__version__})")
PY
for command in datgan datgan-compare datgan-train-classifier; do
    "$base" -s "$work/site/bin/$command" --help > "$work/help.txt" || { echo "error: $command --help failed"; cat "$work/help.txt"; exit 1; }
    echo "$command --help: $(wc -l < "$work/help.txt") lines"
done
version=$("$base" -s "$work/site/bin/datgan" --version)   # the one version, from datgan_lightning.__version__
case "$version" in *"$("$base" -s -c 'import datgan_lightning; print(datgan_lightning.__version__)')"*) echo "datgan --version: $version" ;;
    *) echo "error: datgan --version printed '$version', not the package's __version__"; exit 1 ;; esac
echo "release check passed: $(cd "$work/dist" && ls)"
