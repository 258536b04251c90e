"""More of the pipeline: a second, different repository, the parallel fork, the run budget, the queue."""

from datetime import datetime
from pathlib import Path
from typing import Any

from client.scripted import ScriptedCall, ScriptedModelServer, ScriptedUsage, Turn
from client.scripted.incident import SAMPLE_TICKET, sample_incident_script
from demo.playground import create_repo
from documents.briefing import build_briefing
from documents.facts import RunFacts, Ticket
from tests.pipeline_fixtures import Pipeline, start_pipeline

pytest_plugins = ["tests.model_fixtures", "tests.pipeline_fixtures"]

PRICING_REPO = {
    "pricing/__init__.py": "",
    "pricing/money.py": (
        "def to_cents(amount: float) -> int:\n"
        '    """An amount in currency units as whole cents."""\n'
        "    return int(amount * 100)\n"
    ),
    "pricing/cart.py": (
        "class Cart:\n"
        "    def __init__(self) -> None:\n"
        "        self.prices: list[float] = []\n"
        "\n"
        "    def add(self, price: float) -> None:\n"
        "        self.prices.append(price)\n"
        "\n"
        "    def total_cents(self) -> int:\n"
        "        return int(sum(self.prices) * 100)\n"
    ),
    "tests/__init__.py": "",
    "tests/test_cart.py": (
        "from pricing.cart import Cart\n"
        "from pricing.money import to_cents\n"
        "\n\n"
        "def test_whole_amounts():\n"
        "    assert to_cents(2) == 200\n"
        "\n\n"
        "def test_cart_total():\n"
        "    cart = Cart()\n"
        "    cart.add(1.0)\n"
        "    cart.add(2.5)\n"
        "    assert cart.total_cents() == 350\n"
    ),
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n',
}
ROUNDING_TESTS = (
    "from pricing.cart import Cart\n"
    "from pricing.money import to_cents\n"
    "\n\n"
    "def test_to_cents_rounds():\n"
    "    assert to_cents(0.29) == 29\n"
    "\n\n"
    "def test_cart_total_rounds_each_price():\n"
    "    cart = Cart()\n"
    "    cart.add(0.29)\n"
    "    cart.add(0.57)\n"
    "    assert cart.total_cents() == 86\n"
)
PRICING_TICKET = Ticket(
    key="SHOP-7",
    title="Cart total is one cent short",
    source="jira",
    description="A cart with items at 0.29 and 0.57 totals 0.85 instead of 0.86.",
)


def call(name: str, **arguments: Any) -> Turn:
    usage = ScriptedUsage(prompt_tokens=1500, completion_tokens=120)
    return Turn(
        content=f"Calling {name}.", tool_calls=[ScriptedCall(name=name, arguments=arguments)], usage=usage
    )


def pricing_script() -> dict[str, list[Turn]]:
    return {
        "triage agent": [
            call("grep", pattern="\\* 100"),
            call(
                "submit_triage",
                priority="P2",
                component="pricing",
                affected_files=["pricing/money.py", "pricing/cart.py"],
                acceptance_criteria=["0.29 + 0.57 totals 86 cents"],
                edge_cases=["negative amounts"],
                summary="Float truncation loses a cent.",
            ),
        ],
        "code agent": [
            call(
                "edit_file",
                path="pricing/money.py",
                old_text="return int(amount * 100)",
                new_text="return round(amount * 100)",
            ),
            call(
                "edit_file",
                path="pricing/cart.py",
                old_text="return int(sum(self.prices) * 100)",
                new_text="return sum(to_cents(price) for price in self.prices)",
            ),
            call(
                "edit_file",
                path="pricing/cart.py",
                old_text="class Cart:",
                new_text="from pricing.money import to_cents\n\n\nclass Cart:",
            ),
            call("run_tests"),
            *[  # the first call shows the diff and the checklist, the second submits
                call(
                    "submit_fix",
                    root_cause="Amounts were truncated with int() after a float multiply.",
                    explanation="to_cents rounds, and the cart sums each price's cents through it.",
                )
            ]
            * 2,
        ],
        "test agent": [
            call("write_file", path="tests/test_rounding.py", content=ROUNDING_TESTS),
            call(
                "submit_tests",
                test_files=["tests/test_rounding.py"],
                test_names=[
                    "tests/test_rounding.py::test_to_cents_rounds",
                    "tests/test_rounding.py::test_cart_total_rounds_each_price",
                ],
                notes="Both fail on truncation.",
            ),
        ],
        "PR agent": [call("submit_pr", title="Round cents instead of truncating", body="Fixes rounding.")],
    }


