"""Loading submissions: folders, single files, archives, and hostile archives refused safely."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from grader import grading
from grader.intake import archive, timed as intake, submission
from grader.errors import RubricError, SubmissionError
from grader.prepare.expected import prepare
from grader.rubric.load import load_rubric

from conftest import REPO, never_done_for_mallory, run_grader

CODE = b"def my_imfilter(image, filter):\n    return image\n"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def test_folder_with_nested_module(tmp_path):
    (tmp_path / "alice" / "proj1" / "code").mkdir(parents=True)
    (tmp_path / "alice" / "proj1" / "code" / "student_code.py").write_bytes(CODE)
    (tmp_path / "alice" / "proj1" / "code" / "utils.py").write_bytes(b"X = 1\n")
    with submission.load(tmp_path / "alice", ["student_code"]) as loaded:
        assert loaded.student == "alice" and loaded.missing == []
        assert loaded.module_dir == "proj1/code"
        assert (loaded.root / "proj1/code/utils.py").is_file()
    assert not loaded.root.exists()  # cleaned up


def test_single_file_stands_for_the_module(tmp_path):
    path = tmp_path / "bob.py"
    path.write_bytes(CODE)
    with submission.load(path, ["student_code"]) as loaded:
        assert loaded.student == "bob" and "student_code" in loaded.modules


def test_zip_and_tar_give_the_same_content_hash(tmp_path):
    _zip(tmp_path / "carol.zip", {"code/student_code.py": CODE})
    with tarfile.open(tmp_path / "carol.tar.gz", "w:gz") as bundle:
        info = tarfile.TarInfo("code/student_code.py")
        info.size = len(CODE)
        bundle.addfile(info, io.BytesIO(CODE))
    with submission.load(tmp_path / "carol.zip", ["student_code"]) as a, \
            submission.load(tmp_path / "carol.tar.gz", ["student_code"]) as b:
        assert a.student == b.student == "carol"
        assert a.content_hash == b.content_hash


def test_macos_junk_is_ignored(tmp_path):
    _zip(tmp_path / "dan.zip", {"student_code.py": CODE, "__MACOSX/._student_code.py": b"junk",
                                ".DS_Store": b"junk"})
    with submission.load(tmp_path / "dan.zip", ["student_code"]) as loaded:
        assert loaded.modules["student_code"].parent == loaded.root


def test_missing_module_is_a_finding_not_an_error(tmp_path):
    (tmp_path / "erin").mkdir()
    (tmp_path / "erin" / "notes.txt").write_text("todo")
    with submission.load(tmp_path / "erin", ["student_code"]) as loaded:
        assert loaded.missing == ["student_code"]


@pytest.mark.parametrize("member", ["../evil.py", "/etc/evil.py", "a/../../evil.py", "C:evil.py"])
def test_zip_slip_is_refused(tmp_path, member):
    path = _zip(tmp_path / "slip.zip", {member: b"x", "student_code.py": CODE})
    with pytest.raises(SubmissionError, match="outside the submission folder"):
        submission.load(path, ["student_code"])
    assert not (tmp_path / "evil.py").exists()


def test_zip_symlink_is_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        info = zipfile.ZipInfo("student_code.py")
        info.external_attr = (0o120777 << 16)
        bundle.writestr(info, "/etc/passwd")
    with pytest.raises(SubmissionError, match="is a link"):
        submission.load(path, ["student_code"])


def test_tar_symlink_and_hardlink_are_refused(tmp_path):
    path = tmp_path / "link.tar"
    with tarfile.open(path, "w") as bundle:
        info = tarfile.TarInfo("student_code.py")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        bundle.addfile(info)
    with pytest.raises(SubmissionError, match="link or special file"):
        submission.load(path, ["student_code"])


def test_zip_bomb_stops_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_BYTES", 5 << 20)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("student_code.py", CODE)
        bundle.writestr("zeros.bin", b"\0" * (20 << 20))  # 20 MiB that compress to ~20 KiB
    assert path.stat().st_size < 100_000
    with pytest.raises(SubmissionError, match="zip bomb"):
        submission.load(path, ["student_code"])


def test_too_many_files(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_FILES", 10)
    path = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"" for i in range(11)})
    with pytest.raises(SubmissionError, match="11 members"):
        submission.load(path, ["student_code"])


def test_corrupt_archive(tmp_path):
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(SubmissionError, match="not a readable archive"):
        submission.load(path, ["student_code"])


def test_folder_link_to_outside_is_refused(tmp_path):
    (tmp_path / "frank").mkdir()
    os.symlink("/etc/passwd", tmp_path / "frank" / "student_code.py")
    with pytest.raises(SubmissionError, match="link to outside"):
        submission.load(tmp_path / "frank", ["student_code"])


def test_discover_lists_subfolders_archives_and_files(tmp_path):
    (tmp_path / "a").mkdir()
    _zip(tmp_path / "b.zip", {"student_code.py": CODE})
    (tmp_path / "c.py").write_bytes(CODE)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in submission.discover([tmp_path], ["student_code"])] == [
        "a", "b.zip", "c.py"]
    (tmp_path / "student_code.py").write_bytes(CODE)  # now the folder is one submission
    assert submission.discover([tmp_path], ["student_code"]) == [tmp_path]


# --- the course's provided files --------------------------------------------------------

_PROVIDED_RUBRIC = """
assignment: proj4_cnn
reference: reference.cnn
{provided}
checks:
  - id: conv_output_size
    name: conv_output_size
    kind: numeric
    target: conv_arithmetic:conv_output_size
    reference: reference.conv_arithmetic:conv_output_size
    points: 1
    compare: {{atol: 0, rtol: 0}}
    cases:
      - args: {{input_size: {{value: 227}}, filter_size: {{value: 11}}, padding: {{value: 0}}, stride: {{value: 4}}}}
