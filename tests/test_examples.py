"""Every docstring example of the package runs and prints what it says (besides the features',
which tests/features/test_examples.py checks with warnings as errors)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import weightcast

pytest.importorskip("torch")
pytest.importorskip("optuna")

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(weightcast.__path__, "weightcast.")
    if not m.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_public_modules_have_examples() -> None:
    """The modules users call into carry runnable examples (not only prose)."""
    for name in (
        "weightcast.policy._rules",
        "weightcast.integrations._replay",
        "weightcast.tuning",
    ):
        module = importlib.import_module(name)
        assert doctest.testmod(module).attempted > 0, name
