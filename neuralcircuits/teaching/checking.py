"""The machinery every exercise check shares.

A check calls the learner's function, inspects what came back and either
prints one pass line or raises :class:`CheckFailed` with one sentence that
says what is wrong. In a notebook that sentence is all the learner sees: no
traceback from inside the course's code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch


class CheckFailed(AssertionError):
    """An exercise answer is not right yet; the message says what is wrong."""


def _show_check_failure(shell, etype, value, tb, tb_offset=None):
    # Show one readable line as the cell's error output, instead of a
    # traceback through the course's code. It is still an error, so Run All
    # stops here and the tests see the failure.
    shell._showtraceback(etype, value, [f"\x1b[1;31m✘ {value}\x1b[0m"])


def _install_notebook_handler() -> None:
    """In IPython, show a CheckFailed as its sentence alone."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: the exception message is already short
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((CheckFailed,), _show_check_failure)


_install_notebook_handler()


def fail(message: str) -> None:
    """Stop the check with one sentence for the learner."""
    raise CheckFailed(message)


def passed(message: str) -> None:
    """Print the pass line of a check."""
    print(f"✔ {message}")


def call(fn: Callable[..., Any], *args: Any, name: str | None = None) -> Any:
    """Call the learner's function; turn a stub or a crash into a clear sentence."""
    name = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        fail(f"pass the function itself, e.g. check({name}) - got a {type(fn).__name__}.")
    try:
        return fn(*args)
    except NotImplementedError:
        fail(f"`{name}` is not written yet: replace its `raise NotImplementedError` "
             "line with your code.")
    except CheckFailed:
        raise
    except Exception as error:  # the learner's code crashed: say where, briefly
        fail(f"`{name}` raised {type(error).__name__}: {error}")


def as_tensor(value: Any, what: str, shape: Sequence[int] | None = None) -> torch.Tensor:
    """Return `value` as a float tensor, or fail saying why it is not the expected one."""
    if value is None:
        fail(f"{what} is None: did you forget a `return`?")
    if isinstance(value, (int, float)) and shape is not None and tuple(shape) == ():
        value = torch.tensor(float(value))
    if not isinstance(value, torch.Tensor):
        fail(f"{what} should be a torch.Tensor, but it is a {type(value).__name__}.")
    if not (value.is_floating_point() or value.dtype in (torch.int32, torch.int64)):
        fail(f"{what} should hold numbers, but its dtype is {value.dtype}.")
    if shape is not None and tuple(value.shape) != tuple(shape):
        fail(f"{what} has shape {tuple(value.shape)}; it should be {tuple(shape)}.")
    value = value.detach().float()
    if not torch.isfinite(value).all():
        fail(f"{what} contains NaN or infinity.")
    return value


def close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-4, rtol: float = 1e-4) -> bool:
    return bool(torch.allclose(a, b, atol=atol, rtol=rtol))


def first_mismatch(
    actual: torch.Tensor, expected: torch.Tensor, inputs: torch.Tensor, atol: float = 1e-4
) -> str | None:
    """Describe the first input where `actual` and `expected` differ, or None."""
    bad = ~torch.isclose(actual, expected, atol=atol, rtol=1e-4)
    while bad.dim() > 1:
        bad = bad.any(dim=-1)
    if not bad.any():
        return None
    i = int(bad.nonzero()[0])
    x = [round(v, 3) for v in inputs[i].flatten().tolist()]
    shown = x[0] if len(x) == 1 else tuple(x)
    got = actual[i].flatten().tolist()
    want = expected[i].flatten().tolist()
    got, want = (got[0], want[0]) if len(got) == 1 else (got, want)
    return f"at input {shown} it gives {_fmt(got)} instead of {_fmt(want)}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)
