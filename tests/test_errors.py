"""Everything outside srcgrad's subset raises a srcgrad exception naming the user's file, line,
column and construct, before any code runs: at ``grad(f)`` time for syntax, at the first call
(during compilation) for what depends on the argument types."""

import inspect
import math

import numpy as np
import pytest

import srcgrad as sg
from srcgrad import DifferentiationError, SrcgradError, TypeInferenceError, UnsupportedError

HERE = inspect.getsourcefile(lambda: None)
G = 1.0


class _Obj:
    def method(self, x):
        return x * 2.0


OBJ = _Obj()


def f_try(x):
    try:
        y = x * 2.0
    except ValueError:
        y = x
    return y


def f_with(x):
    with open("nothing") as fh:  # noqa: F841
        y = x
    return y


def f_yield(x):
    yield x * 2.0


def f_yield_value(x):
    y = yield x
    return y


def f_genexp(x):
    return sum(x * k for k in range(3))


def f_lambda_value(x):
    h = lambda t: t * t  # noqa: E731
    return h(x)


def _apply(fn, x):
    return fn(x)


def f_lambda_argument(x):
    return _apply(lambda t: t * t, x)


def f_class(x):
    class A:
        pass

    return x


def f_global(x):
    global G
    G = x
    return x


def _make_nonlocal():
    v = 1.0

    def f_nonlocal(x):
        nonlocal v
        v = x
        return x

    return f_nonlocal


f_nonlocal = _make_nonlocal()


def f_varargs(x, *rest):
    return x


def f_kwargs(x, **kw):
    return x


def f_recursive(x):
    if x > 1.0:
        return f_recursive(x - 1.0) * x
    return x


def f_mutual_a(x):
    return f_mutual_b(x) + 1.0


def f_mutual_b(x):
    if x > 0.0:
        return f_mutual_a(x - 1.0)
    return x


def f_print(x):
    print(x)
    return x


def f_print_value(x):
    y = print(x)  # noqa: F841
    return x


def f_str_method(x):
    s = str.upper("a")  # noqa: F841
    return x


def f_object_method(x):
    return OBJ.method(x)


def f_unknown_numpy(x):
    return np.sinc(x)


def f_nested_def(x):
    def inner(t):
        return t

    return inner(x)


def f_listcomp(x):
    v = [x * k for k in range(3)]  # noqa: F841
    return x


def f_for_else(x):
    s = 0.0
    for _ in range(3):
        s += x
    else:
        s = 1.0
    return s


def f_while_else(x):
    while x > 1.0:
        x = x * 0.5
    else:
        x = x + 1.0
    return x


def f_for_tuple(x):
    s = 0.0
    for c in (1.0, 2.0):
        s += c * x
    return s


def f_for_enumerate(x, a):
    s = 0.0
    for pair in enumerate(a):  # noqa: B007
        s += x
    return s


def f_for_scalar(x):
    s = 0.0
    for v in x:
        s += v
    return s


def _pair(x):
    return x, x * 2.0


def f_tuple_variable_index(x, k):
    return _pair(x)[k]


def f_log_three_args(x):
    return math.log(x, 2.0, 3.0)


# (function, text where the offending node starts, construct in the message, exception type)
AT_GRAD_TIME = [
    (f_try, "try:", "try/except", UnsupportedError),
    (f_with, "with open", "with", UnsupportedError),
    (f_yield, "yield x * 2.0", "yield", UnsupportedError),
    (f_yield_value, "yield x", "yield", UnsupportedError),
    (f_genexp, "(x * k for", "generator expression", UnsupportedError),
    (f_lambda_value, "lambda t", "lambda", UnsupportedError),
    (f_lambda_argument, "lambda t", "lambda", UnsupportedError),
    (f_class, "class A", "class definition", UnsupportedError),
    (f_global, "global G", "global", UnsupportedError),
    (f_nonlocal, "nonlocal v", "nonlocal", UnsupportedError),
    (f_varargs, "def f_varargs", "*args", UnsupportedError),
    (f_kwargs, "def f_kwargs", "**kwargs", UnsupportedError),
    (f_recursive, "f_recursive(x - 1.0)", "recursion", UnsupportedError),
    (f_mutual_a, "f_mutual_a(x - 1.0)", "recursion", UnsupportedError),
    (f_print, "print(x)\n", "call to print", UnsupportedError),
    (f_print_value, "print(x)", "call to print", UnsupportedError),
    (f_str_method, 'str.upper("a")', "str.upper", UnsupportedError),
    (f_object_method, "OBJ.method", "OBJ", UnsupportedError),
    (f_unknown_numpy, "np.sinc(x)", "sinc", UnsupportedError),
    (f_nested_def, "def inner", "nested function definition", UnsupportedError),
    (f_listcomp, "[x * k", "list comprehension", UnsupportedError),
    (f_for_else, "for _ in", "for/else", UnsupportedError),
    (f_while_else, "while x", "while/else", UnsupportedError),
    (f_for_tuple, "(1.0, 2.0)", "for", UnsupportedError),
    (f_for_enumerate, "enumerate(a)", "enumerate", UnsupportedError),
    (f_tuple_variable_index, "_pair(x)[k]", "tuple index", UnsupportedError),
    (f_log_three_args, "math.log(x, 2.0, 3.0)", "math.log", UnsupportedError),
]


