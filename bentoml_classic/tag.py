"""Model, runner and service names, and the ``name:version`` tags that address models."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from .exceptions import InvalidArgument

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 63
_NAME_RE = re.compile(r"^[a-z0-9]([-._a-z0-9]*[a-z0-9])?$")


def validate_name(name: object, what: str = "name") -> str:
    """Return ``name`` lower-cased if it is a valid name, else raise an error that quotes it.

    Upper case is folded with a warning, as classic BentoML did, so that ``save_model("IrisClf")``
    keeps working; everything else that does not match the pattern is refused.
    """
    if not isinstance(name, str):
        raise InvalidArgument(f"{what} must be a string, got {type(name).__name__}: {name!r}")
    lowered = name.lower()
    if lowered != name:
        logger.warning("%s %r converted to lower case: %r", what, name, lowered)
    if len(lowered) > MAX_NAME_LENGTH or not _NAME_RE.fullmatch(lowered):
        raise InvalidArgument(
            f"invalid {what} {name!r}: use at most {MAX_NAME_LENGTH} lower-case letters, digits, "
            "'-', '.' or '_', starting and ending with a letter or digit"
        )
    return lowered


@dataclass(frozen=True)
class Tag:
    """An immutable ``name[:version]`` pair; ``version=None`` means "not resolved yet"."""

    name: str
    version: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", validate_name(self.name, "tag name"))
        if self.version is not None:
            object.__setattr__(self, "version", validate_name(self.version, "tag version"))

    @classmethod
    def from_str(cls, text: str) -> Tag:
        if not isinstance(text, str) or not text:
            raise InvalidArgument(f"invalid tag {text!r}: expected 'name' or 'name:version'")
        name, sep, version = text.partition(":")
        if sep and not version:
            raise InvalidArgument(f"invalid tag {text!r}: empty version after ':'")
        if ":" in version:
            raise InvalidArgument(f"invalid tag {text!r}: more than one ':'")
        return cls(name, version or None)

    @classmethod
    def from_taglike(cls, taglike: Tag | str) -> Tag:
        return taglike if isinstance(taglike, Tag) else cls.from_str(taglike)

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}:{self.version}"
