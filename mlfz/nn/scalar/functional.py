"""The original mlfz's `mlfz.nn.scalar.functional`: the functions of Scalars, derived in chapter 1.

Not exported from a notebook (nbdev writes one module per notebook): this file only gives the
original library's import path to names defined in `mlfz.nn.scalar.core`."""
from .core import exp, log, sin, cos, tanh, sigmoid, relu

__all__ = ["exp", "log", "sin", "cos", "tanh", "sigmoid", "relu"]
