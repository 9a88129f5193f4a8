"""A database error never carries what the customer wrote into the log: not in its message, not in a
traceback, in text or JSON. The entry says what failed and the error's kind."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.delivery.drafts import SqlDraftStore
from bot.feedback.form import FeedbackForm
from bot.feedback.submission import Draft
from bot.logs.setup import configure_logging
from bot.tables import open_database

WORDS = "Confidential: the CSV export drops every second row"
EMAIL = "jane.customer@acme.example"


@pytest.fixture
def refusing_drafts(tmp_path: Path) -> Iterator[SqlDraftStore]:
    """A store whose database refuses every new draft (a trigger), as a full or broken disk would."""
    db = open_database(f"sqlite:///{tmp_path / 'outbox.db'}")
    with db.writing() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON modal_drafts BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    try:
        yield SqlDraftStore(db)
    finally:
        db.close()


def a_draft() -> Draft:
    form = FeedbackForm(title=WORDS, contact_email=EMAIL, contact_name="Jane Customer")
    return Draft(draft_id="d-1", submitter_id="U0SUBMITTER", form=form)


def logged_failure(drafts: SqlDraftStore, log_format: str) -> str:
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("INFO", log_format, stream)
    try:
        drafts.put(a_draft())
    except sa.exc.SQLAlchemyError:
        logging.getLogger("bot.listeners.shortcuts").exception("could not keep draft %s", "d-1")
    else:
        pytest.fail("the database took the draft")
    finally:
        # The bot's handler (and its filter) must not outlive the test: other tests log too.
        root.handlers[:] = handlers
        root.setLevel(level)
    return stream.getvalue()


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_database_error_is_logged_by_its_kind_without_the_customers_words(
    refusing_drafts: SqlDraftStore, log_format: str
) -> None:
    text = logged_failure(refusing_drafts, log_format)
    assert "could not keep draft d-1 (database error: IntegrityError)" in text
    assert "Confidential" not in text
    assert EMAIL not in text
    assert "Traceback" not in text
    if log_format == "json":
        (entry,) = [json.loads(line) for line in text.splitlines() if line.strip()]
        assert "exception" not in entry


def test_the_error_itself_hides_the_statements_parameters(refusing_drafts: SqlDraftStore) -> None:
    with pytest.raises(sa.exc.SQLAlchemyError) as raised:
        refusing_drafts.put(a_draft())
    assert "Confidential" not in str(raised.value)
    assert EMAIL not in str(raised.value)


def test_the_sqlite_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "outbox.db"
    open_database(f"sqlite:///{path}").close()
    assert path.stat().st_mode & 0o777 == 0o600
