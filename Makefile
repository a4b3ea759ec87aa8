# Developer shortcuts. The documentation toolchain: `pip install -e ".[docs]"` (or `make docs-deps`).
PYTHON ?= python

.PHONY: docs docs-serve docs-deps release-check test

docs:            ## build the site into site/ with warnings as errors (broken references, missing API objects)
	$(PYTHON) -m mkdocs build --strict

docs-serve:      ## preview the site at http://127.0.0.1:8000, rebuilt on every save
	$(PYTHON) -m mkdocs serve

docs-deps:       ## only the documentation toolchain (the `docs` extra), without the package's dependencies
	$(PYTHON) scripts/docs_requirements.py | xargs $(PYTHON) -m pip install

release-check:   ## sdist + wheel, twine check, the wheel's commands run from an empty directory
	PYTHON=$(PYTHON) scripts/check_release.sh

test:            ## the README's test command
	$(PYTHON) -m pytest
