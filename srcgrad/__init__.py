"""srcgrad: fast reverse-mode automatic differentiation of Python/NumPy code by source
transformation, compiled with numba."""

__version__ = "0.1.0"

from .api import grad, jit, stop_gradient, value_and_grad, vjp  # noqa: E402
from .errors import DifferentiationError, SrcgradError, TypeInferenceError, UnsupportedError  # noqa: E402
from .show import show  # noqa: E402
from .testing import check_grad  # noqa: E402

__all__ = ["DifferentiationError", "SrcgradError", "TypeInferenceError", "UnsupportedError",
           "__version__", "check_grad", "grad", "jit", "show", "stop_gradient", "value_and_grad",
           "vjp"]
