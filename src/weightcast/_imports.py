"""Optional-dependency helper: import a module or fail with the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

_EXTRA_FOR = {
    "torch": "torch",
    "optuna": "optuna",
    "click": "cli",
    "tqdm": "cli",
    "matplotlib": "report",
}


def require(module: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` or raise an ImportError that names the extra to install.

    >>> require("numpy").__name__
    'numpy'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised by monkeypatching in tests
        top = module.split(".")[0]
        extra = extra or _EXTRA_FOR.get(top, top)
        hint = f'pip install "weightcast[{extra}]"'
        if top == "torch":
            hint = 'pip install torch==2.13.0 && pip install "weightcast[torch]"'
        raise ImportError(
            f"weightcast needs the optional dependency {top!r} for this; install it with: {hint}"
        ) from exc
