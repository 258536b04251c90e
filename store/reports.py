"""Where a run's incident report is kept, and writing it: by the steps as the run moves on, and by the
deliverer when a pull request opens after the run ended."""

from pathlib import Path

from documents.facts import RunFacts
from documents.report import render_report


def report_path(data_dir: Path, run_id: str) -> Path:
    """Where a run's incident report is kept in the state directory."""
    return data_dir / "reports" / f"{run_id}.md"


def write_report(data_dir: Path, facts: RunFacts) -> None:
    path = report_path(data_dir, facts.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(facts), encoding="utf-8")
