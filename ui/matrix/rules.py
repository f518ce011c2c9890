"""The matrix explorer's rank rules: which rule sets the rank, and the rank it picks (core calls only)."""

from __future__ import annotations

from dataclasses import dataclass

from lowrank_core import (
    Factorization,
    numerical_rank,
    numerical_tolerance,
    optimal_hard_threshold_rank,
    rank_for_energy,
)

__all__ = ["RANK_RULES", "RankRule", "RuleOutcome", "apply_rank_rule", "noise_note"]

RANK_RULES = {
    "fixed": "Fixed (the slider)",
    "energy": "Energy %",
    "tolerance": "Numerical tolerance",
    "oht": "Optimal hard threshold",
}


@dataclass(frozen=True)
class RankRule:
    """The chosen rank rule and its setting.

    Attributes
    ----------
    name : {"fixed", "energy", "tolerance", "oht"}
    energy_percent : float
        Target share of ‖W‖_F² for "energy".
    noise_sigma : float or None
        σ for "oht" when the noise is known; None to estimate it from the median singular value.
    """

    name: str = "fixed"
    energy_percent: float = 99.0
    noise_sigma: float | None = None


@dataclass(frozen=True)
class RuleOutcome:
    """What a rule chose: the rank and one sentence saying why."""

    rank: int
    explanation: str


def apply_rank_rule(rule: RankRule, factorization: Factorization, *, slider_rank: int) -> RuleOutcome:
    """The rank a rule picks from the singular values; "fixed" returns ``slider_rank``."""
    S, shape = factorization.S, factorization.shape
    if rule.name == "energy":
        rank = rank_for_energy(S, rule.energy_percent / 100, total_energy=factorization.total_energy,
                               shape=shape)
        return RuleOutcome(rank, "Energy rule: the smallest rank keeping "
                                 f"≥ {rule.energy_percent:g} % of ‖W‖²_F is {rank}.")
    if rule.name == "tolerance":
        rank = numerical_rank(S, shape)
        tol = float(numerical_tolerance(S, shape))
        return RuleOutcome(rank, f"Numerical tolerance: {rank} singular values exceed "
                                 f"ε·max(m, n)·σ₁ = {tol:.3e}.")
    if rule.name == "oht":
        result = optimal_hard_threshold_rank(S, shape, noise_sigma=rule.noise_sigma)
        how = (f"known σ = {result.noise_sigma:.4g}" if result.noise_known
               else f"σ estimated as {result.noise_sigma:.4g} from the median singular value")
        floor = (" (raised to the numerical tolerance: the estimated noise is float32 rounding, so this "
                 "matrix is exactly low rank)" if result.floored else "")
        return RuleOutcome(result.rank, f"Optimal hard threshold ({how}): τ = {result.threshold:.4g}{floor} "
                                        f"keeps {result.rank} singular values.")
    return RuleOutcome(int(slider_rank), f"Fixed: the slider's rank {int(slider_rank)}.")


def noise_note(*, numerical: int, tolerance: float, noise_sigma: float, threshold: float, kept: int) -> str:
    """Why the numerical rank counts nearly every direction of a noisy matrix, and what the optimal hard
    threshold keeps instead (markdown)."""
    return (f"**Why the numerical rank says {numerical} while the signal has fewer directions.** "
            "The numerical rank counts singular values above float32 rounding, "
            f"ε·max(m, n)·σ₁ = {tolerance:.2e}. Noise of σ = {noise_sigma:.3g} lifts every singular value "
            "far above that, so nearly every direction counts. The optimal hard threshold (Gavish and "
            "Donoho, 2014) cuts at the top of the noise bulk instead: τ = λ*(β)·√max(m, n)·σ, with "
            f"λ* = 4/√3 for a square matrix. Here τ = {threshold:.3g} keeps {kept}: the singular values that "
            "stand out of the noise.")
