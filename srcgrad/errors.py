"""The exceptions srcgrad raises, each pointing at the user's source."""

from __future__ import annotations


class SrcgradError(Exception):
    """Base class: every srcgrad error names the user's file, line, column and construct."""

    def __init__(self, message: str, loc=None, construct: str | None = None):
        self.message = message
        self.loc = loc
        self.construct = construct
        super().__init__(self._format())

    def _format(self) -> str:
        head = self.message if self.construct is None else f"{self.construct}: {self.message}"
        if self.loc is None:
            return head
        text = f"{self.loc.file}:{self.loc.line}:{self.loc.col}: {head}"
        if self.loc.text:
            text += f"\n    {self.loc.text}"
        return text


class UnsupportedError(SrcgradError):
    """The function uses a construct outside the subset srcgrad can differentiate."""


class DifferentiationError(SrcgradError):
    """The request itself cannot be honoured (non-scalar output for grad, int argument, ...)."""


class TypeInferenceError(SrcgradError):
    """A variable changes kind (scalar/array, ndim) in a way numba cannot compile."""
