"""The original mlfz's `mlfz.nn.scalar.loss`: losses over lists of Scalars, derived in chapter 5.

Not exported from a notebook (nbdev writes one module per notebook): this file only gives the
original library's import path to names defined in `mlfz.nn.scalar`."""
from . import mean_squared_error, binary_cross_entropy

__all__ = ["mean_squared_error", "binary_cross_entropy"]
