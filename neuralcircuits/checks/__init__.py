"""Exercise checks: ``from neuralcircuits.checks import check_abs_weights``.

Each lesson's checks live in a module of this package named for the lesson's
idea; every ``check_*`` function they define is exported from here. All of
them share :mod:`neuralcircuits.checks.core`: one pass line, or one sentence
saying what is wrong.
"""

import importlib
import pkgutil

from neuralcircuits.checks.core import CheckFailed

__all__ = ["CheckFailed"]

for _info in pkgutil.iter_modules(__path__):
    if _info.name != "core":
        _module = importlib.import_module(f"{__name__}.{_info.name}")
        for _name in dir(_module):
            if _name.startswith("check_"):
                globals()[_name] = getattr(_module, _name)
                __all__.append(_name)
