"""The Python examples of the README and of the documentation pages run as written."""

import re

import pytest

from tests.conftest import REPO

# pages whose ```python blocks run, each page in one namespace (a block may use the names of the ones before it);
# add a guide here when it gets Python examples
DOC_PAGES = ["docs/guides/regularizers_augmentations.md"]


def python_blocks(page):
    return re.findall(r"```python\n(.*?)```", (REPO / page).read_text(), flags=re.S)


def run_blocks(page):
    namespace: dict = {}
    for block in python_blocks(page):
        exec(compile(block, page, "exec"), namespace)
    return namespace


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    assert len(python_blocks("README.md")) >= 2
    monkeypatch.chdir(tmp_path)  # the Trainer writes lightning_logs/ here
    namespace = run_blocks("README.md")
    assert namespace["samples"].shape == (1000, 2)
    assert namespace["gan"].generator_iterations == 300


@pytest.mark.parametrize("page", DOC_PAGES)
def test_documentation_python_blocks_run(page, tmp_path, monkeypatch):
    assert python_blocks(page), f"{page} has no ```python block; remove it from DOC_PAGES"
    monkeypatch.chdir(tmp_path)
    run_blocks(page)
