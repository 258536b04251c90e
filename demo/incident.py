"""The sample incident's scripts for the scripted model: four agents driven through the real tools to the
real fix, and a reviewer's revision round.

The sample repository's ``TodoService.complete()`` toggles ``completed`` instead of setting it, so
completing a todo twice reopens it. ``sample_incident_script()`` returns one script per agent, keyed by
the phrase the agent's system prompt routes on:

- ``triage agent``: grep for ``def complete``, read ``todo/service.py``, submit P2 / ``todo.service``.
- ``code agent``: read the service, reproduce the bug with a throwaway script through ``shell``,
  replace the toggle with ``todo.completed = True`` (``edit_file``), rerun the reproduction, run the
  suite, call ``submit_fix`` (which answers with the diff and a checklist), call it again to submit.
  One run.
- ``test agent``: read the existing tests, write ``tests/test_complete_regression.py`` (two tests that
  fail on the base commit), run it, submit the node ids.
- ``PR agent``: submit the title and narrative.

``revisions=True`` adds the revision round, routed on the phrase a revision's task carries
(``CODE_REVISION``, ``TEST_REVISION``): the code agent documents in ``complete()``'s docstring that
completing is idempotent (``REVISION_FEEDBACK``), the test agent keeps its tests and says why. Other
revision scripts: ``declined_revision_turns`` (the code agent changes nothing and says why),
``broken_revision_turns`` (its edit breaks the fix), ``breaking_revision_turns`` (its edit breaks the
existing tests) and ``added_test_turns`` (the test agent adds the
test ``TEST_FEEDBACK`` asks for).

``wrong_fix=True`` makes every code-agent edit wrong (the flag still toggles, written another way), and
gives the code agent ``FIX_ATTEMPTS`` (3) runs in the same worktree: the first run (read, reproduce,
edit, rerun, run the suite, submit twice) and two self-correction runs (read, edit, submit twice), each
still wrong. A fourth run would find the script exhausted.

Every code-agent run calls ``submit_fix`` twice (``_submit_fix``): the first call answers with the diff
and a checklist, the second submits.

Scripts have no latency, so tests run them fast; the usage numbers are plausible, so a priced model
shows a cost. ``SAMPLE_SCRIPT_FILE`` (``demo/sample_incident.json``) holds ``sample_incident_script(
revisions=True)``: the scripted model plays it, conversation by conversation, when no model is
configured (``client.scripted.local``; it reads the file and never imports this module).
``python -m demo.incident [--wrong-fix] [--revisions] > script.json`` writes the scripts for
``python -m client.scripted --script script.json``; ``--write`` rewrites ``SAMPLE_SCRIPT_FILE``.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

from client.scripted.script import ROUTE_SEPARATOR, SCRIPTS, ScriptedCall, ScriptedUsage, Turn
from documents.facts import Ticket

SAMPLE_SCRIPT_FILE = Path(__file__).resolve().with_name("sample_incident.json")
REVISION_PHRASE = "requested changes"
"""What the task of every revision run says (``prompts/revise*.md``): revision scripts route on it."""
CODE_REVISION = f"code agent{ROUTE_SEPARATOR}{REVISION_PHRASE}"
TEST_REVISION = f"test agent{ROUTE_SEPARATOR}{REVISION_PHRASE}"

SERVICE = "todo/service.py"
REGRESSION_TESTS = "tests/test_complete_regression.py"
REGRESSION_TEST_NAMES = (
    f"{REGRESSION_TESTS}::test_completing_twice_keeps_the_todo_completed",
    f"{REGRESSION_TESTS}::test_completing_an_already_completed_todo_leaves_it_completed",
)
FIX_ATTEMPTS = 3
"""Code-agent runs the ``wrong_fix`` script supports: the first attempt and two self-corrections."""

SAMPLE_TICKET = Ticket(
    key="TODO-42",
    title="Completing a todo twice reopens it",
    description=(
        "Steps: add a todo, mark it done, then mark it done again (the mobile app retries the request "
        "on a slow network).\n"
        "Expected: the todo stays done.\n"
        "Actual: the todo is open again, and it shows up in everyone's open list the next morning."
    ),
    priority="High",
    labels=["bug", "todo-service"],
    components=["todo"],
    reporter="sam@example.com",
    source="slack",
)
"""The incident the scripts answer."""

REVISION_FEEDBACK = "Please say in complete()'s docstring that completing is idempotent."
"""What the demo reviewer asks for when requesting changes; ``revision_turns`` acts on it."""

_BUGGY = "        todo.completed = not todo.completed\n"
_FIXED = "        todo.completed = True\n"
_WRONG = (
    "        todo.completed = todo.completed ^ True\n",
    "        todo.completed = not bool(todo.completed)\n",
    "        todo.completed = False if todo.completed else True\n",
)
"""One still-toggling line per wrong attempt; each attempt edits the line the previous one wrote."""
_DOCSTRING = '        """Mark the todo as done."""\n        todo = self.get(todo_id)\n'
_REVISED_DOCSTRING = (
    '        """Mark the todo as done.\n'
    "\n"
    "        Completing is idempotent: a todo that is already done stays done.\n"
    '        """\n'
    "        todo = self.get(todo_id)\n"
)

