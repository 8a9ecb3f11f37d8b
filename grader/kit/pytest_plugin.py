"""pytest plugin: inside an unpacked kit, each visible check is a test item.

Registered through the ``pytest11`` entry point; it does nothing outside a
kit. Items are named ``<check id>[<function>]`` so ``pytest -k my_imfilter``
selects a function's checks. All items share one sandboxed run of the
selected checks, so the results (and messages) are exactly those of
``grader check``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.kit import KIT_DIR, Kit, check_kit, open_kit
from grader.results import CheckResult, Status

_KIT_KEY = pytest.StashKey[Kit]()
_RESULTS_KEY = pytest.StashKey[dict]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.name == "kit.json" and file_path.parent.name == KIT_DIR:
        return KitFile.from_parent(parent, path=file_path)
    return None


class KitFile(pytest.File):
    """The kit's manifest, collected as one item per visible check."""

    def collect(self):
        kit = open_kit(self.path.parent.parent)
        self.config.stash[_KIT_KEY] = kit
        for item in kit.prepared:
            yield CheckItem.from_parent(self, name=f"{item.check.id}[{item.check.function}]",
                                        check_id=item.check.id)


class CheckItem(pytest.Item):
    def __init__(self, *, check_id: str, **kwargs):
        super().__init__(**kwargs)
        self.check_id = check_id

    def runtest(self) -> None:
        result = _results(self.session)[self.check_id]
        if result.status == Status.SKIPPED:
            pytest.skip(result.message)
        if result.status != Status.PASSED:
            raise CheckFailed(result)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckFailed):
            result = excinfo.value.result
            text = f"{result.status.value}: {result.message}"
            return text + (f"\n--- your output ---\n{result.stdout[-3000:]}" if result.stdout else "")
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"check {self.check_id}"


class CheckFailed(Exception):
    def __init__(self, result: CheckResult):
        super().__init__(result.message)
        self.result = result


def _results(session: pytest.Session) -> dict[str, CheckResult]:
    """Run every selected check once, in one sandbox, the first time an item needs a result."""
    if _RESULTS_KEY not in session.stash:
        selected = [i.check_id for i in session.items if isinstance(i, CheckItem)]
        kit = session.config.stash[_KIT_KEY]
        result = check_kit(kit, kit.root, only=selected)
        session.stash[_RESULTS_KEY] = {c.id: c for c in result.checks}
    return session.stash[_RESULTS_KEY]
