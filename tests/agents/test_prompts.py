"""The prompt templates: each mode tells the agent the contract, and they ship in the wheel."""

from __future__ import annotations

import zipfile
from importlib import resources
from pathlib import Path

import pytest

from codewalkers.agents.workdir import (
    HELPER_PROMPTS,
    MODES,
    AgentInputs,
    ProjectInput,
    Question,
    ReviewCommentInput,
    TaskInput,
    render_commit_reminder,
    render_prompt,
    render_resume_with_answers,
    render_resume_with_message,
)

TASK = TaskInput(
    id="Tk1",
    name="Store sessions",
    description="Write the session repository. It costs $5 {not a placeholder}.",
    status="in_progress",
    priority="high",
    category="execute",
    type="auto",
    phase_id="Ph1",
)
INPUTS = AgentInputs(
    agent_id="Ag1",
    agent_name="brave-otter",
    mode="execute",
    task_id="Tk1",
    phase_id="Ph1",
    initiative_id="In1",
    projects=(ProjectInput("api", "api", "cw/auth/store-sessions-Tk1", "cw/auth/build"),),
    task=TASK,
    instructions="Prefer SQLAlchemy Core.",
    conflict_files=("src/sessions.py", "tests/test_sessions.py"),
    merge_branch="cw/auth/build",
    review_comments=(
        ReviewCommentInput("Rc1", "src/sessions.py", 12, "added", "ana", "Name this better."),
    ),
)


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_tells_the_contract(mode: str) -> None:
    prompt = " ".join(render_prompt(mode, INPUTS).split())  # lines wrap anywhere
    assert ".cw/output/signal.json" in prompt
    assert "LAST act" in prompt
    for shape in ('"status": "done"', '"status": "questions"', '"status": "error"'):
        assert shape in prompt
    assert "Commit your work" in prompt and "Never push" in prompt
    assert "never switch" in prompt.lower()
    assert ".cw/input/" in prompt
    assert "`./api/`" in prompt and "cw/auth/store-sessions-Tk1" in prompt
    assert 'cw ask "QUESTION" --from Ag1 --task-id' in prompt
    assert "cw listen --agent-id Ag1" in prompt
    assert "cw answer" in prompt and "--conversation-id" in prompt
    assert "cw id" in prompt
    assert "Prefer SQLAlchemy Core." in prompt
    assert "$" not in prompt.replace("$5", "")  # no placeholder left unfilled


@pytest.mark.parametrize("mode", ["discuss", "plan", "detail", "refine"])
def test_planning_modes_tell_the_proposal_contract(mode: str) -> None:
    prompt = render_prompt(mode, INPUTS)
    for folder in (".cw/output/pages/", ".cw/output/phases/", ".cw/output/tasks/"):
        assert folder in prompt
    for key in ("title:", "id:", "target_id:", "depends_on:", "priority:", "category:"):
        assert key in prompt


def test_the_execute_prompt_carries_the_task_itself() -> None:
    prompt = render_prompt("execute", INPUTS)
    assert "Store sessions" in prompt
    assert "It costs $5 {not a placeholder}." in prompt


def test_the_conflict_prompt_names_the_files_and_the_branch() -> None:
    prompt = render_prompt("conflict", INPUTS)
    assert "git merge cw/auth/build" in prompt
    assert "`src/sessions.py`" in prompt and "`tests/test_sessions.py`" in prompt


def test_the_review_prompt_carries_the_unresolved_comments() -> None:
    prompt = render_prompt("review", INPUTS)
    assert "src/sessions.py" in prompt and "line 12" in prompt and "Name this better." in prompt


def test_an_unknown_mode_is_a_value_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'chat-with-cat'"):
        render_prompt("chat-with-cat", INPUTS)


def test_resume_prompts_carry_answers_messages_and_uncommitted_projects() -> None:
    answers = render_resume_with_answers(
        INPUTS, [(Question("q1", "Which colour?"), "Blue."), (Question("q2", "Size?"), "XL")]
    )
    assert "q1: Which colour?" in answers and "Blue." in answers and "XL" in answers
    message = render_resume_with_message(INPUTS, "Also add an index, costs $0.")
    assert "Also add an index, costs $0." in message
    reminder = render_commit_reminder(INPUTS, ["api"])
    assert "`./api/`" in reminder and "Never push" in reminder
    for prompt in (answers, message, reminder):
        assert ".cw/output/signal.json" in prompt


def test_the_package_carries_every_template() -> None:
    folder = resources.files("codewalkers.agents.prompts")
    names = {item.name for item in folder.iterdir()}
    for name in (*MODES, *HELPER_PROMPTS, "_contract", "_planning-output"):
        assert f"{name}.md" in names


@pytest.mark.slow
def test_a_built_wheel_contains_the_templates(built_wheel: Path) -> None:
    with zipfile.ZipFile(built_wheel) as archive:
        names = set(archive.namelist())
    for name in (*MODES, *HELPER_PROMPTS, "_contract", "_planning-output"):
        assert f"codewalkers/agents/prompts/{name}.md" in names