def _where(fn, needle):
    """(line, column) of the first occurrence of ``needle`` in the source of ``fn``."""
    lines, first = inspect.getsourcelines(fn)
    for k, line in enumerate(lines):
        col = line.find(needle)
        if col >= 0:
            return first + k, col
    raise AssertionError(f"{needle!r} not in the source of {fn.__name__}")


def _where_in_file(needle):
    with open(HERE) as fh:
        for k, line in enumerate(fh, start=1):
            col = line.find(needle)
            if col >= 0 and not line.lstrip().startswith("("):
                return k, col
    raise AssertionError(needle)


def _assert_points_at(exc, fn, needle, construct):
    text = str(exc)
    try:
        line, col = _where(fn, needle)
    except AssertionError:  # the offending line is in another function (mutual recursion)
        line, col = _where_in_file(needle)
    assert f"{HERE}:{line}:{col}:" in text, text
    assert construct in text, text
    assert isinstance(exc, SrcgradError)


@pytest.mark.parametrize("fn,needle,construct,kind", AT_GRAD_TIME,
                         ids=[c[0].__name__ for c in AT_GRAD_TIME])
def test_rejected_when_grad_is_taken(fn, needle, construct, kind):
    with pytest.raises(kind) as info:
        sg.grad(fn)  # nothing is called: the error comes from reading the source
    _assert_points_at(info.value, fn, needle, construct)
    # every transformation reads the source the same way
    with pytest.raises(kind):
        sg.value_and_grad(fn)


def test_iterating_over_a_scalar_is_rejected_at_first_call():
    g = sg.grad(f_for_scalar)  # fine until the argument types are known
    with pytest.raises(TypeInferenceError) as info:
        g(1.5)
    line, col = _where(f_for_scalar, "for v in x")
    assert f"{HERE}:{line}:{col + len('for v in ')}:" in str(info.value)
    assert "len" in str(info.value) and "scalar" in str(info.value)


def f_tuple_out(x):
    return x, x * 2.0


def f_array_out(x):
    return x * np.ones(3)


def f_int_param(x, n):
    return x * n


@pytest.mark.parametrize("fn,shown", [(f_tuple_out, "f64, f64"), (f_array_out, "f64[:]")])
def test_grad_of_non_scalar_output_points_to_vjp(fn, shown):
    g = sg.grad(fn)
    with pytest.raises(DifferentiationError) as info:
        g(1.5)
    text = str(info.value)
    line, col = _where(fn, f"def {fn.__name__}")
    assert f"{HERE}:{line}:{col}:" in text
    assert "vjp" in text and "scalar" in text and shown in text
    # and vjp does work for it
    out, pullback = sg.vjp(fn, 1.5)
    ct = (1.0, 1.0) if isinstance(out, tuple) else np.ones(3)
    (g_x,) = pullback(ct)
    assert g_x == pytest.approx(3.0)


def test_int_argument_is_named():
    g = sg.grad(f_int_param, argnums=1)
    with pytest.raises(DifferentiationError) as info:
        g(1.5, 2)
    text = str(info.value)
    line, _ = _where(f_int_param, "def f_int_param")
    assert f"{HERE}:{line}:" in text
    assert "'n'" in text and "argnums=1" in text and "i64" in text
    # the same argument as a float is fine
    assert g(1.5, 2.0) == pytest.approx(1.5)


def test_int_argument_in_a_tuple_of_argnums():
    with pytest.raises(DifferentiationError, match="'n'"):
        sg.grad(f_int_param, argnums=(0, 1))(1.5, 3)


@pytest.mark.parametrize("argnums,shown", [(2, "argnums=2"), (-3, "argnums=-3"),
                                           ((0, 5), "argnums=5")])
def test_argnums_out_of_range(argnums, shown):
    with pytest.raises(DifferentiationError) as info:
        sg.grad(f_int_param, argnums=argnums)  # before any call
    text = str(info.value)
    assert shown in text and "out of range" in text and "f_int_param" in text
    line, _ = _where(f_int_param, "def f_int_param")
    assert f"{HERE}:{line}:" in text


@pytest.mark.parametrize("argnums", ["x", (), 1.0, (0, "y")])
def test_argnums_of_the_wrong_type(argnums):
    with pytest.raises(DifferentiationError, match="argnums"):
        sg.grad(f_int_param, argnums=argnums)


def test_error_message_quotes_the_source_line():
    with pytest.raises(UnsupportedError) as info:
        sg.grad(f_try)
    assert str(info.value).splitlines()[-1].strip() == "try:"
    assert info.value.loc.file == HERE
    assert info.value.construct == "try/except"


def test_functions_without_source_are_rejected_clearly():
    namespace = {}
    exec("def made(x):\n    return x * x\n", namespace)  # noqa: S102
    with pytest.raises(UnsupportedError, match="source"):
        sg.grad(namespace["made"])
    with pytest.raises(UnsupportedError, match="Python functions"):
        sg.grad(np.sin)
