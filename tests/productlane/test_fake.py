"""The fake Productlane itself: its reading of the contract and its test controls."""

import json
from pathlib import Path

import httpx
import pytest

from bot.productlane import Thread
from tests.fakes.productlane import FakeClock, FakeProductlane, validate_create_thread

pytestmark = pytest.mark.timeout(30)

FIXTURE = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "productlane" / "thread_created.json").read_text()
)
VALID = {"text": "<p>x</p>", "pain_level": "LOW", "contact_email": "jane@customer.example"}


@pytest.fixture
def fake():
    with FakeProductlane() as server:
        yield server


@pytest.fixture
def http(fake):
    # As the bot's client does: plain http (the fake on loopback) loads no CA bundle, ~30 ms of CPU a
    # client, and dozens of tests make one.
    headers = {"Authorization": f"Bearer {fake.api_key}"}
    with httpx.Client(
        base_url=fake.url + "/", headers=headers, verify=fake.url.startswith("https://")
    ) as client:
        yield client


def paths(details: list[dict[str, str]]) -> list[str]:
    return [d["path"] for d in details]


# --------------------------------------------------------------------------- the contract


def test_valid_body_passes():
    assert validate_create_thread(VALID) == []


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"pain_level": "LOW", "contact_email": "a@b.co"}, "text", "Required"),
        ({**VALID, "text": ""}, "text", "String must contain at least 1 character(s)"),
        ({**VALID, "text": 5}, "text", "Expected string, received number"),
        ({"text": "x", "contact_email": "a@b.co"}, "pain_level", "Required"),
        ({**VALID, "pain_level": "high"}, "pain_level", "Invalid enum value"),
        ({**VALID, "contact_email": "jane"}, "contact_email", "Invalid email"),
        ({**VALID, "contact_email": "jane@localhost"}, "contact_email", "Invalid email"),
        ({**VALID, "title": "x" * 513}, "title", "at most 512"),
        ({**VALID, "title": None}, "title", "received null"),
        ({**VALID, "status": "closed"}, "status", "Invalid enum value"),
        ({**VALID, "origin": "teams"}, "origin", "Invalid enum value"),
        ({**VALID, "assignee_id": 7}, "assignee_id", "Expected string"),
        ({**VALID, "created_at": "2023-11-07T05:31:56"}, "created_at", "Invalid datetime"),
        ({**VALID, "updated_at": "2023-13-07T05:31:56Z"}, "updated_at", "Invalid datetime"),
        ({**VALID, "notify": True}, "notify", "Expected object"),
        ({**VALID, "notify": {"slack": "yes"}}, "notify.slack", "Expected boolean"),
        ({**VALID, "notify": {"sms": True}}, "notify", "Unrecognized key"),
        ({**VALID, "priority": 2}, "", "Unrecognized key(s) in object: 'priority'"),
    ],
)
def test_invalid_bodies(body, path, message):
    details = validate_create_thread(body)
    assert path in paths(details)
    assert any(message in d["message"] for d in details if d["path"] == path)


def test_non_object_body():
    assert validate_create_thread([1]) == [{"path": "", "message": "Expected object, received array"}]


def test_answers_400_with_the_documented_envelope(fake, http):
    response = http.post("threads", json={**VALID, "contact_email": "nope", "extra": 1})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["request_id"] == response.headers["x-request-id"]
    assert paths(error["details"]) == ["contact_email", ""]
    assert fake.post_count == 1
    assert fake.created_count == 0


def test_invalid_json_body(http):
    response = http.post("threads", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_created_thread_has_the_shape_of_the_fixture(fake, http):
    fake.catalog.add_company("Customer Co", ("customer.example",), company_id="co_1")
    response = http.post("threads", json={**VALID, "title": "T", "company_id": "co_1"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == set(FIXTURE)
    assert set(body["contact"]) == set(FIXTURE["contact"])
    assert set(body["company"]) == set(FIXTURE["company"])
    assert body["title"] == "T"
    assert body["pain_level"] == "LOW"
    assert body["origin"] == "api"
    Thread.model_validate(body)


def test_contact_is_upserted_and_name_applies_only_when_new(fake, http):
    first = http.post("threads", json={**VALID, "contact_name": "Jane"}).json()
    second = http.post("threads", json={**VALID, "contact_name": "Other"}).json()
    assert first["contact"]["id"] == second["contact"]["id"]
    assert second["contact"]["name"] == "Jane"
    assert len(fake.contacts) == 1


# --------------------------------------------------------------------------- the envelope


def test_every_answer_has_request_id_and_rate_limit_headers(fake, http):
    answers = [
        http.get("me"),
        http.post("threads", json=VALID),
        http.get("nope"),
        httpx.get(fake.url + "/me", verify=fake.url.startswith("https://")),  # no key
    ]
    assert [a.status_code for a in answers] == [200, 201, 404, 401]
    for answer in answers:
        assert answer.headers["x-request-id"].startswith("req_")
        for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
            assert answer.headers[name].isdigit()
    assert answers[0].headers["x-ratelimit-limit"] == "1000"
    assert answers[1].headers["x-ratelimit-limit"] == "60"
    assert answers[1].headers["x-ratelimit-remaining"] == "59"


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "validation_failed"),
        (401, "unauthenticated"),
        (403, "scope_required"),
        (404, "not_found"),
        (409, "conflict"),
        (410, "unsupported_key_version"),
        (422, "unprocessable"),
        (429, "rate_limited"),
        (500, "internal_error"),
        (502, "bad_gateway"),
        (503, "service_unavailable"),
    ],
)
def test_fail_next_answers_the_documented_envelope(fake, http, status, code):
    fake.fail_next(status, retry_after=2 if status == 429 else None)
    response = http.get("me")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    if status == 429:
        assert response.headers["retry-after"] == "2"
        assert fake.rate_limited_count == 1
    if status == 403:
        assert response.json()["error"]["details"]["required"] == ["threads:write"]
    assert http.get("me").status_code == 200  # only the next one


