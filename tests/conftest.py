"""Shared test set-up."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest

from tests import backends, ordering, tiers, worker_forkserver


def _load_hypothesis_profile(config: pytest.Config) -> None:
    """Where tests run: not in xdist's controller, where importing hypothesis as conftest is
    imported would delay the workers' start ~0.09 s. A test module's @settings take their defaults
    from the profile loaded as it is imported: pytest_configure comes first."""
    from hypothesis import settings

    # Hypothesis fails an example that takes over 200 ms: a time limit, which a busy machine trips
    # with nothing wrong. How fast the code is belongs to the benchmarks; here, only what it does.
    settings.register_profile("suite", deadline=None)
    # The fast tier (`-m "not e2e"`) tries a quarter of the examples: the inner loop still meets
    # every property, and the full run (and CI) tries them all.
    settings.register_profile("fast", parent=settings.get_profile("suite"), max_examples=25)
    settings.load_profile("fast" if _fast_tier(config) else "suite")


# xdist's workers are forked from one process that imported what they all import
# (tests/worker_forkserver.py), started here in the controller before them.
_WORKER_FORKSERVER = pytest.StashKey["subprocess.Popen[bytes]"]()


def pytest_configure(config: pytest.Config) -> None:
    if not _distributes(config):
        _load_hypothesis_profile(config)
    if _fast_tier(config) and config.option.dist == "loadgroup":
        # No test of the fast tier shares a running bot (an xdist_group is e2e's): xdist's "load"
        # hands each worker a batch of tests at a time. "loadgroup" hands out one test per message
        # and a worker waits for the controller's answer between two (~0.6 s a worker a run).
        config.option.dist = "load"
    if _distributes(config) and all(spec == "popen" for spec in config.option.tx or ()):
        # The run's paths, and its marks: conftest loads the hypothesis profile from them, which a
        # test module's @settings take their defaults from as it is imported.
        marks = ["-m", config.option.markexpr] if config.option.markexpr else []
        server = worker_forkserver.start([*marks, *config.args])
        if server is not None:
            config.stash[_WORKER_FORKSERVER] = server
            config.option.tx = [f"popen//python={worker_forkserver.pythonspec()}" for _ in config.option.tx]
            # Hypothesis's plugin imports hypothesis here as the run ends, after the last test; now
            # it costs nothing: the workers wait for the server, which leaves the other core idle.
            import hypothesis.internal.observability  # noqa: F401


def pytest_unconfigure(config: pytest.Config) -> None:
    server = config.stash.get(_WORKER_FORKSERVER, None)
    if server is not None:
        worker_forkserver.stop(server)


# Many containers set PYTHONDONTWRITEBYTECODE. Then every test worker would rewrite (pytest's assertion
# rewriting) and compile every test module again on each run: about 2.5 s of CPU per worker, most of
# the suite's start. The compiled test modules go in __pycache__ (git-ignored) like any import's.
sys.dont_write_bytecode = False
# The pytest plugins named in pyproject's addopts (xdist's modules, hypothesis's, pytest-randomly,
# pytest-timeout) are rewritten too, before any conftest runs, and `uv sync`'s compiled bytecode is
# not pytest's: with the variable set, each worker rewrote them on every run. The workers (and the
# commands the tests run) start without it, so the first run writes them and later runs load them.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# --- temporary files -------------------------------------------------------------------------------
# A run writes ~100 MB of temporary files, most of them SQLite databases (some three hundred tests open
# one, and each is synced to disk as it closes). On a memory filesystem a fast-tier run took ~0.5 s
# less (13.5 s against 14.0 s, 0.5 s less of system CPU), so the tests' TMPDIR is /dev/shm when it has
# room to spare; never with less than 2 GiB free (a container's is often 64 MB), nor over a TMPDIR
# the caller set. The workers, bots and commands the tests start inherit it.
MEMORY_FILESYSTEM = "/dev/shm"  # noqa: S108 - as TMPDIR only: tempfile and pytest make private names in it
MEMORY_FILESYSTEM_FREE_BYTES = 2 << 30


def _temporary_files_in_memory() -> None:
    if "TMPDIR" in os.environ or not os.access(MEMORY_FILESYSTEM, os.W_OK | os.X_OK):
        return
    try:
        stats = os.statvfs(MEMORY_FILESYSTEM)
    except OSError:
        return
    if stats.f_bavail * stats.f_frsize >= MEMORY_FILESYSTEM_FREE_BYTES:
        os.environ["TMPDIR"] = MEMORY_FILESYSTEM
        tempfile.tempdir = None  # pytest's output capture has already asked: asked again, it reads TMPDIR


_temporary_files_in_memory()

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Only a test marked e2e may start a process (tests/tiers.py): the module's and session's
    fixtures it sets up first included, which a fixture of the test's own would come after."""
    tiers.running(None if item.get_closest_marker("e2e") else item.nodeid)
    try:
        return (yield)
    finally:
        tiers.running(None)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk honours HTTP(S)_PROXY but not NO_PROXY: loopback fakes must be reached directly.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# --- how many workers -------------------------------------------------------------------------------
