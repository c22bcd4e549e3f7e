"""Every tangent rule against central differences, and coverage: every primitive with an adjoint
rule has a tangent (a rule in srcgrad/rules/tangents.py or structural linear handling)."""

import importlib.util
import math

import numpy as np
import pytest

import srcgrad as sg
from srcgrad import forward
from srcgrad.primitives import PRIMS
from srcgrad.rules import ADJOINTS, load_builtin_rules
from srcgrad.rules.tangents import TANGENTS

load_builtin_rules()

EXTRA_IMPL = {"copy_array": np.copy, "full": np.full, "full_like": np.full_like,
              "where": np.where, "clip": np.clip, "linspace": np.linspace, "max": np.max,
              "min": np.min, "prod": np.prod, "norm": np.linalg.norm, "solve": np.linalg.solve,
              "inv": np.linalg.inv, "det": np.linalg.det}
# Inputs (per position) inside each primitive's domain, away from kinks.
DOMAIN = {"arccosh": [(1.2, 2.0)], "mod": [(2.1, 2.6), (0.7, 0.9)],
          "maximum": [(0.1, 0.3), (0.6, 0.9)], "minimum": [(0.1, 0.3), (0.6, 0.9)],
          "abs": [(-0.9, -0.2)]}
_A = np.array([[3.0, 0.5, -0.2], [0.1, 2.0, 0.4], [-0.3, 0.2, 4.0]])
# Array primitives: fixed inputs, and the positions that are not differentiated.
SPECIAL = {
    "full": ([3, 0.5], {0}),
    "where": ([np.array([True, False, True, False]), np.arange(4.0), -np.arange(4.0) ** 2],
              {0}),
    "clip": ([np.array([0.1, 0.4, 0.5, 0.9, 0.65]), 0.3, 0.7], set()),
    "linspace": ([0.5, 2.5, 5], {2}),
    "max": ([np.array([0.3, 1.5, -0.2, 0.9])], set()),
    "min": ([np.array([0.3, 1.5, -0.2, 0.9])], set()),
    "prod": ([np.array([0.3, 1.5, -0.2, 0.9])], set()),
    "norm": ([np.array([0.3, 1.5, -0.2, 0.9])], set()),
    "solve": ([_A, np.array([1.0, -2.0, 0.5])], set()),
    "inv": ([_A], set()),
    "det": ([_A], set()),
}


def _impl(prim):
    return EXTRA_IMPL.get(prim) or PRIMS[prim].impl


def _inputs(prim, n, rng):
    if prim in SPECIAL:
        return [np.copy(v) if isinstance(v, np.ndarray) else v for v in SPECIAL[prim][0]]
    dom = DOMAIN.get(prim, [(0.2, 0.8)] * n)
    vals = []
    for k in range(n):
        if prim in ("copy_array", "full_like") and k == 0:
            vals.append(rng.uniform(*dom[0], size=3))
        else:
            vals.append(float(rng.uniform(*dom[min(k, len(dom) - 1)])))
    return vals


def _static(prim):
    return SPECIAL.get(prim, (None, set()))[1]


def _nins(rule):
    import inspect

    return (len(inspect.signature(rule.fn).parameters) - rule.uses_ans) // 2


@pytest.mark.parametrize("prim", sorted(TANGENTS))
def test_tangent_rule_matches_finite_differences(prim):
    rule = TANGENTS[prim]
    rng = np.random.default_rng(abs(hash(prim)) % 2**32)
    n = _nins(rule)
    ins = _inputs(prim, n, rng)
    impl = _impl(prim)
    dots = [0.0 if k in _static(prim) else
            (rng.standard_normal(np.shape(x)) if np.ndim(x) else float(rng.standard_normal()))
            for k, x in enumerate(ins)]
    ans = impl(*ins)
    args = ([ans] if rule.uses_ans else []) + ins + dots
    tangent = rule.fn(*args)
    h = 1e-6

    def moved(s):
        return [x if k in _static(prim) else x + s * h * d
                for k, (x, d) in enumerate(zip(ins, dots))]

    fd = (np.asarray(impl(*moved(1.0)), float) - np.asarray(impl(*moved(-1.0)), float)) / (2 * h)
    np.testing.assert_allclose(np.broadcast_to(tangent, np.shape(fd)), fd, rtol=1e-5, atol=1e-7)


