"""What each agent is sent before it does anything, in tokens. Prints a table; exits 1 over budget.

Per agent (triage, code, test, PR): the system prompt, the tool schemas (its tools and its submit tool)
and the first message, for

- the sample repository (``demo/sample_repo``, the demo's ticket), and
- a generated 2,000-file repository with a long ``AGENTS.md`` and 60 tests failing on the base
  commit, under the largest ticket Nightshift passes on (description and CI log past their caps) and
  the most reviewers' lessons it shows (``MAX_NOTES`` of ``NOTE_CHARS``).

All of it is resent with every turn, so it is the floor of every request. The budget
(``PROMPT_BUDGET_TOKENS``, justified in docs/engine.md) bounds the sum for every agent and both cases.
Tokens are counted offline with ``context.tokens`` (cl100k); other tokenizers differ by a few percent.

Run: .venv/bin/python bench/prompt_budget.py
"""

import json
import random
import sys
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from agents import build_specs, code_goal, pr_goal, test_goal, triage_goal
from agents.goals import CI_LOG_CHARS, DESCRIPTION_CHARS, MAX_NOTES, NOTE_CHARS
from agents.repository import RepositoryView, instructions_file
from config import Settings
from context.tokens import count_text
from demo.incident import SAMPLE_TICKET
from demo.playground import SAMPLE_ENVIRONMENT, SAMPLE_REPO
from documents.facts import Ticket
from environment.layout import CONVENTIONS, DEFAULT_TEST_PATTERNS
from tools import builtin_registry

PROMPT_BUDGET_TOKENS = 12_000
"""The most an agent's system prompt, tool schemas and first message may take together."""
GENERATED_FILES = 2_000
_SKIPPED = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


@dataclass(frozen=True)
class Case:
    name: str
    ticket: Ticket
    repository: RepositoryView
    notes: tuple[str, ...] = ()
    """Lessons from earlier reviews."""


def sample_case() -> Case:
    files = sorted(
        path.relative_to(SAMPLE_REPO).as_posix()
        for path in SAMPLE_REPO.rglob("*")
        if path.is_file() and not _SKIPPED & set(path.relative_to(SAMPLE_REPO).parts)
    )
    name = instructions_file(files)
    view = RepositoryView(
        files=files,
        test_command=SAMPLE_ENVIRONMENT.test_command,
        test_patterns=[*DEFAULT_TEST_PATTERNS, *CONVENTIONS],
        instructions=(name, (SAMPLE_REPO / name).read_text()) if name else None,
    )
    return Case("sample repository", SAMPLE_TICKET, view)


def generated_case(count: int = GENERATED_FILES) -> Case:
    """A service monorepo's shape: packages of modules, their tests, docs, migrations, fixtures."""
    rng = random.Random(20)
    files: set[str] = {"AGENTS.md", "README.md", "pyproject.toml", "Makefile", ".github/workflows/ci.yml"}
    packages = [f"{word}_service" for word in ("billing", "orders", "users", "search", "notify", "audit")]
    while len(files) < count:
        package = rng.choice(packages)
        kind = rng.random()
        module = f"{rng.choice(('api', 'models', 'store', 'tasks', 'views', 'schemas'))}_{rng.randrange(60)}"
        if kind < 0.45:
            files.add(f"src/{package}/{rng.choice(('core', 'adapters', 'domain'))}/{module}.py")
        elif kind < 0.8:
            files.add(f"tests/{package}/test_{module}.py")
        elif kind < 0.9:
            files.add(f"docs/{package}/{module}.md")
        else:
            files.add(f"src/{package}/migrations/{rng.randrange(10_000):04d}_{module}.py")
    guide = "\n".join(f"- Rule {n}: keep {rng.choice(packages)} handlers small, typed." for n in range(400))
    failing = [f"tests/{rng.choice(packages)}/test_api_{n}.py::test_case_{n}[param-{n}]" for n in range(60)]
    view = RepositoryView(
        files=sorted(files),
        test_command="python -m pytest -q -p no:cacheprovider",
        test_patterns=[*DEFAULT_TEST_PATTERNS, *CONVENTIONS],
        instructions=("AGENTS.md", f"# Contributing as an agent\n{guide}\n"),
        failing_tests=failing,
    )
    ticket = Ticket(
        key="SHOP-1234",
        title="Checkout fails for carts with more than one currency, and the retry doubles the charge",
        description=_prose(rng, DESCRIPTION_CHARS + 2_000),
        ci_excerpt=_ci_log(rng, CI_LOG_CHARS + 2_000),
        labels=["bug", "checkout"],
        reporter="ops@example.com",
        source="jira",
    )
    notes = tuple(_prose(rng, NOTE_CHARS) for _ in range(MAX_NOTES))
    return Case(f"{count:,}-file repository, largest ticket", ticket, view, notes)


