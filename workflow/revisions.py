"""What each revision puts on the run's branch, and which revision a pull request ships.

The rule: **the branch holds exactly what the latest briefing shows, as verified**, and approving
ships that, never an older commit.

- Revision 1: the fix and the tests, as two commits on the base commit.
- Revision n: up to two commits ("Revise fix", "Revise tests") on the last earlier revision that had a
  commit, whose tree is exactly the base commit with the verified fix and tests applied (the agents'
  submitted diffs, not whatever their worktrees hold). The briefing lists what they change.
- Revision n that changes nothing (the agents declined, or failed and their earlier submissions stand):
  the reviewer's feedback was not acted on, so it has nothing to approve, and the branch is **taken
  down** (deleted here and on ``origin``): it held the revision the reviewer asked to change. The
  briefing says so and why.
- Every revision's commit is kept under ``revision_ref`` (here and on ``origin``) until the run ends,
  so a later revision builds on it after the branch was taken down, and an earlier revision can be
  shipped as it was briefed, by an explicit choice ("Ship revision 1 as briefed at 01:20 UTC"). The
  branch is then moved back to that commit (a force-push, with a lease, of a revision the reviewers
  saw); the timeline and the pull request say so.

The branch is moved away from something reviewers saw only in those two cases, and both are said
where reviewers look. Steps run at least once: commits are matched before they are made
(``gitrepo.commits``), a move or a deletion is skipped when the branch is already where it should be,
and revision refs are set to the same commit again.
"""

from datetime import UTC, datetime

from documents.diffstat import diff_files
from documents.facts import RevisionFacts, RunFacts, TimelineEntry
from documents.phrases import revision_label
from gitrepo import CommitSpec, revision_ref, run_refs
from workflow.runtime import Runtime


def last_committed(facts: RunFacts, before: int) -> RevisionFacts | None:
    """The latest revision before ``before`` that put a commit on the branch."""
    earlier = [r for r in facts.revisions if r.number < before and r.commit]
    return max(earlier, key=lambda r: r.number) if earlier else None


async def commit_revision(rt: Runtime, facts: RunFacts, revision: int) -> tuple[list[CommitSpec], str | None]:
    """Put revision ``revision`` on the branch (not pushed yet); the commits made and the branch head
    (None: nothing to ship). Records the revision in the run's facts."""
    assert facts.base_commit is not None and facts.branch is not None
    previous = last_committed(facts, revision)
    fix_diff = facts.fix.diff if facts.fix else ""
    test_diff = facts.tests.diff if facts.tests else ""
    if previous is None:
        parent = facts.base_commit
        commits = _first_commits(facts, fix_diff, test_diff)
    else:
        assert previous.commit is not None
        await rt.repo.fetch_ref(revision_ref(facts.run_id, previous.number))  # perhaps kept by another worker
        parent = previous.commit
        commits = await _revision_commits(rt, facts, revision, parent, fix_diff, test_diff)
    shas = await rt.repo.commit_on_branch(facts.branch, parent, commits, author=rt.settings.workflow.author)
    head = shas[-1] if shas else None
    note = None
    if head is None and previous is not None:
        await rt.repo.move_branch(facts.branch, None)
        kept = revision_ref(facts.run_id, previous.number)
        note = (
            f"revision {revision} changed nothing since revision {previous.number}: the branch "
            f"{facts.branch} was taken down, since it held revision {previous.number}, which the reviewer "
            f"asked to change (revision {previous.number} is kept as {kept})"
        )
    if head is not None:
        await rt.repo.set_ref(revision_ref(facts.run_id, revision), head)
    record = RevisionFacts(
        number=revision,
        feedback=_last_feedback(facts) if revision > 1 else None,
        commit=head,
        since=previous.number if previous else None,
        changed=diff_files("".join(commit.diff for commit in commits)),
        committed_at=datetime.now(UTC),
        fix=facts.fix.model_copy(update={"diff": ""}) if facts.fix else None,
        tests=facts.tests.model_copy(update={"diff": ""}) if facts.tests else None,
        verification=facts.verification,
    )

    def change(current: RunFacts) -> None:
        current.revisions = [r for r in current.revisions if r.number != revision] + [record]
        if note:
            current.timeline.append(TimelineEntry(at=record.committed_at, text=note))

    await rt.store.update(facts.run_id, change)
    return commits, head


