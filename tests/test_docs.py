"""The docs cannot drift from the code: every command the README and docs/ show is run here, as shown,
or is a step of `.ci/run` (which runs on every change).

A command is a line of a ```sh block, or an inline code span that starts like a command (`uv run …`,
`bash …`, `cp …`, `pip install …`). Each must match one of `RUNNERS` below, which says how it is
proven; a command no runner knows fails `test_every_command_shown_is_proven`, so a new one in the docs
needs a way to run it here first. Placeholders in the docs (`<id>`, `[--days N]`, `FILE`) are filled in
with real values.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import pytest
import yaml

from tests.databases import outbox_at
from tests.fakes.productlane import FakeProductlane
from tests.fakes.slack import FakeSlack
from tests.running_bot import ENTRY_POINT, bot_environment, run_command, start_bot, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CI = (ROOT / ".ci/run").read_text()
COMMAND_START = re.compile(r"^(uv run |bash |cp |pip install |productlane-slack|curl )")


@dataclass(frozen=True)
class Shown:
    command: str
    where: str  # file:line

    def __str__(self) -> str:
        return f"{self.command}  ({self.where})"


def _commands_in(path: Path) -> Iterator[Shown]:
    in_sh = False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        where = f"{path.relative_to(ROOT)}:{number}"
        stripped = line.strip()
        if stripped.startswith("```"):
            in_sh = not in_sh and stripped in ("```sh", "```bash", "```shell")
            continue
        if in_sh:
            command = re.sub(r"\s+#.*$", "", stripped)
            for part in command.split(" && "):
                if part.strip():
                    yield Shown(part.strip(), where)
            continue
        if stripped.startswith("#"):
            continue  # a heading names a command; it does not show one to run
        for span in re.findall(r"`([^`]+)`", line):
            if COMMAND_START.match(span):
                yield Shown(span.strip(), where)


def shown_commands() -> list[Shown]:
    return [shown for path in DOCS for shown in _commands_in(path)]


# --- how each kind of command is proven ----------------------------------------------------------


def in_ci(shown: Shown, tmp_path: Path) -> None:
    """A step of `.ci/run`, which CI runs on every change: it must be there as shown."""
    assert shown.command in CI, f"{shown} is not a step of .ci/run"


def ci_itself(shown: Shown, tmp_path: Path) -> None:
    assert (ROOT / ".ci/run").exists()
    assert os.access(ROOT / ".ci/run", os.X_OK) or shown.command.startswith("bash ")


def installs_uv(shown: Shown, tmp_path: Path) -> None:
    """CI installs uv the way the README tells a newcomer to."""
    assert shown.command == "pip install uv"
    assert "pip install --quiet uv" in CI


# How `uv run` finds this project from a scratch directory. UV_NO_SYNC: the environment is the one
# this run uses, synced by the `uv run pytest` that started it; checking the lock again (and
# compiling the bytecode again) would cost ~0.3 s of CPU a command and prove nothing more.
UV = {"UV_PROJECT": str(ROOT), "UV_NO_PROGRESS": "1", "UV_NO_SYNC": "1"}


def uv_run(
    argv: str, env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The command exactly as shown (a shell line: it may redirect), from `cwd`, in this project
    (UV_PROJECT). `productlane-slack …` as prose names it is run as `uv run productlane-slack …`."""
    if argv.startswith("productlane-slack"):
        argv = "uv run " + argv
    return subprocess.run(  # noqa: S602 - a line of our own docs
        argv,
        shell=True,
        env={**env, **UV},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def copies_the_example_settings(shown: Shown, tmp_path: Path) -> None:
    """`cp .env.example .env` gives a .env the bot reads, once the three secrets are filled in."""
    (tmp_path / ".env.example").write_text((ROOT / ".env.example").read_text())
    subprocess.run(shown.command.split(), cwd=tmp_path, check=True)
    env_file = tmp_path / ".env"
    text = env_file.read_text()
    for name, value in (
        ("SLACK_BOT_TOKEN", "xoxb-filled-in"),
        ("SLACK_APP_TOKEN", "xapp-filled-in"),
        ("PRODUCTLANE_API_KEY", "pl_v2_filled_in"),
    ):
        text = re.sub(rf"^{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
    env_file.write_text(text)
    from bot.settings import load_settings

    settings = load_settings(env_file)
    assert settings.slack_bot_token.get_secret_value() == "xoxb-filled-in"


SETTINGS_FILE = {"channels": [{"channel": "C0123ABCD", "capture": "reaction", "pain_level": "HIGH"}]}


def runs_against_the_fakes(shown: Shown, tmp_path: Path) -> None:
    """A `productlane-slack` command that runs to its end: it must succeed against the fakes. An
    outbox with a failed item is there for `outbox retry <id>`, a settings file for `channels
    import FILE`, written under the name the docs give it."""
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        item_id = _a_failed_item(tmp_path / "outbox.db")
        argv = shown.command.replace("<id>", str(item_id))
        imported = re.search(r"channels import (?:--\S+ )*(\S+)", argv)
        if imported:
            name = imported.group(1)
            text = json.dumps(SETTINGS_FILE)
            if name.endswith((".yaml", ".yml")):
                text = yaml.safe_dump(SETTINGS_FILE)
            (tmp_path / name).write_text(text)
        for variant in _expand_optional(argv):
            done = the_bots_command(variant, env, tmp_path)
            assert done.returncode == 0, f"{variant}: {done.stdout}\n{done.stderr}"


def the_bots_command(argv: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`[uv run] productlane-slack ARGS [> FILE]` as the shell would run it: the command's `main()`
    with those arguments, forked from the worker's fork server (tests/running_bot.py), its output
    to FILE when redirected. `uv run productlane-slack` itself, uv finding this project and starting
    the command, is proven by `runs_the_bot`; starting Python and importing the bot again for each
    of a dozen commands cost ~0.5 s of CPU each and proved nothing more."""
    words = shlex.split(argv.removeprefix("uv run "))
    redirect = None
    if ">" in words:
        words, redirect = words[: words.index(">")], words[words.index(">") + 1]
    assert words[0] == "productlane-slack", argv
    done = run_command([str(ENTRY_POINT), *words[1:]], env, cwd)
    if redirect is not None:
        (cwd / redirect).write_text(done.stdout)
        done.stdout = ""
    return done


def scrapes_the_metrics(shown: Shown, tmp_path: Path) -> None:
    """The scrape shown, against a running bot with METRICS_TOKEN set (its PORT for the docs' 3000)."""
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db") | {
            "METRICS_TOKEN": "doc-test-token"
        }
        world = start_bot(slack, productlane, env, tmp_path, tmp_path / "bot.log")
        try:
            # The scrape is what is shown here, not the start: one curl a try, from the connected line.
            wait_until(lambda: "connected to Slack" in world.log_text(), "the bot to connect", 60)
            command = shown.command.replace(":3000/", f":{env['PORT']}/")

            def scraped() -> subprocess.CompletedProcess[str] | None:
                done = uv_run(command, env, tmp_path)
                return done if "productlane_slack_outbox_items" in done.stdout else None

            wait_until(scraped, "a scrape of /metrics", 60)
            refused = uv_run(command, {**env, "METRICS_TOKEN": "wrong"}, tmp_path)
            assert "productlane_slack_outbox_items" not in refused.stdout
        finally:
            world.bot.send_signal(signal.SIGTERM)
            world.bot.wait(timeout=60)


def runs_the_bot(shown: Shown, tmp_path: Path) -> None:
    """`uv run productlane-slack`: it connects, says so, and stops cleanly on Ctrl-C (SIGINT)."""
    with FakeSlack() as slack, FakeProductlane() as productlane:
        env = bot_environment(slack, productlane, tmp_path / "outbox.db")
        log = tmp_path / "bot.log"
        with log.open("wb") as output:
            bot = subprocess.Popen(
                shown.command.split(),
                env={**env, **UV},
                cwd=tmp_path,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            wait_until(lambda: "connected to Slack" in log.read_text() or bot.poll() is not None, "it", 60)
        finally:
            bot.send_signal(signal.SIGINT)
            status = bot.wait(timeout=60)
    assert "connected to Slack" in log.read_text(), log.read_text()
    assert status == 0, log.read_text()


def a_benchmark(shown: Shown, tmp_path: Path) -> None:
    """A benchmark is too slow to run here: the module must exist and take every option shown. Its
    `--help` runs in this process (its `main()`, which `python -m` runs): the benchmarks share this
    project's environment, and a process per benchmark would cost a second of CPU each."""
    argv = shown.command.split()
    module = argv[argv.index("-m") + 1]
    printed = io.StringIO()
    with (
        mock.patch.object(sys, "argv", [module, "--help"]),
        contextlib.redirect_stdout(printed),
        pytest.raises(SystemExit) as exited,
    ):
        importlib.import_module(module).main()
    assert exited.value.code in (0, None), printed.getvalue()
    for option in (word.split("=")[0] for word in argv if word.startswith("--")):
        assert option in printed.getvalue(), f"{shown}: {module} has no {option}"


def a_test_selection(shown: Shown, tmp_path: Path) -> None:
    """`uv run pytest` with a selection or an order. Running the suite from inside itself would cost
    a run and prove little more: each marker it selects on is declared (pyproject's `markers`, which
    --strict-markers holds every test to) and carried by tests, and each option's plugin is there."""
    import tomllib

    declared = {
        marker.split(":")[0]
        for marker in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"][
            "markers"
        ]
    }
    argv = shlex.split(shown.command)[len(["uv", "run", "pytest"]) :]
    while argv:
        option = argv.pop(0)
        if option == "-m":
            names = set(re.findall(r"[A-Za-z_]\w*", argv.pop(0))) - {"and", "or", "not"}
            assert names <= declared, f"{shown}: {names - declared} not in pyproject's markers"
            sources = "".join(path.read_text() for path in (ROOT / "tests").rglob("test_*.py"))
            for name in names:
                assert f"pytest.mark.{name}" in sources, f"{shown}: no test is marked {name}"
        elif option.startswith("--randomly-seed=") or (option == "-p" and argv.pop(0) == "no:randomly"):
            assert importlib.util.find_spec("pytest_randomly") is not None, f"{shown}: no pytest-randomly"
        else:
            pytest.fail(f"{shown}: nothing here proves {option}")


RUNNERS: list[tuple[re.Pattern[str], Callable[[Shown, Path], None]]] = [
    (re.compile(r"^uv run pytest$"), in_ci),
    (re.compile(r"^uv run pytest -"), a_test_selection),
    (re.compile(r"^uv run (ruff|mypy|lint-imports)\b"), in_ci),
    (re.compile(r"^bash \.ci/run$"), ci_itself),
    (re.compile(r"^bash \.ci/postgres\.sh stop$"), in_ci),
    (re.compile(r"^pip install uv$"), installs_uv),
    (re.compile(r"^cp \.env\.example \.env$"), copies_the_example_settings),
    (re.compile(r"^uv run productlane-slack$"), runs_the_bot),
    (re.compile(r"^(uv run )?productlane-slack (check|outbox|channels)\b"), runs_against_the_fakes),
    (re.compile(r"^curl .*/metrics$"), scrapes_the_metrics),
    (re.compile(r"^uv run python -m bench\.\w+"), a_benchmark),
]


def runner_for(shown: Shown) -> Callable[[Shown, Path], None] | None:
    matching = [run for pattern, run in RUNNERS if pattern.match(shown.command)]
    return matching[0] if matching else None


def _expand_optional(argv: str) -> list[str]:
    """`purge [--days N]` → `purge` and `purge --days 30`."""
    match = re.search(r"\[([^\]]+)\]", argv)
    if match is None:
        return [argv]
    filled = match.group(1).replace(" N", " 30")
    return [
        *_expand_optional(argv[: match.start()].rstrip() + argv[match.end() :]),
        *_expand_optional(argv[: match.start()] + filled + argv[match.end() :]),
    ]


def _a_failed_item(database: Path) -> int:
    """An outbox with one failed item, for `outbox retry <id>` to re-queue."""
    with outbox_at(f"sqlite:///{database}") as outbox:
        item_id = outbox.add("doc-test", "create_thread", {"submitter_id": "U0CSM0002", "form": {}}).id
        outbox.claim("doc-test", 1, 30)
        outbox.mark_failed(item_id, "doc-test", "refused")
    return item_id


# --- the tests -------------------------------------------------------------------------------------


def test_the_docs_show_commands_at_all() -> None:
    commands = {shown.command for shown in shown_commands()}
    assert {"uv run productlane-slack", "uv run pytest", "uv run productlane-slack check"} <= commands


def test_every_command_shown_is_proven() -> None:
    unknown = [str(shown) for shown in shown_commands() if runner_for(shown) is None]
    assert not unknown, "commands the docs show that nothing runs:\n" + "\n".join(unknown)


def distinct_commands() -> list[Shown]:
    """Each command once, however many places show it (prose's `productlane-slack …` is the same
    command as `uv run productlane-slack …`): running it again proves nothing more, and each run
    starts a process."""
    first: dict[str, Shown] = {}
    for shown in shown_commands():
        first.setdefault(re.sub(r"^productlane-slack\b", "uv run productlane-slack", shown.command), shown)
    return list(first.values())


@pytest.mark.parametrize("shown", distinct_commands(), ids=lambda shown: shown.where)
def test_each_command_shown_works_as_shown(shown: Shown, tmp_path: Path) -> None:
    run = runner_for(shown)
    if run is None:
        pytest.fail(f"nothing runs {shown}")
    run(shown, tmp_path)


def test_the_readme_is_a_newcomers_first_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    first_block = re.search(r"```sh\n(.*?)```", readme, re.DOTALL)
    assert first_block is not None
    assert [line.split("#")[0].strip() for line in first_block.group(1).splitlines()] == [
        "uv run productlane-slack",
        "uv run pytest",
    ]


def test_every_setting_is_in_the_readme_table_and_the_example() -> None:
    from bot.settings import Settings

    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", readme, re.MULTILINE))
    for name in (field.upper() for field in Settings.model_fields):
        assert name in table, f"{name} is not in the README's configuration table"
        assert re.search(rf"^#? ?{name}=", example, re.MULTILINE), f"{name} is not in .env.example"


def test_links_between_the_docs_lead_somewhere() -> None:
    for path in DOCS:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", path.read_text()):
            assert (path.parent / target).exists(), f"{path.relative_to(ROOT)} links to missing {target}"
