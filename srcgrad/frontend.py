"""Front end: a captured Python function -> IR in A-normal form.

Every expression is flattened into `Eqn`s over atoms; ``return`` statements are eliminated
structurally (the statements after an ``if`` that may return are moved into its non-returning
branches); calls of other user functions are inlined (with fresh names), so the IR of a program
is one `Func`.  Anything outside the accepted subset raises `UnsupportedError` naming the user's
file, line, column and construct, before any code runs.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import inspect
import types as pytypes

import numpy as np

from . import primitives
from .capture import Captured, capture, unwrap
from .desugar import desugar_function
from .errors import UnsupportedError
from .ir import NEWAXIS, Block, Break, Const, Continue, Eqn, For, Func, If, Slice, Store, Var, While

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
           ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.MatMult: "matmul",
           ast.BitAnd: "bitand", ast.BitOr: "bitor", ast.BitXor: "bitxor"}
_CMPOPS = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq", ast.NotEq: "ne"}
_UNSUPPORTED_STMTS = {
    ast.Try: "try/except", ast.With: "with", ast.AsyncWith: "async with", ast.Global: "global",
    ast.Nonlocal: "nonlocal", ast.ClassDef: "class definition",
    ast.FunctionDef: "nested function definition", ast.AsyncFunctionDef: "async def",
    ast.Delete: "del", ast.Import: "import", ast.ImportFrom: "import", ast.Raise: "raise",
    ast.Assert: "assert", ast.AsyncFor: "async for",
}
if hasattr(ast, "TryStar"):
    _UNSUPPORTED_STMTS[ast.TryStar] = "try/except*"
_UNSUPPORTED_EXPRS = {
    ast.Lambda: "lambda used as a value", ast.Yield: "yield (generator)",
    ast.YieldFrom: "yield from (generator)", ast.Await: "await", ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension", ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression", ast.Dict: "dict literal", ast.Set: "set literal",
    ast.JoinedStr: "f-string", ast.NamedExpr: "assignment expression (:=)",
    ast.Starred: "*args unpacking", ast.List: "list literal",
}


class NameGen:
    """Deterministic fresh names, never colliding with each other or with the user's names."""

    # names the generated module uses for itself
    RESERVED = {"np", "math", "numba", "rt", "custom", "float", "int", "len", "range", "min", "max", "abs",
                "round", "True", "False", "None"}

    def __init__(self):
        self.taken: set = set(self.RESERVED)
        self.counters: dict = {}

    def reserve(self, name: str) -> str:
        self.taken.add(name)
        return name

    def fresh(self, base: str) -> str:
        if base not in self.taken and base != "t":
            return self.reserve(base)
        k = self.counters.get(base, 0)
        while True:
            k += 1
            name = f"{base}{k}" if base == "t" else f"{base}_{k}"
            if name not in self.taken:
                self.counters[base] = k
                return self.reserve(name)


class ModuleRef:
    """A module (``np``, ``math``, ``np.linalg``) seen during name resolution."""

    def __init__(self, module):
        self.module = module


def _assigned_locals(tree: ast.FunctionDef) -> set:
    names = {a.arg for a in tree.args.args}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _contains(node, kinds) -> bool:
    return any(isinstance(n, kinds) for n in ast.walk(node))


def _always_returns(stmts) -> bool:
    for s in stmts:
        if isinstance(s, ast.Return):
            return True
        if isinstance(s, ast.If) and _always_returns(s.body) and _always_returns(s.orelse):
            return True
    return False