_REGRESSION_SOURCE = '''\
"""Regression tests: completing a todo sets it done; it never toggles back to open."""

from todo import Todo, TodoService
from todo.store import InMemoryStore


def test_completing_twice_keeps_the_todo_completed():
    service = TodoService()
    todo = service.add("water the plants")
    service.complete(todo.id)
    service.complete(todo.id)
    assert service.get(todo.id).completed is True


def test_completing_an_already_completed_todo_leaves_it_completed():
    store = InMemoryStore()
    store.save(1, Todo(id=1, title="file the report", completed=True))
    service = TodoService(store)
    assert service.complete(1).completed is True
    assert service.list(completed=False) == []
'''

REPRODUCTION = """python - <<'EOF'
from todo import TodoService

service = TodoService()
todo = service.add("water the plants")
service.complete(todo.id)
service.complete(todo.id)
print("completed after completing twice:", service.get(todo.id).completed)
EOF"""
"""The code agent's throwaway reproduction: run through ``shell``, it leaves nothing in the worktree."""

_ROOT_CAUSE = (
    "TodoService.complete() in todo/service.py sets `todo.completed = not todo.completed`: it toggles "
    "the flag instead of setting it, so completing a todo that is already done (a retried request) "
    "reopens it."
)


def _turn(content: str, call: ScriptedCall, prompt: int, completion: int, cached: int = 0) -> Turn:
    return Turn(
        content=content,
        tool_calls=[call],
        usage=ScriptedUsage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached),
    )


def _call(name: str, **arguments: Any) -> ScriptedCall:
    return ScriptedCall(name=name, arguments=arguments)


def _submit_fix(content: str, submit: ScriptedCall, prompt: int, completion: int, cached: int) -> list[Turn]:
    """``submit_fix`` twice: the first call answers with the diff and a checklist, the second submits."""
    return [
        _turn(content, submit, prompt, completion, cached),
        _turn("The diff holds only the fix, no scratch file; submitting.", submit, prompt + 900, 70, prompt),
    ]


_REREAD = _turn("Reading complete() again for the review.", _call("read_file", path=SERVICE), 5600, 40, 4096)
_TEST_NOTES = (
    "Both fail on the current code with `assert False is True`: the second complete() flips the flag back "
    "to open. Neither depends on how the fix is written."
)