async def test_a_second_repository_whose_fix_spans_two_files(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    playground = create_repo(tmp_path / "pricing", PRICING_REPO)
    pipeline = await start_pipeline(tmp_path, scripted_server, pricing_script(), playground=playground)
    pipelines.append(pipeline)
    run = await pipeline.submit(PRICING_TICKET)
    facts = await pipeline.briefed(run.run_id)
    assert facts.verification is not None, facts.error
    assert facts.verification.verdict == "verified", facts.verification.detail
    assert facts.verification.base_with_tests.failed == 2  # type: ignore[union-attr]
    assert facts.verification.fixed_with_tests.passed == 2  # type: ignore[union-attr]
    assert facts.verification.fixed_suite.passed == 2  # type: ignore[union-attr]
    assert facts.fix is not None and sorted(f.path for f in facts.fix.files) == [
        "pricing/cart.py",
        "pricing/money.py",
    ]
    assert facts.cost_usd > 0


def slowed(scripts: dict[str, list[Turn]], seconds: float) -> dict[str, list[Turn]]:
    return {
        name: [turn.model_copy(update={"ttft_s": seconds}) for turn in turns]
        for name, turns in scripts.items()
    }


async def test_the_fork_is_really_parallel(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    """With 1 s added to every turn, all four agents run at once and the phase lasts about as long as
    the slowest of them (run one after the other they would take 11 s or more). How close to the
    slowest agent it comes is measured by bench/pipeline.py, not asserted on a shared CI machine."""
    pipeline = await start_pipeline(tmp_path, scripted_server, slowed(sample_incident_script(), 1.0))
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)
    agents = list(facts.agents.values())
    assert len(agents) == 4 and all(agent.started_at and agent.finished_at for agent in agents)
    starts = [agent.started_at for agent in agents if agent.started_at]
    ends = [agent.finished_at for agent in agents if agent.finished_at]
    assert max(starts) < min(ends)  # every agent was running while every other one was
    phase_start = next(entry.at for entry in facts.timeline if entry.text == "agents started")
    slowest = max(agent.duration_s or 0 for agent in agents)
    total = sum(agent.duration_s or 0 for agent in agents)
    assert slowest >= 4 and total >= 11  # code and test: four 1-second turns, triage three, PR one
    assert (max(ends) - phase_start).total_seconds() < slowest + 2


async def test_the_run_budget_stops_the_agents_and_the_briefing_says_so(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    pipeline = await start_pipeline(
        tmp_path, scripted_server, sample_incident_script(), max_run_cost_usd=0.02
    )
    pipelines.append(pipeline)
    run = await pipeline.submit(SAMPLE_TICKET)
    facts = await pipeline.briefed(run.run_id)
    assert facts.budget_exhausted
    stopped = [agent for agent in facts.agents.values() if agent.status == "budget"]
    assert stopped and all("budget" in agent.message for agent in stopped)
    briefing = build_briefing(facts)
    assert briefing.tone != "good"
    assert any("budget" in warning.lower() for warning in briefing.warnings)


async def test_runs_beyond_max_concurrent_runs_wait_in_the_queue(
    tmp_path: Path, scripted_server: ScriptedModelServer, pipelines: list[Pipeline]
) -> None:
    once = sample_incident_script()
    twice = {name: turns + turns for name, turns in once.items()}
    pipeline = await start_pipeline(tmp_path, scripted_server, twice, max_concurrent_runs=1)
    pipelines.append(pipeline)
    first = await pipeline.submit(SAMPLE_TICKET)
    second = await pipeline.submit(SAMPLE_TICKET.model_copy(update={"key": "TODO-43"}))
    first_done = await pipeline.briefed(first.run_id)
    second_done = await pipeline.briefed(second.run_id)

    def agent_phase(facts: RunFacts) -> tuple[datetime, datetime]:
        start = next(e.at for e in facts.timeline if e.text == "agents started")
        return start, max(e.at for e in facts.timeline if e.text.startswith("verification:"))

    (a_start, a_end), (b_start, b_end) = agent_phase(first_done), agent_phase(second_done)
    assert a_end <= b_start or b_end <= a_start  # one slot: the agent phases never overlap (in either order)
    assert second_done.verification is not None and second_done.verification.verdict == "verified"
