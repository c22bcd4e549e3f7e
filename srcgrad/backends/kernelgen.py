"""Per-example function codegen for the batch targets: the generated (forward + adjoint) IR of
one example, printed as a ``cuda.jit(device=True)`` function (CUDA target) or as an njit function
that writes its gradients into rows of preallocated outputs (CPU target, which falls back to
calling the ordinary compiled gradient when a function is outside this subset).

A GPU thread cannot allocate arrays of dynamic size, so the kernel subset is scalar code with
loops: every value is a scalar except the arguments (read-only arrays: shared parameters or the
example's row) and the gradients of array arguments.  Those gradients become *buffers*: extra
parameters of the device function, rows of preallocated output arrays (per-example mode) or the
one summed output array, updated with ``cuda.atomic.add`` (summed mode, ``accumulate="atomic"``)
or a per-thread private accumulator in shared memory that the kernel reduces per block (summed
mode, ``accumulate="private"``: a 1-D strided view; gradients of more than one dimension are
indexed through their flat, C-order index).  Tapes become per-thread local arrays of a fixed
capacity; an overflow sets an error flag the host checks.
Anything else (array arithmetic, allocation, writes into inputs) is rejected with an error that
names the user's line.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .. import codegen
from ..errors import UnsupportedError
from ..ir import Const, Eqn, For, If, Slice, Store, Var, While, index_atoms
from ..primitives import PRIMS
from ..types import ArrayType, TapeType, TupleType

_MATH = {"exp": "exp", "log": "log", "log1p": "log1p", "expm1": "expm1", "sqrt": "sqrt",
         "sin": "sin", "cos": "cos", "tan": "tan", "tanh": "tanh", "sinh": "sinh", "cosh": "cosh",
         "arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
         "arccosh": "acosh", "arctanh": "atanh", "log2": "log2", "log10": "log10",
         "isnan": "isnan", "isinf": "isinf"}
_TEMPLATES = {"abs": "abs({0})",
              "maximum": "({0} if ({0} >= {1} or {0} != {0}) else {1})",  # NaN-propagating
              "minimum": "({0} if ({0} <= {1} or {0} != {0}) else {1})",
              "power": "{0} ** {1}", "square": "{0} * {0}", "exp2": "2.0 ** {0}",
              "arctan2": "math.atan2({0}, {1})", "hypot": "math.hypot({0}, {1})",
              "floor": "float(math.floor({0}))", "ceil": "float(math.ceil({0}))",
              "trunc": "float(math.trunc({0}))",
              "sign": "(1.0 if {0} > 0 else (-1.0 if {0} < 0 else 0.0 * {0}))",
              "range_last": "({0} + (({1} - {0} - 1) // {2}) * {2} if {2} > 0 else "
                            "{0} + (({1} - {0} + 1) // {2}) * {2})", "sign_int": "(1 if {0} > 0 else -1)"}

_FILLS = ("zeros_like_any", "empty_like")  # how a gradient buffer is created (see _find_buffers)


@dataclass
class DeviceFunction:
    """What the kernel generator needs to know about the device function."""

    name: str
    source: str
    params: list  # the example's arguments
    buffers: list = field(default_factory=list)  # (bar var name, index of its param, dtype, ndim)
    leaves: list = field(default_factory=list)  # per result leaf: ("scalar", k, dtype) | ("buffer", j)
    structure: object = None  # the result's nesting, leaves numbered in order
    scalar_dtypes: list = field(default_factory=list)
    may_fail: bool = False  # a tape or scratch array may overflow: the kernel can set the error flag
    accumulate: str = "atomic"  # summed CUDA mode: "atomic" or "private" (see the module docstring)


def _reject(msg, stmt=None, func=None, construct="cuda"):
    loc = getattr(stmt, "loc", None) or getattr(func, "loc", None)
    raise UnsupportedError(msg + " (target='cuda' runs scalar code with loops; use target='cpu' "
                           "for array code)", loc, construct=construct)


def _walk(block):
    for s in block.stmts:
        yield s
        if isinstance(s, If):
            yield from _walk(s.then)
            yield from _walk(s.orelse)
        elif isinstance(s, For):
            yield from _walk(s.body)
        elif isinstance(s, While):
            yield from _walk(s.cond_block)
            yield from _walk(s.body)


def _is_array(t) -> bool:
    return isinstance(t, ArrayType) and t.ndim > 0


class _DeviceWriter(codegen._Writer):
    def __init__(self, func, buffers: dict, summed: bool, tape_size: int, tape_dtypes: dict,
                 target: str, accumulate: str = "atomic", first_stores=frozenset()):
        super().__init__(func)
        self.first_stores = first_stores
        self.target = target
        self.accumulate = accumulate
        self.may_fail = False
        self.buffers = buffers
        self.summed = summed
        self.tape_size = tape_size
        self.tape_dtypes = tape_dtypes
        self.params = {p.name for p in func.params}
        self.locals: set = set()  # per-thread scratch arrays (CUDA)

    def stmt(self, stmt, depth):
        pad = "    " * depth
        if isinstance(stmt, Eqn) and stmt.prim.startswith("tape_") and self.target == "cuda":
            self.comment(stmt, pad)
            self.tape_stmt(stmt, pad)
        elif isinstance(stmt, Eqn) and stmt.prim in _FILLS and stmt.outs and \
                stmt.outs[0].name in self.buffers:
            self.comment(stmt, pad)
            self.lines.append(f"{pad}pass  # {stmt.outs[0].name}: an output buffer, zeroed by the kernel")
        elif isinstance(stmt, Eqn) and self.target == "cuda" and self.is_scratch(stmt):
            self.comment(stmt, pad)
            self.scratch(stmt, pad)
        elif isinstance(stmt, Eqn):
            self.check_eqn(stmt)
            super().stmt(stmt, depth)
        elif isinstance(stmt, Store):
            self.store(stmt, depth)
        else:
            super().stmt(stmt, depth)

    def is_scratch(self, eqn) -> bool:
        """``np.empty(n)`` / ``np.zeros(n)`` of one dimension (the tapes of counted loops)."""
        if eqn.prim not in ("empty", "zeros") or len(eqn.outs) != 1:
            return False
        t, n = self.types.get(eqn.outs[0].name), eqn.ins[0]
        n_t = self.types.get(n.name) if isinstance(n, Var) else ArrayType("int64")
        return _is_array(t) and t.ndim == 1 and isinstance(n_t, ArrayType) and n_t.ndim == 0

    def scratch(self, eqn, pad):
        """A per-thread local array of capacity tape_size; a larger request sets the error flag."""
        name, cap = eqn.outs[0].name, self.tape_size
        t = self.types[name]
        self.locals.add(name)
        self.may_fail = True
        self.lines.append(f"{pad}{name} = cuda.local.array({cap}, np.{t.dtype})")
        self.lines.append(f"{pad}if {self.atom(eqn.ins[0])} > {cap}:")
        self.lines.append(f"{pad}    _err[0] = 1")
        if eqn.prim == "zeros":
            self.lines.append(f"{pad}for {name}__k in range({cap}):")
            self.lines.append(f"{pad}    {name}[{name}__k] = 0")

    def clamp(self, atom) -> str:
        a, last = self.atom(atom), self.tape_size - 1
        return f"{a} if {a} < {last} else {last}"

    def tape_stmt(self, eqn, pad):
        if eqn.prim == "tape_new":
            name = eqn.outs[0].name
            dtype = self.tape_dtypes.get(name, "float64")
            self.may_fail = True
            self.lines.append(f"{pad}{name} = cuda.local.array({self.tape_size}, np.{dtype})")
            self.lines.append(f"{pad}{name}__n = 0")
        elif eqn.prim == "tape_push":
            tape, value = eqn.ins[0].name, self.atom(eqn.ins[1])
            self.lines.append(f"{pad}if {tape}__n < {self.tape_size}:")
            self.lines.append(f"{pad}    {tape}[{tape}__n] = {value}")
            self.lines.append(f"{pad}else:")
            self.lines.append(f"{pad}    _err[0] = 1")
            self.lines.append(f"{pad}{tape}__n += 1")
        else:  # tape_pop
            tape = eqn.ins[0].name
            self.lines.append(f"{pad}{tape}__n -= 1")
            self.lines.append(f"{pad}{eqn.outs[0].name} = {tape}[{self.clamp(Var(tape + '__n'))}]")

    def check_eqn(self, eqn):
        prim = eqn.prim
        for o in eqn.outs:
            if o.name in self.buffers:
                _reject(f"the adjoint rebinds the gradient {o.name} ({prim})", eqn, self.func)
        if prim == "getitem" and eqn.ins[0].name in self.buffers and self.summed:
            _reject(f"the adjoint reads the gradient buffer {eqn.ins[0].name}, which the summed form "
                    "shares between examples", eqn, self.func)
        if self.target == "cpu":
            return
        out_types = [self.types.get(o.name) for o in eqn.outs]
        in_types = [self.types.get(a.name) if isinstance(a, Var) else None for a in eqn.ins]
        for t in out_types:
            if not _is_array(t):
                continue
            if prim == "getitem" and eqn.ins[0].name not in self.locals and \
                    not any(_is_array(in_types[k]) for k in range(1, len(in_types))):
                continue  # a view (a row of a matrix): no allocation
            if prim in ("copy", "cast_like") and isinstance(eqn.ins[0], Var):
                continue  # an alias
            text = getattr(eqn.loc, "text", "") or prim
            _reject(f"`{text}` computes an array ({prim}), which a GPU thread cannot allocate; "
                    "write it as a loop over scalars", eqn, self.func, construct=prim)

    def is_buffer(self, atom) -> bool:
        return isinstance(atom, Var) and atom.name in self.buffers

    def eqn_expr(self, eqn):
        prim = eqn.prim
        args = [self.atom(a) for a in eqn.ins]
        out_t = self.types.get(eqn.outs[0].name) if eqn.outs else None
        if self.target == "cpu":
            if prim in ("cast_like", "unbroadcast") and self.is_buffer(eqn.ins[0]):
                return args[0]  # the gradient is the output row itself
            return super().eqn_expr(eqn)
        if prim in _MATH:
            return f"math.{_MATH[prim]}({args[0]})"
        if prim in _TEMPLATES:
            return _TEMPLATES[prim].format(*args)
        if prim == "getitem" and eqn.ins[0].name in self.locals:
            return f"{args[0]}[{self.clamp(eqn.ins[1])}]"
        if prim in ("cast_like", "unbroadcast"):
            src_t = self.types.get(eqn.ins[0].name) if isinstance(eqn.ins[0], Var) else None
            if _is_array(out_t) or src_t is None or src_t == out_t:
                if _is_array(src_t) != _is_array(out_t) or (_is_array(src_t) and not self.is_buffer(eqn.ins[0])):
                    _reject(f"{prim} of an array", eqn, self.func, construct=prim)
                return args[0]
            return f"np.{out_t.dtype}({args[0]})"
        if prim == "zeros_like_any":
            if _is_array(out_t):
                _reject("a gradient array of a value that is not an argument", eqn, self.func,
                        construct=prim)
            return f"np.{out_t.dtype}(0)"
        if prim == "getitem_copy":
            return f"{args[0]}[{self.index(eqn.params['index'])}]"
        fmt = PRIMS[prim].fmt
        if any(s in fmt for s in ("np.", "rt.", "custom.", "[]", ".copy(")):
            text = getattr(eqn.loc, "text", "") or prim
            _reject(f"`{text}`: {prim} is not available inside CUDA kernels", eqn, self.func,
                    construct=prim)
        return super().eqn_expr(eqn)

    def zero_of(self, var):
        if _is_array(self.types.get(var.name)) and self.target == "cuda":
            _reject(f"{var.name} would need an empty array", None, self.func)
        return super().zero_of(var)

    def store(self, st, depth):
        pad = "    " * depth
        self.comment(st, pad)
        name = st.target.name
        if name in self.params:
            what = "CUDA kernel" if self.target == "cuda" else "batch"
            _reject(f"writing into the argument {name}[...]: inside a {what} only the gradient "
                    "buffers srcgrad allocates may be written", st, self.func, construct="store")
        if name not in self.buffers and name not in self.locals:
            if self.target == "cpu":  # an array the example allocated itself
                return super().stmt(st, depth)
            _reject(f"writing into {name}[...]", st, self.func, construct="store")
        op_add = st.op == "add"
        if name in self.first_stores:  # see _find_buffers: buffers start zeroed in every form
            if len(st.index) == 1 and isinstance(st.index[0], Slice) and isinstance(st.value, Const) \
                    and st.value.value == 0:
                self.lines.append(f"{pad}pass  # the rest of {name}: the buffer starts zeroed")
                return
            op_add = op_add or self.summed  # the first write onto a zero: an add when shared
        if any(isinstance(i, Slice) or i == "newaxis" for i in st.index) or \
                any(isinstance(a, Var) and _is_array(self.types.get(a.name)) for a in index_atoms(st.index)) \
                or (isinstance(st.value, Var) and _is_array(self.types.get(st.value.name))):
            if self.target == "cuda" or name in self.buffers:
                _reject(f"a slice or array update of {name}", st, self.func, construct="store")
        value = self.atom(st.value)
        op = "+=" if op_add else "="
        if name in self.locals:  # a per-thread scratch array (CUDA)
            self.lines.append(f"{pad}{name}[{self.clamp(st.index[0])}] {op} {value}")
            return
        if self.target == "cpu" and name not in self.buffers:
            return super().stmt(st, depth)
        index = ", ".join(self.atom(a) for a in st.index)
        if self.summed and not op_add:
            _reject(f"the adjoint assigns {name}[...], which the summed form shares "
                    "between examples", st, self.func, construct="store")
        if self.summed and self.target == "cuda" and self.accumulate == "private":
            self.lines.append(f"{pad}{name}[{self.flat_index(st)}] += {value}")
        elif self.summed and self.target == "cuda":
            if len(st.index) > 1:
                index = f"({index})"
            self.lines.append(f"{pad}cuda.atomic.add({name}, {index}, {value})")
        else:
            self.lines.append(f"{pad}{name}[{index}] {op} {value}")

    def flat_index(self, st) -> str:
        """The C-order flat index of ``st.index`` into a private accumulator (a 1-D view); the
        gradient has its argument's shape, which the device function can read."""
        name = st.target.name
        ndim = self.buffers[name][2]
        if len(st.index) != ndim:
            _reject(f"a partial index of the gradient {name}", st, self.func, construct="store")
        if ndim == 1:
            return self.atom(st.index[0])  # a 1-D view: negative indices wrap as usual
        shape = f"{self.func.params[self.buffers[name][0]].name}.shape"
        parts = []
        for k, a in enumerate(st.index):
            text = self.atom(a)
            if isinstance(a, Const):
                parts.append(text if a.value >= 0 else f"({text} + {shape}[{k}])")
            else:
                parts.append(f"({text} if {text} >= 0 else {text} + {shape}[{k}])")
        flat = parts[0]
        for k in range(1, ndim):
            flat = f"({flat}) * {shape}[{k}] + {parts[k]}"
        return flat