def _triage_turns() -> list[Turn]:
    return [
        _turn("Looking for where a todo gets completed.", _call("grep", pattern="def complete"), 2900, 48),
        _turn("Reading the todo service.", _call("read_file", path=SERVICE), 3150, 40, 2816),
        _turn(
            "complete() toggles the flag; submitting the triage.",
            _call(
                "submit_triage",
                priority="P2",
                component="todo.service",
                affected_files=[SERVICE],
                acceptance_criteria=[
                    "Completing an open todo marks it completed.",
                    "Completing a todo twice leaves it completed.",
                    "Completing an already-completed todo leaves it completed.",
                    "reopen() still marks a completed todo as open.",
                ],
                edge_cases=[
                    "A retried complete request for the same todo.",
                    "A todo stored as completed before the fix.",
                    "An unknown todo id still raises TodoNotFound.",
                ],
                summary=(
                    "TodoService.complete() flips `completed` instead of setting it, so a second complete "
                    "(for example a retried request) reopens the todo and it reappears in the open list. "
                    "Core behaviour of the service is wrong for every client that retries; reopen() is "
                    "the intended way to undo a completion."
                ),
            ),
            3900,
            262,
            3072,
        ),
    ]


def _code_turns(edit_to: str) -> list[Turn]:
    """The first code-agent run: read, reproduce, edit the toggle line into ``edit_to``, rerun the
    reproduction, run the suite, submit (twice: the check, then the submission)."""
    right = edit_to == _FIXED
    reproduce = _call("shell", command=REPRODUCTION)
    submit = _call(
        "submit_fix",
        root_cause=_ROOT_CAUSE,
        explanation=(
            "complete() now assigns True instead of negating the flag, so completing is idempotent; "
            "reopen() remains the way to mark a todo open. The reproduction now prints True and the "
            "existing suite passes."
            if right
            else "complete() now derives the new state with an exclusive or, which should keep a "
            "completed todo completed. The existing suite passes."
        ),
    )
    return [
        _turn("Reading the service to see what complete() does.", _call("read_file", path=SERVICE), 3300, 44),
        _turn("Reproducing: completing a todo twice.", reproduce, 3700, 96, 3200),
        _turn(
            "complete() flips the flag; making it set completed instead.",
            _call("edit_file", path=SERVICE, old_text=_BUGGY, new_text=edit_to),
            4100,
            118,
            3584,
        ),
        _turn("Rerunning the reproduction.", reproduce, 4300, 30, 3968),
        _turn("Running the existing tests.", _call("run_tests"), 4500, 22, 4224),
        *_submit_fix("The suite passes; submitting the fix.", submit, 5200, 231, 4480),
    ]


def _retry_turns(attempt: int) -> list[Turn]:
    """Self-correction run ``attempt`` (1 or 2) of a wrong fix: it rewrites the toggle, still wrong."""
    before, after = _WRONG[attempt - 1], _WRONG[attempt]
    return [
        _turn(
            "The regression tests still fail; re-reading complete().",
            _call("read_file", path=SERVICE),
            6100 + 900 * attempt,
            52,
            4096,
        ),
        _turn(
            "Rewriting the assignment in complete().",
            _call("edit_file", path=SERVICE, old_text=before, new_text=after),
            6600 + 900 * attempt,
            104,
            5888,
        ),
        *_submit_fix(
            "Submitting the corrected fix.",
            _call(
                "submit_fix",
                root_cause=_ROOT_CAUSE,
                explanation=f"Attempt {attempt + 1}: complete() now computes the flag as `{after.strip()}`.",
            ),
            6900 + 900 * attempt,
            160,
            6400,
        ),
    ]


def _test_turns() -> list[Turn]:
    return [
        _turn(
            "Reading the existing service tests.", _call("read_file", path="tests/test_service.py"), 3300, 46
        ),
        _turn(
            "Writing regression tests for completing a todo twice.",
            _call("write_file", path=REGRESSION_TESTS, content=_REGRESSION_SOURCE),
            4000,
            412,
            3200,
        ),
        _turn(
            "Running the new tests: they should fail on the current code.",
            _call("run_tests", path=REGRESSION_TESTS),
            4600,
            38,
            3968,
        ),
        _turn(
            "Both tests fail on the assertion; submitting them.",
            _call(
                "submit_tests",
                test_files=[REGRESSION_TESTS],
                test_names=list(REGRESSION_TEST_NAMES),
                notes=_TEST_NOTES,
            ),
            5300,
            198,
            4480,
        ),
    ]


