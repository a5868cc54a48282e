"""The worked examples in the formulas' docstrings hold: each is run as written."""

import doctest

import pytest

from reports import erlang, metrics


@pytest.mark.parametrize("module", [metrics, erlang], ids=lambda module: module.__name__)
def test_every_worked_example_in_the_docstrings_gives_what_it_says(module):
    result = doctest.testmod(module)

    assert result.attempted > 0
    assert result.failed == 0
