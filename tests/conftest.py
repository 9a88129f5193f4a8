"""Shared test set-up."""

from __future__ import annotations

import sys

import pytest

# Many containers set PYTHONDONTWRITEBYTECODE. Then every test worker would rewrite (pytest's assertion
# rewriting) and compile every test module again on each run: about 2.5 s of CPU per worker, most of
# the suite's start. The compiled test modules go in __pycache__ (git-ignored) like any import's.
sys.dont_write_bytecode = False

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk honours HTTP(S)_PROXY but not NO_PROXY: loopback fakes must be reached directly.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