class Lowerer:
    """Lowers one function body (the top-level function or an inlined callee)."""

    def __init__(self, cap: Captured, names: NameGen, stack: tuple, deps: dict, is_rule=False):
        cap = dataclasses.replace(cap, tree=desugar_function(cap.tree, cap.loc))  # no early exits
        self.cap = cap
        self.names = names
        self.stack = stack + (cap.fn,)
        self.deps = deps
        self.locals = _assigned_locals(cap.tree)
        self.env: dict[str, str] = {}
        self.result = None  # atom or tuple of atoms, once a return was seen
        self.ret_vars = None
        self.in_branch = 0  # inside an if whose branches hold returns (lower_stmts)
        self.loop_depth = 0
        self.is_rule = is_rule

    # -- errors and locations -------------------------------------------------------------
    def error(self, node, construct, message):
        return UnsupportedError(message, self.cap.loc(node), construct=construct)

    def loc(self, node):
        return self.cap.loc(node)

    # -- variables ------------------------------------------------------------------------
    def var_for(self, name: str) -> Var:
        if name not in self.env:
            self.env[name] = self.names.fresh(name)
        return Var(self.env[name])

    def temp(self) -> Var:
        return Var(self.names.fresh("t"))

    def emit(self, block, prim, ins, node, dest=None, params=None, nout=1):
        """Append ``outs = prim(*ins)``; write into ``dest`` when it is not an input."""
        ins = tuple(ins)
        if nout != 1:
            outs = tuple(self.temp() for _ in range(nout))
            block.stmts.append(Eqn(prim, ins, outs, dict(params or {}), self.loc(node)))
            return outs
        if dest is not None and dest not in ins:
            block.stmts.append(Eqn(prim, ins, (dest,), dict(params or {}), self.loc(node)))
            return dest
        out = self.temp()
        block.stmts.append(Eqn(prim, ins, (out,), dict(params or {}), self.loc(node)))
        if dest is not None:
            block.stmts.append(Eqn("copy", (out,), (dest,), {}, self.loc(node)))
            return dest
        return out

    def assign(self, block, dest: Var, atom, node):
        if atom != dest:
            block.stmts.append(Eqn("copy", (atom,), (dest,), {}, self.loc(node)))

    # -- entry points ---------------------------------------------------------------------
    def lower_function(self, arg_atoms=None, block=None):
        """Lower the body; with ``arg_atoms`` (inlining) bind the parameters to them."""
        tree = self.cap.tree
        a = tree.args
        if a.vararg or a.kwarg:
            raise self.error(tree, "*args/**kwargs", "variadic parameters are not supported")
        if a.kwonlyargs or a.posonlyargs:
            raise self.error(tree, "parameters", "keyword-only/positional-only parameters are "
                             "not supported")
        params = []
        block = block if block is not None else Block()
        for i, arg in enumerate(a.args):
            var = self.var_for(arg.arg)
            params.append(var)
            if arg_atoms is not None:
                self.assign(block, var, arg_atoms[i], arg)
        if not self.lower_stmts(tree.body, block):
            raise self.error(tree, "return", f"function {self.cap.name!r} can end without "
                             "returning a value; every path must end in a return")
        return params, block, self.result

    # -- statements -----------------------------------------------------------------------
    def lower_stmts(self, stmts, block) -> bool:
        """Lower a statement list; True when it always returns."""
        for k, s in enumerate(stmts):
            if isinstance(s, ast.Return):
                self.lower_return(s, block)
                return True
            if isinstance(s, ast.If) and _contains(s, ast.Return):
                if self.loop_depth:
                    raise self.error(s, "return inside a loop", "return inside a loop is not "
                                     "supported yet; set a flag and break instead")
                rest = stmts[k + 1:]
                cond = self.lower_cond(s.test, block)
                then, orelse = Block(), Block()
                self.in_branch += 1  # the tail return may be lowered here: into ret vars
                r1 = self.lower_stmts(s.body + ([] if _always_returns(s.body) else rest), then)
                r2 = self.lower_stmts(s.orelse + ([] if _always_returns(s.orelse) else rest),
                                      orelse)
                self.in_branch -= 1
                block.stmts.append(If(cond, then, orelse, self.loc(s)))
                return r1 and r2
            self.lower_stmt(s, block)
        return False

    def lower_return(self, node, block):
        if self.loop_depth:
            raise self.error(node, "return inside a loop", "return inside a loop is not "
                             "supported yet; set a flag and break instead")
        if node.value is None:
            raise self.error(node, "return", "the function must return a value")
        value = self.lower_expr(node.value, block)
        atoms = value if isinstance(value, tuple) else (value,)
        if self.ret_vars is None and self.result is None and not self.in_branch and self._is_tail(node):
            self.result = value
            return
        if self.ret_vars is None:
            self.ret_vars = tuple(Var(self.names.fresh("ret")) for _ in atoms)
            self.result = self.ret_vars if isinstance(value, tuple) else self.ret_vars[0]
        if len(atoms) != len(self.ret_vars):
            raise self.error(node, "return", "all returns must give the same number of values")
        for var, atom in zip(self.ret_vars, atoms):
            self.assign(block, var, atom, node)

    def _is_tail(self, node) -> bool:
        body = self.cap.tree.body
        return body and body[-1] is node

    def lower_stmt(self, s, block):
        for kind, what in _UNSUPPORTED_STMTS.items():
            if isinstance(s, kind):
                raise self.error(s, what, f"{what} is not supported inside a differentiated "
                                 "function")
        if isinstance(s, ast.Assign):
            if len(s.targets) == 1:
                return self.lower_assign(s.targets[0], s.value, block, s)
            value = self.lower_expr(s.value, block)
            for target in s.targets:
                self.bind_target(target, value, block, s)
            return
        if isinstance(s, ast.AnnAssign):
            if s.value is None:
                return
            return self.lower_assign(s.target, s.value, block, s)
        if isinstance(s, ast.AugAssign):
            return self.lower_augassign(s, block)
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant):  # docstring
                return
            for kind, what in _UNSUPPORTED_EXPRS.items():  # a bare ``yield x``
                if isinstance(s.value, kind):
                    raise self.error(s.value, what, f"{what} is not supported")
            if isinstance(s.value, ast.Call):
                callee = ast.unparse(s.value.func)
                raise self.error(s, f"call to {callee}", f"{callee}() is called only for its "
                                 "side effects; calls whose result is unused (such as print) "
                                 "are not supported")
            raise self.error(s, "expression statement", "a bare expression has no effect on "
                             "the result (calls for side effects such as print are not "
                             "supported)")
        if isinstance(s, ast.Pass):
            return
        if isinstance(s, ast.If):
            cond = self.lower_cond(s.test, block)
            then, orelse = Block(), Block()
            self.lower_stmts(s.body, then)
            self.lower_stmts(s.orelse, orelse)
            block.stmts.append(If(cond, then, orelse, self.loc(s)))
            return
        if isinstance(s, ast.For):
            return self.lower_for(s, block)
        if isinstance(s, ast.While):
            return self.lower_while(s, block)
        if isinstance(s, ast.Break):
            self._check_in_loop(s, "break")
            block.stmts.append(Break(self.loc(s)))
            return
        if isinstance(s, ast.Continue):
            self._check_in_loop(s, "continue")
            block.stmts.append(Continue(self.loc(s)))
            return
        raise self.error(s, type(s).__name__, "this statement is not supported")

    def _check_in_loop(self, node, what):
        if not self.loop_depth:
            raise self.error(node, what, f"{what} outside a loop")

    def lower_assign(self, target, value_node, block, stmt):
        if isinstance(target, ast.Name):
            dest = self.var_for(target.id)
            value = self.lower_expr(value_node, block, dest=dest)
            if isinstance(value, tuple):
                raise self.error(stmt, "tuple assignment", "assigning a tuple to one name is "
                                 "not supported; unpack it (a, b = ...)")
            self.assign(block, dest, value, stmt)
            return
        value = self.lower_expr(value_node, block)
        self.bind_target(target, value, block, stmt)

    def bind_target(self, target, value, block, stmt):
        if isinstance(target, ast.Name):
            if isinstance(value, tuple):
                raise self.error(stmt, "tuple assignment", "assigning a tuple to one name is "
                                 "not supported; unpack it (a, b = ...)")
            self.assign(block, self.var_for(target.id), value, stmt)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Var):  # a tuple-valued variable (x.shape)
                # by position: works for tuples (x.shape) and along an array's first axis
                value = tuple(self.emit(block, "getitem", (value, Const(k)), stmt,
                                        params={"index": (Const(k),)})
                              for k in range(len(target.elts)))
            if not isinstance(value, tuple) or len(value) != len(target.elts):
                raise self.error(stmt, "tuple unpacking", "the right-hand side must give "
                                 f"exactly {len(target.elts)} values")
            # copy values that a later target would clobber (a, b = b, a)
            names = {self.env.get(e.id) for e in target.elts if isinstance(e, ast.Name)}
            safe = []
            for atom in value:
                if isinstance(atom, Var) and atom.name in names:
                    tmp = self.temp()
                    self.assign(block, tmp, atom, stmt)
                    atom = tmp
                safe.append(atom)
            for elt, atom in zip(target.elts, safe):
                self.bind_target(elt, atom, block, stmt)
        elif isinstance(target, ast.Subscript):
            if isinstance(value, tuple):
                raise self.error(stmt, "store", "cannot store a tuple into an array element")
            base = self.store_base(target)
            index = self.lower_index(target.slice, block)
            block.stmts.append(Store(base, index, value, None, self.loc(stmt)))
        else:
            raise self.error(stmt, "assignment target", f"cannot assign to "
                             f"{type(target).__name__}")

    def store_base(self, target) -> Var:
        if not isinstance(target.value, ast.Name) or target.value.id not in self.locals:
            raise self.error(target, "store", "only local arrays can be written in place "
                             "(a[i] = v where a is a variable of this function)")
        return self.var_for(target.value.id)

    def lower_augassign(self, s, block):
        op = _BINOPS.get(type(s.op))
        if op is None:
            raise self.error(s, "augmented assignment", f"operator {type(s.op).__name__}")
        if isinstance(s.target, ast.Name):
            dest = self.var_for(s.target.id)
            rhs = self.lower_expr(s.value, block)
            self.emit(block, op, (dest, rhs), s, dest=dest)
            last = block.stmts[-1]
            if isinstance(last, Eqn) and last.prim == "copy" and last.outs == (dest,):
                last.params["augassign"] = op  # a rebinding: stores.check_inplace_aliases
            return
        if isinstance(s.target, ast.Subscript):
            base = self.store_base(s.target)
            index = self.lower_index(s.target.slice, block)
            rhs = self.lower_expr(s.value, block)
            if op == "add":
                block.stmts.append(Store(base, index, rhs, "add", self.loc(s)))
                return
            old = self.emit(block, "getitem", (base, *_index_ins(index)), s,
                            params={"index": index})
            new = self.emit(block, op, (old, rhs), s)
            block.stmts.append(Store(base, index, new, None, self.loc(s)))
            return
        raise self.error(s, "augmented assignment", "unsupported target")

    def lower_for(self, s, block):
        if s.orelse:
            raise self.error(s, "for/else", "else clauses on loops are not supported")
        if not isinstance(s.target, ast.Name):
            raise self.error(s.target, "for target", "the loop variable must be a plain name")
        it = s.iter
        body = Block()
        if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and self.resolve_name(it.func) is builtins.range):
            if it.keywords or not 1 <= len(it.args) <= 3:
                raise self.error(it, "range", "range takes 1 to 3 positional arguments")
            args = [self.lower_expr(a, block) for a in it.args]
            start, stop, step = ((Const(0), args[0], Const(1)) if len(args) == 1 else
                                 (args[0], args[1], Const(1)) if len(args) == 2 else args)
            if isinstance(step, Const) and step.value == 0:
                raise self.error(it, "range", "range step must not be zero")
            loop_var = self.var_for(s.target.id)
            prelude = None
        else:
            # ``for v in arr``: iterate over the leading axis by index
            arr = self.lower_expr(it, block)
            if isinstance(arr, tuple) or isinstance(arr, Const):
                raise self.error(it, "for", "loops run over range(...) or over an array")
            stop = self.emit(block, "len", (arr,), it)
            start, step = Const(0), Const(1)
            loop_var = Var(self.names.fresh("k"))
            prelude = (self.var_for(s.target.id), arr)
        # Bounds are evaluated once: snapshot any the body reassigns.
        assigned = {self.env.get(n) for n in _assigned_locals_stmts(s.body)}
        bounds = []
        for b in (start, stop, step):
            if isinstance(b, Var) and b.name in assigned:
                tmp = self.temp()
                self.assign(block, tmp, b, s)
                b = tmp
            bounds.append(b)
        if s.target.id in _assigned_locals_stmts(s.body):
            raise self.error(s, "loop variable", f"the loop variable {s.target.id!r} is "
                             "reassigned inside the loop")
        if prelude is not None:
            elem, arr = prelude
            self.emit(body, "getitem", (arr, loop_var), s, dest=elem,
                      params={"index": (loop_var,)})
        self.loop_depth += 1
        self.lower_stmts(s.body, body)
        self.loop_depth -= 1
        block.stmts.append(For(loop_var, *bounds, body, self.loc(s)))

    def lower_while(self, s, block):
        if s.orelse:
            raise self.error(s, "while/else", "else clauses on loops are not supported")
        cond_block, body = Block(), Block()
        cond = self.lower_cond(s.test, cond_block)
        self.loop_depth += 1
        self.lower_stmts(s.body, body)
        self.loop_depth -= 1
        block.stmts.append(While(cond_block, cond, body, self.loc(s)))

    def lower_cond(self, node, block):
        value = self.lower_expr(node, block)
        if isinstance(value, tuple):
            raise self.error(node, "condition", "a tuple is not a condition")
        return value

    # -- expressions ----------------------------------------------------------------------
    def lower_expr(self, node, block, dest=None):
        for kind, what in _UNSUPPORTED_EXPRS.items():
            if isinstance(node, kind):
                raise self.error(node, what, f"{what} is not supported")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, (bool, int, float)) or node.value is None:
                return Const(node.value)
            raise self.error(node, "constant", f"{type(node.value).__name__} constants are "
                             "not supported")
        if isinstance(node, ast.Name):
            return self.lower_name(node)
        if isinstance(node, ast.Attribute):
            return self.lower_attribute(node, block, dest)
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise self.error(node, "operator", f"{type(node.op).__name__} is not supported")
            a = self.lower_value(node.left, block)
            b = self.lower_value(node.right, block)
            return self.emit(block, op, (a, b), node, dest=dest)
        if isinstance(node, ast.UnaryOp):
            x = self.lower_value(node.operand, block)
            if isinstance(node.op, ast.USub):
                return self.emit(block, "neg", (x,), node, dest=dest)
            if isinstance(node.op, ast.UAdd):
                return x
            if isinstance(node.op, ast.Not):
                return self.emit(block, "not_", (x,), node, dest=dest)
            return self.emit(block, "invert", (x,), node, dest=dest)  # ~mask
        if isinstance(node, ast.BoolOp):
            prim = "and_" if isinstance(node.op, ast.And) else "or_"
            atoms = [self.lower_value(v, block) for v in node.values]
            acc = atoms[0]
            for i, b in enumerate(atoms[1:]):
                last = i == len(atoms) - 2
                acc = self.emit(block, prim, (acc, b), node, dest=dest if last else None)
            return acc
        if isinstance(node, ast.Compare):
            left = self.lower_value(node.left, block)
            acc = None
            for op, right_node in zip(node.ops, node.comparators):
                prim = _CMPOPS.get(type(op))
                if prim is None:
                    raise self.error(node, "comparison", f"{type(op).__name__} is not "
                                     "supported (is / in)")
                right = self.lower_value(right_node, block)
                cmp = self.emit(block, prim, (left, right), node)
                acc = cmp if acc is None else self.emit(block, "and_", (acc, cmp), node)
                left = right
            if dest is not None:
                self.assign(block, dest, acc, node)
                return dest
            return acc
        if isinstance(node, ast.IfExp):
            cond = self.lower_cond(node.test, block)
            out = dest if dest is not None else self.temp()
            then, orelse = Block(), Block()
            self.assign(then, out, self.lower_value(node.body, then), node)
            self.assign(orelse, out, self.lower_value(node.orelse, orelse), node)
            block.stmts.append(If(cond, then, orelse, self.loc(node)))
            return out
        if isinstance(node, ast.Tuple):
            return tuple(self.lower_value(e, block) for e in node.elts)
        if isinstance(node, ast.Subscript):
            base = self.lower_expr(node.value, block)
            if isinstance(base, tuple):  # a tuple literal or a returned tuple: pick statically
                return self.tuple_item(base, node, block, dest)
            if isinstance(base, ModuleRef) or callable(base):
                raise self.error(node.value, "expression", "expected a single value here")
            index = self.lower_index(node.slice, block)
            return self.emit(block, "getitem", (base, *_index_ins(index)), node, dest=dest,
                             params={"index": index})
        if isinstance(node, ast.Call):
            return self.lower_call(node, block, dest)
        raise self.error(node, type(node).__name__, "this expression is not supported")

    def tuple_item(self, items, node, block, dest):
        """``t[k]`` of a tuple known at lowering time: ``k`` must be a constant int."""
        index = self.lower_expr(node.slice, block)
        if not (isinstance(index, Const) and type(index.value) is int
                and -len(items) <= index.value < len(items)):
            raise self.error(node, "tuple index", f"a tuple of {len(items)} values can only be "
                             "indexed by a constant int in range")
        item = items[index.value]
        if dest is not None and isinstance(item, (Var, Const)):
            self.assign(block, dest, item, node)
            return dest
        return item

    def lower_value(self, node, block):
        """An expression that must produce a single atom."""
        value = self.lower_expr(node, block)
        if isinstance(value, (tuple, ModuleRef)) or callable(value):
            raise self.error(node, "expression", "expected a single value here")
        return value

    def lower_index(self, node, block):
        items = node.elts if isinstance(node, ast.Tuple) else [node]
        index = []
        for item in items:
            if isinstance(item, ast.Slice):
                parts = [None if p is None else self.lower_value(p, block)
                         for p in (item.lower, item.upper, item.step)]
                index.append(Slice(*parts))
            elif isinstance(item, ast.Constant) and item.value is None:
                index.append(NEWAXIS)
            elif isinstance(item, ast.Constant) and item.value is Ellipsis:
                raise self.error(item, "Ellipsis", "... in an index is not supported")
            else:
                index.append(self.lower_value(item, block))
        return tuple(index)

    def lower_name(self, node):
        if node.id in self.locals:
            return self.var_for(node.id)
        value = self.resolve_name(node)
        return self.global_value(node, node.id, value)

    def resolve_name(self, node):
        if node.id in self.locals:
            return None
        if node.id in self.cap.namespace:
            return self.cap.namespace[node.id]
        if hasattr(builtins, node.id):
            return getattr(builtins, node.id)
        raise self.error(node, "name", f"name {node.id!r} is not defined")

    def global_value(self, node, name, value):
        """A global/closure value used as an operand."""
        if isinstance(value, pytypes.ModuleType):
            return ModuleRef(value)
        if isinstance(value, (bool, int, float, np.bool_, np.integer, np.floating)):
            self.deps[f"const:{self.cap.name}.{name}"] = repr(value)
            return Const(value.item() if isinstance(value, np.generic) else value)
        if value is None:
            return Const(None)
        if callable(value):
            return value
        raise self.error(node, "global", f"{name!r} is a {type(value).__name__}; only numbers, "
                         "modules and functions can be used from globals and closures")

    def lower_attribute(self, node, block, dest):
        base = self.lower_expr(node.value, block)
        if isinstance(base, ModuleRef):
            if not hasattr(base.module, node.attr):
                raise self.error(node, "attribute", f"module {base.module.__name__!r} has no "
                                 f"attribute {node.attr!r}")
            return self.global_value(node, f"{base.module.__name__}.{node.attr}",
                                     getattr(base.module, node.attr))
        if isinstance(base, Var):
            prim = primitives.METHODS.get("." + node.attr)
            if node.attr == "shape":
                return self.emit_shape(base, node, block)
            if prim is not None:
                return self.emit(block, prim, (base,), node, dest=dest)
        raise self.error(node, "attribute", f"attribute .{node.attr} is not supported")

    def emit_shape(self, base, node, block):
        """``x.shape``: one variable holding a tuple (unpacked later by position)."""
        return self.emit(block, "shape", (base,), node)

    # -- calls ------------------------------------------------------------------------------
    def lower_call(self, node, block, dest):
        func = node.func
        for arg in node.args:  # name the construct, not the callee: sum(x for ...)
            if isinstance(arg, (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp,
                                ast.Lambda)):
                what = _UNSUPPORTED_EXPRS[type(arg)]
                raise self.error(arg, what, f"{what} is not supported")
        if isinstance(func, ast.Attribute):
            base = self.lower_expr(func.value, block)
            if isinstance(base, Var):
                return self.lower_method(base, func.attr, node, block, dest)
            if not isinstance(base, ModuleRef):
                callee = ast.unparse(func)
                raise self.error(node, f"call to {callee}", f"{callee!r} is not a function "
                                 "srcgrad knows (only user functions and supported NumPy/math "
                                 "functions can be called)")
            if not hasattr(base.module, func.attr):
                raise self.error(node, "call", f"{base.module.__name__}.{func.attr} does not "
                                 "exist")
            target = getattr(base.module, func.attr)
            label = f"{base.module.__name__}.{func.attr}"
        elif isinstance(func, ast.Name):
            if func.id in self.locals:
                raise self.error(node, "call", f"{func.id!r} is a local variable, not a "
                                 "function")
            target = self.resolve_name(func)
            label = func.id
        else:
            raise self.error(node, "call", "only calls of named functions are supported")
        return self.call_object(target, label, node, block, dest)

    def call_object(self, target, label, node, block, dest):
        from . import api  # the public stop_gradient object

        # what a name resolved to keys the cache: closures with one source may call different
        # functions (``def make(op): def f(x): return op(x)``)
        self.deps[f"call:{self.cap.name}:{label}"] = _callee_id(target)
        if target is api.stop_gradient:
            (x,) = self.positional(node, block, 1, label)
            return self.emit(block, "stop_gradient", (x,), node, dest=dest)
        if target in (builtins.min, builtins.max) and not node.keywords:
            prim = "minimum" if target is builtins.min else "maximum"
            args = [self.lower_value(a, block) for a in node.args]
            if len(args) < 2:
                raise self.error(node, label, f"{label}() needs two or more arguments")
            acc = args[0]
            for i, b in enumerate(args[1:]):
                last = i == len(args) - 2
                acc = self.emit(block, prim, (acc, b), node, dest=dest if last else None)
            return acc
        if target is builtins.range:
            raise self.error(node, "range", "range() is only supported as a for-loop iterator")
        special = primitives.CALL_LOWERINGS.get(_hashable(target))
        if special is not None:
            return special(self, node, block, dest)
        prim = primitives.lookup_callable(target)
        if prim is not None:
            spec = primitives.PRIMS[prim]
            if "deps" in spec.meta:  # user primitives (srcgrad.custom): their sources key the cache
                self.deps.update(spec.meta["deps"]())
            args = [self.lower_arg(a, block) for a in node.args]
            params = {}
            for kw in node.keywords:
                if kw.arg not in spec.params:
                    raise self.error(node, label, f"keyword argument {kw.arg!r} is not "
                                     "supported")
                params[kw.arg] = self.static_value(kw.value, block, label)
            return self.emit(block, prim, args, node, dest=dest, params=params)
        fn = unwrap(target)
        if inspect.isfunction(fn) and not _is_library(fn):
            return self.inline(fn, node, block, dest, label)
        raise self.error(node, f"call to {label}", f"{label!r} is not a function srcgrad knows "
                         "(not a supported NumPy/math function, and no Python source to "
                         "transform); register a rule with @srcgrad.adjoint")

    def lower_arg(self, node, block):
        """A call argument: a tuple literal becomes one tuple-valued variable."""
        value = self.lower_expr(node, block)
        if isinstance(value, tuple):
            return self.emit(block, "tuple", value, node)
        if isinstance(value, ModuleRef) or callable(value):
            raise self.error(node, "argument", "expected a value here")
        return value

    def positional(self, node, block, n, label):
        if len(node.args) != n or node.keywords:
            raise self.error(node, label, f"{label}() takes {n} positional argument(s)")
        return [self.lower_value(a, block) for a in node.args]

    def static_value(self, node, block, label):
        """A keyword argument that must be a compile-time constant (axis=, keepdims=)."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
                isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
            return -node.operand.value  # axis=-1
        if isinstance(node, ast.Tuple):  # axis=(0, -1)
            return tuple(self.static_value(e, block, label) for e in node.elts)
        value = self.lower_expr(node, block)
        if value in (float, int, bool) or (isinstance(value, type) and
                                           issubclass(value, np.generic)):
            return np.dtype(value).name  # dtype=np.float32
        if isinstance(value, tuple) and all(isinstance(v, Const) for v in value):
            return tuple(v.value for v in value)
        if not isinstance(value, Const):
            raise self.error(node, label, "this argument must be a constant")
        return value.value

    def lower_method(self, base, name, node, block, dest):
        prim = primitives.METHODS.get(name)
        if prim is None:
            raise self.error(node, f"method .{name}()", f"array method .{name}() is not "
                             "supported")
        lowering = primitives.CALL_LOWERINGS.get(("method", name))
        if lowering is not None:
            return lowering(self, node, block, dest, base)
        spec = primitives.PRIMS[prim]
        args = [base] + [self.lower_value(a, block) for a in node.args]
        params = {}
        for kw in node.keywords:
            if kw.arg not in spec.params:
                raise self.error(node, f".{name}()", f"keyword {kw.arg!r} is not supported")
            params[kw.arg] = self.static_value(kw.value, block, name)
        return self.emit(block, prim, args, node, dest=dest, params=params)

    def inline(self, fn, node, block, dest, label):
        if fn in self.stack:
            raise self.error(node, "recursion", f"{label!r} calls itself (directly or "
                             "indirectly); recursion is not supported")
        cap = capture(fn)
        self.deps[f"fn:{cap.name}"] = (cap.file, cap.source_hash)
        args = [self.lower_value(a, block) for a in node.args]
        tree_args = cap.tree.args
        names = [a.arg for a in tree_args.args]
        if len(args) > len(names):
            raise self.error(node, label, f"{label}() takes {len(names)} arguments")
        by_name = dict(zip(names, args))
        for kw in node.keywords:
            if kw.arg not in names or kw.arg in by_name:
                raise self.error(node, label, f"bad keyword argument {kw.arg!r}")
            by_name[kw.arg] = self.lower_value(kw.value, block)
        defaults = tree_args.defaults
        for name, default in zip(names[len(names) - len(defaults):], defaults):
            if name not in by_name:
                child_default = Lowerer(cap, self.names, self.stack, self.deps)
                by_name[name] = child_default.lower_value(default, block)
        missing = [n for n in names if n not in by_name]
        if missing:
            raise self.error(node, label, f"missing argument(s) {missing}")
        child = Lowerer(cap, self.names, self.stack, self.deps)
        child.loop_depth = 0
        _, _, result = child.lower_function([by_name[n] for n in names], block)
        if dest is not None and isinstance(result, (Var, Const)):
            self.assign(block, dest, result, node)
            return dest
        return result


def _assigned_locals_stmts(stmts) -> set:
    names = set()
    for s in stmts:
        for node in ast.walk(s):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _index_ins(index) -> list:
    from .ir import index_atoms

    return index_atoms(index)


_LIBRARIES = ("numpy", "scipy", "math", "builtins", "numba", "jax", "torch")


def _is_library(fn) -> bool:
    """Functions of NumPy & co are primitives or unsupported, never inlined from their source."""
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] in _LIBRARIES


def _callee_id(obj) -> str:
    """A name for a called object that is stable across processes (no addresses)."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        return type(obj).__qualname__
    return f"{getattr(obj, '__module__', None) or type(obj).__module__}.{name}"


def _hashable(obj):
    try:
        hash(obj)
        return obj
    except TypeError:
        return None


def lower(fn, is_rule=False) -> tuple[Func, dict]:
    """Capture ``fn`` and lower it (and every user function it calls) to one IR `Func`."""
    cap = capture(fn)
    names = NameGen()
    deps = {f"fn:{cap.name}": (cap.file, cap.source_hash)}
    lowerer = Lowerer(cap, names, (), deps, is_rule=is_rule)
    params, body, result = lowerer.lower_function()
    func = Func(cap.tree.name if cap.tree.name != "lambda" else "lambda_", params, body, result,
                cap.loc(cap.tree))
    return func, deps
