"""Files into Productlane (POST /files) and changing a thread (PATCH /threads/{id}): the rules the
bot checks before downloading anything, and the client against the fake Productlane."""

from __future__ import annotations

import pytest

from bot.productlane import (
    NotFoundError,
    PainLevel,
    ProductlaneClient,
    RateLimitedError,
    ScopeError,
    UpdateThread,
    ValidationError,
)
from bot.productlane.uploads import (
    MAX_UPLOAD_BYTES,
    content_type_of,
    upload_refusal,
    uploaded_url,
)
from tests.fakes.productlane import FakeProductlane

pytestmark = pytest.mark.timeout(30)

SCOPES = ("threads:read", "threads:write", "files:write")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def fake():
    with FakeProductlane(scopes=SCOPES) as server:
        yield server


@pytest.fixture
def client(fake):
    with ProductlaneClient(fake.api_key, fake.url, timeout=5.0) as c:
        yield c


# --- what may be uploaded, decided before any download ------------------------------------------


@pytest.mark.parametrize(
    ("mimetype", "filetype", "expected"),
    [
        ("image/png", "png", "image/png"),
        ("IMAGE/JPG", "jpg", "image/jpeg"),
        ("text/plain; charset=utf-8", "text", "text/plain"),
        ("text/plain", "csv", "text/csv"),
        ("application/octet-stream", "docx", content_type_of("", "docx")),
        ("", "pdf", "application/pdf"),
        ("image/svg+xml", "svg", "image/svg+xml"),
        ("application/octet-stream", "zip", "application/octet-stream"),
    ],
)
def test_the_content_type_comes_from_slacks_mimetype_and_its_filetype_where_that_is_generic(
    mimetype, filetype, expected
):
    assert content_type_of(mimetype, filetype) == expected


def test_documented_types_within_10_mb_may_be_uploaded_and_the_rest_say_why_not():
    assert upload_refusal("image/png", 248_311) is None
    assert upload_refusal("application/pdf", None) is None
    assert upload_refusal("text/csv", MAX_UPLOAD_BYTES) is None
    assert upload_refusal("image/svg+xml", 4120, "SVG") == "Productlane does not accept SVG files"
    assert upload_refusal("text/html", 10) == "Productlane does not accept text/html files"
    assert upload_refusal("video/mp4", 12_582_912, "MP4") == (
        "Productlane does not accept MP4 files, and 12.0 MB is over its 10.0 MB limit"
    )
    assert upload_refusal("video/mp4", 1000, "MP4") == "Productlane does not accept MP4 files"
    assert upload_refusal("image/png", 12_582_912) == "12.0 MB, over Productlane's 10.0 MB limit"


@pytest.mark.parametrize(
    ("body", "url"),
    [
        ({"url": "https://cdn.example/a.png"}, "https://cdn.example/a.png"),
        ({"id": "f1", "cdn_url": "https://cdn.example/b.png"}, "https://cdn.example/b.png"),
        ({"data": {"file_url": "https://cdn.example/c.png"}}, "https://cdn.example/c.png"),
        ({"file": {"src": "http://cdn.example/d.png"}}, "http://cdn.example/d.png"),
        ({"url": "/relative/e.png"}, None),
        ({"url": "javascript:alert(1)"}, None),
        ({"url": "https://cdn.example/has space.png"}, None),
        ({"id": "f1"}, None),
        ([], None),
        ("https://cdn.example/a.png", None),
        (None, None),
    ],
)
def test_the_copys_url_is_read_where_it_plausibly_is_and_only_as_whole_http(body, url):
    assert uploaded_url(body) == url


# --- the client against the fake ----------------------------------------------------------------


def test_an_upload_goes_as_multipart_field_file_and_answers_with_the_copys_url(fake, client):
    uploaded = client.upload_file("export-error.png", "image/png", PNG)
    assert uploaded.url is not None
    assert uploaded.url.startswith("https://cdn.productlane.test/files/")
    assert uploaded.id == fake.uploads[0]["id"]
    assert fake.uploaded_bytes(fake.uploads[0]["id"]) == PNG
    assert fake.uploads[0]["content_type"] == "image/png"
    assert fake.uploads[0]["name"] == "export-error.png"
    sent = fake.requests_to("POST", "/files")[0]
    assert sent.headers["content-type"].startswith("multipart/form-data")
    assert b'name="file"; filename="export-error.png"' in sent.body


def test_an_answer_without_a_url_is_an_upload_without_a_link(fake, client):
    fake.upload_answer = lambda stored: {"id": stored["id"], "status": "ok"}
    uploaded = client.upload_file("a.png", "image/png", PNG)
    assert uploaded.url is None
    assert uploaded.id is not None


def test_refused_types_and_sizes_are_validation_errors(client):
    with pytest.raises(ValidationError):
        client.upload_file("diagram.svg", "image/svg+xml", b"<svg/>")
    with pytest.raises(ValidationError):
        client.upload_file("page.html", "text/html", b"<p>x</p>")
    with pytest.raises(ValidationError):
        client.upload_file("big.png", "image/png", b"\x00" * (MAX_UPLOAD_BYTES + 1))


def test_a_key_without_files_write_is_a_scope_error():
    with FakeProductlane(scopes=("threads:write",)) as fake, ProductlaneClient(fake.api_key, fake.url) as c:
        with pytest.raises(ScopeError) as refused:
            c.upload_file("a.png", "image/png", PNG)
        assert refused.value.required == ["files:write"]


def test_the_31st_upload_in_a_minute_is_rate_limited_with_retry_after(fake, client):
    fake.upload_limit_per_minute = 3
    for index in range(3):
        client.upload_file(f"{index}.png", "image/png", PNG)
    with pytest.raises(RateLimitedError) as limited:
        client.upload_file("4.png", "image/png", PNG)
    assert limited.value.retry_after is not None
    assert limited.value.retry_after > 0
    assert len(fake.uploads) == 3


def test_the_daily_upload_budget_is_enforced(fake, client):
    fake.upload_limit_per_day = 1
    client.upload_file("1.png", "image/png", PNG)
    with pytest.raises(RateLimitedError):
        client.upload_file("2.png", "image/png", PNG)


def test_update_thread_patches_title_and_pain_level_only(fake, client):
    thread = fake.seed_thread(
        {"text": "<p>x</p>", "title": "Old", "pain_level": "LOW", "contact_email": "jane@customer.example"}
    )
    updated = client.update_thread(thread["id"], UpdateThread(title="New title", pain_level=PainLevel.HIGH))
    assert updated.title == "New title"
    assert updated.pain_level == "HIGH"
    patch = fake.requests_to("PATCH", f"/threads/{thread['id']}")[0]
    assert patch.json == {"title": "New title", "pain_level": "HIGH"}
    assert fake.threads[0]["text"] == "<p>x</p>"


def test_updating_a_thread_that_is_gone_is_not_found(client):
    with pytest.raises(NotFoundError):
        client.update_thread("th_missing", UpdateThread(title="x"))
