"""Compile the generated function as the dispatcher's own overload (LLVM runs once on it).

A `TransformDispatcher`'s Python body only calls a stub whose ``@overload`` returns the
generated function.  numba compiles that implementation into one library (LLVM optimisation and
machine code), then compiles the dispatcher's body into a second library that links the first
in, and runs the module passes and the machine-code emission again over the whole linked module:
every generated function was optimised and emitted twice (the ADBench LSTM gradient spent
~6 s of its 22 s cold compile on the second round).

numba's ``_FunctionCompiler._get_implementation(args, kws)`` chooses the Python function that
is compiled for a signature (it served the old ``generated_jit``).  `BodyCompiler` overrides it:
srcgrad's pipeline runs for the argument types and the generated function's own Python body is
what numba compiles, under the dispatcher's name, signature and disk cache.  Calls from Python
and from user ``@njit`` code (which type the dispatcher through ``compile``) both take this path;
the stub stays for anything that compiles the entry body itself.
"""

from __future__ import annotations

from numba.core.dispatcher import _FunctionCompiler

from ..errors import SrcgradError
from ..types import from_numba


class BodyCompiler(_FunctionCompiler):
    """`_FunctionCompiler` whose implementation for a signature is srcgrad's generated function."""

    def __init__(self, base: _FunctionCompiler, transform):
        super().__init__(base.py_func, base.targetdescr, base.targetoptions, base.locals,
                         base.pipeline_class)
        self.transform = transform

    def _get_implementation(self, args, kws):
        transform = self.transform
        try:
            gen = transform.specialize([from_numba(t) for t in args]).compiled
        except SrcgradError as exc:
            transform.last_error = exc
            raise
        except TypeError as exc:  # as the overload's typer did: reported as srcgrad's error
            transform.last_error = SrcgradError(str(exc))
            raise
        py_func = getattr(gen, "py_func", None)
        if py_func is None or py_func.__code__.co_argcount != len(args):
            return super()._get_implementation(args, kws)  # the stub path (entry body)
        return py_func


def install(disp, transform) -> None:
    """Make ``disp`` compile each signature from the generated function directly."""
    disp._compiler = BodyCompiler(disp._compiler, transform)
