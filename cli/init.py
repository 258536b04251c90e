"""``nightshift init``: propose the repository's ``[environment]``, write it, then check it with doctor.

It reads the repository's manifests at the default branch's commit (the commit runs start from),
proposes a set-up and a test command (``environment.detect``), prints each setting with why it was
chosen, writes the same as a commented ``[environment]`` table into the settings file (the rest of the
file is left as it was), and runs ``nightshift doctor`` on the result. An existing ``[environment]`` is
replaced only with ``--force``.
"""

import textwrap
from collections.abc import Callable
from pathlib import Path

from config import ConfigError, EnvironmentSettings, Settings, load_settings
from config.tables import read_tables, toml_value, write_table
from environment.detect import Host, Proposal, propose
from environment.manifests import Manifests, wanted
from gitrepo import GitRepo

TABLE = "environment"
WIDTH = 100
EXIT_REFUSED = 2


async def initialize(settings: Settings, config: Path, *, force: bool, say: Callable[[str], None]) -> int:
    """Propose, explain, write, check. Returns doctor's exit code, or 2 when an ``[environment]`` is
    kept because ``force`` is off."""
    from cli.doctor import default_commit, diagnose

    if settings.repo is None:
        raise ConfigError("no repository to read: pass --repo PATH or set NIGHTSHIFT_REPO")
    repo = GitRepo(settings.repo.resolve())
    branch, base = await default_commit(repo)
    files = await repo.files_at(base)
    texts = {path: text for path in wanted(files) if (text := await repo.read_at(base, path)) is not None}
    proposal = propose(Manifests(frozenset(files), texts), Host.current())
    where = f"{repo.path} at {branch} ({base[:12]})"
    for line in explain(proposal, where):
        say(line)
    existing = read_tables(config)
    if TABLE in existing and not force:
        say("")
        say(f"Not written: {config} already has an [{TABLE}] table (pass --force to replace it).")
        return EXIT_REFUSED
    known, unknown = _split(proposal)
    EnvironmentSettings.model_validate(known)  # what init writes must load
    write_table(config, TABLE, render(proposal, where, unknown), known)
    say("")
    written = "Replaced" if TABLE in existing else "Wrote"
    say(f"{written} [{TABLE}] in {config}. Checking it with nightshift doctor:")
    say("")
    checked = load_settings(path=config)
    checked.repo = repo.path
    diagnosis = await diagnose(checked)
    for line in diagnosis.lines():
        say(line)
    return 1 if diagnosis.problem else 0


def explain(proposal: Proposal, where: str) -> list[str]:
    """The proposal for the terminal: each setting, then why, indented under it."""
    out = [f"nightshift init: {where}", ""]
    for choice in proposal.choices:
        shown = choice.value if isinstance(choice.value, str) else toml_value(choice.value)
        out.append(f"{choice.key:<16}{shown}")
        out += [f"{'':<16}{line}" for why in choice.why for line in textwrap.wrap(why, WIDTH - 16)]
    if proposal.notes:
        out.append("")
        out += [f"check: {line}" for note in proposal.notes for line in textwrap.wrap(note, WIDTH - 7)]
    return out


def render(proposal: Proposal, where: str, unknown: set[str]) -> str:
    """The ``[environment]`` table, each setting under comments saying why."""
    lines = [f"[{TABLE}]"]
    lines += _comment(
        f"Proposed by `nightshift init` from {where}; each setting says why. Check it with `nightshift "
        "doctor`, and edit what is wrong (docs/environment.md has the recipes)."
    )
    for note in proposal.notes:
        lines += _comment(f"Check: {note}")
    for choice in proposal.choices:
        lines.append("#")
        for why in choice.why:
            lines += _comment(why)
        setting = f"{choice.key} = {toml_value(choice.value)}"
        if choice.key in unknown:
            lines += _comment(f"Not set: this version of Nightshift has no [{TABLE}] {choice.key} yet.")
            setting = f"# {setting}"
        lines.append(setting)
    return "\n".join(lines) + "\n"


def _comment(text: str) -> list[str]:
    return [f"# {line}" for line in textwrap.wrap(text, WIDTH - 2, break_on_hyphens=False)]


def _split(proposal: Proposal) -> tuple[dict[str, object], set[str]]:
    """The settings this version knows, and the names of those it does not (written as comments)."""
    values = proposal.values()
    unknown = {key for key in values if key not in EnvironmentSettings.model_fields}
    return {key: value for key, value in values.items() if key not in unknown}, unknown
