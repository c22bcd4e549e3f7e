"""Every built-in adjoint rule against central differences, on broadcast shapes, float64 and float32.

The cases are discovered from the rule registry (`srcgrad.rules.ADJOINTS`): adding a primitive
with a rule adds it here.  A primitive is reached from user code by the call in `CALLS` or, when
it has none, by the NumPy/math callable that maps to it (`BY_CALLABLE`), with default inputs;
one that cannot be reached either way fails.  `DOMAINS` gives input ranges to primitives with
restricted domains.  Each primitive gets one generated objective holding its cases (float64 and
float32): all of them run through the generated code executed as Python (``backend="python"``,
no compile), and one case per dtype is compiled with numba, so numba compiles once per
primitive.  The test also checks that the primitive really occurs in the program and that each
gradient keeps its input's dtype.
"""

from __future__ import annotations

import importlib.util
import inspect
import operator
import os
import sys

import numpy as np
import pytest

import srcgrad as sg
from srcgrad.ir import Eqn, walk
from srcgrad.primitives import BY_CALLABLE, PRIMS
from srcgrad.rules import ADJOINTS, load_builtin_rules

load_builtin_rules()
BUILTIN = sorted(p for p, r in ADJOINTS.items() if r.fn.__module__.startswith("srcgrad.rules"))

# How user code reaches a primitive (a function of the float inputs).  One lambda per line.
CALLS = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "truediv": lambda x, y: x / y,
    "mod": lambda x, y: x % y,
    "pow": lambda x, y: x ** y,
    "neg": lambda x: -x,
    "to_float": lambda x: float(x),
    "full": lambda v: np.full((3, 2), v),
    "full_like": lambda x, v: np.full_like(x, v),
    "copy_array": lambda x: x.copy(),
    "abs": lambda x: np.abs(x),
    "where": lambda x, y: np.where(x > 0.5, x, y),
    "clip": lambda x, lo, hi: np.clip(x, lo, hi),
    "astype": lambda x: x.astype(np.float64),
    "sum": lambda x: np.sum(x * x),
    "sum_axis": lambda x: np.sum(np.sum(x, axis=-1) ** 2) + np.sum(x.sum(0, keepdims=True) ** 3),
    "mean": lambda x: np.mean(x * x),
    "mean_axis": lambda x: np.sum(np.mean(x, axis=0) ** 2) + np.sum(x.mean(-1, keepdims=True) ** 3),
    "max": lambda x: np.max(x * x),
    "max_axis": lambda x: np.sum(np.max(x, axis=0) ** 2) + np.sum(x.max(-1, keepdims=True) ** 3),
    "min": lambda x: x.min(),
    "min_axis": lambda x: np.sum(np.min(x, axis=-1) ** 2) + np.sum(np.amin(x, 0) ** 3),
    "prod": lambda x: np.prod(x),
    "prod_axis": lambda x: np.sum(np.prod(x, axis=0) ** 2) + np.sum(x.prod(-1, keepdims=True) ** 3),
    "norm": lambda x: np.linalg.norm(x),
    "norm_axis": lambda x: np.sum(np.linalg.norm(x, axis=-1) ** 3),
    "matmul": lambda a, b: a @ b,
    "outer": lambda a, b: np.outer(a, b),
    "diag": lambda x: np.diag(x),
    "trace": lambda x: np.trace(x),
    "solve": lambda a, b: np.linalg.solve(a + 3.0 * np.eye(3), b),
    "inv": lambda a: np.linalg.inv(a + 3.0 * np.eye(3)),
    "det": lambda a: np.linalg.det(a + 3.0 * np.eye(3)),
    "transpose": lambda x: x.T,
    "transpose_axes": lambda x: np.transpose(x, (1, 0, 2)),
    "reshape": lambda x: x.reshape(2, -1),
    "ravel": lambda x: np.ravel(x),
    "cumsum": lambda x: np.cumsum(x) * np.arange(1.0, x.size + 1),
    "flip": lambda x: np.flip(x) * np.arange(1.0, x.size + 1).reshape(x.shape),
    "tril": lambda x: np.tril(x) * np.arange(1.0, x.size + 1).reshape(x.shape) + np.tril(x, -1) ** 2,
    "triu": lambda x: np.triu(x, k=1) * np.arange(1.0, x.size + 1).reshape(x.shape) + np.triu(x) ** 2,
    "roll": lambda x: np.roll(x, 2) * np.arange(1.0, x.size + 1).reshape(x.shape) + np.roll(x, -7) ** 2,
    "flatten": lambda x: x.flatten(),
    "expand_dims": lambda x: np.expand_dims(x, -1),
    "squeeze": lambda x: np.squeeze(x[:, 1:2], 1),
    "concat2": lambda a, b: np.concatenate((a, b), axis=-1),
    "linspace": lambda a, b: np.linspace(a, b, 7),
}


def _reassigned(x):
    # a copy that folding keeps (the name is assigned twice)
    y = x
    if np.sum(x) > 1e9:
        y = x * 2.0
    return y


CALLS["copy"] = _reassigned

