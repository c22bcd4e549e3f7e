"""The intermediate representation: A-normal form with structured control flow.

Every operand is a `Var` or a `Const`; every statement carries a `Loc` pointing at the user's
source.  Variables are named and may be reassigned (loops reassign them every iteration); an
`Eqn`'s outputs never appear among its inputs, which the reverse pass relies on.

Statements: `Eqn` (a primitive applied to atoms), `Store` (``a[idx] = v`` / ``a[idx] += v``),
`If`, `For` (over ``range(start, stop, step)``), `While` (a condition block re-run before each
iteration), `Break`, `Continue`.  A `Func` has parameters, a body and a result (an atom or a
tuple of atoms).  Types live beside the IR in ``Func.types`` (name -> ArrayType), never as
hidden annotations on the nodes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True)
class Loc:
    """A position in the user's source: file, 1-based line, 0-based column, the line's text."""

    file: str
    line: int
    col: int = 0
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Var:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Const:
    value: object

    def __str__(self) -> str:
        return repr(self.value)


Atom = Union[Var, Const]


@dataclass(frozen=True)
class Slice:
    """One slice inside an index: each part is an atom or None (``x[a:b:c]``)."""

    start: Atom | None
    stop: Atom | None
    step: Atom | None

    def atoms(self):
        return [a for a in (self.start, self.stop, self.step) if a is not None]

    def __str__(self) -> str:
        parts = ["" if a is None else str(a) for a in (self.start, self.stop, self.step)]
        return ":".join(parts[:2]) if self.step is None else ":".join(parts)


NEWAXIS = "newaxis"
Index = tuple  # tuple of Atom | Slice | NEWAXIS


def index_atoms(index: Index) -> list:
    out = []
    for item in index:
        if isinstance(item, Slice):
            out.extend(item.atoms())
        elif item is not NEWAXIS:
            out.append(item)
    return out


def format_index(index: Index) -> str:
    return ", ".join("None" if i is NEWAXIS else str(i) for i in index)


@dataclass
class Eqn:
    """``outs = prim(*ins, **params)``."""

    prim: str
    ins: tuple
    outs: tuple
    params: dict = field(default_factory=dict)
    loc: Loc | None = None


@dataclass
class Store:
    """``target[index] = value`` (op None) or ``target[index] += value`` (op "add")."""

    target: Var
    index: Index
    value: Atom
    op: str | None = None
    loc: Loc | None = None


@dataclass
class Block:
    stmts: list = field(default_factory=list)


@dataclass
class If:
    cond: Atom
    then: Block
    orelse: Block
    loc: Loc | None = None


@dataclass
class For:
    """``for var in range(start, stop, step): body``; bounds are evaluated once, before the loop."""

    var: Var
    start: Atom
    stop: Atom
    step: Atom
    body: Block
    loc: Loc | None = None


@dataclass
class While:
    """``while True: cond_block; if not cond: break; body``."""

    cond_block: Block
    cond: Atom
    body: Block
    loc: Loc | None = None
    counter: Var | None = None  # iteration count, added by the reverse pass


@dataclass
class Break:
    loc: Loc | None = None


@dataclass
class Continue:
    loc: Loc | None = None


@dataclass
class Func:
    name: str
    params: list
    body: Block
    result: object  # Atom | tuple[Atom, ...]
    loc: Loc | None = None
    types: dict = field(default_factory=dict)
    weak: frozenset = frozenset()  # scalars that are Python numbers (passes.infer_types)

    def result_atoms(self) -> list:
        """The result's atoms, nested tuples flattened."""
        out, todo = [], [self.result]
        while todo:
            item = todo.pop(0)
            if isinstance(item, tuple):
                todo[:0] = list(item)
            else:
                out.append(item)
        return out


# ---------------------------------------------------------------------------------------------
# walking


def stmt_uses(stmt) -> list:
    """The atoms a statement reads directly (not inside nested blocks)."""
    if isinstance(stmt, Eqn):
        return list(stmt.ins)
    if isinstance(stmt, Store):
        return [stmt.target, stmt.value, *index_atoms(stmt.index)]
    if isinstance(stmt, If):
        return [stmt.cond]
    if isinstance(stmt, For):
        return [stmt.start, stmt.stop, stmt.step]
    if isinstance(stmt, While):
        return [stmt.cond]
    return []


def stmt_defs(stmt) -> list:
    """The variables a statement assigns directly (a Store assigns no variable)."""
    if isinstance(stmt, Eqn):
        return list(stmt.outs)
    if isinstance(stmt, For):
        return [stmt.var]
    return []


def child_blocks(stmt) -> list:
    if isinstance(stmt, If):
        return [stmt.then, stmt.orelse]
    if isinstance(stmt, For):
        return [stmt.body]
    if isinstance(stmt, While):
        return [stmt.cond_block, stmt.body]
    return []


def walk(block: Block):
    """Yield every statement, depth first, in source order."""
    for stmt in block.stmts:
        yield stmt
        for child in child_blocks(stmt):
            yield from walk(child)


def all_blocks(block: Block):
    """``block`` and every block nested in it, depth first."""
    yield block
    for stmt in block.stmts:
        for child in child_blocks(stmt):
            yield from all_blocks(child)


def unused_name(func: Func, base: str, taken=()) -> str:
    """``base``, or ``base_1``, ``base_2``...: the first that no variable or parameter of ``func``
    (nor ``taken``) uses."""
    used = set(func.types) | {p.name for p in func.params} | set(taken)
    name, k = base, 1
    while name in used:
        name, k = f"{base}_{k}", k + 1
    return name


