"""What one request of the staff application works with: the gradebook and its queue tables,
opened once per request and closed when it ends, and the page renderer."""

from __future__ import annotations

from typing import Any

from flask import make_response
from werkzeug.wrappers import Response

from grader.report.environment import make_environment
from grader.store.gradebook import Gradebook
from grader.store.queues import Queues
from grader.web import security

ENV = make_environment("grader.web")


def render(template: str, status: int = 200, **context: Any) -> Response:
    """A page, with who is signed in and their CSRF token for its forms."""
    current = security.session()
    html = ENV.get_template(template).render(
        member=current.member if current else None, csrf=current.csrf if current else "",
        csp=security.META_POLICY, **context)
    return make_response(html, status)


def book() -> Gradebook:
    """The gradebook for this request."""
    return security.per_request("book", Gradebook)


def queues() -> Queues:
    """The queue tables for this request."""
    return security.per_request("queues", Queues)