# Input ranges, per input ((lo, hi) for all, or a list with one range per input).
DOMAINS = {
    "truediv": [(0.2, 1.0), (0.5, 1.5)],
    "mod": [(2.2, 2.8), (1.0, 1.05)],
    "pow": [(0.5, 1.5), (0.5, 2.5)],
    "power": [(0.5, 1.5), (0.5, 2.5)],
    "log": (0.5, 1.5), "log2": (0.5, 1.5), "log10": (0.5, 1.5), "log1p": (0.5, 1.5),
    "sqrt": (0.5, 1.5), "cbrt": (0.5, 1.5),
    "arcsin": (-0.8, 0.8), "arccos": (-0.8, 0.8), "arctanh": (-0.8, 0.8),
    "arccosh": (1.2, 2.0),
    "abs": (-1.0, 1.0),
    "clip": [(0.0, 1.0), (0.2, 0.4), (0.6, 0.8)],
    "prod": (0.5, 1.5), "prod_axis": (0.5, 1.5),
}

# Input shapes per case (float64): scalar-array, size-1 axes, leading axes, 3-D; the first
# FLOAT32_CASES of them also run in float32.
UNARY = [(3, 4), (2, 3, 4), ()]
BINARY = [((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (3,)), ((3,), ())]
TERNARY = [((3, 4), (4,), (3, 1)), ((), (3,), ())]
SHAPES = {
    "to_float": [()], "full": [()], "full_like": [((3, 4), ()), ((2,), ())],
    "sum_axis": [(3, 4), (2, 3, 4)], "mean_axis": [(3, 4), (2, 3, 4)],
    "max_axis": [(3, 4), (2, 3, 4)], "min_axis": [(3, 4), (2, 3, 4)],
    "prod_axis": [(3, 4), (2, 3, 4)], "norm_axis": [(3, 4), (5,)],
    "sum": [(3, 4), (5,), ()], "norm": [(3, 4), (5,), (2, 3, 2)],
    "matmul": [((3, 4), (4, 2)), ((3, 4), (4,)), ((4,), (4, 2)), ((4,), (4,))],
    "outer": [((3,), (4,))], "diag": [(4,), (3, 4)], "trace": [(3, 4)],
    "solve": [((3, 3), (3,)), ((3, 3), (3, 2))], "inv": [(3, 3)], "det": [(3, 3)],
    "transpose": [(3, 4), (2, 3, 4)], "transpose_axes": [(2, 3, 4)],
    "reshape": [(3, 4), (2, 3, 4)], "ravel": [(3, 4)], "flatten": [(2, 3, 4)],
    "cumsum": [(3, 4), (5,)], "flip": [(3, 4), (5,)], "tril": [(3, 4), (4, 3)], "triu": [(3, 4), (4, 3)],
    "roll": [(3, 4), (5,)],
    "expand_dims": [(3, 4), (5,)], "squeeze": [(3, 4)],
    "concat2": [((3, 4), (3, 2)), ((2,), (3,))], "linspace": [((), ())],
    "copy": [(3, 4)],
    # methods: numbers have none in Python (the finite differences run the Python function)
    "astype": [(3, 4), (2, 3, 4)], "copy_array": [(3, 4), (2, 3, 4)], "min": [(3, 4), (2, 3, 4)],
}
FLOAT32_CASES = 1
COMPILED_SWEEP = os.environ.get("SRCGRAD_REGISTRY_COMPILED", "") == "1"
COMPILED_ALWAYS = {"mul", "where"}


def _caller(prim):
    """The function that reaches ``prim`` from user code, or None."""
    if prim in CALLS:
        return CALLS[prim]
    found = [obj for obj, name in BY_CALLABLE.items() if name == prim and callable(obj)]
    found.sort(key=lambda obj: not isinstance(obj, np.ufunc))  # NumPy's, which take arrays
    return found[0] if found else None


def _arity(prim) -> int:
    rule = ADJOINTS[prim]
    params = list(inspect.signature(rule.fn).parameters)[1:]
    return len(params) - (1 if rule.uses_ans else 0)


def _shapes(prim, call):
    if prim in SHAPES:
        return [s if isinstance(s, tuple) and s and isinstance(s[0], tuple) else
                (s,) if _nargs(call) == 1 else s for s in SHAPES[prim]]
    n = _nargs(call)
    table = {1: [(s,) for s in UNARY], 2: BINARY, 3: TERNARY}
    return table[n]


def _nargs(call) -> int:
    if isinstance(call, np.ufunc):
        return call.nin
    return len(inspect.signature(call).parameters)


def _module_for(prim, call, ncases64, ncases32, nargs, tmp_dir, tag):
    """Write and import a module with the objective of ``prim`` (real source, as srcgrad needs)."""
    names = [f"a{c}_{i}" for c in range(ncases64 + ncases32) for i in range(nargs)]
    terms = []
    for c in range(ncases64 + ncases32):
        args = ", ".join(f"a{c}_{i}" for i in range(nargs))
        terms.append(f"np.sum(np.sin(op({args})))")
    src = ("import numpy as np\n\n\n"
           f"def objective_{prim}({', '.join(names)}):\n"
           f"    return {' + '.join(terms)}\n")
    path = tmp_dir / f"registry_case_{prim}_{tag}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(f"registry_case_{prim}_{tag}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.op = call
    return getattr(module, f"objective_{prim}")


def _inputs(prim, shapes, dtype, rng):
    dom = DOMAINS.get(prim, (0.1, 0.9))
    out = []
    for i, shape in enumerate(shapes):
        lo, hi = dom[i] if isinstance(dom, list) else dom
        v = rng.uniform(lo, hi, size=shape)
        out.append(dtype(v) if shape == () else v.astype(dtype))
    return out


def _fd_check(py_f, args, grads, group, rtol, rng, eps=1e-6):
    """Central differences of the float64 Python function along random directions of ``group``."""
    base = [np.asarray(a, dtype=np.float64) if np.ndim(a) else float(a) for a in args]
    for _ in range(2):
        dirs = {i: rng.standard_normal(np.shape(args[i])) for i in group}

        def at(sign, dirs=dirs):
            moved = list(base)
            for i, d in dirs.items():
                moved[i] = base[i] + sign * eps * d
                if np.ndim(args[i]) == 0:
                    moved[i] = float(moved[i])
            return float(py_f(*moved))

        fd = (at(1.0) - at(-1.0)) / (2 * eps)
        ad = sum(float(np.sum(np.asarray(grads[i], dtype=np.float64) * d)) for i, d in dirs.items())
        assert np.isfinite(ad), f"non-finite gradient {ad}"
        assert abs(fd - ad) <= 1e-7 + rtol * max(abs(fd), abs(ad)), \
            f"finite differences {fd!r} vs gradient {ad!r}"


def _python_rule_check(prim, rng):
    """Primitives user code cannot reach (``+x``): run the rule itself against the impl."""
    impl = PRIMS[prim].impl
    assert impl is not None, f"primitive {prim!r} has a rule but no way to call it: add it to CALLS"
    x = rng.uniform(0.1, 0.9, size=(3, 4))
    g = rng.standard_normal((3, 4))
    ct = ADJOINTS[prim].fn(g, x)
    fd = (impl(x + 1e-6 * g) - impl(x - 1e-6 * g)) / 2e-6
    np.testing.assert_allclose(np.sum(ct * g), np.sum(fd * g), rtol=1e-6)


UNREACHABLE = {"pos": operator.pos}  # the front end drops unary plus


@pytest.mark.parametrize("prim", BUILTIN)
def test_rule(prim, tmp_path_factory):
    rng = np.random.default_rng(abs(hash(prim)) % 2**32)
    if prim in UNREACHABLE:
        _python_rule_check(prim, rng)
        return
    call = _caller(prim)
    assert call is not None, (f"primitive {prim!r} has an adjoint rule but no call in CALLS and "
                              "no callable in BY_CALLABLE: add a case to tests/test_rules_registry")
    nargs = _nargs(call)
    assert nargs == _arity(prim) or prim in CALLS, f"{prim}: rule arity differs from the call"
    cases = _shapes(prim, call)
    tmp = tmp_path_factory.mktemp(prim)
    # every case and both dtypes through the generated code run as Python (NumPy semantics)
    _check_cases(prim, call, nargs, cases, cases, "python", tmp, rng)
    # one case per dtype compiled with numba (its typing: float32 stays float32); numba compiles
    # each primitive's runtime helpers for new signatures (seconds each), so the full compiled
    # sweep is opt-in; tests/test_arrays.py compiles programs using these primitives
    if COMPILED_SWEEP or prim in COMPILED_ALWAYS:
        _check_cases(prim, call, nargs, cases[:1], cases[:FLOAT32_CASES], "cpu", tmp, rng)


def _check_cases(prim, call, nargs, cases, cases32, backend, tmp, rng):
    f = _module_for(prim, call, len(cases), len(cases32), nargs, tmp, backend)
    args = []
    for shapes in cases:
        args += _inputs(prim, shapes, np.float64, rng)
    n64 = len(args)
    for shapes in cases32:
        args += _inputs(prim, shapes, np.float32, rng)
    argnums = tuple(range(len(args)))
    gfun = sg.grad(f, argnums=argnums, backend=backend)
    grads = gfun(*args)
    primal = gfun.transform.latest().built.primal
    used = {s.prim for s in walk(primal.body) if isinstance(s, Eqn)}
    assert prim in used, f"the case for {prim!r} compiles to {sorted(used)}, not to {prim!r}"
    for a, g in zip(args, grads):
        assert np.shape(g) == np.shape(a)
        if np.ndim(a):  # (numba returns float32 scalars as Python floats)
            assert g.dtype == a.dtype, f"{backend}: gradient of a {a.dtype} input is {g.dtype}"
    _fd_check(f, args, grads, range(n64), 1e-5, rng)
    if len(args) > n64:
        _fd_check(f, args, grads, range(n64, len(args)), 2e-3, rng)
