"""S0.7: use a compiled srcgrad gradient for a simple optimisation problem.

    python examples/gradient_descent.py
"""

import srcgrad as sg


def f(x):
    return x ** 2 + 3 * x + 2


def minimise(fun, x0, lr=0.1, steps=200):
    """Plain gradient descent with the compiled gradient of ``fun``."""
    df = sg.grad(fun)
    x = x0
    for _ in range(steps):
        x = x - lr * df(x)
    return x


if __name__ == "__main__":
    x = minimise(f, 5.0)
    print(f"minimiser of x**2 + 3x + 2: x = {x:.6f} (exact: -1.5), f(x) = {f(x):.6f}")
