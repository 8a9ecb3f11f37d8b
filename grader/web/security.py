"""What guards every request of the staff application.

- **Sessions** come only from one-time login links (:mod:`grader.store.staff`); the cookie
  carries a random id (``HttpOnly``, ``SameSite=Strict``, ``Secure`` behind HTTPS), and a page
  without a live session redirects to the sign-in page.
- **CSRF**: every state-changing request carries its session's token in the form field
  ``csrf``, and its ``Origin`` (when the browser sends one) must be the application's own.
- **Headers**: a Content-Security-Policy that allows no inline script (the application's own
  keyboard script is a file of this site) and no resource from elsewhere, no framing, a referrer for this site only (a login link never leaks to another;
  with none at all, browsers send ``Origin: null`` and no form could be told from a forgery),
  no caching of pages.
- **Roles**: staff pages (:func:`signed_in`) refuse students and students' pages
  (:func:`student_signed_in`) refuse staff; :func:`require` refuses a member of staff whose
  role may not do a thing (403). A student's pages take no student id: the student is always
  the session's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import abort, current_app, g, redirect, request, url_for
from werkzeug.wrappers import Response

from grader.store.staff import Session, Staff

COOKIE = "grader_session"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self' data:; script-src 'self'; "
                               "connect-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
View = TypeVar("View", bound=Callable[..., Any])
Opened = TypeVar("Opened")
OPENED_PER_REQUEST = ("staff", "book", "queues")  # what per_request opens and each request closes


def per_request(name: str, opening: Callable[[Path], Opened]) -> Opened:
    """What ``opening(the gradebook's path)`` opens, once per request; closed when the request
    ends (:func:`close_request`)."""
    if name not in OPENED_PER_REQUEST:
        raise ValueError(f"{name!r} would not be closed: list it in OPENED_PER_REQUEST")
    if name not in g:
        setattr(g, name, opening(current_app.config["GRADER_DB"]))
    return getattr(g, name)


def staff() -> Staff:
    """The staff tables for this request."""
    return per_request("staff", lambda db: Staff(db, current_app.config["GRADER_CLOCK"]))


def session() -> Session | None:
    """The signed-in member's session, or ``None``."""
    if "session" not in g:
        g.session = staff().session(request.cookies.get(COOKIE))
    return g.session


def signed_in(view: View) -> View:
    """A page of the course staff: it needs a live staff session (no session: to the sign-in
    page; a student: their own page, or 403); a POST needs its CSRF token."""
    return _guarded(view, staff_page=True)


def student_signed_in(view: View) -> View:
    """A student's own page: it needs a live student session (staff: 403); a POST needs its
    CSRF token. The student is always the session's: no route takes a student's id."""
    return _guarded(view, staff_page=False)


def anyone_signed_in(view: View) -> View:
    """A page for whoever is signed in (signing out); a POST needs its CSRF token."""
    return _guarded(view, staff_page=None)


def _guarded(view: View, staff_page: bool | None) -> View:
    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        current = session()
        if current is None:
            return redirect(url_for("pages.sign_in"))
        if staff_page is not None and current.member.staff != staff_page:
            if not staff_page or request.endpoint != "pages.classes":
                abort(403, "this page is for the course staff" if staff_page
                      else "this page is for students: staff see students' pages from the class view")
            return redirect(url_for("students.home"))
        if request.method == "POST" and not (
                _same_origin() and current.csrf_matches(request.form.get("csrf"))):
            abort(403, "this form is stale or was not sent by this site: reload the page")
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def require(role: str) -> None:
    """Refuse (403) a member who does not have ``role``."""
    current = session()
    if current is None or current.member.role != role:
        abort(403, f"only an {role} may do this")


def set_session_cookie(response: Response, cookie: str) -> Response:
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="Strict",
                        secure=current_app.config["GRADER_SECURE_COOKIES"],
                        max_age=current_app.config["GRADER_SESSION_S"])
    return response


# the page's own copy of the policy (a page saved to disk keeps it); browsers ignore, with a
# console error, the directives a <meta> cannot carry
META_POLICY = "; ".join(d for d in HEADERS["Content-Security-Policy"].split("; ")
                        if not d.startswith("frame-ancestors"))
# a submission's file, served by the application: never run as a page of this site
FILE_HEADERS = {"Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'",
                "X-Content-Type-Options": "nosniff"}


def add_headers(response: Response) -> Response:
    """Every response's security headers (see the module's docstring)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def close_request(_: BaseException | None) -> None:
    for name in OPENED_PER_REQUEST:
        opened = g.pop(name, None)
        if opened is not None:
            opened.__exit__(None, None, None)


def _same_origin() -> bool:
    """Whether the request's ``Origin`` (absent in some browsers' same-origin posts) is ours."""
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")
