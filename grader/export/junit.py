"""JUnit XML: one ``testsuite`` per submission, one ``testcase`` per check.

CI systems (GitHub Actions, GitLab, Jenkins) render it: a failed check is a
``failure``, an error/timeout/memory result an ``error``, a skipped check
``skipped``; the check's points are in its properties.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from grader.export import FORMATS
from grader.results import CheckResult, Status, SubmissionResult

_ERRORS = {Status.ERROR, Status.TIMEOUT, Status.MEMORY}


def to_xml(results: list[SubmissionResult]) -> ET.ElementTree:
    root = ET.Element("testsuites", name="grader")
    for result in results:
        suite = ET.SubElement(root, "testsuite", name=f"{result.assignment}.{result.student}",
                              tests=str(len(result.checks)),
                              failures=str(sum(c.status == Status.FAILED for c in result.checks)),
                              errors=str(sum(c.status in _ERRORS for c in result.checks)),
                              skipped=str(sum(c.status == Status.SKIPPED for c in result.checks)),
                              time=f"{sum(c.duration_s for c in result.checks):.3f}")
        properties = ET.SubElement(suite, "properties")
        for name, value in (("score", result.score), ("max_score", result.max_score)):
            ET.SubElement(properties, "property", name=name, value=f"{value:g}")
        for check in result.checks:
            _testcase(suite, result, check)
    return ET.ElementTree(root)


@FORMATS.register(name="junit")
def write(results: list[SubmissionResult], out: Path) -> None:
    tree = to_xml(results)
    ET.indent(tree)
    tree.write(out, encoding="utf-8", xml_declaration=True)


def _testcase(suite: ET.Element, result: SubmissionResult, check: CheckResult) -> None:
    case = ET.SubElement(suite, "testcase", classname=f"{result.assignment}.{check.target}",
                         name=check.id, time=f"{check.duration_s:.3f}")
    properties = ET.SubElement(case, "properties")
    for name, value in (("score", check.score), ("max_score", check.max_score)):
        ET.SubElement(properties, "property", name=name, value=f"{value:g}")
    if check.status == Status.FAILED:
        ET.SubElement(case, "failure", message=check.message, type="failed").text = check.message
    elif check.status in _ERRORS:
        ET.SubElement(case, "error", message=check.message, type=check.status.value).text = check.message
    elif check.status == Status.SKIPPED:
        ET.SubElement(case, "skipped", message=check.message)
    if check.stdout:
        ET.SubElement(case, "system-out").text = check.stdout
