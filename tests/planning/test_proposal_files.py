"""The proposal output contract, file by file: what becomes a proposal, and the one-line
reason for every file that does not (``docs/planning.md``, "Proposals")."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from codewalkers.agents.fake import proposal_text
from codewalkers.agents.workdir import ProposalFile, read_proposals
from codewalkers.db import ConflictError, Database, ProposalStatus, ValidationError, new_id
from codewalkers.services.proposals import (
    accept_all,
    accept_proposal,
    dismiss_proposal,
    dropped_dependencies,
    record_proposals,
)
from tests.factories import make_agent, make_initiative, make_phase, make_task


def write(workdir: Path, name: str, text: str | bytes) -> None:
    path = workdir / ".cw/output" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def test_files_are_read_in_name_order_with_their_front_matter(tmp_path: Path) -> None:
    write(
        tmp_path,
        "tasks/01-login.md",
        "---\ntitle: Login endpoint\nid: T1\ndepends_on: [T0]   # after the schema\n"
        "phase_id: P1\npriority: high\ncategory: execute\ntype: auto\n---\nPOST /login.\n",
    )
    write(tmp_path, "phases/02-api.md", proposal_text({"title": "API", "id": "P1"}, "The API."))
    write(tmp_path, "phases/01-schema.md", proposal_text({"title": "Schema"}, "Tables.\n"))
    write(tmp_path, "pages/notes.md", "---\ntitle: Notes\nparent_id: Pg1\n---\n# Notes\n")
    write(tmp_path, "phases/.01-draft.md.tmp", "half a file")  # being written: skipped
    found, problems = read_proposals(tmp_path)
    assert problems == []
    assert [f.name for f in found] == [
        "pages/notes.md",
        "phases/01-schema.md",
        "phases/02-api.md",
        "tasks/01-login.md",
    ]
    page, schema, _, login = found
    assert (page.kind, page.parent_id, page.body) == ("page", "Pg1", "# Notes")
    assert (schema.title, schema.id, schema.depends_on, schema.body) == (
        "Schema",
        None,
        None,
        "Tables.",
    )
    assert login == ProposalFile(
        name="tasks/01-login.md",
        kind="task",
        title="Login endpoint",
        body="POST /login.",
        id="T1",
        depends_on=("T0",),
        phase_id="P1",
        priority="high",
        category="execute",
        type="auto",
    )


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("phases/a.md", "# no front matter\n", "no front matter"),
        ("phases/b.md", "---\ntitle: x\n", "not closed"),
        ("phases/c.md", "---\ntitle: [unclosed\n---\n", "not YAML"),
        ("phases/d.md", "---\n- a list\n---\n", "must be a mapping"),
        ("phases/e.md", "---\nid: X1\n---\nbody\n", '"title" is missing'),
        ("tasks/f.md", "---\ntitle: t\npriority: urgent\n---\n", '"priority" must be one of'),
        ("tasks/g.md", "---\ntitle: t\ncategory: cook\n---\n", '"category" must be one of'),
        ("tasks/h.md", "---\ntitle: t\nid: A1\ntarget_id: B1\n---\n", "not both"),
        ("tasks/i.md", "---\ntitle: t\ndepends_on: {a: 1}\n---\n", "list of ids"),
        ("tasks/j.md", "---\ntitle: t\nid: A1\ndepends_on: [A1]\n---\n", "the entity itself"),
        ("tasks/k.md", "---\ntitle: t\nid: has space\n---\n", '"id" must be an id'),
        ("phases/l.txt", "---\ntitle: t\n---\n", "not a Markdown file"),
        ("phases/sub/m.md", "---\ntitle: t\n---\n", "not in a subfolder"),
        ("pages/n.md", b"---\ntitle: \xff\n---\n", "not UTF-8"),
    ],
)
def test_a_malformed_file_is_reported_by_name(
    tmp_path: Path, name: str, text: str | bytes, problem: str
) -> None:
    write(tmp_path, name, text)
    write(tmp_path, "phases/ok.md", "---\ntitle: Fine\n---\n")
    found, problems = read_proposals(tmp_path)
    assert [f.name for f in found] == ["phases/ok.md"]
    assert [p.name for p in problems] == [name]
    assert problem in problems[0].problem, problems[0].problem


def test_recording_refuses_what_names_nothing_and_keeps_the_rest(db: Database) -> None:
    """Unknown target, dependency, phase or parent, a used id, a duplicate id in the set,
    and a file naming a refused one: each refused with its reason; the rest recorded in one
    go, in order; recording the same files again adds nothing."""
    initiative = make_initiative(db)
    other = make_initiative(db, name="Other")
    phase = make_phase(db, initiative)
    foreign = make_task(db, make_phase(db, other))
    agent = make_agent(db, initiative_id=initiative.id, mode="detail")
    a, b, c = new_id(), new_id(), new_id()

    def task(name: str, **fields: object) -> ProposalFile:
        return ProposalFile(name=f"tasks/{name}.md", kind="task", title=name, body="", **fields)  # type: ignore[arg-type]

    files = [
        task("01-a", id=a, depends_on=(b,)),  # forward reference inside the set: fine
        task("02-b", id=b, phase_id=phase.id, priority="high", category="research"),
        task("03-unknown-target", target_id=foreign.id),
        task("04-unknown-dep", id=new_id(), depends_on=("nope",)),
        task("05-used-id", id=phase.id),
        task("06-dup", id=b),
        task("07-bad-phase", id=c, phase_id=new_id()),
        task("08-needs-refused", depends_on=(c,)),
    ]
    recorded = record_proposals(db, agent.id, files, default_phase_id=phase.id)
    assert [p.title for p in recorded.proposals] == ["01-a", "02-b"], recorded.problems
    reasons = {p.name: p.problem for p in recorded.problems}
    assert list(reasons) == [
        f"tasks/{n}.md"
        for n in (
            "03-unknown-target",
            "04-unknown-dep",
            "05-used-id",
            "06-dup",
            "07-bad-phase",
            "08-needs-refused",
        )
    ]
    assert "no task of this initiative" in reasons["tasks/03-unknown-target.md"]
    assert "depends_on names nope" in reasons["tasks/04-unknown-dep.md"]
    assert "already used" in reasons["tasks/05-used-id.md"]
    assert "also the id of tasks/02-b.md" in reasons["tasks/06-dup.md"]
    assert "phase_id" in reasons["tasks/07-bad-phase.md"]
    assert (
        "proposed by tasks/07-bad-phase.md, which was refused"
        in reasons["tasks/08-needs-refused.md"]
    )
    first, second = recorded.proposals
    assert first.status == ProposalStatus.PENDING and first.sort_order < second.sort_order
    assert first.metadata["phase_id"] == phase.id  # the agent's phase by default
    assert second.metadata["priority"] == "high" and "depends_on" not in second.metadata
    events = [e for e in db.events.find_after(0) if e.type.startswith("proposal:")]
    assert [e.type for e in events].count("proposal:created") == 2
    rejected = [e.payload["file"] for e in events if e.type == "proposal:rejected"]
    assert rejected == list(reasons)

    again = record_proposals(db, agent.id, files[:2], default_phase_id=phase.id)
    assert again.proposals == [] and again.unchanged == ["tasks/01-a.md", "tasks/02-b.md"]
    assert len(db.proposals.find_by_agent_id(agent.id)) == 2
    # Changed before anyone decided: the pending proposal is updated, not doubled.
    renamed = dataclasses.replace(files[1], title="B, sharper")
    changed = record_proposals(db, agent.id, [files[0], renamed], default_phase_id=phase.id)
    assert [p.id for p in changed.proposals] == [second.id] == changed.updated
    stored = db.proposals.find_by_agent_id(agent.id)
    assert [(p.id, p.title) for p in stored] == [(first.id, "01-a"), (second.id, "B, sharper")]


def test_dismissing_what_an_accepted_proposal_waits_for_warns_and_accept_all_is_atomic(
    db: Database,
) -> None:
    initiative = make_initiative(db)
    planner = make_agent(db, initiative_id=initiative.id, mode="plan")
    detailer = make_agent(db, initiative_id=initiative.id, mode="detail")
    build, docs = new_id(), new_id()
    [build_p, docs_p] = record_proposals(
        db,
        planner.id,
        [
            ProposalFile("phases/01-build.md", "phase", "Build", "", id=build),
            ProposalFile("phases/02-docs.md", "phase", "Docs", "", id=docs, depends_on=(build,)),
        ],
    ).proposals
    task = new_id()
    tasks = record_proposals(
        db,
        detailer.id,
        [
            ProposalFile("tasks/01-a.md", "task", "A", "", id=task, phase_id=build),
            ProposalFile("tasks/02-b.md", "task", "B", "", phase_id=build, depends_on=(task,)),
        ],
    ).proposals
    # The phase both tasks belong to is still a pending proposal: nothing is accepted.
    with pytest.raises(ConflictError, match=r"tasks/01-a\.md.*still pending: accept that"):
        accept_all(db, detailer.id)
    assert [p.status for p in tasks] == ["pending", "pending"]
    assert all(p.status == "pending" for p in db.proposals.find_by_agent_id(detailer.id))
    assert db.tasks.find_by_initiative_id(initiative.id) == []

    docs_done = accept_proposal(db, docs_p.id)  # waits for Build
    assert docs_done.warnings == [] and db.phases.get_dependencies(docs) == []
    dismiss_proposal(db, build_p.id)
    [warning] = dropped_dependencies(db, build_p.id)
    assert f"phase {docs} ('Docs') will not depend on {build}" in warning
    event = [e for e in db.events.find_after(0) if e.type == "proposal:dismissed"][-1]
    assert event.payload["warnings"] == [warning]
    with pytest.raises(ValidationError, match=f"its phase {build} was dismissed"):
        accept_all(db, detailer.id)
