"""LoopDetector: repeated calls and short cycles give one warning, then STUCK."""

import random
from collections.abc import Iterable

import pytest

from context import LoopDetector, LoopVerdict

OK, WARN, STUCK = LoopVerdict.OK, LoopVerdict.WARN, LoopVerdict.STUCK

Call = tuple[str, dict[str, object]]
A: Call = ("read_file", {"path": "app/models.py", "offset": 0})
B: Call = ("run_tests", {"selector": "tests/test_models.py"})
C: Call = ("grep", {"pattern": "def save", "path": "app"})
D: Call = ("list_dir", {"path": "."})


def _observe(detector: LoopDetector, calls: Iterable[Call]) -> list[LoopVerdict]:
    return [detector.observe(name, arguments) for name, arguments in calls]


def test_same_call_three_times_warns_then_a_fourth_is_stuck() -> None:
    detector = LoopDetector(repeat=3)
    assert _observe(detector, [A, A, A, A]) == [OK, OK, WARN, STUCK]


def test_argument_key_order_does_not_make_calls_different() -> None:
    detector = LoopDetector(repeat=3)
    verdicts = _observe(
        detector,
        [
            ("read_file", {"path": "a.py", "offset": 0}),
            ("read_file", {"offset": 0, "path": "a.py"}),
            ("read_file", {"path": "a.py", "offset": 0}),
        ],
    )
    assert verdicts == [OK, OK, WARN]


def test_different_arguments_are_progress_not_a_loop() -> None:
    detector = LoopDetector(repeat=3)
    calls: list[Call] = [("read_file", {"path": "a.py", "offset": offset}) for offset in range(0, 1000, 100)]
    assert set(_observe(detector, calls)) == {OK}


def test_cycle_of_two_calls_repeated_three_times_warns() -> None:
    detector = LoopDetector(repeat=3)
    assert _observe(detector, [A, B, A, B, A, B, A]) == [OK, OK, OK, OK, OK, WARN, STUCK]


def test_cycle_of_three_calls_repeated_three_times_warns() -> None:
    detector = LoopDetector(repeat=3)
    verdicts = _observe(detector, [A, B, C] * 3 + [A])
    assert verdicts == [OK] * 8 + [WARN, STUCK]


def test_cycle_with_a_repeated_call_inside_is_not_a_loop() -> None:
    detector = LoopDetector(repeat=3)
    assert set(_observe(detector, [A, A, B] * 3)) == {OK}


def test_cycles_longer_than_three_are_not_flagged() -> None:
    detector = LoopDetector(repeat=3)
    assert set(_observe(detector, [A, B, C, D] * 3)) == {OK}


def test_a_different_call_breaks_the_streak_but_a_second_loop_is_stuck_at_once() -> None:
    detector = LoopDetector(repeat=3)
    assert _observe(detector, [A, A, A]) == [OK, OK, WARN]
    assert _observe(detector, [B, C]) == [OK, OK]
    # The one warning is spent: the next loop, even a different one, stops the run.
    assert _observe(detector, [D, D, D]) == [OK, OK, STUCK]


def test_repeat_is_configurable() -> None:
    detector = LoopDetector(repeat=2)
    assert _observe(detector, [A, B, A, B]) == [OK, OK, OK, WARN]


def test_repeat_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        LoopDetector(repeat=1)


def test_long_varied_run_never_warns() -> None:
    rng = random.Random(7)
    detector = LoopDetector(repeat=3)
    calls: list[Call] = [("read_file", {"path": f"f{rng.randrange(10**9)}.py"}) for _ in range(5_000)]
    assert set(_observe(detector, calls)) == {OK}


def test_warning_names_the_repeated_call_and_its_arguments() -> None:
    detector = LoopDetector(repeat=3)
    _observe(detector, [A, A, A])

    text = detector.warning_text()
    assert "read_file" in text
    assert '"path":"app/models.py"' in text
    assert "3 times" in text
    assert "different" in text  # tells the model to change approach


def test_warning_for_a_cycle_lists_every_call_in_order() -> None:
    detector = LoopDetector(repeat=3)
    _observe(detector, [A, B, C] * 3)

    text = detector.warning_text()
    assert "sequence of 3 tool calls" in text
    assert text.index("1. read_file") < text.index("2. run_tests") < text.index("3. grep")


def test_warning_shortens_huge_arguments() -> None:
    detector = LoopDetector(repeat=3)
    huge: Call = ("write_file", {"path": "a.py", "content": "x" * 50_000})
    _observe(detector, [huge] * 3)

    assert len(detector.warning_text()) < 1_000


def test_warning_text_before_any_loop_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="before any loop"):
        LoopDetector().warning_text()