def var_names(value):
    """Names of the variables in an atom, a ``Slice``, or tuples/lists/dicts of them (e.g. an
    Eqn's ``params``), in order, repeats included."""
    if isinstance(value, Var):
        yield value.name
    elif isinstance(value, Slice):
        yield from (a.name for a in value.atoms() if isinstance(a, Var))
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from var_names(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from var_names(item)


def stmt_reads(stmt) -> list:
    """Names a statement reads directly, repeats included: its operands, index entries (also
    those in an Eqn's params) and, for a While, its hidden iteration counter."""
    names = list(var_names(stmt_uses(stmt) + ([stmt.params] if isinstance(stmt, Eqn) else [])))
    if getattr(stmt, "counter", None) is not None:
        names.append(stmt.counter.name)
    return names


def read_counts(func) -> Counter:
    """name -> how many times the function reads it: what each statement reads (`stmt_reads`)
    and the result."""
    names = [a.name for a in func.result_atoms() if isinstance(a, Var)]
    for stmt in walk(func.body):
        names += stmt_reads(stmt)
    return Counter(names)


def written_names(stmts) -> set:
    """Variables assigned and arrays stored into by ``stmts`` (nested blocks included)."""
    names = set()
    for s in walk(Block(list(stmts))):
        names.update(v.name for v in stmt_defs(s))
        if isinstance(s, Store):
            names.add(s.target.name)
    return names


def position(block: Block, stmt) -> int:
    """Where ``stmt`` (the object itself) stands in ``block``'s top level."""
    return next(k for k, s in enumerate(block.stmts) if s is stmt)


def assigned_names(block: Block) -> set:
    names = set()
    for stmt in walk(block):
        names.update(v.name for v in stmt_defs(stmt))
    return names


def used_names(block: Block) -> set:
    names = set()
    for stmt in walk(block):
        names.update(a.name for a in stmt_uses(stmt) if isinstance(a, Var))
    return names


# ---------------------------------------------------------------------------------------------
# printing


def _type_suffix(types, var) -> str:
    t = types.get(var.name) if types else None
    return f": {t}" if t is not None else ""


def format_stmt(stmt, indent: int = 1, types=None) -> list:
    pad = "  " * indent
    where = f"  # L{stmt.loc.line}" if getattr(stmt, "loc", None) is not None else ""
    if isinstance(stmt, Eqn):
        outs = ", ".join(f"{o}{_type_suffix(types, o)}" for o in stmt.outs)
        args = " ".join(str(a) for a in stmt.ins)
        params = "".join(f" {k}={v!r}" for k, v in stmt.params.items())
        lhs = f"{outs} = " if stmt.outs else ""
        return [f"{pad}{lhs}{stmt.prim} {args}{params}".rstrip() + where]
    if isinstance(stmt, Store):
        op = {"add": "+=", "scatter_add": "+=(scatter)"}.get(stmt.op, "=")
        return [f"{pad}{stmt.target}[{format_index(stmt.index)}] {op} {stmt.value}{where}"]
    if isinstance(stmt, If):
        lines = [f"{pad}if {stmt.cond}:{where}"]
        lines += format_block(stmt.then, indent + 1, types)
        if stmt.orelse.stmts:
            lines.append(f"{pad}else:")
            lines += format_block(stmt.orelse, indent + 1, types)
        return lines
    if isinstance(stmt, For):
        head = f"{pad}for {stmt.var} in range({stmt.start}, {stmt.stop}, {stmt.step}):{where}"
        return [head] + format_block(stmt.body, indent + 1, types)
    if isinstance(stmt, While):
        lines = [f"{pad}while:{where}"]
        lines += format_block(stmt.cond_block, indent + 2, types)
        lines.append(f"{pad}  test {stmt.cond}")
        lines.append(f"{pad}do:")
        return lines + format_block(stmt.body, indent + 1, types)
    if isinstance(stmt, Break):
        return [f"{pad}break"]
    if isinstance(stmt, Continue):
        return [f"{pad}continue"]
    raise TypeError(f"unknown statement {stmt!r}")


def format_block(block: Block, indent: int = 1, types=None) -> list:
    if not block.stmts:
        return ["  " * indent + "pass"]
    lines = []
    for stmt in block.stmts:
        lines += format_stmt(stmt, indent, types)
    return lines


def format_func(func: Func) -> str:
    params = ", ".join(f"{p}{_type_suffix(func.types, p)}" for p in func.params)
    result = ", ".join(str(a) for a in func.result_atoms())
    lines = [f"func {func.name}({params}):"]
    lines += format_block(func.body, 1, func.types)
    lines.append(f"  return {result}")
    return "\n".join(lines)


def for_vars_read_outside(block: Block) -> set:
    """Loop variables of ``for`` statements that some statement reads or assigns outside every
    ``for`` over that name (after the loop, or in a ``while`` the frontend made of a ``for``
    with ``break``): their values between loops matter, so the adjoint must restore them."""
    fors, out = set(), set()

    def visit(blk: Block, enclosing: frozenset):
        for s in blk.stmts:
            if isinstance(s, For):
                fors.add(s.var.name)
            names = [a.name for a in stmt_uses(s) if isinstance(a, Var)]
            if isinstance(s, Eqn):
                names += list(var_names(s.params)) + [o.name for o in s.outs]
            elif isinstance(s, Store):
                names += list(var_names(list(s.index)))
            out.update(n for n in names if n not in enclosing)
            inner = enclosing | {s.var.name} if isinstance(s, For) else enclosing
            for child in child_blocks(s):
                visit(child, inner)

    visit(block, frozenset())
    return out & fors
