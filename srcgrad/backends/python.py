"""The Python backend: run the generated source without numba (for debugging, stepping into
the adjoint with pdb).  ``SRCGRAD_BACKEND=python`` or ``backend="python"`` selects it."""

from __future__ import annotations

from ..types import from_value


def preamble() -> list:
    return ["", "", "def _jit(f):", "    return f"]


class PythonFunction:
    """A callable that specialises on the Python values' types and runs plain Python."""

    def __init__(self, transform):
        self.transform = transform
        self.__name__ = transform.entry_name
        self.__doc__ = f"srcgrad {transform.kind} of {transform.fn_name} (Python backend)"

    def __call__(self, *args):
        types = [from_value(a) for a in args]
        return self.transform.specialize(types).compiled(*args)

    @property
    def source(self) -> str:
        return self.transform.latest().source

    @property
    def ir(self) -> str:
        return self.transform.latest().ir_text

    def source_for(self, *args) -> str:
        return self.transform.specialize_for_values(args).source
