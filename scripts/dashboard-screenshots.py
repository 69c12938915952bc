"""Screenshots of every dashboard screen, from a seeded workspace, for docs/dashboard.md.

    .venv/bin/python scripts/dashboard-screenshots.py [OUT_DIR]     # default docs/dashboard/

Builds a throwaway workspace (SQLite) with a git project, an initiative with phases and
tasks, and fake agents (one printing, one waiting for an answer), starts `cw start
--detach` on a free port, signs in with `cw open --print`, and saves one PNG per screen,
in the light theme and the dark one. Needs chromium (`apt-get install chromium`, or
CW_CHROMIUM=/path) and the dev extras (Playwright).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def cw(space: Path, env: dict[str, str], *args: str) -> Any:
    return json.loads(run([str(BIN / "cw"), *args, "--json"], space, env))


def scenario(*steps: object) -> str:
    return "```cw-fake\n" + json.dumps({"steps": list(steps)}) + "\n```"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seed(base: Path, env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    remote, work = base / "remote.git", base / "upstream"
    git = {**env, "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com"}
    git |= {"GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    run(["git", "init", "-q", "--bare", "--initial-branch=main", str(remote)], base, git)
    run(["git", "init", "-q", "--initial-branch=main", str(work)], base, git)
    (work / "README.md").write_text("# app\n")
    run(["git", "add", "-A"], work, git)
    run(["git", "commit", "-q", "-m", "seed"], work, git)
    run(["git", "push", "-q", str(remote), "HEAD:refs/heads/main"], work, git)

    space = base / "workspace"
    space.mkdir()
    cw(space, env, "init")
    with (space / ".cwrc").open("a") as cwrc:
        cwrc.write(f'\n[providers.claude]\ncommand = "{BIN / "cw-fake-agent"}"\n')
    project = cw(space, env, "project", "add", "app", remote.as_uri())
    auth = cw(space, env, "initiative", "create", "Auth overhaul", "--project", project["id"])
    cw(space, env, "initiative", "create", "Billing v2")
    design = cw(space, env, "phase", "create", "--initiative", auth["id"], "Design")
    build = cw(space, env, "phase", "create", "--initiative", auth["id"], "Build")
    cw(space, env, "phase", "depend", build["id"], "--on", design["id"])
    spec = cw(space, env, "task", "create", "Write the spec", "--phase", design["id"])
    cw(space, env, "task", "status", spec["id"], "completed")
    cw(space, env, "phase", "status", design["id"], "completed")
    form = cw(
        space,
        env,
        "task",
        "create",
        "Login form",
        "--phase",
        build["id"],
        "--description",
        scenario({"print": {"lines": 30, "rate": 50}}, {"hang": True}),
    )
    sessions = cw(
        space,
        env,
        "task",
        "create",
        "Session store",
        "--phase",
        build["id"],
        "--description",
        scenario({"print": 3}, {"ask": [{"id": "q1", "question": "Redis or Postgres?"}]}),
    )
    cw(space, env, "task", "depend", sessions["id"], "--on", form["id"])
    return space, {"form": form["id"], "sessions": sessions["id"], "initiative": auth["id"]}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard"
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import expect, sync_playwright

    env = {k: v for k, v in os.environ.items() if not k.startswith("CW_")}
    env.pop("DISPLAY", None)
    with tempfile.TemporaryDirectory(prefix="cw-shots-") as tmp:
        space, ids = seed(Path(tmp), env)
        port = free_port()
        cw(space, env, "start", "--detach", "--port", str(port))
        try:
            printing = cw(space, env, "agent", "spawn", "--task", ids["form"])["name"]
            waiting = cw(space, env, "agent", "spawn", "--task", ids["sessions"])["name"]
            deadline = time.monotonic() + 60
            while cw(space, env, "agent", "get", waiting)["status"] != "waiting_for_input":
                if time.monotonic() > deadline:
                    raise SystemExit(f"agent {waiting} never asked its question")
                time.sleep(0.3)
            link = cw(space, env, "open", "--print")["url"]
            base = f"http://127.0.0.1:{port}"
            screens = {
                "initiatives": "/ui/initiatives",
                "plan": f"/ui/initiatives/{ids['initiative']}",
                "agents": "/ui/agents?filter=all",
                "agent": f"/ui/agents/{printing}",
                "inbox": "/ui/inbox",
            }
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
                )
                for theme in ("light", "dark"):
                    context = browser.new_context(
                        viewport={"width": 1200, "height": 760}, color_scheme=theme
                    )
                    page = context.new_page()
                    if theme == "dark":
                        link = cw(space, env, "open", "--print")["url"]  # a link works once
                    page.goto(link)
                    page.wait_for_url("**/ui/initiatives")
                    for name, path in screens.items():
                        page.goto(base + path)
                        expect(page.locator("#health")).to_have_attribute("data-state", "live")
                        if name == "agent":
                            expect(page.locator("#log")).to_contain_text("line 30 of 30")
                        page.screenshot(path=str(out / f"{name}-{theme}.png"))
                        print(out / f"{name}-{theme}.png")
                    context.close()
                browser.close()
        finally:
            for agent in cw(space, env, "agent", "list"):
                if agent["status"] in {"running", "waiting_for_input"}:
                    stop = [str(BIN / "cw"), "agent", "stop", agent["name"]]
                    subprocess.run(stop, cwd=space, env=env, check=False, capture_output=True)
            run([str(BIN / "cw"), "stop"], space, env)


if __name__ == "__main__":
    main()
