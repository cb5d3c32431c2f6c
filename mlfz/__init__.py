__version__ = "0.1.0"

from .nn.tensor.core import manual_seed
