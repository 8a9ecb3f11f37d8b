"""The Jinja2 environment of every report: HTML autoescaped, Markdown with escaping filters.

Everything a student controls (their id, printed output, exception messages
inside check messages, notes) reaches a page only through autoescaping (HTML)
or :func:`md_cell` / :func:`md_code` (Markdown).
"""

from __future__ import annotations

import re

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

ICONS = {"passed": "✅", "failed": "❌", "error": "💥", "timeout": "⏱️", "memory": "🧠",
         "skipped": "⏭️"}


def md_cell(text: object) -> str:
    """Text safe inside a Markdown table cell (and inert if the renderer allows HTML)."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\r", " ").replace("\n", " "))


def md_code(text: object) -> str:
    """A fenced code block that ``text`` cannot close: the fence is longer than its backtick runs."""
    text = str(text).rstrip("\n")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def seconds(value: float | None) -> str:
    """``0.012 s``, ``1.4 s``, ``95 s``: enough digits to compare with a limit."""
    if value is None:
        return "–"
    return f"{value:.3f} s" if value < 0.1 else f"{value:.2f} s" if value < 10 else f"{value:.0f} s"


def anchor(text: object) -> str:
    """An HTML id made of safe characters only."""
    return "check-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-") or "x")


def make_environment(*packages: str) -> Environment:
    """The reports' environment; templates of ``packages`` (their ``templates/`` folders)
    come first, so a page of the web application can extend a report's."""
    loader = ChoiceLoader([*(PackageLoader(p, "templates") for p in packages),
                           PackageLoader("grader.report", "templates")])
    env = Environment(loader=loader,
                      autoescape=select_autoescape(["html.j2"], default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(md_cell=md_cell, md_code=md_code, seconds=seconds, anchor=anchor)
    env.globals["icons"] = ICONS
    return env


ENV = make_environment()