# pyproject asks for `-n auto`, which asks this. The full run spends most of its time waiting on bot
# processes and loopback servers: 8 workers side by side, whatever the cores. The fast tier
# (`-m "not e2e"`) is mostly CPU, and each worker costs ~0.4 s of it to collect: two a core, and one
# more to work while another waits. On 2 cores, runs taking turns: 12.4 s on average with 5 and
# 13.0 s with 4 (six each), 14.8 s and 14.9 s on a slower host (four each); 3 and 6 were slower.


def _fast_tier(config: pytest.Config) -> bool:
    """The run is the fast tier: exactly `-m "not e2e"`. Another expression ("not e2e or slow")
    may select e2e tests and xdist groups after all, and is run as the full run is."""
    return (config.option.markexpr or "").strip() == "not e2e"


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    if _fast_tier(config):
        return 2 * (os.cpu_count() or 1) + 1
    return 8


# --- modules of e2e tests only ------------------------------------------------------------------------
# A module whose every test starts a process says so on a line of its own, `pytestmark = pytest.mark.e2e`
# or `pytestmark = [pytest.mark.e2e, ...]`. The fast tier does not collect it (nor does the workers'
# server import it): its tests would all be built, in every worker, and then deselected (33 modules,
# 216 tests). Read from the file, before it is imported; a module that marks its tests otherwise is
# collected and deselected as usual, and so is every module under any other -m.
E2E_MODULE = re.compile(rb"^pytestmark = \[?pytest\.mark\.e2e\b", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    test_module = collection_path.name.startswith("test_") and collection_path.suffix == ".py"
    if not test_module or not _fast_tier(config):
        return None
    try:
        source = collection_path.read_bytes()
    except OSError:
        return None  # collected as usual, which reports why it cannot be read
    return True if E2E_MODULE.search(source) else None


# --- the order the workers are given ----------------------------------------------------------------
# The work that takes longest first; each module's quick tests spread over the run; and the xdist
# groups marked. `--dist loadgroup` sends the tests of one xdist_group (a module whose tests share
# one running bot) to one worker, which it finds by an "@group" suffix xdist's worker adds to each
# such test's node id.
# pytest 9 builds the node id from `Item._id` and no longer reads the `_nodeid` that pytest-xdist 3.8
# (the newest) sets: without this, a group's tests spread over every worker and each worker started
# the module's bot again. It does nothing once the suffix is there (a pytest-xdist that knows).


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # one process (-n 0): the order it runs in changes nothing
    # Every worker computes the same order from the same seed, as xdist requires.
    # The longest work first, so that it does not start last and leave the run waiting on it: the
    # groups (a whole module's tests on one bot), then the other tests that start processes. The
    # sort is stable: within each kind the order stays the random one.
    items.sort(key=lambda item: 0 if _grouped(item) else 1 if item.get_closest_marker("e2e") else 2)
    _spread_modules(items)
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        groups = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args})
        node_id = getattr(item, "_id", None)
        if not groups or node_id is None or "@" in item.nodeid:
            continue
        grouped = dataclasses.replace(node_id)
        object.__setattr__(grouped, "_str_cache", f"{item.nodeid}@{'_'.join(groups)}")
        item._id = grouped


def _grouped(item: pytest.Item) -> bool:
    return item.get_closest_marker("xdist_group") is not None


def _spread_modules(items: list[pytest.Item]) -> None:
    """Each module's quick tests spread over the run (tests/ordering.py). Not the tests that start
    processes or share a bot, nor a test of a module-scoped fixture: spread, that fixture would be
    set up again at each change of module."""
    order = ordering.spread(
        [item.nodeid.partition("::")[0] for item in items], [_spreadable(item) for item in items]
    )
    items[:] = [items[index] for index in order]