"""


def _hands_in_the_f18_utils(folder: Path) -> Path:
    """A student who hands in the course's F18 utils.py, which imports visdom (not installed)."""
    folder.mkdir()
    (folder / "conv_arithmetic.py").write_text(
        "import utils\n\n\ndef conv_output_size(input_size, filter_size, padding=0, stride=1):\n"
        "    return (input_size - filter_size + 2 * padding) // stride + 1\n")
    (folder / "utils.py").write_text("import visdom\n\n\ndef get_mean_std(*args):\n    pass\n")
    return folder


@pytest.mark.parametrize("provided, status", [("", "error"), ("provided: [utils.py]", "passed")])
def test_a_provided_file_replaces_the_students_copy(tmp_path, provided, status):
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(_PROVIDED_RUBRIC.format(provided=provided))
    student = _hands_in_the_f18_utils(tmp_path / "dana")
    out = tmp_path / "results.json"
    proc = run_grader("grade", str(rubric), str(student), "--db", str(tmp_path / "g.sqlite"),
                      "--json", str(out), "-j", "1", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (result,) = json.loads(out.read_text())
    (check,) = result["checks"]
    assert check["status"] == status, check["message"]
    if provided:
        assert any("utils.py: provided by the course; graded with the kit's copy" in n
                   for n in result["notes"])
    else:
        assert "visdom" in check["message"]


def test_proj2s_edited_utils_costs_no_point(tmp_path):
    """A real F18 proj2 hand-in edited the course's "do not modify" utils.py with an import of
    its day's OpenCV; every module importing utils failed (4 of 34 points instead of 21.7).
    proj2's rubric provides the kit's copy: the detector is graded as written."""
    student = tmp_path / "erin"
    student.mkdir()
    (student / "utils.py").write_text("from cv2 import xfeatures2d_SIFT_create_gone\n")
    reference = (REPO / "reference" / "harris.py").read_text()
    (student / "student_harris.py").write_text(reference + "\nfrom utils import load_image  # unused\n")
    rubric, digest = load_rubric(REPO / "assignments" / "proj2_features" / "rubric.yaml")
    assert rubric.provided == ["utils.py"]
    prepared = [p for p in prepare(rubric, digest) if p.check.id == "harris_corners"]
    with submission.load(student, rubric.modules, provided=rubric.provided_files) as loaded:
        result = grading.grade(loaded, rubric, digest, prepared)
    (check,) = result.checks
    assert check.status.value == "passed", check.message
    assert any("utils.py: provided by the course" in note for note in result.notes)


def test_a_provided_file_missing_from_the_kit_is_a_rubric_error(tmp_path):
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(_PROVIDED_RUBRIC.format(provided="provided: [helpers.py]"))
    with pytest.raises(RubricError, match=r"line 4: provided file helpers.py is not in .*proj4_cnn"):
        load_rubric(rubric)


def test_the_provided_files_are_part_of_the_rubric_hash(tmp_path, monkeypatch):
    from grader import datapath

    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(_PROVIDED_RUBRIC.format(provided="provided: [utils.py]"))
    loaded, first = load_rubric(rubric)
    assert "def get_mean_std" in loaded.provided_files["utils.py"]
    kit = tmp_path / "repo" / "assignments" / "proj4_cnn" / "kit"
    kit.mkdir(parents=True)
    (kit / "utils.py").write_text("# a fixed utils.py\n")
    monkeypatch.setattr(datapath, "REPO_ROOT", tmp_path / "repo")
    changed, second = load_rubric(rubric)
    assert changed.provided_files == {"utils.py": "# a fixed utils.py\n"} and second != first


# --- hostile archives and folders: each cap applies before the work it bounds ------------------

def test_a_zip_whose_member_list_is_huge_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    path = _zip(tmp_path / "many.zip", {f"f{i}.txt": b"" for i in range(500)})
    monkeypatch.setattr(archive, "MAX_FILES", 10)  # its central directory may take 10 KiB

    def parsed(*args, **kwargs):
        raise AssertionError("zipfile parsed the member list")

    monkeypatch.setattr(archive.zipfile, "ZipFile", parsed)
    with pytest.raises(SubmissionError, match=r"^many.zip: its list of members takes \d+(\.\d)? "
                                              r"KiB, more than 10 members could need"):
        submission.load(path, ["student_code"])


def test_a_tar_member_larger_than_what_is_left_is_refused_before_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_BYTES", 1 << 20)
    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as bundle:  # 8 MiB of zeros: about 8 KiB compressed
        info = tarfile.TarInfo("zeros.bin")
        info.size = 8 << 20
        bundle.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(SubmissionError, match="bomb.tar.gz: expands to more than 1 MiB"):
        submission.load(path, ["student_code"])


def test_a_tar_whose_headers_expand_past_the_cap_is_stopped_while_decompressing(tmp_path,
                                                                              monkeypatch):
    monkeypatch.setattr(archive, "MAX_BYTES", 1 << 20)
    monkeypatch.setattr(archive, "HEADER_BYTES", 0)
    path = tmp_path / "headers.tgz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as bundle:
        info = tarfile.TarInfo("student_code.py")  # tarfile reads a pax header whole
        info.pax_headers = {"comment": "x" * (2 << 20)}
        info.size = len(CODE)
        bundle.addfile(info, io.BytesIO(CODE))
    with pytest.raises(SubmissionError, match="headers.tgz: expands to more than 1 MiB"):
        submission.load(path, ["student_code"])


def test_a_tar_is_counted_member_by_member(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_FILES", 10)
    path = tmp_path / "many.tar"
    with tarfile.open(path, "w") as bundle:
        for index in range(50):
            bundle.addfile(tarfile.TarInfo(f"f{index}.txt"), io.BytesIO(b""))
    with pytest.raises(SubmissionError, match=r"^many.tar: more than the 10 members \(files and "
                                              r"folders\) a submission may hold"):
        submission.load(path, ["student_code"])


def test_a_member_nested_too_deep_is_one_sentence(tmp_path):
    path = _zip(tmp_path / "deep.zip", {"a/" * 40 + "student_code.py": CODE})
    with pytest.raises(SubmissionError, match=r"^deep.zip: member 'a/a/.*…' is nested 41 folders "
                                              r"deep, more than the 32 a submission may use"):
        submission.load(path, ["student_code"])


def test_a_folder_nested_too_deep_is_one_sentence(tmp_path):
    deep = tmp_path / "ivan"
    (deep / Path(*["d"] * 100)).mkdir(parents=True)  # walked without recursion
    (deep / "student_code.py").write_bytes(CODE)
    with pytest.raises(SubmissionError, match=r"^ivan: 'd/d/.*' is nested more than 32 folders"):
        submission.load(deep, ["student_code"])


def test_a_folder_is_not_listed_past_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_FILES", 10)
    folder = tmp_path / "kim"
    folder.mkdir()
    for index in range(20):  # hidden files are not copied, but a listing holds them all
        (folder / f".cache{index}").write_text("")
    with pytest.raises(SubmissionError, match=r"^kim: the folder holds more than the 10 entries"):
        submission.load(folder, ["student_code"])


def test_a_named_pipe_is_not_a_submission(tmp_path):
    os.mkfifo(tmp_path / "eve.py")
    with pytest.raises(SubmissionError, match=r"^eve.py: not a folder, a .py file"):
        submission.load(tmp_path / "eve.py", ["student_code"])


def test_a_graded_module_over_the_source_cap_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(submission, "MAX_SOURCE_BYTES", 10)
    (tmp_path / "student_code.py").write_bytes(CODE)
    with pytest.raises(SubmissionError, match=r"^student_code.py: \d+ bytes of source, more than "
                                              r"the 10 bytes a graded module may have"):
        submission.load(tmp_path / "student_code.py", ["student_code"])


# --- each submission's preparation under a time limit of its own -------------------------------

def _three_students(folder: Path) -> list[Path]:
    for name in ("alice", "mallory", "bob"):
        (folder / name).mkdir(parents=True)
        (folder / name / "student_code.py").write_bytes(CODE)
    return [folder / name for name in ("alice", "mallory", "bob")]


def test_a_preparation_over_the_limit_is_stopped_with_the_step_named(tmp_path):
    alice, mallory, bob = _three_students(tmp_path)
    with intake.Intake(0.3, work=never_done_for_mallory) as taker:
        started = time.monotonic()
        with taker.load(alice, ["student_code"]) as loaded:
            assert loaded.missing == []
        print(f"a helper starts and loads a submission in {time.monotonic() - started:.2f} s")
        started = time.monotonic()
        with pytest.raises(SubmissionError, match=(
                r"^mallory: lifting the definitions of mallory.ipynb took longer than 0.3 s, the "
                r"limit on preparing one submission \(load_timeout_s\); it was stopped and is "
                r"not graded$")):
            taker.load(mallory, ["student_code"])
        assert time.monotonic() - started < 1.0
        with taker.load(bob, ["student_code"]) as loaded:  # in a new helper
            assert loaded.content_hash


def test_a_submission_too_slow_to_prepare_fails_alone_and_the_batch_goes_on(tmp_path,
                                                                           monkeypatch):
    from rich.console import Console

    from grader import grading
    from grader.batch import grade as batch
    from grader.store.gradebook import Gradebook
    from grader.batch.progress import BatchProgress
    from grader.results import CheckResult, Status, SubmissionResult

    def graded(loaded, rubric, rubric_hash, prepared, **options):  # no sandbox: the point is
        checks = [CheckResult(c.id, c.name, c.function, Status.PASSED, c.points, c.points)
                  for c in rubric.checks]  # what comes before it
        return SubmissionResult(loaded.student, loaded.content_hash, rubric.assignment,
                                rubric_hash, checks)

    monkeypatch.setattr(grading, "grade", graded)
    monkeypatch.setattr(batch.isolation, "available", lambda: None)
    monkeypatch.setattr(batch, "Intake", lambda limit_s: intake.Intake(
        limit_s, work=never_done_for_mallory))
    rubric_file = REPO / "tests" / "data" / "tiny_filtering.yaml"
    rubric, rubric_hash = load_rubric(rubric_file)
    rubric = rubric.model_copy(update={"defaults": rubric.defaults.model_copy(
        update={"load_timeout_s": 0.3})})
    paths = _three_students(tmp_path / "batch")
    with Gradebook(tmp_path / "g.sqlite") as book:
        results = batch.grade_batch(paths, rubric, rubric_hash, rubric_file, book,
                                    batch.BatchOptions(), BatchProgress(3, Console(), quiet=True))
    outcome = {r.student: {c.status.value for c in r.checks} for r in results}
    assert outcome == {"alice": {"passed"}, "mallory": {"error"}, "bob": {"passed"}}
    (mallory,) = [r for r in results if r.student == "mallory"]
    assert "took longer than 0.3 s" in mallory.checks[0].message