def _pr_turns() -> list[Turn]:
    body = (
        "## Problem\n"
        "Marking a todo as done a second time (for example when the app retries a request) reopens it, "
        "so finished work reappears in the open list.\n\n"
        "## Likely cause\n"
        "The report suggests that completing a todo flips its done flag instead of setting it.\n\n"
        "## Approach\n"
        "Make completing a todo set it done whatever its current state, with the smallest change at the "
        "root cause, plus regression tests that complete a todo twice and complete an already-done todo.\n\n"
        "## Risk\n"
        "Low: only completion changes. Reopening a todo stays a separate, explicit operation.\n\n"
        "## How this is verified\n"
        "Nightshift runs the new regression tests on the base commit (they must fail) and with the fix "
        "(they must pass), plus the existing suite; the results are in the facts section below."
    )
    return [
        _turn(
            "Drafting the pull request.",
            _call("submit_pr", title="Keep completed todos completed when completed again", body=body),
            1900,
            420,
        )
    ]


def sample_incident_script(*, wrong_fix: bool = False, revisions: bool = False) -> dict[str, list[Turn]]:
    """The four agents' scripts for ``SAMPLE_TICKET`` (see the module docstring for what each does);
    ``revisions``: with the revision round for ``REVISION_FEEDBACK``."""
    if wrong_fix and revisions:
        raise ValueError("the revision round applies on top of the correct fix, not with wrong_fix")
    if wrong_fix:
        code = _code_turns(_WRONG[0]) + _retry_turns(1) + _retry_turns(2)
    else:
        code = _code_turns(_FIXED)
    scripts = {
        "triage agent": _triage_turns(),
        "code agent": code,
        "test agent": _test_turns(),
        "PR agent": _pr_turns(),
    }
    if revisions:
        scripts[CODE_REVISION] = revision_turns()
        scripts[TEST_REVISION] = kept_tests_turns()
    return scripts


def revision_turns() -> list[Turn]:
    """The code agent's run after "request changes" (``CODE_REVISION``): it documents in complete()'s
    docstring that completing is idempotent, as ``REVISION_FEEDBACK`` asks. It expects the correct fix
    in the worktree."""
    edit = _call("edit_file", path=SERVICE, old_text=_DOCSTRING, new_text=_REVISED_DOCSTRING)
    submit = _call(
        "submit_fix",
        root_cause=_ROOT_CAUSE,
        explanation=(
            "complete() assigns True instead of negating the flag. As the reviewer asked, its docstring "
            "now says that completing is idempotent. The existing suite passes."
        ),
    )
    return [
        _REREAD,
        _turn("Documenting that complete() is idempotent, as the reviewer asked.", edit, 6100, 120, 5376),
        _turn("Running the existing tests.", _call("run_tests"), 6500, 22, 5632),
        *_submit_fix("Submitting the revised fix.", submit, 6800, 190, 6144),
    ]


DECLINED = (
    "I could not find a change that does what the reviewer asks without breaking complete(): the fix "
    "stays as it was."
)
"""What the code agent of ``declined_revision_turns`` says it did not do."""


def declined_revision_turns(not_done: str = DECLINED) -> list[Turn]:
    """A code agent's revision run that changes nothing and says why (``not_done``)."""
    submit = _call(
        "submit_fix",
        root_cause=_ROOT_CAUSE,
        explanation="The fix is unchanged: complete() assigns True. The existing suite passes.",
        not_done=not_done,
    )
    return [_REREAD, *_submit_fix("Resubmitting the fix unchanged.", submit, 6700, 120, 6144)]


def broken_revision_turns() -> list[Turn]:
    """A code agent's revision run that breaks the fix: the flag toggles again, written another way."""
    return _revised_fix(
        _WRONG[0],
        "Rewriting the assignment as the reviewer suggests.",
        "As the reviewer suggested, complete() now derives the flag with an exclusive or.",
    )


