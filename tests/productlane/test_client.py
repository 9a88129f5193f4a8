"""ProductlaneClient against the fake Productlane (a real HTTP server on 127.0.0.1)."""

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.productlane import (
    AuthenticationError,
    CreateThread,
    NetworkError,
    NotFoundError,
    Notify,
    OutcomeUnknownError,
    PainLevel,
    ProductlaneClient,
    RateLimitedError,
    ReadRetries,
    ScopeError,
    ServerError,
    ThreadOrigin,
    UnsupportedKeyVersionError,
    ValidationError,
    WriteLimiter,
    is_retryable,
)
from tests.fakes.productlane import DEFAULT_API_KEY, FakeClock, FakeProductlane, RecordedRequest

pytestmark = pytest.mark.timeout(30)


def no_sleep(seconds: float) -> None:
    pytest.fail(f"unexpected sleep({seconds})")


@pytest.fixture
def fake():
    with FakeProductlane() as server:
        yield server


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def client(fake, clock):
    with ProductlaneClient(
        fake.api_key,
        fake.url,
        timeout=5.0,
        write_limiter=WriteLimiter(clock=clock, sleep=clock.sleep),
        retries=ReadRetries(sleep=clock.sleep, rng=lambda: 1.0),  # backoff without jitter: 0.5, 1, 2, …
    ) as c:
        yield c


def request(**overrides: Any) -> CreateThread:
    fields = {
        "text": "<p>Export to CSV times out</p>",
        "contact_email": "jane@customer.example",
        "title": "Export to CSV times out",
        "pain_level": PainLevel.HIGH,
        "origin": ThreadOrigin.slack,
    }
    return CreateThread.model_validate({**fields, **overrides})


def posts(fake: FakeProductlane) -> list[RecordedRequest]:
    return fake.requests_to("POST", "/threads")


# --------------------------------------------------------------------------- happy paths


def test_me_sends_bearer_key_and_user_agent(fake, client):
    me = client.me()
    assert me.workspace_id == fake.workspace_id
    assert me.has_scope("threads:write")
    (sent,) = fake.requests
    assert sent.method == "GET"
    assert sent.full_path == "/api/v2/me"
    assert sent.headers["authorization"] == f"Bearer {DEFAULT_API_KEY}"
    assert sent.headers["user-agent"].startswith("productlane-slack/")


@pytest.mark.parametrize("suffix", ["", "/", "//"])
def test_base_url_with_or_without_trailing_slash(fake, suffix):
    with ProductlaneClient(fake.api_key, fake.url + suffix) as client:
        client.me()
    assert fake.requests[0].full_path == "/api/v2/me"


def test_create_thread_happy_path(fake, client):
    sent = request(contact_name="Jane Doe", notify=Notify(slack=True, email=False))
    thread = client.create_thread(sent)

    (received,) = posts(fake)
    assert received.json == sent.to_json()
    assert received.headers["content-type"] == "application/json"
    assert thread.id.startswith("th_")
    assert thread.title == "Export to CSV times out"
    assert thread.text == "<p>Export to CSV times out</p>"
    assert thread.pain_level is PainLevel.HIGH
    assert thread.origin == "slack"
    assert thread.contact is not None
    assert thread.contact.email == "jane@customer.example"
    assert thread.contact.name == "Jane Doe"
    assert fake.created_count == 1
    assert fake.threads[0]["id"] == thread.id


def test_create_thread_defaults_origin_api_and_status_open(fake, client):
    thread = client.create_thread(CreateThread(text="x", contact_email="a@b.co"))
    assert thread.origin == "api"
    assert thread.status == "open"
    assert posts(fake)[0].json == {"text": "x", "pain_level": "UNKNOWN", "contact_email": "a@b.co"}


