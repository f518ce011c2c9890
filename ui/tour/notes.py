"""What the presenter might say on each step of the tour: speaker notes, shown only in the presenter view's
"Presenter notes" panel (``ui.presenter.notes``), never on the page itself."""

from __future__ import annotations

__all__ = ["TOUR_STEPS", "TOUR_NOTES"]

TOUR_STEPS = 7
TOUR_NOTES = {
    1: "- Ask the room: how many numbers does W hold? (m·n: 225 at the defaults.)\n"
       "- Every row of W is a mix of the same k rows of the second factor: the heatmap's stripes show it.\n"
       "- Change k live (the settings panel above) and let them see the pattern change.",
    2: "- `matrix_rank` does not test for exact zeros: float32 leaves the 'zero' singular values near 1e-7.\n"
       "- The rank is k, whatever m and n are. Ask: what if k were larger than m?",
    3: "- The log scale is the point: the cliff after σ_k *is* the rank.\n"
       "- U and V are orthonormal; S is sorted. Mention the sign convention only if asked.",
    4: "- a = U_r diag(S_r) and b = V_rᵀ: two thin matrices whose product is W again (to float32 rounding).\n"
       "- Point at the largest |W_lr − W|: about 1e-7, rounding, not approximation.",
    5: "- The factors hold r·(m + n) numbers: 120 against 225 at the defaults.\n"
       "- Break-even at mn/(m + n): ask the room where it is before showing it.",
    6: "- The same layer, two ways: z = W x + bias against W_lr x + bias; the scatter sits on the diagonal.\n"
       "- This is the whole idea behind low-rank layers and LoRA.",
    7: "- Now go below the rank with ↑/↓: the points leave the diagonal.\n"
       "- The error stays under σ_{r+1}·‖x‖ (Eckart–Young–Mirsky): read both numbers aloud at r = k − 1.",
}
