"""Helpers for testing exercise checks with right and wrong answers."""

import pytest

from neuralcircuits.teaching.checking import CheckFailed


def stub(*args):
    """A learner's function not written yet, as the generated lesson has it."""
    raise NotImplementedError("Exercise: write this here, then run the check below.")


def fails_with(check, answer, *fragments) -> str:
    """Assert that `check(answer)` fails with one sentence holding every fragment."""
    with pytest.raises(CheckFailed) as error:
        check(answer)
    message = str(error.value)
    assert "\n" not in message, f"a check's message should be one line: {message!r}"
    assert len(message) < 400, (
        f"a check's message should be one short sentence: {message!r}"
    )
    for fragment in fragments:
        assert fragment in message, message
    return message