def _tape_dtypes(func) -> dict:
    out = {}
    for s in _walk(func.body):
        if isinstance(s, Eqn) and s.prim == "tape_push":
            tape, value = s.ins
            t = func.types.get(value.name) if isinstance(value, Var) else None
            if isinstance(value, Const):
                t = ArrayType("float64" if isinstance(value.value, float) else "int64")
            if not isinstance(t, ArrayType) or t.ndim > 0:
                _reject(f"the adjoint saves the array {value} on a tape in a loop", s, func,
                        construct="tape")
            prev = out.setdefault(tape.name, t.dtype)
            if prev != t.dtype:
                _reject(f"tape {tape.name} holds values of types {prev} and {t.dtype}", s, func,
                        construct="tape")
    return out


def _find_buffers(func) -> dict:
    """bar name -> (index of its param, dtype, ndim) for the zeroed gradients of array params.

    A gradient is zero-filled (``zeros_like_any``), or, after ``first_store.py``, allocated
    ``empty_like`` and written once per element by a loop (``x_bar[i] = v`` instead of ``+=``)
    with the elements the loop misses zeroed after it (``x_bar[lo:] = 0.0``).  Every form hands
    the device function a zeroed buffer, so such a first write is an increment onto zero (an add
    where the buffer is shared: summed mode) and the zeroing of the rest is dropped."""
    params = {p.name: k for k, p in enumerate(func.params)}
    out = {}
    for s in _walk(func.body):
        if isinstance(s, Eqn) and s.prim in _FILLS:
            src = s.ins[0]
            t = func.types.get(s.outs[0].name)
            if s.prim == "empty_like" and not s.params.get("first_store"):
                continue  # the user's own array, not a gradient
            if isinstance(src, Var) and src.name in params and _is_array(t):
                if s.outs[0].name in out:
                    _reject(f"{s.outs[0].name} is re-initialised", s, func)
                out[s.outs[0].name] = (params[src.name], t.dtype, t.ndim)
    return out