def test_concurrent_writes_share_one_client(fake):
    limiter = WriteLimiter(burst=60)
    with ProductlaneClient(fake.api_key, fake.url, write_limiter=limiter) as client:
        ids: list[str] = []

        def send(i: int) -> None:
            ids.append(client.create_thread(request(title=f"t{i}")).id)

        workers = [threading.Thread(target=send, args=(i,)) for i in range(12)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    assert len(set(ids)) == 12
    assert fake.created_count == 12


# --------------------------------------------------------------------------- 4xx


def test_400_field_errors_from_the_fakes_own_validation(fake, client):
    # bypass our model to see the server's answer to a bad body
    bad = CreateThread.model_construct(text="", contact_email="not-an-email")
    with pytest.raises(ValidationError) as info:
        client.create_thread(bad)
    exc = info.value
    assert exc.status == 400
    assert exc.code == "validation_failed"
    assert dict(exc.field_errors) == {
        "text": "String must contain at least 1 character(s)",
        "contact_email": "Invalid email",
    }
    assert exc.request_id is not None
    assert exc.request_id.startswith("req_")
    assert "contact_email: Invalid email" in exc.user_message
    assert fake.created_count == 0
    assert not is_retryable(exc)


def test_401_wrong_key(fake):
    with ProductlaneClient("pl_v2_wrong", fake.url, retries=ReadRetries(sleep=no_sleep)) as client:
        with pytest.raises(AuthenticationError) as info:
            client.me()
        assert type(info.value) is AuthenticationError
        with pytest.raises(AuthenticationError):
            client.create_thread(request())
    assert len(fake.requests) == 2  # a 401 is not retried
    assert "pl_v2_wrong" not in info.value.user_message + str(info.value)


def test_410_v1_key(fake):
    fake.v1_keys.add("pl_v1_old")
    with (
        ProductlaneClient("pl_v1_old", fake.url) as client,
        pytest.raises(UnsupportedKeyVersionError) as info,
    ):
        client.me()
    assert info.value.status == 410
    assert "v2 key" in info.value.user_message


def test_403_missing_scope():
    with (
        FakeProductlane(scopes=["threads:read"]) as fake,
        ProductlaneClient(fake.api_key, fake.url) as client,
    ):
        assert not client.me().has_scope("threads:write")
        with pytest.raises(ScopeError) as info:
            client.create_thread(request())
    assert info.value.code == "scope_required"
    assert info.value.required == ["threads:write"]
    assert info.value.granted == ["threads:read"]
    assert fake.created_count == 0


# --------------------------------------------------------------------------- GET retries


def test_get_retries_5xx_with_exponential_backoff(fake, client, clock):
    fake.fail_next(500, n=2, path="/me")
    assert client.me().workspace_id == fake.workspace_id
    assert clock.sleeps == [0.5, 1.0]
    assert [r.status for r in fake.requests] == [500, 500, 200]


def test_get_backoff_jitter_stays_in_bounds(fake, clock):
    fake.fail_next(503, n=3)
    with ProductlaneClient(fake.api_key, fake.url, retries=ReadRetries(sleep=clock.sleep)) as client:
        client.me()
    low_high = [(0.25, 0.5), (0.5, 1.0), (1.0, 2.0)]
    assert len(clock.sleeps) == 3
    for slept, (low, high) in zip(clock.sleeps, low_high, strict=True):
        assert low <= slept <= high


def test_get_honours_retry_after_literally(fake, client, clock):
    fake.fail_next(429, n=2, retry_after=7)
    client.me()
    assert clock.sleeps == [7.0, 7.0]
    fake.fail_next(429, retry_after=0.25)
    client.me()
    assert clock.sleeps[-1] == 0.25
    assert fake.rate_limited_count == 3


def test_get_gives_up_after_max_attempts(fake, client, clock):
    fake.fail_next(500, n=10)
    with pytest.raises(ServerError) as info:
        client.me()
    assert info.value.status == 500
    assert len(fake.requests) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_get_does_not_wait_for_an_excessive_retry_after(fake, client, clock):
    fake.fail_next(429, retry_after=3600)
    with pytest.raises(RateLimitedError) as info:
        client.me()
    assert info.value.retry_after == 3600
    assert clock.sleeps == []


def test_get_retries_proxy_html_drops_and_timeouts(fake, clock):
    fake.answer_html_next(502)
    fake.drop_next(path="/me")
    fake.delay(5.0, path="/me", times=1)  # cut short when the fake stops
    with ProductlaneClient(
        fake.api_key, fake.url, timeout=0.2, retries=ReadRetries(sleep=clock.sleep, max_get_attempts=4)
    ) as client:
        assert client.me().workspace_id == fake.workspace_id
    assert len(fake.requests_to("GET", "/me")) == 4
    assert len(clock.sleeps) == 3


def test_get_connection_refused_is_a_network_error_after_retries(clock):
    with FakeProductlane() as gone:
        url = gone.url
    with (
        ProductlaneClient(
            DEFAULT_API_KEY, url, retries=ReadRetries(sleep=clock.sleep, rng=lambda: 0.0)
        ) as client,
        pytest.raises(NetworkError) as info,
    ):
        client.me()
    assert clock.sleeps == [0.25, 0.5, 1.0]
    assert is_retryable(info.value)


# --------------------------------------------------------------------------- POST: at most once


def test_post_read_timeout_is_an_unknown_outcome_and_not_resent(fake):
    fake.hold(path="/threads", method="POST")
    with (
        ProductlaneClient(fake.api_key, fake.url, timeout=0.2, retries=ReadRetries(sleep=no_sleep)) as client,
        pytest.raises(OutcomeUnknownError) as info,
    ):
        client.create_thread(request())
    assert info.value.reason == "timeout"
    assert not is_retryable(info.value)
    assert len(posts(fake)) == 1
    # Productlane went on and created it after we gave up: exactly why a blind retry is wrong.
    fake.release()
    assert fake.wait_for(lambda f: f.created_count == 1)


def test_post_created_but_answer_late(fake):
    fake.timeout_after_create(5.0)  # cut short when the fake stops
    with (
        ProductlaneClient(fake.api_key, fake.url, timeout=0.3) as client,
        pytest.raises(OutcomeUnknownError),
    ):
        client.create_thread(request())
    assert fake.post_count == 1
    assert fake.created_count == 1


@pytest.mark.parametrize("after_create", [False, True])
def test_post_dropped_connection_is_an_unknown_outcome(fake, client, after_create):
    fake.drop_next(path="/threads", after_create=after_create)
    with pytest.raises(OutcomeUnknownError) as info:
        client.create_thread(request())
    assert info.value.reason == "connection_lost"
    assert fake.post_count == 1
    assert fake.created_count == (1 if after_create else 0)
    assert posts(fake)[0].status is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_post_5xx_is_an_unknown_outcome(fake, client, status):
    fake.fail_next(status, path="/threads", after_create=True)
    with pytest.raises(OutcomeUnknownError) as info:
        client.create_thread(request())
    exc = info.value
    assert exc.reason == "server_error"
    assert exc.status == status
    assert exc.request_id is not None
    assert isinstance(exc.__cause__, ServerError)
    assert fake.post_count == 1
    assert fake.created_count == 1


def test_post_proxy_html_5xx_is_an_unknown_outcome(fake, client):
    fake.answer_html_next(502, method="POST")
    with pytest.raises(OutcomeUnknownError):
        client.create_thread(request())
    assert fake.post_count == 1


def test_post_connection_refused_is_a_network_error_not_retried(clock):
    with FakeProductlane() as gone:
        url = gone.url
    limiter = WriteLimiter(clock=clock, sleep=clock.sleep)
    with (
        ProductlaneClient(
            DEFAULT_API_KEY, url, write_limiter=limiter, retries=ReadRetries(sleep=no_sleep)
        ) as client,
        pytest.raises(NetworkError) as info,
    ):
        client.create_thread(request())
    assert is_retryable(info.value)
    assert "could not get through" in info.value.user_message


def test_post_429_pauses_the_write_limiter(fake, client, clock):
    fake.fail_next(429, retry_after=3, path="/threads")
    with pytest.raises(RateLimitedError) as info:
        client.create_thread(request())
    assert info.value.retry_after == 3.0
    assert is_retryable(info.value)
    assert fake.created_count == 0
    assert client.write_limiter.paused_for == pytest.approx(3.0)
    # the caller retries; the limiter makes the write wait out Retry-After first
    client.create_thread(request())
    assert clock.sleeps == [pytest.approx(3.0)]
    assert fake.post_count == 2
    assert fake.created_count == 1


def test_writes_respect_the_real_rate_limit(clock):
    """A shared fake clock drives both the limiter and the fake's enforcement of 60/min + burst."""
    with FakeProductlane(enforce_rate_limit=True, clock=clock) as fake:
        limiter = WriteLimiter(clock=clock, sleep=clock.sleep)
        with ProductlaneClient(fake.api_key, fake.url, write_limiter=limiter) as client:
            for i in range(130):
                client.create_thread(request(title=f"#{i}"))
    assert fake.rate_limited_count == 0
    assert fake.created_count == 130
    assert sum(clock.sleeps) >= 119  # 10 at once, then one a second


def test_without_the_limiter_the_fake_answers_429(clock):
    with FakeProductlane(enforce_rate_limit=True, clock=clock) as fake:
        unlimited = WriteLimiter(rate_per_minute=10_000, burst=10_000, clock=clock)
        with ProductlaneClient(fake.api_key, fake.url, write_limiter=unlimited) as client:
            for _ in range(20):  # the documented burst: 2 × 10 s worth
                client.create_thread(request())
            with pytest.raises(RateLimitedError) as info:
                client.create_thread(request())
    assert info.value.retry_after == 10.0
    assert fake.rate_limited_count == 1
    assert fake.created_count == 20


# --------------------------------------------------------------------------- reads


def test_list_threads_filters_and_pagination(fake, client):
    now = datetime.now(UTC)
    old = fake.seed_thread(
        {"text": "old", "contact_email": "old@customer.example", "origin": "email"},
        created_at=(now - timedelta(days=2)).timestamp(),
    )
    made = [client.create_thread(request(title=f"t{i}")) for i in range(5)]

    page = client.list_threads(origin=ThreadOrigin.slack, limit=2)
    assert [t.id for t in page.data] == [made[4].id, made[3].id]  # newest first
    assert page.page.has_more is True
    assert page.page.limit == 2
    rest = client.list_threads(origin="slack", limit=2, cursor=page.page.cursor)
    assert [t.id for t in rest.data] == [made[2].id, made[1].id]

    recent = client.list_threads(created_after=now - timedelta(hours=1))
    assert {t.id for t in recent.data} == {t.id for t in made}
    query = fake.requests[-1].query
    assert query["created_after"][0].endswith("Z")

    contact_id = made[0].contact.id if made[0].contact else None
    assert contact_id is not None
    by_contact = client.list_threads(contact_id=contact_id, limit=200)
    assert len(by_contact.data) == 5
    assert client.list_threads(origin="email").data[0].id == old["id"]

    everything = list(client.iter_threads(limit=2))
    assert len(everything) == 6


def test_find_contact_by_email(fake, client):
    client.create_thread(request(contact_name="Jane Doe"))
    contact = client.find_contact_by_email("jane@customer.example")
    assert contact is not None
    assert contact.name == "Jane Doe"
    assert client.find_contact_by_email("nobody@customer.example") is None
    assert fake.requests[-1].query == {"email": ["nobody@customer.example"]}


def test_get_thread_issue_and_project(fake, client):
    created = client.create_thread(request())
    assert client.get_thread(created.id).title == "Export to CSV times out"
    with pytest.raises(NotFoundError):
        client.get_thread("th_missing")
    fake.set_scopes(["threads:read", "threads:write", "issues:read", "projects:read"])
    issue = fake.seed_issue("CSV export v2")
    project = fake.seed_project("Reporting revamp")
    assert client.get_issue(issue["id"]).display_name == "CSV export v2"
    assert client.get_project(project["id"]).display_name == "Reporting revamp"
    with pytest.raises(NotFoundError):
        client.get_issue("is/../threads")  # an id is one path segment, whatever it contains
    assert fake.requests[-1].full_path == "/api/v2/issues/is%2F..%2Fthreads"


def test_get_issue_without_the_scope_is_a_scope_error(fake, client):
    issue = fake.seed_issue("CSV export v2")
    with pytest.raises(ScopeError) as raised:
        client.get_issue(issue["id"])
    assert raised.value.required == ["issues:read"]


# --------------------------------------------------------------------------- logs, lifecycle


def test_logs_carry_ids_but_never_the_key_or_bodies(fake, client, caplog):
    caplog.set_level(logging.DEBUG, logger="bot.productlane")
    thread = client.create_thread(request())
    fake.fail_next(500, path="/me")
    client.me()
    records = [r for r in caplog.records if r.name.startswith("bot.productlane")]
    text = "\n".join(r.getMessage() for r in records)
    assert "POST /api/v2/threads -> 201" in text
    assert "GET /api/v2/me -> 500" in text
    assert "request_id=req_" in text
    assert "elapsed=" in text
    assert DEFAULT_API_KEY not in text
    assert "Export to CSV" not in text
    assert "jane@customer.example" not in text
    assert thread.id not in text
    post_record = next(r for r in records if "POST" in r.getMessage())
    assert getattr(post_record, "productlane_status", None) == 201


def test_repr_hides_the_key(fake):
    with ProductlaneClient(fake.api_key, fake.url) as client:
        assert fake.api_key not in repr(client)
        assert fake.api_key not in repr(client._http.headers)


def test_close_and_empty_key(fake):
    client = ProductlaneClient(fake.api_key, fake.url)
    with client:
        pass
    assert client.closed
    with pytest.raises(RuntimeError, match="closed"):
        client.me()
    with pytest.raises(ValueError, match="api_key"):
        ProductlaneClient("  ", fake.url)
