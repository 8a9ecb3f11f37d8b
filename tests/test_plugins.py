"""One way to extend: a new check kind, export format, isolation layer or command is one new
module in its package, and nothing else changes (grader/plugins.py).

Each test puts its new module in a temporary folder that it adds to the package's search path
(``__path__``), as if the file had been dropped into ``grader/checks/`` or ``grader/export/``,
and reloads the registry; the repository's files are never touched, and the test counts that
the registry grew by exactly the new entry.
"""

from __future__ import annotations

import csv
import importlib
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import COMMANDS, cli
from grader.checks import KINDS
from grader.errors import GraderError
from grader.export import FORMATS
from grader.plugins import Registry, UnknownName
from grader.sandbox import SandboxSession, doctor, isolation, zygote
from grader.sandbox.layers import LAYERS
from grader.rubric.load import load_rubric
from grader.store.gradebook import Gradebook

TOY_KIND = '''
"""``toy_numeric``: the numeric kind under a name of its own."""
from grader.checks import KINDS
from grader.checks.numeric import NumericCheck


@KINDS.register
class ToyNumericCheck(NumericCheck):
    name = "toy_numeric"
'''

TOY_EXPORT = '''
"""Tab-separated scores."""
import csv

from grader.export import FORMATS


@FORMATS.register(name="toy_tsv")
def write(results, out):
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\\t")
        writer.writerow(["student", "score"])
        writer.writerows([r.student, r.score] for r in results)
'''

TOY_LAYER = '''
"""toy_nice: every worker starts under ``nice -n 7`` (a wrapper layer, trusted side)."""
import os
import shutil

from grader.sandbox.layers import LAYERS, Layer


def _problem(probing):
    if os.environ.get("TOY_NICE_BROKEN"):
        return "the toy probe says no"
    return None if shutil.which("nice") else "nice is not installed"


LAYERS.register(Layer(name="toy_nice", order=90, probe=_problem, stops="greedy scheduling",
                      needs="nice(1)", wrap=lambda limits: ["nice", "-n", "7"]))
'''

TOY_COMMAND = '''
"""``grader toy-hello``."""
import click

from grader.cli import COMMANDS


@COMMANDS.register
@click.command("toy-hello")
@click.argument("name")
def hello(name):
    """Say hello."""
    click.echo(f"hello {name}")
'''


def plug_in(monkeypatch, tmp_path: Path, package: str, registry: Registry, name: str,
            source: str) -> set[str]:
    """Drop ``name``.py into ``package`` (through a temporary folder on its path) and reload
    ``registry``; return the names it had before."""
    before = set(registry.names())
    folder = tmp_path / package.replace(".", "_")
    folder.mkdir()
    (folder / f"{name}.py").write_text(source)
    module = importlib.import_module(package)
    monkeypatch.setattr(module, "__path__", [*module.__path__, str(folder)])
    monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.delitem(sys.modules, f"{package}.{name}", raising=False)
    return before


def test_a_new_kind_is_one_module(monkeypatch, tmp_path):
    before = plug_in(monkeypatch, tmp_path, "grader.checks", KINDS, "toy_numeric", TOY_KIND)
    assert set(KINDS.names()) - before == {"toy_numeric"}
    rubric_file = tmp_path / "rubric.yaml"
    rubric_file.write_text(
        "assignment: toy\nreference: reference.filtering\nchecks:\n"
        "  - {id: t, name: t, kind: toy_numeric, target: student_code:my_imfilter, points: 1,\n"
        "     compare: {atol: 0.001},\n"
        "     cases: [{args: {image: {random: {shape: [8, 8, 3], seed: 1}},\n"
        "                     filter: {kernel: {name: box, size: 3}}}}]}\n")
    rubric, _ = load_rubric(rubric_file)
    assert rubric.checks[0].kind == "toy_numeric"
    assert KINDS["toy_numeric"].reads == KINDS["numeric"].reads  # it reads compare: as numeric


def test_a_new_export_format_is_one_module_and_the_cli_offers_it(monkeypatch, tmp_path):
    before = plug_in(monkeypatch, tmp_path, "grader.export", FORMATS, "toy_tsv", TOY_EXPORT)
    assert set(FORMATS.names()) - before == {"toy_tsv"}
    db = tmp_path / "book.sqlite"
    with Gradebook(db):
        pass
    runner = CliRunner()
    assert "toy_tsv" in runner.invoke(cli, ["export", "--help"]).output
    out = tmp_path / "scores.tsv"
    result = runner.invoke(cli, ["export", "--db", str(db), "--format", "toy_tsv", "--out", str(out)])
    # an empty gradebook: the format was accepted, and the command says there is nothing to export
    assert "no results to export" in str(result.exception), result.output
    FORMATS["toy_tsv"]([], out)
    assert list(csv.reader(out.open(), delimiter="\t")) == [["student", "score"]]


