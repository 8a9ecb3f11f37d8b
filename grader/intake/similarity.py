"""The similarity report: every pair of a batch's submissions, compared by code fingerprints.

Fingerprints are copydetect's (winnowing of k-grams of the token stream, as MOSS does; a
maintained package with boilerplate removal and overlap positions — chosen over pycode_similar,
which compares ASTs function by function and misses code moved between functions, and over
a plain diff, which a reordering defeats). Before fingerprinting, every identifier —
builtins such as ``filter`` included, which copydetect's own filter keeps — becomes one
name, so renamed variables still match; winnowing is indifferent to the order of functions;
comments and string contents do not count. The kit's starter files and the course's provided
files are boilerplate: what every student was given never counts as shared.

A pair's score is the larger of the two shares: the fraction of one submission's fingerprinted
tokens that appear in the other (a small submission copied into a larger one scores high).
"""

from __future__ import annotations

import io
import itertools
import keyword
import tokenize
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.intake import ipynb
from grader.rubric.load import Rubric

NOISE_TOKENS = 25  # k: shorter shared runs are noise (copydetect's default)
GUARANTEE_TOKENS = 30  # every shared run this long is found (window = 30 - 25 + 1)
DEFAULT_THRESHOLD = 0.7


@dataclass(frozen=True)
class Pair:
    """Two submissions and how much of each appears in the other (fractions in [0, 1])."""

    a: str
    b: str
    share_a: float
    share_b: float
    lines_a: frozenset[int]  # 1-based lines of a's source inside shared runs
    lines_b: frozenset[int]

    @property
    def score(self) -> float:
        return max(self.share_a, self.share_b)

    @property
    def page(self) -> str:
        """The pair's page name (ids are made of safe characters by :func:`safe_name`)."""
        return f"{safe_name(self.a)}--{safe_name(self.b)}.html"


def safe_name(student: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in student)


def graded_source(modules: dict[str, Path], provided: set[str]) -> str:
    """The student's graded modules, in rubric order, as one text with a header per module (a
    notebook's as the student wrote it: :func:`grader.intake.ipynb.as_written`)."""
    parts = []
    for module, path in modules.items():
        if f"{module}.py" in provided:
            continue
        text = ipynb.as_written(path.read_text(encoding="utf-8", errors="replace"))
        parts.append(f"# ---- {module}.py\n" + text)
    return "\n".join(parts)


def boilerplate_source(rubric: Rubric, kit_folder: Path) -> str:
    """What every student was given: the kit's ``.py`` stubs and the provided files."""
    stubs = sorted(kit_folder.glob("*.py")) if kit_folder.is_dir() else []
    return "\n".join([p.read_text(encoding="utf-8") for p in stubs]
                     + list(rubric.provided_files.values()))


def compare(sources: dict[str, str], boilerplate: str = "") -> list[Pair]:
    """Every pair of ``sources`` (student -> text), most similar first."""
    from copydetect import CodeFingerprint

    def fingerprint(text: str, window: int = GUARANTEE_TOKENS - NOISE_TOKENS + 1):
        return CodeFingerprint("source.py", NOISE_TOKENS, window, fp=io.StringIO(one_name(text)))

    # every k-gram of the boilerplate (window 1), not a winnowed sample, as copydetect does
    common = fingerprint(boilerplate, window=1).hashes if boilerplate.strip() else set()
    prints = {student: _without(fingerprint(text), common)
              for student, text in sorted(sources.items())}
    pairs = [_pair(a, b, prints[a], prints[b]) for a, b in itertools.combinations(prints, 2)]
    return sorted(pairs, key=lambda p: (-p.score, p.a, p.b))


def one_name(source: str) -> str:
    """``source`` with every identifier replaced by ``v`` (keywords kept, lines unchanged), so
    that renaming changes nothing; unchanged if it does not tokenize.

    Linear in the source: each line is rebuilt once from its pieces (replacing names one at a
    time copied the line for each name, and a one-line list of 200 000 names took minutes).
    The lines are the tokenizer's own (split at ``\n`` only), so its columns index them.
    """
    lines = io.StringIO(source).readlines()
    spans: dict[int, list[tuple[int, int]]] = {}
    try:
        for token in tokenize.generate_tokens(iter(lines).__next__):
            if token.type == tokenize.NAME and not keyword.iskeyword(token.string):
                spans.setdefault(token.start[0], []).append((token.start[1], token.end[1]))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return source
    for row, found in spans.items():
        lines[row - 1] = _renamed(lines[row - 1], found)
    return "".join(lines)


def _renamed(line: str, names: list[tuple[int, int]]) -> str:
    """``line`` with each (start, end) column span of ``names`` (in order) replaced by ``v``."""
    pieces, at = [], 0
    for start, end in names:
        pieces += [line[at:start], "v"]
        at = end
    pieces.append(line[at:])
    return "".join(pieces)


def _without(fingerprint, common: set):
    """``fingerprint`` with the ``common`` hashes removed and its token coverage recounted
    (copydetect's own removal assumes unique hashes, which repetitive code does not have)."""
    from copydetect.utils import get_token_coverage

    fingerprint.hashes = fingerprint.hashes - common
    fingerprint.hash_idx = {h: i for h, i in fingerprint.hash_idx.items() if h not in common}
    fingerprint.token_coverage = get_token_coverage(fingerprint.hash_idx, fingerprint.k,
                                                    len(fingerprint.filtered_code))
    return fingerprint


def _pair(a: str, b: str, first, second) -> Pair:
    from copydetect import compare_files

    _, (share_a, share_b), (slices_a, slices_b) = compare_files(first, second)
    return Pair(a, b, float(share_a), float(share_b),
                _lines(first.raw_code, slices_a), _lines(second.raw_code, slices_b))


def _lines(text: str, slices: np.ndarray) -> frozenset[int]:
    """1-based line numbers that the character ranges ``slices`` (2 × N) touch."""
    if len(slices) == 0 or np.size(slices) == 0:
        return frozenset()
    starts = np.cumsum([0] + [len(line) for line in text.splitlines(keepends=True)])
    found: set[int] = set()
    for begin, end in zip(slices[0], slices[1]):
        first = int(np.searchsorted(starts, begin, side="right"))
        last = int(np.searchsorted(starts, max(begin, end - 1), side="right"))
        found.update(range(first, last + 1))
    return frozenset(found)
