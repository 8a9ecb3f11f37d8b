"""Who is looking, at which assignment: what a member of staff may see and open, and under
which names (a TA on an anonymously graded assignment sees pseudonyms, and only their queue)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort

from grader.store.staff import Member
from grader.web import security
from grader.web.state import queues


@dataclass(frozen=True)
class Viewer:
    """What one member may see of one assignment's manual grading, and under which names."""

    member: Member
    assignment: str
    hidden: bool  # a TA on an anonymous assignment: pseudonyms, and their own queue only

    @classmethod
    def of(cls, assignment: str) -> Viewer:
        current = security.session()
        assert current is not None  # signed_in saw to it
        member = current.member
        return cls(member, assignment, not member.instructor and queues().anonymous(assignment))

    def name(self, student: str) -> str:
        return queues().pseudonym(self.assignment, student) if self.hidden else student

    def student(self, shown: str, students: list[str]) -> str:
        """The student a page's address names (a pseudonym for a hidden viewer)."""
        for student in students:
            if self.name(student) == shown:
                return student
        abort(404, "no such submission")

    def queue(self, item_id: str, students: list[str]) -> list[str]:
        """The submissions of ``item_id`` this member grades: their share once the item is
        split, everyone's before (an instructor always sees everyone's)."""
        given = queues().graders(self.assignment, item_id)
        if self.member.instructor or not given:
            return students
        return [s for s in students if given.get(s) == self.member.login]

    def may_grade(self, item_id: str, student: str) -> bool:
        given = queues().graders(self.assignment, item_id)
        return self.member.instructor or not given or given.get(student) == self.member.login
