"""Comparing what a command printed with what the guide shows, as doctest's ELLIPSIS does.

``...`` in the shown text stands for any text, across lines too, so a page can leave out what
changes from run to run (dates, request ids, log lines) and still pin down what matters.
"""

from __future__ import annotations

import re

ELLIPSIS = "..."


def normalise(text: str) -> str:
    """Trailing spaces and blank lines at either end do not count; ``\\r\\n`` is ``\\n``."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n")


def pattern_of(shown: str) -> re.Pattern[str]:
    pieces = normalise(shown).split(ELLIPSIS)
    return re.compile(".*?".join(re.escape(piece) for piece in pieces), re.DOTALL)


def matches(shown: str, printed: str) -> bool:
    """Whether ``printed`` is what ``shown`` describes, all of it."""
    return pattern_of(shown).fullmatch(normalise(printed)) is not None


def starts_like(shown: str, printed: str) -> bool:
    """Whether ``printed`` begins with what ``shown`` describes (a server still printing)."""
    return pattern_of(normalise(shown) + ELLIPSIS).fullmatch(normalise(printed)) is not None


def mismatch(where: str, command: str, shown: str, printed: str) -> str:
    """The message of a failed comparison: both texts in full, so the fix is obvious."""
    return (
        f"{where}: `{command}` printed something else than the guide shows.\n"
        f"--- the guide shows:\n{normalise(shown)}\n--- it printed:\n{normalise(printed)}\n---"
    )