def _first_stores(func, buffers: dict) -> frozenset:
    return frozenset(o.name for s in _walk(func.body) if isinstance(s, Eqn) and s.prim == "empty_like"
                     and s.params.get("first_store") for o in s.outs if o.name in buffers)


def _defs(func) -> dict:
    return {o.name: s for s in func.body.stmts if isinstance(s, Eqn) for o in s.outs}


def generate_device(func, summed: bool, tape_size: int = 0, target: str = "cuda",
                    accumulate: str = "atomic", name: str | None = None) -> DeviceFunction:
    """The per-example function of a generated (typed) Func, for ``target`` "cuda" or "cpu".

    ``accumulate`` (summed CUDA mode): "atomic" adds into the one shared output with
    ``cuda.atomic.add``; "private" adds into a per-thread 1-D accumulator (plain ``+=``).
    ``name`` renames the function (the kernel module may hold both variants)."""
    func = copy.deepcopy(func)
    buffers = _find_buffers(func)
    order = list(buffers)
    defs = _defs(func)
    leaves, scalars, dtypes = [], [], []

    def leaf(atom):
        if isinstance(atom, Const):
            scalars.append(codegen.format_const(atom.value))
            dtypes.append("float64" if isinstance(atom.value, float) else "int64")
            leaves.append(("scalar", len(scalars) - 1))
            return
        t = func.types.get(atom.name)
        if isinstance(t, TupleType) or isinstance(t, TapeType):
            _reject(f"the result {atom.name} is a {t}", None, func)
        if not _is_array(t):
            scalars.append(atom.name)
            dtypes.append(t.dtype)
            leaves.append(("scalar", len(scalars) - 1))
            return
        name = atom.name
        for _ in range(10):
            if name in buffers:
                leaves.append(("buffer", order.index(name)))
                return
            eqn = defs.get(name)
            if eqn is None or eqn.prim not in ("copy", "cast_like") or not isinstance(eqn.ins[0], Var):
                break
            name = eqn.ins[0].name
        _reject(f"the result {atom.name} is an array that is not a gradient of an argument", None, func)

    def walk(res):
        if isinstance(res, tuple):
            return tuple(walk(r) for r in res)
        leaf(res)
        return len(leaves) - 1

    tapes = _tape_dtypes(func) if target == "cuda" else {}
    writer = _DeviceWriter(func, buffers, summed, tape_size, tapes, target, accumulate,
                           _first_stores(func, buffers))
    params = [p.name for p in func.params] + order + (["_err"] if target == "cuda" else [])
    fname = name or func.name
    writer.lines.append("@_dev" if target == "cuda" else "@_jit")
    writer.lines.append(f"def {fname}({', '.join(params)}):")
    writer.block(func.body, 1, allow_empty=True)  # checks the kernel subset first
    structure = walk(func.result)
    ret = f"({', '.join(scalars)},)" if scalars else "0"
    writer.lines.append(f"    return {ret}")
    buf_info = [(name, *buffers[name]) for name in order]
    return DeviceFunction(fname, "\n".join(writer.lines), [p.name for p in func.params],
                          buf_info, leaves, structure, dtypes, writer.may_fail, accumulate)