def _revised_fix(new_text: str, saying: str, explanation: str) -> list[Turn]:
    """A code agent's revision run that rereads the service, replaces the fixed line with ``new_text``
    and submits it with ``explanation``."""
    edit = _call("edit_file", path=SERVICE, old_text=_FIXED, new_text=new_text)
    submit = _call("submit_fix", root_cause=_ROOT_CAUSE, explanation=explanation)
    return [
        _REREAD,
        _turn(saying, edit, 6100, 110, 5376),
        *_submit_fix("Submitting the revised fix.", submit, 6600, 150, 5888),
    ]


BREAKING = "        todo.completed = False\n"
"""``breaking_revision_turns``'s edit: complete() never completes, so the existing suite fails."""


def breaking_revision_turns() -> list[Turn]:
    """A code agent's revision run whose edit breaks the existing tests (``test_complete_marks_the_todo_done``
    and those that complete a todo first)."""
    return _revised_fix(
        BREAKING,
        "Changing the assignment as the reviewer suggests.",
        "As the reviewer suggested, complete() now leaves the flag unset.",
    )


KEPT_TESTS = "The review asks nothing of the tests: the regression tests stand as they are."


def kept_tests_turns() -> list[Turn]:
    """The test agent's revision run for a request about the code (``TEST_REVISION``): its tests stay."""
    submit = _call(
        "submit_tests",
        test_files=[REGRESSION_TESTS],
        test_names=list(REGRESSION_TEST_NAMES),
        notes=_TEST_NOTES,
        not_done=KEPT_TESTS,
    )
    return [_turn("The request is about the code; my tests stay.", submit, 5400, 150, 4480)]


TEST_FEEDBACK = "Please also add a test that reopen() still reopens a completed todo."
"""A reviewer's request about the tests: ``added_test_turns`` acts on it."""
ADDED_TEST_NAME = f"{REGRESSION_TESTS}::test_reopen_still_reopens_a_completed_todo"
_LAST_ASSERT = "    assert service.list(completed=False) == []\n"
_ADDED_TEST = (
    "\n\ndef test_reopen_still_reopens_a_completed_todo():\n"
    "    service = TodoService()\n"
    '    todo = service.add("call the plumber")\n'
    "    service.complete(todo.id)\n"
    "    service.reopen(todo.id)\n"
    "    assert service.get(todo.id).completed is False\n"
)


def added_test_turns() -> list[Turn]:
    """The test agent's revision run for ``TEST_FEEDBACK``: it adds the test and resubmits."""
    added = _LAST_ASSERT + _ADDED_TEST
    edit = _call("edit_file", path=REGRESSION_TESTS, old_text=_LAST_ASSERT, new_text=added)
    submit = _call(
        "submit_tests",
        test_files=[REGRESSION_TESTS],
        test_names=[*REGRESSION_TEST_NAMES, ADDED_TEST_NAME],
        notes=_TEST_NOTES + " As the reviewer asked, a third test checks that reopen() still reopens.",
    )
    return [
        _turn("Adding the test the reviewer asked for.", edit, 5200, 160, 4480),
        _turn("Running the regression tests.", _call("run_tests", path=REGRESSION_TESTS), 5600, 38, 4864),
        _turn("Submitting the tests with the new one.", submit, 6000, 210, 5376),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m demo.incident",
        description="Print the sample incident's model scripts as JSON.",
    )
    parser.add_argument("--wrong-fix", action="store_true", help="every code-agent fix is wrong (3 runs)")
    parser.add_argument("--revisions", action="store_true", help="add the revision round's scripts")
    parser.add_argument("--write", action="store_true", help=f"write --revisions to {SAMPLE_SCRIPT_FILE}")
    args = parser.parse_args(argv)
    if args.wrong_fix and (args.revisions or args.write):
        parser.error("the revision round applies on top of the correct fix: not with --wrong-fix")
    scripts = sample_incident_script(wrong_fix=args.wrong_fix, revisions=args.revisions or args.write)
    text = SCRIPTS.dump_json(scripts, indent=2, exclude_defaults=True).decode() + "\n"
    if args.write:
        SAMPLE_SCRIPT_FILE.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
