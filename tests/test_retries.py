"""The one retry policy: how long each retry waits, what a Retry-After changes, and tenacity's loop
giving the caller the last answer or error when the attempts run out."""

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from tenacity import retry_if_exception_type, retry_if_result

from retries import Backoff, retry_after_s
from tests.model_fixtures import SleepRecorder

NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"RETRY-AFTER": "0"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # a model provider's finer wait wins
        ({"Retry-After": format_datetime(datetime(2025, 3, 4, 12, 1, 30, tzinfo=UTC), usegmt=True)}, 90.0),
        ({"Retry-After": "Tue, 04 Mar 2025 11:59:00 GMT"}, 0.0),  # a date in the past: no wait
        ({"Retry-After": "-3"}, None),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": ""}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_a_date_or_milliseconds(
    headers: dict[str, str] | None, expected: float | None
) -> None:
    assert retry_after_s(headers, now=NOW) == expected


def test_httpx_headers_are_read_whatever_their_case() -> None:
    assert retry_after_s(httpx.Headers({"Retry-After": "3"})) == 3.0


def test_the_wait_doubles_up_to_its_cap_and_jitter_takes_off_at_most_half() -> None:
    exact = Backoff(first_s=0.5, max_s=3.0, jitter=0)
    assert [exact.wait_s(retry) for retry in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert exact.wait_s(10_000) == 3.0  # no overflow after a day of failures

    unlucky = Backoff(first_s=2.0, max_s=60.0, random=lambda: 0.0)
    lucky = Backoff(first_s=2.0, max_s=60.0, random=lambda: 0.999)
    assert [unlucky.wait_s(retry) for retry in range(3)] == [1.0, 2.0, 4.0]
    assert [round(lucky.wait_s(retry), 2) for retry in range(3)] == [2.0, 4.0, 8.0]


def test_a_retry_after_replaces_the_backoff_and_only_an_in_process_retry_caps_it() -> None:
    in_process = Backoff(first_s=1.0, max_s=8.0, retry_after_max_s=8.0, random=lambda: 0.0)
    durable = Backoff(first_s=1.0, max_s=8.0, random=lambda: 0.0)
    assert in_process.wait_s(0, retry_after_s=0.25) == 0.25
    assert in_process.wait_s(3, retry_after_s=3600) == 8.0
    assert durable.wait_s(3, retry_after_s=3600) == 3600


class Refused(Exception):
    def __init__(self, retry_after_s: float | None) -> None:
        super().__init__("busy")
        self.retry_after_s = retry_after_s


async def test_retrying_waits_as_each_failure_asks_then_raises_the_last_error() -> None:
    sleep = SleepRecorder()
    failures = iter([Refused(5.0), Refused(None), Refused(None)])

    async def call() -> str:
        raise next(failures)

    retrying = Backoff(first_s=1.0, max_s=30.0, jitter=0).retrying(
        attempts=3, retry=retry_if_exception_type(Refused), sleep=sleep
    )
    with pytest.raises(Refused):
        await retrying(call)
    assert sleep.delays == [5.0, 2.0]  # Retry-After from the error, then the backoff of retry 1


async def test_retrying_on_an_answer_reads_its_retry_after_and_hands_back_the_last_one() -> None:
    sleep = SleepRecorder()
    answers = iter(
        [httpx.Response(429, headers={"Retry-After": "4"}), httpx.Response(503), httpx.Response(503)]
    )

    async def call() -> httpx.Response:
        return next(answers)

    retrying = Backoff(first_s=1.0, max_s=30.0, jitter=0).retrying(
        attempts=3, retry=retry_if_result(lambda r: r.status_code >= 429), sleep=sleep
    )
    last = await retrying(call)
    assert last.status_code == 503
    assert sleep.delays == [4.0, 2.0]
