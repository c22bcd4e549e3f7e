"""srcgrad: fast reverse-mode automatic differentiation of Python/NumPy code by source
transformation, compiled with numba."""

__version__ = "0.1.0"

from . import losses  # noqa: E402
from .api import grad, jit, stop_gradient, value_and_grad, vjp  # noqa: E402
from .checkpointing import checkpoint  # noqa: E402
from .custom import adjoint, nondiff  # noqa: E402
from .errors import DifferentiationError, SrcgradError, TypeInferenceError, UnsupportedError  # noqa: E402
from .jacobians import hessian, hvp, jacobian, jvp, jvp_function, vjp_function  # noqa: E402
from .show import show  # noqa: E402
from .testing import check_grad  # noqa: E402
from .vmap import batch_grad, vmap  # noqa: E402

__all__ = ["DifferentiationError", "SrcgradError", "TypeInferenceError", "UnsupportedError",
           "__version__", "adjoint", "check_grad", "grad", "jit", "losses", "nondiff", "show",
           "stop_gradient", "value_and_grad", "vjp"]
__all__ += ["hessian", "hvp", "jacobian", "jvp", "jvp_function", "vjp_function"]
__all__ += ["batch_grad", "vmap"]
__all__ += ["checkpoint"]