def _first_commits(facts: RunFacts, fix_diff: str, test_diff: str) -> list[CommitSpec]:
    """Revision 1 (or the first revision with changes): the fix, then the tests, on the base commit."""
    commits = []
    if fix_diff and facts.fix:
        title = facts.ticket.title.splitlines()[0][:60]
        commits.append(
            CommitSpec(
                f"Fix {facts.ticket.key}: {title}\n\nRoot cause: {facts.fix.root_cause}\n\n"
                f"Nightshift run {facts.run_id}",
                fix_diff,
            )
        )
    if test_diff:
        notes = facts.tests.notes if facts.tests else ""
        commits.append(
            CommitSpec(f"Add regression tests for {facts.ticket.key}\n\n{notes}".strip(), test_diff)
        )
    return commits


async def _revision_commits(
    rt: Runtime, facts: RunFacts, revision: int, parent: str, fix_diff: str, test_diff: str
) -> list[CommitSpec]:
    """The commits that take ``parent`` to the base commit with exactly these diffs: the fix's files,
    then the tests' (empty ones are skipped when committing)."""
    assert facts.base_commit is not None
    is_test = rt.test_rules(facts).is_test_file
    diffs = [fix_diff, test_diff]
    base = facts.base_commit
    fix_delta = await rt.repo.diff_to_applied(parent, base, diffs, include=lambda path: not is_test(path))
    test_delta = await rt.repo.diff_to_applied(parent, base, diffs, include=is_test)
    requested = f"Requested: {_last_feedback(facts)}"
    key = facts.ticket.key
    return [
        CommitSpec(f"Revise fix for {key} (revision {revision})\n\n{requested}", fix_delta),
        CommitSpec(f"Revise tests for {key} (revision {revision})\n\n{requested}", test_delta),
    ]


def _last_feedback(facts: RunFacts) -> str:
    requests = [d.feedback for d in facts.decisions if d.kind == "request_changes" and d.feedback]
    return requests[-1] if requests else ""


def chosen_revision(facts: RunFacts) -> int:
    """The revision an approval ships: the one it named explicitly, else the latest."""
    last = facts.decisions[-1] if facts.decisions else None
    if last is not None and last.kind == "approve" and last.ship_revision is not None:
        return last.ship_revision
    return facts.revision


async def as_shipped(rt: Runtime, facts: RunFacts) -> RunFacts:
    """The run as its approval ships it. An earlier revision chosen explicitly: the branch is moved
    back to its commit, and its fix, tests and verification (with their diffs, from that commit)
    replace the latest revision's."""
    chosen = chosen_revision(facts)
    if chosen == facts.revision:
        return facts.model_copy(update={"shipped_revision": chosen})
    record = facts.revision_facts(chosen)
    assert record is not None and record.commit is not None and facts.branch and facts.base_commit
    await rt.repo.fetch_ref(revision_ref(facts.run_id, chosen))
    await rt.repo.move_branch(facts.branch, record.commit)
    is_test = rt.test_rules(facts).is_test_file
    base = facts.base_commit
    fix_diff = await rt.repo.commit_diff(base, record.commit, include=lambda path: not is_test(path))
    test_diff = await rt.repo.commit_diff(base, record.commit, include=is_test)
    note = (
        f"shipping {revision_label(record)}, chosen over revision {facts.revision}: the branch "
        f"{facts.branch} was moved back to {record.commit[:12]}"
    )
    return facts.model_copy(
        update={
            "shipped_revision": chosen,
            "fix": record.fix.model_copy(update={"diff": fix_diff}) if record.fix else None,
            "tests": record.tests.model_copy(update={"diff": test_diff}) if record.tests else None,
            "verification": record.verification,
            "timeline": [*facts.timeline, TimelineEntry(at=datetime.now(UTC), text=note)],
        }
    )


async def drop_revisions(rt: Runtime, run_id: str) -> None:
    """Delete the run's revision refs, here and on origin: once it ended, nothing ships them."""
    await rt.repo.drop_refs(run_refs(run_id))
