"""The workdir contract: what snapshot_inputs reads, what write_inputs writes, and how
read_signal judges what an agent wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codewalkers.agents import workdir as wd
from codewalkers.agents.workdir import (
    MANIFEST_VERSION,
    AgentInputs,
    ProjectInput,
    Question,
    clear_signal,
    read_signal,
    signal_path,
    snapshot_inputs,
    write_inputs,
)
from codewalkers.content import markdown_to_tiptap
from codewalkers.db import Database, NotFoundError
from tests.factories import (
    doc,
    make_account,
    make_initiative,
    make_page,
    make_phase,
    make_project,
    make_task,
)

PAGE_MARKDOWN = """# Sessions

We keep **sessions** in the database, *not* in memory.

- expire after `30` minutes
- one per device

```python
def expire(session): ...
```
"""


def _plan(db: Database) -> dict[str, object]:
    initiative = make_initiative(db, name="User auth", branch="cw/user-auth")
    project = make_project(db, name="api")
    db.projects.set_initiative_projects(initiative.id, [project.id])
    page = make_page(
        db, initiative, title="Sessions design", content=markdown_to_tiptap(PAGE_MARKDOWN)
    )
    design = make_phase(db, initiative, name="Design", content=doc("Design the schema."))
    build = make_phase(db, initiative, name="Build", content=doc("Build it."))
    db.phases.create_dependency(build.id, design.id)
    schema = make_task(db, design, name="Sketch the schema", priority="high")
    db.tasks.update(schema.id, status="completed", summary="Added table sessions(id, user_id).")
    api = make_task(db, design, name="Sketch the API")
    db.tasks.update(api.id, status="completed", summary="POST /sessions returns a token.")
    task = make_task(
        db, build, name="Store sessions", description="Write the repository.", category="execute"
    )
    db.tasks.create_dependency(task.id, schema.id)
    db.tasks.create_dependency(task.id, api.id)
    other = make_task(db, build, name="Expire sessions")
    return {
        "initiative": initiative,
        "page": page,
        "design": design,
        "build": build,
        "schema": schema,
        "api": api,
        "task": task,
        "other": other,
    }


def _snapshot(db: Database, plan: dict[str, object], **kwargs: object) -> AgentInputs:
    task = plan["task"]
    return snapshot_inputs(
        db,
        agent_id="Ag1",
        agent_name="brave-otter",
        mode="execute",
        task_id=task.id,  # type: ignore[attr-defined]
        projects=[ProjectInput("api", "api", "cw/user-auth/store-sessions-abc", "cw/user-auth")],
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_task_snapshot_carries_its_phase_initiative_and_dependencies(db: Database) -> None:
    plan = _plan(db)
    inputs = _snapshot(db, plan)
    assert inputs.initiative_id == plan["initiative"].id  # type: ignore[attr-defined]
    assert inputs.phase_id == plan["build"].id  # type: ignore[attr-defined]
    assert inputs.initiative is not None and inputs.initiative.branch == "cw/user-auth"
    assert inputs.task is not None and inputs.task.name == "Store sessions"
    assert [(d.name, d.status) for d in inputs.task.dependencies] == [
        ("Sketch the schema", "completed"),
        ("Sketch the API", "completed"),
    ]
    assert inputs.phase is not None and inputs.phase.description.strip() == "Build it."
    assert [d.name for d in inputs.phase.dependencies] == ["Design"]
    assert {t.name for t in inputs.tasks} >= {"Store sessions", "Expire sessions"}
    assert [t.summary for t in inputs.dependency_summaries] == [
        "Added table sessions(id, user_id).",
        "POST /sessions returns a token.",
    ]


def test_unknown_ids_and_modes_are_refused(db: Database) -> None:
    with pytest.raises(NotFoundError):
        snapshot_inputs(db, agent_id="a", agent_name="n", mode="execute", task_id="nope")
    with pytest.raises(NotFoundError):
        snapshot_inputs(db, agent_id="a", agent_name="n", mode="plan", initiative_id="nope")
    with pytest.raises(ValueError, match="'dance'"):
        snapshot_inputs(db, agent_id="a", agent_name="n", mode="dance")


def test_an_initiative_snapshot_without_projects_lists_the_linked_ones(db: Database) -> None:
    plan = _plan(db)
    inputs = snapshot_inputs(
        db,
        agent_id="a",
        agent_name="n",
        mode="plan",
        initiative_id=plan["initiative"].id,  # type: ignore[attr-defined]
    )
    assert inputs.task is None and inputs.phase is None
    assert [(p.name, p.path) for p in inputs.projects] == [("api", "api")]
    assert len(inputs.phases) == 2


def test_every_input_file_is_written_with_its_content(db: Database, tmp_path: Path) -> None:
    plan = _plan(db)
    inputs = _snapshot(db, plan, instructions="Use SQLAlchemy Core.")
    written = write_inputs(tmp_path, inputs)
    root = tmp_path / ".cw" / "input"
    page = plan["page"]
    names = {path.relative_to(root).as_posix() for path in written}
    assert names >= {
        "manifest.json",
        "initiative.md",
        "phase.md",
        "task.md",
        "PROMPT.md",
        "context/phases.md",
        "context/tasks.md",
        f"pages/sessions-design-{page.id[:8]}.md",  # type: ignore[attr-defined]
    }
    assert (tmp_path / ".cw" / "output").is_dir()
    assert list((tmp_path / ".cw" / "output").iterdir()) == []

    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["version"] == MANIFEST_VERSION
    assert manifest["agent_id"] == "Ag1" and manifest["agent_name"] == "brave-otter"
    assert manifest["mode"] == "execute"
    assert manifest["task_id"] == plan["task"].id  # type: ignore[attr-defined]
    assert manifest["projects"] == [
        {
            "name": "api",
            "path": "api",
            "branch": "cw/user-auth/store-sessions-abc",
            "base": "cw/user-auth",
        }
    ]
    assert sorted(manifest["files"]) == sorted(names)
    assert manifest["signal"] == ".cw/output/signal.json"

    task_md = (root / "task.md").read_text()
    assert "Write the repository." in task_md
    assert "Added table sessions(id, user_id)." in task_md
    assert "POST /sessions returns a token." in task_md
    tasks_md = (root / "context" / "tasks.md").read_text()
    assert "Expire sessions" in tasks_md and plan["other"].id in tasks_md  # type: ignore[attr-defined]
    phases_md = (root / "context" / "phases.md").read_text()
    assert "Design" in phases_md and "Build it." in phases_md
    assert "User auth" in (root / "initiative.md").read_text()
    prompt = (root / "PROMPT.md").read_text()
    assert prompt == wd.render_prompt("execute", inputs)
    assert "Use SQLAlchemy Core." in prompt and "Write the repository." in prompt


def test_markdown_pages_survive_with_their_front_matter(db: Database, tmp_path: Path) -> None:
    plan = _plan(db)
    write_inputs(tmp_path, _snapshot(db, plan))
    page = plan["page"]
    text = (
        tmp_path / ".cw/input/pages" / f"sessions-design-{page.id[:8]}.md"  # type: ignore[attr-defined]
    ).read_text()
    head, body = text.split("---\n", 2)[1:]
    assert f'id: "{page.id}"' in head  # type: ignore[attr-defined]
    assert 'title: "Sessions design"' in head
    assert f'parent: "{page.parent_page_id}"' in head  # type: ignore[attr-defined]
    for line in PAGE_MARKDOWN.strip().splitlines():
        if line.strip():
            assert line in body, line


def test_rewriting_is_idempotent_and_drops_stale_files(db: Database, tmp_path: Path) -> None:
    plan = _plan(db)
    inputs = _snapshot(db, plan)
    first = write_inputs(tmp_path, inputs)
    before = {path: path.read_bytes() for path in first}
    second = write_inputs(tmp_path, inputs)
    assert {path: path.read_bytes() for path in second} == before

    db.pages.delete(plan["page"].id)  # type: ignore[attr-defined]
    write_inputs(tmp_path, _snapshot(db, plan), prompt="Resume: go on.")
    pages = tmp_path / ".cw/input/pages"
    assert [p.name for p in pages.iterdir() if p.name.startswith("sessions-design")] == []
    assert len(list(pages.iterdir())) == 1  # the root page stays
    assert (tmp_path / ".cw/input/PROMPT.md").read_text() == "Resume: go on."
    leftovers = [p for p in tmp_path.rglob("*.tmp")]
    assert leftovers == []


def test_a_failed_write_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = AgentInputs("a", "n", "execute")
    write_inputs(tmp_path, inputs, prompt="old prompt")
    target = tmp_path / ".cw/input/PROMPT.md"

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wd.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        write_inputs(tmp_path, inputs, prompt="new prompt " * 1000)
    assert target.read_text() == "old prompt"
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_no_secret_of_an_account_reaches_the_workdir(db: Database, tmp_path: Path) -> None:
    secret = "sk-ant-PLANTED-SECRET-0123456789"
    make_account(
        db,
        provider="claude",
        credentials=json.dumps({"token": secret}),
        config_json=json.dumps({"apiKey": secret}),
    )
    plan = _plan(db)
    write_inputs(tmp_path, _snapshot(db, plan))
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


# --- signals --------------------------------------------------------------------------------


def _signal(tmp_path: Path, data: bytes | str | object) -> wd.Signal:
    path = signal_path(tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        path.write_bytes(data)
    elif isinstance(data, str):
        path.write_text(data)
    else:
        path.write_text(json.dumps(data))
    return read_signal(tmp_path)


def test_the_three_good_signals_are_read(tmp_path: Path) -> None:
    done = _signal(tmp_path, {"status": "done", "result": "Wrote it."})
    assert (done.status, done.result) == ("done", "Wrote it.")
    questions = _signal(
        tmp_path,
        {"status": "questions", "questions": [{"id": "q1", "question": "Which colour?"}]},
    )
    assert questions.status == "questions"
    assert questions.questions == [Question("q1", "Which colour?")]
    error = _signal(tmp_path, {"status": "error", "error": "No database."})
    assert (error.status, error.error) == ("error", "No database.")


def test_no_signal_is_missing(tmp_path: Path) -> None:
    signal = read_signal(tmp_path)
    assert signal.status == "missing" and signal.problem


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not JSON"),
        ("", "not JSON"),
        ("[1, 2]", "object"),
        ('"done"', "object"),
        ({"status": "finished"}, "unknown status"),
        ({"result": "no status"}, "status"),
        ({"status": 1}, "status"),
        ({"status": "done", "result": 42}, "result"),
        ({"status": "error"}, "error"),
        ({"status": "error", "error": ""}, "error"),
        ({"status": "questions"}, "questions"),
        ({"status": "questions", "questions": []}, "questions"),
        ({"status": "questions", "questions": ["why?"]}, "object"),
        ({"status": "questions", "questions": [{"question": "why?"}]}, "id"),
        ({"status": "questions", "questions": [{"id": 1, "question": "why?"}]}, "id"),
        ({"status": "questions", "questions": [{"id": "q1", "question": ""}]}, "question"),
        ({"status": "questions", "questions": [{"id": "q1"}]}, "question"),
        (
            {
                "status": "questions",
                "questions": [{"id": "q1", "question": "a?"}, {"id": "q1", "question": "b?"}],
            },
            "twice",
        ),
        (b"\x00\x01\x02binary", "binary"),
        (b'{"status": "done", "result": "\xff\xfe"}', "UTF-8"),
        ("[" * 100_000 + "]" * 100_000, "signal.json"),
    ],
)
def test_every_malformed_signal_is_named(tmp_path: Path, content: object, problem: str) -> None:
    signal = _signal(tmp_path, content)
    assert signal.status == "malformed"
    assert signal.problem is not None and problem in signal.problem
    assert "\n" not in signal.problem


def test_a_signal_over_a_megabyte_is_malformed(tmp_path: Path) -> None:
    big = json.dumps({"status": "done", "result": "x" * (wd.MAX_SIGNAL_BYTES + 10)})
    signal = _signal(tmp_path, big)
    assert signal.status == "malformed" and "larger" in (signal.problem or "")


def test_an_unreadable_signal_is_malformed_not_an_exception(tmp_path: Path) -> None:
    signal_path(tmp_path).mkdir(parents=True)  # a directory where the file should be
    signal = read_signal(tmp_path)
    assert signal.status == "malformed" and signal.problem


def test_clearing_a_signal_keeps_the_old_ones_numbered(tmp_path: Path) -> None:
    assert clear_signal(tmp_path) is None
    _signal(tmp_path, {"status": "questions", "questions": [{"id": "q1", "question": "a?"}]})
    first = clear_signal(tmp_path)
    _signal(tmp_path, {"status": "done", "result": "ok"})
    second = clear_signal(tmp_path)
    out = tmp_path / ".cw/output"
    assert first == out / "signal-1.json" and second == out / "signal-2.json"
    assert json.loads(second.read_text())["status"] == "done"
    assert read_signal(tmp_path).status == "missing"
    assert not os.path.exists(signal_path(tmp_path))
