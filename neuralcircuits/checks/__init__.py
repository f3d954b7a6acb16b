"""Exercise checks: ``from neuralcircuits.checks import check_abs_weights``.

Each lesson's checks live in a module of this package named for the lesson's
idea; every ``check_*`` function they define is importable from here. A
check's module is imported only when the check is asked for, so lesson 01
does not pay for (or depend on) lesson 03's imports. All checks share
:mod:`neuralcircuits.checks.core`: one pass line, or one sentence saying what
is wrong.
"""

import functools
import importlib
import re
from pathlib import Path

from neuralcircuits.checks.core import CheckFailed

_HERE = Path(__file__).parent
_DEFINES_CHECK = re.compile(r"^def (check_\w+)\(", re.M)


@functools.cache
def _check_modules() -> dict[str, str]:
    """{check name: module name}, read from the modules' source without importing them."""
    found = {}
    for path in sorted(_HERE.glob("*.py")):
        if path.stem not in ("__init__", "core"):
            for name in _DEFINES_CHECK.findall(path.read_text()):
                found[name] = path.stem
    return found


def __getattr__(name: str):
    module = _check_modules().get(name)
    if module is None:
        raise AttributeError(f"neuralcircuits.checks has no check named {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = ["CheckFailed", *_check_modules()]
