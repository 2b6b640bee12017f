"""`registry simulate`: a synthetic national year with known truth, sent through the real
gateway over mutual TLS, and the register's linkage scored against it (README.md here)."""

from registry.simulate.run import run_simulation, simulate_in_new_stack
from registry.simulate.score import Score

__all__ = ["Score", "run_simulation", "simulate_in_new_stack"]
