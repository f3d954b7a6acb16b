"""The machinery every exercise check shares.

A check calls the learner's function, inspects what came back and either
prints one pass line or raises :class:`CheckFailed` with one sentence that
says what is wrong. In a notebook that sentence is all the learner sees: no
traceback from inside the course's code.

Every check in every lesson uses these pieces (see relu_circuits/checks.py
and linear_algebra/checks/ for examples):

``@check``
    Decorate each ``check_*`` function: any exception the check's own code
    hits on a strange answer (a tuple where a tensor was due, a NaN ...)
    becomes one sentence instead of a traceback. A check never crashes.
``call(fn, *args, name=...)``
    Call the learner's function. A stub, a crash or a missing function
    becomes one sentence; and every argument is compared with a copy taken
    before the call: if the function changed one in place (``x += 1``,
    ``W.t_()``, ``E /= E.norm(...)``) the check says so, naming the argument.
    Build the reference answer from the check's own inputs (they are intact
    whenever ``call`` returns). A hook may edit its activation in place: pass
    ``may_change=(0,)`` for it.
``clean_model(model)`` / ``fresh_copy(model)``
    Give each attempt a model with no hooks left over from an earlier
    attempt (TransformerLens hooks and raw torch hooks alike), so a hook a
    learner forgot to remove cannot make every later attempt fail.
``as_tensor``, ``close``, ``first_mismatch``
    Read a returned value as a tensor of the right shape, compare, and
    describe the first input where two results differ.

Writing a check: vary shapes and parameters over several cases (so code
hard-wired to one size fails), choose data that separate the right rule
from its near misses (ties, repeats, boundaries, a parameter at a second
value), accept every correct answer (any order among equally right ones),
name each plausible mistake in one sentence, and test every message with a
plausible wrong answer in ``tests/test_checks_*.py``.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

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


def fail(message: str) -> NoReturn:
    """Stop the check with one sentence for the learner."""
    raise CheckFailed(message)


def passed(message: str) -> None:
    """Print the pass line of a check, wrapped to the notebook's column."""
    print(textwrap.fill(f"✔ {message}", 78, subsequent_indent="  "))


def check(check_fn: Callable[..., None]) -> Callable[..., None]:
    """Decorate a check so that nothing but one sentence ever reaches the learner.

    A check runs on one CPU thread: its models are tiny (toy-seq, made-up
    ones), where a second thread gains nothing and, on a busy machine or
    beside a lesson that gave GPT-2 small every core, costs many times the
    check's own time.
    """

    @functools.wraps(check_fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return check_fn(*args, **kwargs)
        except CheckFailed:
            raise
        except Exception as error:  # the answer is stranger than the check expected
            fail(
                f"the check could not read what your function returned "
                f"({type(error).__name__}: {_first_line(error)}); look at its type and shape."
            )
        finally:
            torch.set_num_threads(threads)

    return wrapper


def _first_line(error: BaseException, limit: int = 150) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _snapshot(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, (list, tuple, dict, set)):
        try:
            return copy.deepcopy(value)
        except Exception:  # something that cannot be copied: not guarded
            return _NOT_GUARDED
    return _NOT_GUARDED


_NOT_GUARDED = object()


def _unchanged(value: Any, before: Any) -> bool:
    if before is _NOT_GUARDED:
        return True
    if isinstance(before, torch.Tensor):
        return (
            isinstance(value, torch.Tensor)
            and value.shape == before.shape
            and value.dtype == before.dtype
            and bool(
                torch.equal(value.detach(), before)
                or (
                    value.is_floating_point()
                    and torch.allclose(
                        value.detach(), before, rtol=0, atol=0, equal_nan=True
                    )
                )
            )
        )
    if isinstance(before, (list, tuple)):
        return (
            type(value) is type(before)
            and len(value) == len(before)
            and all(_unchanged(v, b) for v, b in zip(value, before, strict=True))
        )
    if isinstance(before, dict):
        return (
            isinstance(value, dict)
            and value.keys() == before.keys()
            and all(_unchanged(value[k], before[k]) for k in before)
        )
    return value == before


def _argument_names(fn: Callable[..., Any], n: int) -> list[str]:
    try:
        names = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(n)]