def test_every_adjoint_rule_has_a_tangent():
    builtin = {p for p in ADJOINTS if not p.startswith("user_")}
    covered = set(TANGENTS) | forward.STRUCTURAL
    missing = sorted(builtin - covered)
    assert not missing, f"primitives with an adjoint rule but no tangent rule: {missing}"


# -- the rules inlined by the forward transformation (Python backend: no numba compile) --------

_EXPR = {"add": "x + y", "sub": "x - y", "mul": "x * y", "truediv": "x / y", "mod": "x % y",
         "pow": "x ** y", "neg": "-x", "pos": "+x", "copy": "x", "copy_array": "x.copy()",
         "to_float": "float(x)", "abs": "abs(x)", "full_like": "np.full_like(x, y)",
         "full": "np.full(x, y)", "where": "np.where(x, y, z)", "clip": "np.clip(x, y, z)",
         "linspace": "np.linspace(x, y, 5)", "norm": "np.linalg.norm(x)",
         "solve": "np.linalg.solve(x, y)", "inv": "np.linalg.inv(x)", "det": "np.linalg.det(x)",
         "sigmoid": "1.0 / (1.0 + np.exp(-x))"}  # srcgrad/sigmoid.py recognises the formula


ARRAY_OUT = {"copy_array", "full", "full_like", "where", "clip", "linspace", "solve", "inv"}


def _n_fn_params(prim):
    return 2 if prim == "linspace" else _nins(TANGENTS[prim])


def _expr(prim, n):
    if prim in _EXPR:
        return _EXPR[prim]
    return f"np.{prim}({', '.join('xyz'[:n])})"


@pytest.fixture(scope="module")
def prim_module(tmp_path_factory):
    lines = ["import numpy as np", ""]
    for prim in sorted(TANGENTS):
        n = _n_fn_params(prim)
        lines += [f"def f_{prim}({', '.join('xyz'[:n])}):", f"    r = {_expr(prim, n)}",
                  "    return np.sum(r * r)" if prim in ARRAY_OUT else "    return r * 1.0", ""]
    path = tmp_path_factory.mktemp("prims") / "prim_fns.py"
    path.write_text("\n".join(lines))
    spec = importlib.util.spec_from_file_location("prim_fns", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("prim", sorted(TANGENTS))
def test_inlined_tangent_rule(prim, prim_module):
    """The rule as the forward transformation inlines it (Python backend: no numba compile),
    with every input active and with each one alone (the others' tangents simplified away)."""
    fn = getattr(prim_module, f"f_{prim}")
    rng = np.random.default_rng(1)
    n = _n_fn_params(prim)
    ins = _inputs(prim, _nins(TANGENTS[prim]), rng)[:n]
    diff = [k for k in range(n) if k not in _static(prim)]
    dots = [rng.standard_normal(np.shape(x)) for x in ins]
    dots = [d if np.ndim(d) else float(d) for d in dots]
    for mask in [diff] + [[j] for j in diff]:
        ds = [d if k in mask else 0.0 * d for k, d in enumerate(dots)]
        out, t = sg.jvp(fn, ins, ds, backend="python")
        h = 1e-6
        moved = [[x + s * h * d if k in diff else x for k, (x, d) in enumerate(zip(ins, ds))]
                 for s in (1.0, -1.0)]
        fd = (fn(*moved[0]) - fn(*moved[1])) / (2 * h)
        assert math.isclose(t, fd, rel_tol=1e-5, abs_tol=1e-7), (prim, mask, t, fd)
