"""Whether a function has proved quick enough to run inline, on a thread that has other work.

Two places run a function on a thread whose real job is something else, once the function has
shown it is quick: an API worker runs a quick sync API function on its event loop thread
(``http/sync_calls.py``), and a runner worker runs a quick model method on its loop thread
(``batching/model_lane.py``). Either way the alternative is a hand-off to another thread and
back, and either way a slow run on the loop thread holds up everything else. One rule serves
both, with each caller's own limits (``ProofRule``):

- a function runs inline once its last ``proven_after`` runs off the loop each took at most
  ``limit_s``; a slower run off the loop starts the count again;
- an inline run longer than ``stall_limit_s`` (at least ``limit_s``) sends it back off the loop
  and doubles the runs it needs to return, up to ``max_proven_after``: a function that now and
  then blocks stalls the loop a few times, then rarely. Inline runs between the two limits are
  let pass: a run a few times its usual length is more often the machine than the function.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProofRule:
    #: a run off the loop this short counts towards running inline
    limit_s: float
    #: consecutive quick runs off the loop before the function runs inline
    proven_after: int
    #: an inline run longer than this sends the function back; None: ``limit_s``
    stall_limit_s: float | None = None
    #: the most quick runs ever demanded after stalls; None: ``proven_after`` (no back-off)
    max_proven_after: int | None = None


class InlineProof:
    """The running record of one function under a ``ProofRule``; not thread-safe (each caller
    observes from one thread)."""

    __slots__ = ("_limit_s", "_max_needed", "_needed", "_quick_runs", "_stall_limit_s")

    def __init__(self, rule: ProofRule) -> None:
        self._limit_s = rule.limit_s
        self._stall_limit_s = max(rule.limit_s, rule.stall_limit_s or rule.limit_s)
        self._needed = rule.proven_after
        self._max_needed = max(rule.proven_after, rule.max_proven_after or rule.proven_after)
        self._quick_runs = 0

    @property
    def proven(self) -> bool:
        """Whether the next run may be inline."""
        return self._quick_runs >= self._needed

    def observe(self, seconds: float, inline: bool) -> bool:
        """Record one run that took ``seconds``; True when it revoked the proof."""
        if inline:
            if seconds <= self._stall_limit_s:
                return False
            self._quick_runs = 0
            self._needed = min(self._needed * 2, self._max_needed)
            return True
        if seconds <= self._limit_s:
            self._quick_runs = min(self._quick_runs + 1, self._max_needed)
        else:
            self._quick_runs = 0
        return False
