"""``cw ask``, ``cw listen``, ``cw answer``: agent-to-agent questions, across processes."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

from codewalkers.db import Agent, Phase, Task
from tests.cli._workspace_db import workspace_db
from tests.cli.conftest import CW, Cw
from tests.factories import make_agent, make_phase, make_task

# Generous bounds: they only matter when something is broken, and then the test must end.
WAIT = "60"
PROCESS_TIMEOUT = 120


@dataclass
class Team:
    phase: Phase
    task: Task
    asker: Agent
    worker: Agent  # works on ``task``, in ``phase``


def team(cw: Cw) -> Team:
    with workspace_db(cw) as db:
        phase = make_phase(db)
        task = make_task(db, phase)
        asker = make_agent(db)
        worker = make_agent(db, task_id=task.id, initiative_id=task.initiative_id)
        return Team(phase, task, asker, worker)


def conversation_count(cw: Cw) -> int:
    with workspace_db(cw) as db:
        return sum(len(db.conversations.find_by_from_agent_id(a.id)) for a in db.agents.find_all())


def test_ask_waits_for_the_answer_another_process_gives(cw: Cw) -> None:
    t = team(cw)
    asking = subprocess.Popen(
        [
            *CW,
            "ask",
            "Which port?",
            "--from",
            t.asker.id,
            "--task-id",
            t.task.id,
            "--timeout",
            WAIT,
        ],
        cwd=cw.root,
        env=cw.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        question = cw.ok("listen", "--agent-id", t.worker.id, "--timeout", WAIT)
        assert question == {
            "conversation_id": question["conversation_id"],
            "from_agent_id": t.asker.id,
            "question": "Which port?",
            "phase_id": t.phase.id,
            "task_id": t.task.id,
        }
        answered = cw.ok("answer", "3847", "--conversation-id", question["conversation_id"])
        assert answered == {"conversation_id": question["conversation_id"], "status": "answered"}
        stdout, stderr = asking.communicate(timeout=PROCESS_TIMEOUT)
    finally:
        if asking.poll() is None:
            asking.kill()
            asking.communicate()
    assert asking.returncode == 0, stderr
    assert json.loads(stdout) == {
        "conversation_id": question["conversation_id"],
        "status": "answered",
        "answer": "3847",
    }
    with workspace_db(cw) as db:
        stored = db.conversations.find_by_id(question["conversation_id"])
        assert stored is not None and stored.initiative_id == t.task.initiative_id


def test_an_unanswered_question_times_out_and_can_still_be_answered_once(cw: Cw) -> None:
    t = team(cw)
    with workspace_db(cw) as db:
        older = make_agent(db, task_id=make_task(db, t.phase).id)
        newest = make_agent(db, task_id=make_task(db, t.phase).id)
    assert older.created_at < newest.created_at

    timed_out = cw.fails(
        "ask", "Ready?", "--from", t.asker.id, "--phase-id", t.phase.id, "--timeout", "0.5"
    )
    assert "no answer within 0.5 s" in timed_out.stderr
    match = re.search(r"conversation (\S+) is still pending", timed_out.stderr)
    assert match is not None
    conversation_id = match.group(1)

    # By phase, the question goes to the newest agent working on the phase.
    question = cw.ok("listen", "--agent-id", newest.id, "--timeout", "0")
    assert question["conversation_id"] == conversation_id
    assert question["phase_id"] == t.phase.id and question["task_id"] is None

    cw.ok("answer", "Yes", "--conversation-id", conversation_id)
    again = cw.fails("answer", "No", "--conversation-id", conversation_id)
    assert "already answered" in again.stderr
    with workspace_db(cw) as db:
        stored = db.conversations.find_by_id(conversation_id)
        assert stored is not None and stored.answer == "Yes"
    # Answered: nothing left to hear.
    assert "no question" in cw.fails("listen", "--agent-id", newest.id, "--timeout", "0").stderr


def test_questions_without_a_target_are_refused_and_change_nothing(cw: Cw) -> None:
    t = team(cw)
    with workspace_db(cw) as db:
        lonely_task = make_task(db, t.phase)
        lonely_phase = make_phase(db)

    def ask(*target: str) -> str:
        return cw.fails("ask", "Hello?", "--from", t.asker.id, *target).stderr

    assert f"no agent works on task '{lonely_task.id}'" in ask("--task-id", lonely_task.id)
    assert f"no agent works on phase '{lonely_phase.id}'" in ask("--phase-id", lonely_phase.id)
    assert "agent 'nobody' not found" in ask("--agent-id", "nobody")
    assert "exactly one" in ask("--agent-id", t.worker.id, "--task-id", t.task.id)
    assert (
        "agent 'ghost' not found"
        in cw.fails("ask", "Hi", "--from", "ghost", "--agent-id", t.worker.id).stderr
    )
    cw.fails("ask", "Hi", "--agent-id", t.worker.id, code=2)  # --from is required
    assert "not found" in cw.fails("answer", "x", "--conversation-id", "nope").stderr
    assert "not found" in cw.fails("listen", "--agent-id", "nobody", "--timeout", "0").stderr
    assert conversation_count(cw) == 0