def test_a_new_command_is_one_module(monkeypatch, tmp_path):
    before = plug_in(monkeypatch, tmp_path, "grader.cli", COMMANDS, "toy_hello", TOY_COMMAND)
    assert set(COMMANDS.names()) - before == {"toy-hello"}
    result = CliRunner().invoke(cli, ["toy-hello", "world"])
    assert result.exit_code == 0 and result.output == "hello world\n"


@pytest.fixture
def fresh_probe():
    """The machine probed again with whatever layers are plugged in, and after the test."""
    zygote.close_all()
    isolation.available.cache_clear()
    yield
    zygote.close_all()
    isolation.available.cache_clear()


def _niceness(tmp_path: Path) -> tuple[int, tuple[str, ...]]:
    """The niceness a sandboxed student function sees, and the session's layers."""
    submission = tmp_path / "nice_student"
    submission.mkdir(exist_ok=True)
    (submission / "student.py").write_text("import os\n\ndef niceness():\n    return os.nice(0)\n")
    with SandboxSession(submission) as session:
        outcome = session.call("student", "niceness", [], timeout_s=60)
        assert outcome.status == "returned", outcome.error
        return int(outcome.outputs[0]), session.layers


def test_a_new_isolation_layer_is_one_module(monkeypatch, tmp_path, fresh_probe):
    before = plug_in(monkeypatch, tmp_path, "grader.sandbox.layers", LAYERS, "toy_nice",
                     TOY_LAYER)
    assert set(LAYERS.names()) - before == {"toy_nice"}
    assert isolation.available().has("toy_nice")
    assert doctor.report()["layers"]["toy_nice"] == {
        "available": True, "blocks": "greedy scheduling", "missing": None}
    # the layer really wraps the worker: student code runs niced, and the session says so
    niceness, layers = _niceness(tmp_path)
    assert niceness >= 7 and "toy_nice" in layers
    # turned off like any other layer, and a failing probe is named by doctor
    monkeypatch.setenv(isolation.DISABLE_ENV, "toy_nice")
    isolation.available.cache_clear()
    assert _niceness(tmp_path)[0] == os.nice(0) and "toy_nice" not in _niceness(tmp_path)[1]
    monkeypatch.delenv(isolation.DISABLE_ENV)
    monkeypatch.setenv("TOY_NICE_BROKEN", "1")
    isolation.available.cache_clear()
    assert doctor.report()["layers"]["toy_nice"]["missing"] == "the toy probe says no"


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(GraderError, match="unknown export format 'xlsx'; known: canvas, csv"):
        FORMATS["xlsx"]
    assert FORMATS.get("xlsx") is None  # a KeyError as well, so Mapping.get works
    assert issubclass(UnknownName, KeyError)


def test_a_name_registered_twice_is_refused():
    registry: Registry[object] = Registry("thing", "grader.export")
    registry.register(object(), name="a")
    with pytest.raises(ValueError, match="thing 'a' is registered twice"):
        registry.register(object(), name="a")


def test_the_course_registries_are_complete():
    # what the course's rubrics and the docs rely on (a module that failed to register would
    # drop out silently otherwise)
    assert KINDS.names() == ["accuracy", "architecture", "datasets", "gradient", "numeric",
                             "property", "timing", "training"]
    assert FORMATS.names() == ["canvas", "csv", "gradescope", "json", "junit"]
    assert {"check", "grade", "report", "export", "kit", "audit", "doctor", "env"} <= set(COMMANDS)
    assert isolation.layer_names() == ("bubblewrap", "landlock", "seccomp", "uid", "subreaper",
                                       "cgroup", "ipc")


SLOW_PLUGIN = '''
"""A plugin whose import takes a while (a heavy dependency)."""
import time

from grader.export import FORMATS

time.sleep(0.5)


@FORMATS.register(name="toy_slow")
def write(results, out):
    pass
'''


def test_threads_that_look_up_at_once_all_see_every_plugin(monkeypatch, tmp_path):
    """The course server's graders make their first lookups at the same moment: one imports
    the plugins, the others wait for all of them (a half-filled registry once graded a whole
    restart's uploads without their isolation layers)."""
    import threading

    plug_in(monkeypatch, tmp_path, "grader.export", FORMATS, "toy_slow", SLOW_PLUGIN)
    seen: list[list[str]] = []
    threads = [threading.Thread(target=lambda: seen.append(FORMATS.names())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and all("toy_slow" in names and "csv" in names for names in seen)
