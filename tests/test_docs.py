"""The guide builds without a warning, the generated rubric reference equals the models, and
the README stays short with links that lead somewhere."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from grader.rubric import reference_doc


def test_the_rubric_reference_page_is_generated_from_the_models():
    page = (REPO / "docs" / "rubric-reference.md").read_text()
    assert page == reference_doc.markdown(), (
        "docs/rubric-reference.md is stale: python -m grader.rubric.reference_doc > "
        "docs/rubric-reference.md")


def test_the_rubric_reference_names_every_field_and_kind():
    page = reference_doc.markdown()
    for cls, _ in reference_doc.SECTIONS:
        for name in set(cls.model_fields) - reference_doc._INTERNAL:
            assert f"| `{name}` |" in page, (cls.__name__, name)
    for kind in ("numeric", "gradient", "accuracy", "property", "timing", "training"):
        assert f"### `{kind}`" in page


def test_the_docs_build_strictly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    assert (tmp_path / "site" / "tutorial" / "index.html").is_file()


def test_the_readme_is_short_and_its_links_exist():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 150
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not link.startswith(("http://", "https://", "mailto:"))]
    assert local, "the README links into docs/"
    missing = [link for link in local if not (REPO / link).exists()]
    assert not missing, missing


def test_the_readme_gives_the_two_commands_ci_runs():
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines()
          if line and not line.startswith(("#", "set ", "cd "))]
    readme = (REPO / "README.md").read_text().replace("sudo ", "")
    assert len(ci) == 2 and all(command in readme for command in ci), ci


def test_every_module_the_guide_names_exists():
    """A path (``grader/store/staff.py``) or module (``grader.web.security``) named in the
    guide or the README is in the tree: a move that forgets the docs fails here."""
    missing = []
    for page in [*(REPO / "docs").glob("*.md"), REPO / "README.md"]:
        text = page.read_text()
        for path in re.findall(r"`(grader/[\w/]+(?:\.py)?)`", text):
            if not (REPO / path).exists():
                missing.append((page.name, path))
        for module in re.findall(r"`(grader(?:\.\w+)+)`", text):
            parts = module.split(".")
            if not any((REPO / Path(*parts[:i])).with_suffix(".py").exists()
                       or (REPO / Path(*parts[:i])).is_dir() for i in range(len(parts), 1, -1)):
                missing.append((page.name, module))
    assert not missing, missing
