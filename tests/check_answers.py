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


def assert_mistakes_named(name, check, mistakes) -> None:
    """Each (what, answer, fragment) of >= 4 plausible mistakes fails with its own sentence."""
    assert len(mistakes) >= 4
    for what, answer, fragment in mistakes:
        message = fails_with(check, answer, fragment)
        assert "could not read" not in message, f"{name}, {what}: {message}"


def assert_right_answers_pass(check, right, capsys) -> None:
    """Each of >= 1 correct answers, written differently from the solution, passes."""
    assert len(right) >= 1
    for answer in right:
        check(answer)
        assert "✔" in capsys.readouterr().out