def call(
    fn: Callable[..., Any],
    *args: Any,
    name: str | None = None,
    may_change: Sequence[int] = (),
    **kwargs: Any,
) -> Any:
    """Call the learner's function; a stub, a crash or a changed input becomes one sentence.

    `may_change` lists the positions of arguments the function may edit in
    place: a hook's activation (``z[:, :, head] = ...; return z`` is how hooks
    are written), never the data a check builds its reference from.
    """
    name = name or getattr(fn, "__name__", "your function")
    if not callable(fn):
        fail(
            f"pass the function itself, e.g. check({name}) - got a {type(fn).__name__}."
        )
    before = [
        _NOT_GUARDED if i in may_change else _snapshot(a) for i, a in enumerate(args)
    ]
    before_kw = {k: _snapshot(v) for k, v in kwargs.items()}
    try:
        result = fn(*args, **kwargs)
    except NotImplementedError:
        fail(
            f"`{name}` is not written yet: replace its `raise NotImplementedError` "
            "line with your code."
        )
    except CheckFailed:
        raise
    except Exception as error:  # the learner's code crashed: say where, briefly
        fail(f"`{name}` raised {type(error).__name__}: {_first_line(error)}")
    names = _argument_names(fn, len(args))
    changed = [
        n
        for i, (n, a, b) in enumerate(zip(names, args, before, strict=True))
        if i not in may_change and not _unchanged(a, b)
    ]
    changed += [k for k, v in kwargs.items() if not _unchanged(v, before_kw[k])]
    if changed:
        fail(
            f"`{name}` changed its input `{changed[0]}` in place (an in-place operation "
            "such as `+=`, `x[...] = ...` or a method ending in `_`); work on a copy, "
            "e.g. `x = x + ...` or `x.clone()`, so the caller's data stay as they were."
        )
    return result


def clean_model(model: torch.nn.Module) -> torch.nn.Module:
    """Remove every hook an earlier attempt left on `model` (in place); return it.

    TransformerLens hooks (``add_hook``, ``hooks()``) are reset, keeping only
    the permanent ones the library itself added; raw torch hooks
    (``register_forward_hook`` ...) on any module are removed.
    """
    reset_hooks = getattr(model, "reset_hooks", None)  # TransformerLens models only
    if callable(reset_hooks):
        reset_hooks(including_permanent=False)
    for module in model.modules():
        keep: set[int] = set()
        for handle in [
            *getattr(module, "fwd_hooks", []),
            *getattr(module, "bwd_hooks", []),
        ]:
            if getattr(handle, "is_permanent", False):
                keep.add(getattr(handle.hook, "id", -1))
        for hooks in (
            "_forward_hooks",
            "_forward_pre_hooks",
            "_backward_hooks",
            "_backward_pre_hooks",
        ):
            table = getattr(module, hooks, None)
            if table:
                for key in [k for k in table if k not in keep]:
                    del table[key]
    return model


def fresh_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of `model` with no hooks: what the learner's function may change freely."""
    return clean_model(copy.deepcopy(model))


def as_tensor(
    value: Any, what: str, shape: Sequence[int] | None = None
) -> torch.Tensor:
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


def as_tensors(value: Any, n: int, what: str) -> tuple[torch.Tensor, ...]:
    """Return `value`, a tuple of `n` tensors, as float tensors, or fail saying why not."""
    if value is None:
        fail(f"{what} is None: did you forget a `return`?")
    if not isinstance(value, (tuple, list)) or len(value) != n:
        fail(f"{what} should be a tuple of {n} tensors.")
    return tuple(as_tensor(v, f"item {i} of {what}") for i, v in enumerate(value))


def inputs_unchanged(
    originals: dict[str, torch.Tensor], given: dict[str, torch.Tensor], name: str
) -> None:
    """Fail when the learner's function `name` changed one of its input tensors in place."""
    for what, before in originals.items():
        if not torch.equal(before, given[what]):
            fail(
                f"`{name}` changes its input `{what}` in place; work on a copy "
                "(e.g. x = x.clone()) so the caller's tensors stay as they were."
            )


def brief(value: Any, limit: int = 60) -> str:
    """A value as one short line for a message: its repr, whitespace runs joined, cut at ``limit``."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def close(
    a: torch.Tensor, b: torch.Tensor, atol: float = 1e-4, rtol: float = 1e-4
) -> bool:
    """Whether a and b are equal within atol and rtol (a Python bool, for checks)."""
    return bool(torch.allclose(a, b, atol=atol, rtol=rtol))


def first_mismatch(
    actual: torch.Tensor,
    expected: torch.Tensor,
    inputs: torch.Tensor,
    atol: float = 1e-4,
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


@check
def check_choice(
    prediction: Callable[[], str] | str,
    options: Sequence[str],
    answer: str,
    why: str,
) -> None:
    """Check a prediction made before a reveal: one of ``options``, compared with ``answer``.

    ``why`` is the sentence that explains the measured answer; it is printed
    whether the prediction was right or not, since the reveal is the lesson.
    """
    if callable(prediction):
        prediction = call(
            prediction, name=getattr(prediction, "__name__", "your function")
        )
    choices = ", ".join(f'"{o}"' for o in options)
    if not isinstance(prediction, str) or not prediction.strip():
        fail(f"Return your prediction as one of {choices}.")
    said = prediction.strip().lower()
    if said not in options:
        fail(f"{prediction!r} is not one of the options; return one of {choices}.")
    if said != answer:
        fail(f'You predicted "{said}"; the model says "{answer}": {why}')
    passed(f'Right: "{answer}".')
    print(
        textwrap.fill(
            why[:1].upper() + why[1:], 78, initial_indent="  ", subsequent_indent="  "
        )
    )
