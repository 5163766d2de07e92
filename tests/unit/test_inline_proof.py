"""``inline_proof``: the one rule by which a function earns, loses and regains the loop thread."""

from __future__ import annotations

from bentoml_classic.inline_proof import InlineProof, ProofRule


def test_proven_after_enough_quick_runs_off_the_loop() -> None:
    proof = InlineProof(ProofRule(limit_s=0.002, proven_after=3))
    for _ in range(2):
        proof.observe(0.001, inline=False)
    assert not proof.proven
    proof.observe(0.001, inline=False)
    assert proof.proven


def test_a_slow_run_off_the_loop_starts_the_count_again() -> None:
    proof = InlineProof(ProofRule(limit_s=0.002, proven_after=2))
    proof.observe(0.001, inline=False)
    proof.observe(0.003, inline=False)
    proof.observe(0.001, inline=False)
    assert not proof.proven


def test_an_inline_stall_revokes_and_backs_off_up_to_the_most() -> None:
    proof = InlineProof(ProofRule(0.002, 2, stall_limit_s=0.02, max_proven_after=5))
    for _ in range(2):
        proof.observe(0.001, inline=False)
    assert proof.observe(0.01, inline=True) is False  # between the limits: let pass
    assert proof.proven
    assert proof.observe(0.05, inline=True) is True
    for needed in (4, 5, 5):  # doubled, then capped
        for _ in range(needed - 1):
            proof.observe(0.001, inline=False)
        assert not proof.proven
        proof.observe(0.001, inline=False)
        assert proof.proven
        assert proof.observe(0.05, inline=True) is True


def test_without_a_stall_limit_any_slow_inline_run_revokes_without_back_off() -> None:
    proof = InlineProof(ProofRule(limit_s=0.005, proven_after=1))
    proof.observe(0.001, inline=False)
    assert proof.observe(0.006, inline=True) is True
    proof.observe(0.001, inline=False)
    assert proof.proven
