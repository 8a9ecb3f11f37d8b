"""The staff application: :func:`create_app` over one gradebook, and :func:`first_link`, the
link ``grader serve`` prints for the first instructor."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from grader.batch.uploads import Accepted, UploadGraders
from grader.stamps import who
from grader.store.staff import SESSION_TTL_S, Staff
from grader.web import security
from grader.web.batches import batches
from grader.web.manual import manual
from grader.web.pages import pages
from grader.web.regrades import regrades
from grader.web.state import render
from grader.web.students import students

MAX_FORM_BYTES = 1 << 20  # a form is a few fields; students' uploads have their own cap


@dataclass(frozen=True)
class UploadSettings:
    """What students may hand in on this server: ``accepted`` assignments (name ->
    :class:`~grader.batch.uploads.Accepted`), at most ``per_hour`` uploads per student and
    assignment (``None``: no limit), graded by ``graders`` (``grader_count`` threads)."""

    accepted: dict[str, Accepted]
    per_hour: int | None = None
    graders: UploadGraders | None = None
    grader_count: int = 1


def create_app(db: Path, secure_cookies: bool = False,
               clock: Callable[[], float] = time.time,
               uploads: UploadSettings | None = None) -> Flask:
    """The application over the gradebook ``db``. ``secure_cookies``: the session cookie only
    travels over HTTPS (set it behind a TLS proxy). ``clock``: seconds, for tests.
    ``uploads``: the assignments students hand in here, and who grades what they upload."""
    app = Flask("grader.web")
    app.config.update(GRADER_DB=Path(db), GRADER_SECURE_COOKIES=secure_cookies,
                      GRADER_CLOCK=clock, GRADER_SESSION_S=SESSION_TTL_S,
                      MAX_CONTENT_LENGTH=MAX_FORM_BYTES)
    if uploads is not None:
        app.config.update(GRADER_ACCEPTED=uploads.accepted, GRADER_PER_HOUR=uploads.per_hour,
                          GRADER_UPLOAD_GRADERS=uploads.graders,
                          GRADER_GRADER_COUNT=uploads.grader_count)
    app.register_blueprint(pages)
    app.register_blueprint(students)
    app.register_blueprint(regrades)
    app.register_blueprint(manual)
    app.register_blueprint(batches)
    app.after_request(security.add_headers)
    app.teardown_appcontext(security.close_request)
    app.register_error_handler(HTTPException, _error_page)
    return app


def tune_collector() -> None:
    """Fewer garbage collections for a long-running server: a class view builds some 10^5
    short-lived objects, and the default threshold (700) ran a collection over the cached
    results every few milliseconds of it: p95 236 ms against a median of 124 ms for 500
    students (benchmarks/serve.py), 137 ms with this threshold."""
    gc.set_threshold(50_000, 50, 100)


def first_link(db: Path, base_url: str) -> str | None:
    """A one-time sign-in link for a first instructor (the OS user) when the gradebook has no
    instructor yet; ``None`` when it has one (they mint links with ``grader staff link``)."""
    with Staff(db) as staff:
        if any(m.instructor for m in staff.members()):
            return None
        login = who(None)
        staff.add(login, "instructor", by=login)
        return f"{base_url.rstrip('/')}/login/{staff.link_token(login)}"


def _error_page(error: HTTPException) -> Response:
    return render("web_message.html.j2", error.code or 500, title=error.name,
                  text=error.description or "")
