# Mitogen's linear strategy (the accelerator), loaded from the installed `mitogen` package so
# that ansible.cfg can name it by a path inside the project. Switch it off with
# ANSIBLE_STRATEGY=linear.
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
