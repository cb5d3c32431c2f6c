"""The original mlfz's `mlfz.nn.model`: the `Model` base class, derived in chapter 5.

Not exported from a notebook (nbdev writes one module per notebook): this file only gives the
original library's import path to a name defined in `mlfz.nn.scalar`."""
from .scalar import Model

__all__ = ["Model"]
