"""The documentation site's checks can fail: a broken cross-reference or a public object missing from the
API reference stops `mkdocs build --strict`, and the reproduction report shows the figures RESULTS.md names.

Needs the docs extra (`pip install -e ".[docs]"`); `.ci/run` installs it after the main test run.
"""

import importlib.util
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytest.importorskip("mkdocs", reason="the documentation toolchain is the docs extra: pip install -e '.[docs]'")
pytest.importorskip("griffe", reason="the documentation toolchain is the docs extra: pip install -e '.[docs]'")


def load_hook(name):
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", REPO / "docs" / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_public_objects_are_the_exports_and_the_api_modules():
    coverage = load_hook("api_coverage")
    expected = coverage.public_objects(coverage.load_package())
    assert expected["datgan_lightning.nets.MLPGenerator"] == {  # documented once, in its subpackage, counts
        "datgan_lightning.nets.MLPGenerator", "datgan_lightning.nets.mlp.MLPGenerator", "datgan_lightning.nets.mlp.mlp_2d.MLPGenerator"}
    assert {"datgan_lightning.adversarial.DAT", "datgan_lightning.nets.sngan.SNGANGenerator32",
            "datgan_lightning.losses.get_loss", "datgan_lightning.adversarial.POSITIONS"} <= expected.keys()
    assert "datgan_lightning.checks.require" not in expected  # internal: no __all__, not an API module
    assert not any(name.rsplit(".", 1)[1].startswith("_") for name in expected)


def test_reproduction_page_shows_the_figures_it_names():
    reproduction = load_hook("reproduction")
    markdown = "\n\n".join([
        "Plot: [`results/ablation_fig4.png`](results/ablation_fig4.png), again `benchmarks/results/ablation_fig4.png`.",
        "```markdown\n\n[`results/ablation_fig4.png`](results/ablation_fig4.png)\n\n```",
        "Missing: [`results/none.png`](results/none.png).",
    ])
    rendered = reproduction.with_figures(markdown)
    paragraphs = rendered.split("\n\n")
    assert paragraphs[1] == "![ablation_fig4.png](results/ablation_fig4.png)"  # once, after its paragraph
    assert paragraphs.count("![ablation_fig4.png](results/ablation_fig4.png)") == 1  # not inside the code block
    assert "![none.png]" not in rendered  # a name without a file in benchmarks/results is left a link


def site_copy(tmp_path):
    """What the build reads, copied, so a test can break one page."""
    for path in ["mkdocs.yml", "CHANGELOG.md", "benchmarks/RESULTS.md", "benchmarks/results", "docs", "datgan_lightning"]:
        source, target = REPO / path, tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    return tmp_path


def strict_build(root):
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(root / "site")],
                          cwd=root, capture_output=True, text=True, timeout=300)


def test_broken_cross_reference_fails_the_build(tmp_path):
    root = site_copy(tmp_path)
    with open(root / "docs" / "getting_started.md", "a") as page:
        page.write("\nSee [the strategy][datgan_lightning.adversarial.NoSuchStrategy].\n")
    result = strict_build(root)
    assert result.returncode != 0
    assert "datgan_lightning.adversarial.NoSuchStrategy" in result.stderr


def test_public_object_missing_from_the_reference_fails_the_build(tmp_path):
    root = site_copy(tmp_path)
    (root / "docs" / "api" / "losses.md").write_text("# datgan_lightning.losses\n\nNot documented.\n")
    result = strict_build(root)
    assert result.returncode != 0
    assert "datgan_lightning.losses.get_loss" in result.stderr


def test_sphinx_roles_become_optional_links_resolved_in_the_docstrings_scope():
    roles = load_hook("sphinx_roles")
    package = load_hook("api_coverage").load_package()
    regularizers = package["regularizers"]
    text = roles.linked(regularizers, "See :class:`GP`, :func:`~datgan_lightning.losses.get_loss` and :meth:`nowhere`.")
    assert '<autoref identifier="datgan_lightning.regularizers.gradient_penalty.GP" optional><code>GP</code></autoref>' in text
    assert '<autoref identifier="datgan_lightning.losses.get_loss" optional><code>get_loss</code></autoref>' in text
    assert "`nowhere`" in text and ":meth:" not in text
