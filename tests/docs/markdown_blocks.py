"""The fenced code blocks of a guide page, in order, with what their info strings say.

A block's info string is its language and then attributes: ``python title="service.py"``
(a file the page writes) or ``markdown untested`` (shown, not run). Markdown renderers show the
language and ignore the rest, so the attributes tell the test what to do without the reader
seeing them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True)
class Block:
    """One fenced block: ``line`` is the 1-based line of its first content line in ``path``."""

    path: Path
    line: int
    language: str
    text: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def title(self) -> str | None:
        return self.attributes.get("title")

    @property
    def untested(self) -> bool:
        return "untested" in self.attributes

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"


def _attributes(words: list[str]) -> dict[str, str]:
    """``title="a b"`` -> {"title": "a b"}; a bare word is a flag (value "")."""
    attributes: dict[str, str] = {}
    for word in words:
        key, _, value = word.partition("=")
        attributes[key] = value
    return attributes


def parse_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path``; an unclosed fence is an error naming its line."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        words = shlex.split(opening["info"].strip())
        start = index + 1
        end = start
        closing = re.compile(rf"^ {{0,3}}`{{{len(fence)},}}\s*$")
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        if end == len(lines):
            raise ValueError(f"{path.name}:{index + 1}: code block is never closed")
        body = [line[indent:] if line[:indent].isspace() else line for line in lines[start:end]]
        blocks.append(
            Block(
                path=path,
                line=start + 1,
                language=words[0] if words else "",
                text="\n".join(body) + "\n",
                attributes=_attributes(words[1:]),
            )
        )
        index = end + 1
    return blocks
