"""Codegen: IR -> deterministic, readable Python source.

One statement per line; a comment above each group of statements names the user's line they
came from; names are the IR's (``x_bar``, ``tape_t``, ``t3``), so the same program always gives
the same text.  The module header imports what generated code uses; the backend decides what
``_jit`` is (``numba.njit(cache=True, ...)`` or nothing).
"""

from __future__ import annotations

import math

import numpy as np

from . import nonneg, scatter, static_fmt
from .ir import NEWAXIS, Block, Break, Const, Continue, Eqn, For, Func, If, Slice, Store, Var, While, unused_name, walk
from .primitives import PRIMS
from .types import ArrayType, from_value


def format_const(value, dtype: str | None = None) -> str:
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        text = str(int(value))
    else:
        value = float(value)
        if math.isnan(value):
            text = "np.nan"
        elif math.isinf(value):
            text = "np.inf" if value > 0 else "-np.inf"
        else:
            text = repr(value)
        if dtype == "float32":
            return f"np.float32({text})"
    return f"({text})" if text.startswith("-") else text


class _Writer:
    def __init__(self, func: Func):
        self.func = func
        self.types = func.types
        self.lines: list = []
        self.last_loc = None
        self.taken: set = set()
        self.unsigned = self._unsigned_names()  # i -> i_u = np.uint64(i), for indices (nonneg.py)

    def fresh_name(self, base: str) -> str:
        """A local name no variable of the function (nor an earlier fresh name) uses."""
        name = unused_name(self.func, base, self.taken)
        self.taken.add(name)
        return name

    def atom(self, a, dtype=None, ints=False) -> str:
        if isinstance(a, Var):
            if ints and dtype == "float32" and a.name in self.func.weak:  # an operand of arithmetic
                return f"np.float32({a.name})"  # that is a Python number (0.1 * j): NumPy 2 keeps float32
            return a.name
        if ints and dtype == "float32" and type(a.value) is int:  # numba: f32 * int -> f64
            return f"np.float32({a.value})"
        return format_const(a.value, dtype)

    def atom_type(self, a):
        if isinstance(a, Var):
            return self.types.get(a.name)
        return None if a.value is None else from_value(a.value)

    def out_dtype(self, stmt) -> str | None:
        if isinstance(stmt, Eqn) and stmt.outs:
            t = self.types.get(stmt.outs[0].name)
            if isinstance(t, ArrayType) and t.is_float:
                return t.dtype
        return None

    def _unsigned_names(self) -> dict:
        """Never-negative integer variables that index arrays -> the name of their unsigned copy.
        The copy is assigned after every assignment of the variable (`unsigned_copies`), once,
        rather than cast at each index: numba types each cast call (~5 ms of compile each)."""
        keep = nonneg.nonneg_ints(self.func)
        used = []
        for stmt in walk(self.func.body):
            if isinstance(stmt, Eqn) and "index" in stmt.params and stmt.ins:
                base, index = stmt.ins[0], stmt.params["index"]
            elif isinstance(stmt, Store):
                base, index = stmt.target, stmt.index
            else:
                continue
            t = self.types.get(base.name) if isinstance(base, Var) else None
            if isinstance(t, ArrayType) and t.ndim > 0:
                used += [item.name for item in index if isinstance(item, Var) and item.name in keep]
        return {name: self.fresh_name(f"{name}_u") for name in sorted(set(used))}

    def unsigned_copies(self, names, pad: str):
        for name in names:
            if name in self.unsigned:
                self.lines.append(f"{pad}{self.unsigned[name]} = np.uint64({name})")

    def index(self, index, dtype=None, base=None) -> str:
        """An index's text; into an array, a never-negative integer variable is read from its
        unsigned copy (``a[i_u]``): numba then skips the negative-index wraparound (nonneg.py)."""
        t = self.types.get(base.name) if isinstance(base, Var) else None
        unsigned = isinstance(t, ArrayType) and t.ndim > 0
        parts = []
        for item in index:
            if item is NEWAXIS:
                parts.append("None")
            elif isinstance(item, Slice):
                s = [("" if p is None else self.atom(p)) for p in (item.start, item.stop,
                                                                     item.step)]
                parts.append(f"{s[0]}:{s[1]}" + (f":{s[2]}" if item.step is not None else ""))
            elif unsigned and isinstance(item, Var) and item.name in self.unsigned:
                parts.append(self.unsigned[item.name])
            else:
                parts.append(self.atom(item))
        if len(parts) == 1 and len(index) == 1 and not isinstance(index[0], Slice):
            return parts[0]
        return ", ".join(parts)

    def comment(self, stmt, pad):
        loc = getattr(stmt, "loc", None)
        if loc is None:
            return
        key = (loc.file, loc.line)
        if key != self.last_loc:
            self.last_loc = key
            text = f"  {loc.text}" if loc.text else ""
            self.lines.append(f"{pad}# L{loc.line}:{text}")

    def eqn_expr(self, eqn: Eqn) -> str:
        prim = PRIMS[eqn.prim]
        dtype = self.out_dtype(eqn)
        if eqn.prim == "zero_of":
            return self.zero_of(eqn.outs[0])
        if eqn.prim == "copy" and isinstance(eqn.ins[0], Const):
            return self.atom(eqn.ins[0], dtype)
        fmt = prim.fmt
        if "select_fmt" in prim.meta:  # the template depends on the operand types
            fmt = prim.meta["select_fmt"]([self.atom_type(a) for a in eqn.ins],
                                          [self.types.get(o.name) for o in eqn.outs])
        args = [self.atom(a, dtype, prim.meta.get("arith", False)) for a in eqn.ins]
        params = {"args": ", ".join(args)}
        for name in prim.params:
            if name == "index":
                params["index"] = self.index(eqn.params["index"], base=eqn.ins[0] if eqn.ins else None)
            elif name == "dtype":
                params["dtype"] = self.dtype_of(eqn)
            elif name in eqn.params:
                params[name] = repr(eqn.params[name])
            else:
                params[name] = "None"
        return fmt.format(*args, **params)

    def dtype_of(self, eqn: Eqn) -> str:
        t = self.types.get(eqn.outs[0].name)
        return t.dtype if isinstance(t, ArrayType) else "float64"

    def zero_of(self, var: Var) -> str:
        t = self.types.get(var.name)
        if not isinstance(t, ArrayType):
            raise TypeError(f"cannot make an initial value for {var.name} of type {t}")
        if t.ndim == 0:
            return format_const(False if t.is_bool else 0 if t.is_int else 0.0, t.dtype)
        helper = static_fmt.alloc_call("empty", t.dtype)
        if helper is not None:
            return f"{helper}(({'0, ' * t.ndim}))"
        return f"np.empty(({'0, ' * t.ndim}), dtype=np.{t.dtype})"

    def stmt(self, stmt, depth: int):
        pad = "    " * depth
        self.comment(stmt, pad)
        if isinstance(stmt, Eqn):
            expr = self.eqn_expr(stmt)
            if not stmt.outs:
                self.lines.append(pad + expr)
            else:
                outs = ", ".join(o.name for o in stmt.outs)
                self.lines.append(f"{pad}{outs} = {expr}")
                self.unsigned_copies([o.name for o in stmt.outs], pad)
        elif isinstance(stmt, Store):
            op = "+=" if stmt.op == "add" else "="
            dtype = None
            t = self.types.get(stmt.target.name)
            if isinstance(t, ArrayType) and t.is_float:
                dtype = t.dtype
            if stmt.op == "scatter_add":  # gather adjoint: repeated indices accumulate
                k, axis = scatter.plan(stmt.index, self.types, t.ndim, stmt.loc)
                parts = [self.index((item,)) for item in stmt.index]
                self.lines.append(pad + scatter.render(stmt.target.name, parts, k, axis,
                                                       parts[k], self.atom(stmt.value, dtype)))
                return
            fast = static_fmt.store(self, stmt)  # a slice or row store: a cached helper
            if fast is not None:
                self.lines.append(pad + fast)
                return
            self.lines.append(f"{pad}{stmt.target.name}[{self.index(stmt.index, base=stmt.target)}] {op} "
                              f"{self.atom(stmt.value, dtype)}")
        elif isinstance(stmt, If):
            self.lines.append(f"{pad}if {self.atom(stmt.cond)}:")
            self.block(stmt.then, depth + 1)
            if stmt.orelse.stmts:
                self.lines.append(f"{pad}else:")
                self.block(stmt.orelse, depth + 1)
        elif isinstance(stmt, For) and isinstance(stmt.step, Const) and stmt.step.value == -1:
            # range(a, b, -1) as a count-up loop: numba's negative-step range iterates slower
            # (GMM's adjoint: 5% of its time); the values, and the variable after the loop, agree.
            start, var = self.atom(stmt.start), stmt.var.name
            count = self.fresh_name(f"{var}_rev")
            self.lines.append(f"{pad}for {count} in range({start} - {self.atom(stmt.stop)}):")
            self.lines.append(f"{pad}    {var} = {start} - {count}")
            self.unsigned_copies([var], pad + "    ")
            self.block(stmt.body, depth + 1)
        elif isinstance(stmt, For):
            args = [self.atom(stmt.start), self.atom(stmt.stop)]
            if not (isinstance(stmt.step, Const) and stmt.step.value == 1):
                args.append(self.atom(stmt.step))
            elif args[0] == "0":
                args = args[1:]
            self.lines.append(f"{pad}for {stmt.var.name} in range({', '.join(args)}):")
            self.unsigned_copies([stmt.var.name], pad + "    ")
            self.block(stmt.body, depth + 1)
        elif isinstance(stmt, While):
            self.lines.append(f"{pad}while True:")
            self.block(stmt.cond_block, depth + 1, allow_empty=True)
            self.lines.append(f"{pad}    if not {self.atom(stmt.cond)}:")
            self.lines.append(f"{pad}        break")
            self.block(stmt.body, depth + 1, allow_empty=True)
        elif isinstance(stmt, Break):
            self.lines.append(f"{pad}break")
        elif isinstance(stmt, Continue):
            self.lines.append(f"{pad}continue")
        else:
            raise TypeError(f"cannot generate code for {stmt!r}")

    def block(self, block: Block, depth: int, allow_empty=False):
        if not block.stmts:
            if not allow_empty:
                self.lines.append("    " * depth + "pass")
            return
        for stmt in block.stmts:
            self.stmt(stmt, depth)

    def result(self, result) -> str:
        if isinstance(result, tuple):
            inner = ", ".join(self.result(r) for r in result)
            return f"({inner},)" if len(result) == 1 else f"({inner})"
        return self.atom(result)

    def function(self, decorator: str | None) -> list:
        f = self.func
        if decorator:
            self.lines.append(f"@{decorator}")
        self.lines.append(f"def {f.name}({', '.join(p.name for p in f.params)}):")
        self.block(f.body, 1, allow_empty=True)
        res = self.result(f.result)
        if res.startswith("(") and res.endswith(")") and isinstance(f.result, tuple):
            res = res[1:-1]
        self.lines.append(f"    return {res}")
        return self.lines


def generate_function(func: Func, decorator: str | None = "_jit") -> str:
    return "\n".join(_Writer(func).function(decorator))


def generate_module(funcs: list, header: list, preamble: list) -> str:
    """A complete module: header comments, imports, the backend preamble, the functions."""
    lines = [f"# {h}" if h else "#" for h in header]
    lines += ["", "import math", "", "import numpy as np", "", "from srcgrad import runtime as rt"]
    bodies = [generate_function(func) for func in funcs]
    if any("custom." in b for b in bodies):  # user primitives (srcgrad.custom)
        lines.append("from srcgrad import custom")
    lines += preamble
    for body in bodies:
        lines += ["", ""]
        lines.append(body)
    return "\n".join(lines) + "\n"