_WORDS = (
    "the checkout order customer currency total retry charge invoice refund webhook payment gateway "
    "timeout returns fails after before when while every second request shows wrong amount cents euro "
    "dollar session cart item price tax rounding mobile app users report since yesterday deploy"
).split()


def _prose(rng: random.Random, chars: int) -> str:
    """Ticket text: sentences of varied words, ids and numbers (as tokenisers see real reports)."""
    sentences = []
    while sum(map(len, sentences)) < chars:
        words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 20))]
        words.insert(rng.randrange(len(words)), f"#{rng.randrange(10**6)}")
        sentences.append(" ".join(words).capitalize() + ". ")
    return "".join(sentences)


def _ci_log(rng: random.Random, chars: int) -> str:
    """A CI log's tail: timestamps, paths, hashes, an assertion."""
    lines = []
    while sum(map(len, lines)) < chars:
        lines.append(
            f"2024-06-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z "
            f"src/orders_service/core/api_{rng.randrange(60)}.py:{rng.randrange(900)} "
            f"E   AssertionError: {rng.randrange(10**5)} != {rng.randrange(10**5)} "
            f"(run {rng.getrandbits(64):x})\n"
        )
    return "".join(lines)


def first_message(name: str, case: Case) -> str:
    if name == "pr":
        return pr_goal(case.ticket)
    goal = {"triage": triage_goal, "code": code_goal, "test": test_goal}[name]
    return goal(case.ticket, case.notes, case.repository)


def measure(case: Case) -> dict[str, tuple[int, int, int]]:
    """Per agent: (system prompt, tool schemas, first message) in tokens."""
    registry = builtin_registry()
    sizes = {}
    for name, spec in build_specs(Settings()).items():
        schemas = [tool.openai_schema() for tool in registry.select(spec.tools)] + [spec.submit_schema()]
        sizes[name] = (
            count_text(spec.system_prompt),
            count_text(json.dumps(schemas)),
            count_text(first_message(name, case)),
        )
    return sizes


def main() -> int:
    table = Table(title=f"Tokens sent before the first turn (budget {PROMPT_BUDGET_TOKENS:,} per agent)")
    for column in ("case", "agent", "system prompt", "tool schemas", "first message", "total"):
        table.add_column(column, justify="left" if column in ("case", "agent") else "right")
    over = []
    for case in (sample_case(), generated_case()):
        for name, (system, schemas, message) in measure(case).items():
            total = system + schemas + message
            if total > PROMPT_BUDGET_TOKENS:
                over.append(f"{name} ({case.name}): {total:,}")
            table.add_row(case.name, name, f"{system:,}", f"{schemas:,}", f"{message:,}", f"{total:,}")
    Console(width=120).print(table)
    if over:
        print(f"over the budget of {PROMPT_BUDGET_TOKENS:,} tokens: {'; '.join(over)}", file=sys.stderr)
        return 1
    print(f"every agent is within the budget of {PROMPT_BUDGET_TOKENS:,} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
