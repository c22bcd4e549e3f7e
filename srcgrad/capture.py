"""Read a user function: its source, AST, file/line offsets, globals and closure cells."""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from dataclasses import dataclass

from .errors import UnsupportedError
from .ir import Loc


@dataclass
class Captured:
    fn: object
    name: str
    tree: ast.FunctionDef
    file: str
    first_line: int  # absolute line of the snippet's first line
    indent: int  # columns removed by dedent
    lines: list  # the snippet's original lines
    namespace: dict  # globals overlaid with closure cells
    source: str

    def loc(self, node) -> Loc:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0)
        text = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        return Loc(self.file, line + self.first_line - 1, col + self.indent, text)

    @property
    def source_hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


def unwrap(fn):
    """The Python function behind a numba dispatcher, a functools wrapper or a srcgrad object."""
    for _ in range(10):
        if hasattr(fn, "py_func"):
            fn = fn.py_func
        elif hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        else:
            break
    return fn


def _lambda_tree(source: str, fn) -> ast.FunctionDef | None:
    """Turn the single lambda on a source line into a FunctionDef."""
    try:
        module = ast.parse(source)
    except SyntaxError:
        # `grad(lambda x: x * x)(3.0)` inside a larger expression: wrap it in parentheses
        try:
            module = ast.parse("(" + source.strip().rstrip(",") + ")")
        except SyntaxError:
            try:  # a dict entry: `"add": lambda x, y: x + y,`
                module = ast.parse("{" + source.strip().rstrip(",") + "}")
            except SyntaxError:
                return None
    lambdas = [n for n in ast.walk(module) if isinstance(n, ast.Lambda)]
    nargs = fn.__code__.co_argcount
    lambdas = [n for n in lambdas if len(n.args.args) == nargs]
    if len(lambdas) != 1:
        return None
    lam = lambdas[0]
    ret = ast.Return(value=lam.body)
    ast.copy_location(ret, lam.body)
    tree = ast.FunctionDef(name="lambda", args=lam.args, body=[ret], decorator_list=[],
                           returns=None, type_params=[])
    ast.copy_location(tree, lam)
    return tree


def capture(fn) -> Captured:
    fn = unwrap(fn)
    if not inspect.isfunction(fn):
        raise UnsupportedError(f"srcgrad differentiates Python functions, not {type(fn).__name__}",
                               construct="capture")
    try:
        lines, first_line = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise UnsupportedError(
            f"cannot read the source of {fn.__qualname__!r} ({exc}); srcgrad needs functions "
            "defined in a file (not exec'd or typed at an interactive prompt)",
            construct="capture") from None
    source = "".join(lines)
    dedented = textwrap.dedent(source)
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    if fn.__name__ == "<lambda>":
        tree = _lambda_tree(dedented, fn)
        if tree is None:
            raise UnsupportedError("cannot isolate this lambda in its source line; define it "
                                   "with def", Loc(file, first_line, 0, lines[0].strip()),
                                   construct="lambda")
    else:
        module = ast.parse(dedented)
        defs = [n for n in module.body if isinstance(n, ast.FunctionDef)]
        if not defs:
            raise UnsupportedError(f"no function definition found for {fn.__qualname__!r}",
                                   Loc(file, first_line, 0, lines[0].strip()), construct="capture")
        tree = defs[0]
    namespace = dict(fn.__globals__)
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            try:
                namespace[name] = cell.cell_contents
            except ValueError:  # empty cell
                pass
    return Captured(fn, fn.__qualname__, tree, file, first_line, indent, lines, namespace, source)