def test_fault_filters_by_path_and_method(fake, http):
    fake.fail_next(500, n=2, path="/threads", method="POST")
    assert http.get("me").status_code == 200
    assert http.get("threads").status_code == 200
    assert http.post("threads", json=VALID).status_code == 500
    assert http.post("threads", json=VALID).status_code == 500
    assert http.post("threads", json=VALID).status_code == 201


def test_html_and_drop_and_reset(fake, http):
    fake.answer_html_next(503)
    response = http.get("me")
    assert response.status_code == 503
    assert response.headers["content-type"] == "text/html"
    assert "<html>" in response.text
    fake.drop_next()
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("me")
    fake.fail_next(500, n=5)
    fake.delay(10)
    fake.reset_faults()
    assert http.get("me").status_code == 200


def test_v1_key_and_wrong_key(fake):
    fake.v1_keys.add("pl_v1_x")
    with httpx.Client(base_url=fake.url, verify=fake.url.startswith("https://")) as http:
        assert http.get("/me", headers={"Authorization": "Bearer pl_v1_x"}).status_code == 410
        assert http.get("/me", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert http.get("/me", headers={"Authorization": "Basic x"}).status_code == 401


def test_scopes_are_enforced_per_route(fake, http):
    fake.set_scopes([])
    assert http.get("me").status_code == 200  # /me needs no scope
    assert http.get("threads").status_code == 403
    assert http.post("threads", json=VALID).status_code == 403
    response = http.get("contacts/by-email", params={"email": "a@b.co"})
    assert response.json()["error"]["details"] == {"required": ["contacts:read"], "granted": []}


def test_list_threads_rejects_bad_parameters(http):
    assert http.get("threads", params={"limit": 201}).status_code == 400
    assert http.get("threads", params={"limit": "x"}).status_code == 400
    assert http.get("threads", params={"cursor": "bogus"}).status_code == 400
    assert http.get("threads", params={"created_after": "yesterday"}).status_code == 400


def test_list_threads_by_contact_email_and_get_one(http):
    made = http.post("threads", json=VALID).json()
    http.post("threads", json={**VALID, "contact_email": "other@customer.example"})
    page = http.get("threads", params={"contact_email": "JANE@customer.example"}).json()
    assert [t["id"] for t in page["data"]] == [made["id"]]
    assert page["page"] == {"cursor": None, "has_more": False, "limit": 50}
    assert http.get(f"threads/{made['id']}").json()["id"] == made["id"]
    assert http.get("threads/th_missing").status_code == 404


def test_records_every_request(fake, http):
    http.post("threads?x=1", json=VALID, headers={"X-Custom": "1"})
    (record,) = fake.requests
    assert record.method == "POST"
    assert record.path == "/threads"
    assert record.query == {"x": ["1"]}
    assert record.headers["x-custom"] == "1"
    assert record.json == VALID
    assert record.status == 201
    assert record.time > 0


def test_rate_limit_enforcement_with_a_fake_clock():
    clock = FakeClock()
    with (
        FakeProductlane(enforce_rate_limit=True, clock=clock) as fake,
        httpx.Client(
            base_url=fake.url + "/",
            headers={"Authorization": f"Bearer {fake.api_key}"},
            verify=fake.url.startswith("https://"),
        ) as http,
    ):
        statuses = [http.post("threads", json=VALID).status_code for _ in range(21)]
        assert statuses == [201] * 20 + [429]
        assert http.get("me").status_code == 200  # reads have their own budget
        clock.advance(10)
        statuses = [http.post("threads", json=VALID).status_code for _ in range(41)]
        assert statuses == [201] * 20 + [429] * 21  # 40 in the minute: the burst cap holds
        clock.advance(10)
        statuses = [http.post("threads", json=VALID).status_code for _ in range(21)]
        assert statuses == [201] * 20 + [429]  # 60 in the minute now
        clock.advance(10)
        response = http.post("threads", json=VALID)
        assert response.status_code == 429  # minute cap: the first 20 expire at +60 s
        assert response.headers["retry-after"] == "30"
        assert fake.rate_limited_count == 24


def test_wait_for(fake, http):
    assert fake.wait_for(lambda f: f.created_count == 0, timeout=0.1)
    assert not fake.wait_for(lambda f: f.created_count == 1, timeout=0.1)
    http.post("threads", json=VALID)
    assert fake.wait_for(lambda f: f.created_count == 1, timeout=1)
