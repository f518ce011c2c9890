"""The tour's family ("From the notebook"): its cached notebook objects and its address."""
