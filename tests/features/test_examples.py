"""The examples in the features' docstrings run and print what they say."""

from __future__ import annotations

import doctest

import pytest

import weightcast.features._curves
import weightcast.features._hparams
import weightcast.features._layer
import weightcast.features._network
import weightcast.features._stats

pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize(
    "module",
    [
        weightcast.features._stats,
        weightcast.features._layer,
        weightcast.features._network,
        weightcast.features._curves,
        weightcast.features._hparams,
    ],
    ids=lambda m: m.__name__.rsplit(".", 1)[-1],
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