def _spreadable(item: pytest.Item) -> bool:
    if _grouped(item) or item.get_closest_marker("e2e"):
        return False
    fixtures = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return all(definitions[-1].scope in ("function", "session") for definitions in fixtures.values())


# --- the garbage collector ----------------------------------------------------------------------------
# Collecting imports every test module, the bot and its libraries into each worker: a heap of a million
# objects that lives as long as the worker. While it is built, almost nothing in it is garbage, yet the
# collector walked it again and again (~0.3 s of each worker's ~2 s of collection, 8 workers on 2
# cores): it is off until the heap is built. Then the heap is frozen, so that the collector leaves it
# alone (~1 s of CPU in the fast tier alone), and it runs less often over what the tests allocate. A
# test's garbage is still collected, and gc.collect() still works.
gc.disable()


def _collector_back_on() -> None:
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    gc.enable()


def pytest_collection_finish(session: pytest.Session) -> None:
    _collector_back_on()


# --- random order -----------------------------------------------------------------------------------
# pytest-randomly shuffles the modules, and the tests in each, from a seed, and seeds `random` from it
# before each test: a test that passes only after another one (or only alone) shows up. The seed is
# printed first and last (pytest-randomly's own header line is hidden by -q), so a failing order can be
# replayed: `uv run pytest --randomly-seed=N`. `-p no:randomly` runs the files' own order.


def _seed_line(config: pytest.Config) -> str | None:
    seed = getattr(config.option, "randomly_seed", None)
    if not config.pluginmanager.has_plugin("randomly") or hasattr(config, "workerinput"):
        return None  # not shuffled (-p no:randomly), or a worker: the controller says it
    return f"Using --randomly-seed={seed} (replay this order: uv run pytest --randomly-seed={seed})"


def pytest_sessionstart(session: pytest.Session) -> None:
    line = _seed_line(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if line is not None and reporter is not None:
        reporter.write_line(line)
    if _distributes(session.config):  # the workers collect; the controller only reads their reports
        _rewrite_once(session.config)
        _collector_back_on()
    elif not session.config.option.collectonly:  # this process runs the tests
        from tests import databases  # not at the top: the controller has no use for the bot's tables

        databases.sqlite_template()


def _distributes(config: pytest.Config) -> bool:
    """This process is xdist's controller: the workers run the tests."""
    return not hasattr(config, "workerinput") and bool(getattr(config.option, "numprocesses", None))


def _rewrite_once(config: pytest.Config) -> None:
    """On a fresh clone nothing has been rewritten (pytest's assert messages) and compiled yet: not
    the test modules, nor the plugins pytest rewrites too (xdist's modules and the other named
    plugins). Every worker would do all of it, side by side, 8 times over on 2 cores: ~20 s of CPU
    in a first run. Before the workers start, one `pytest --collect-only` a core rewrites and writes
    its share (the plugins each); the workers then load the files, as on every later run. Nothing
    runs when they are there already; whatever fails here, a worker's collection reports properly."""
    tag = f"{sys.implementation.cache_tag}-pytest-{pytest.__version__}"
    root = config.rootpath
    xdist_plugin = Path(str(getattr(importlib.util.find_spec("xdist.plugin"), "origin", "")))
    plugins_written = (xdist_plugin.parent / "__pycache__" / f"{xdist_plugin.stem}.{tag}.pyc").exists()
    unwritten = worker_forkserver.unwritten_test_modules(root)
    if plugins_written and not unwritten:
        return
    shares: list[list[str]] = [[] for _ in range(max(1, min(os.cpu_count() or 1, len(unwritten))))]
    for index, path in enumerate(sorted(unwritten, key=lambda path: -path.stat().st_size)):
        shares[index % len(shares)].append(str(path))
    environment = {**os.environ}
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    collectors = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", *worker_forkserver.COLLECT_ONLY, *share],
            cwd=root,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for share in shares
    ]
    for collector in collectors:
        with contextlib.suppress(subprocess.TimeoutExpired):
            collector.wait(timeout=300)
        if collector.poll() is None:
            collector.kill()
            collector.wait()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    if "postgresql" not in backends.BACKENDS:
        terminalreporter.write_line(f"Tests on each database ran on SQLite only: {backends.NO_PG}")
    line = _seed_line(config)
    if line is not None:
        terminalreporter.write_line(line)
