"""Loading submissions: folders, single files, archives, and hostile archives refused safely."""

from __future__ import annotations

import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader import archive, submission
from grader.errors import RubricError, SubmissionError
from grader.rubric import load_rubric

from conftest import run_grader

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
    kit = tmp_path / "repo" / "assignments" / "proj4_cnn"
    kit.mkdir(parents=True)
    (kit / "utils.py").write_text("# a fixed utils.py\n")
    monkeypatch.setattr(datapath, "REPO_ROOT", tmp_path / "repo")
    changed, second = load_rubric(rubric)
    assert changed.provided_files == {"utils.py": "# a fixed utils.py\n"} and second != first
