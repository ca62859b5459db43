"""The OpenAPI schema (GET /api/schema/) against the API's real answers, on real MongoDB and Redis.

Each case calls one documented operation so that it answers one documented status, and checks
the body against the schema's response schema for that status (JSON Schema 2020-12, as OpenAPI
3.1 writes it), closed: a key the schema does not name fails. Together the cases must cover
every documented (operation, status), and as each case asserts the status it gets, no status
the tests observe is undocumented.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from bson import ObjectId
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from dashboard.access.users import upsert_dashboard_user
from dashboard.protocol.scopes import HOSPITAL_SCOPE, Scope
from dashboard.sources import mongo, redis_store
from dashboard.web.middleware import POLICY
from tests.support.schema import closed
from tests.support.ws import cache_tiers

pytestmark = pytest.mark.django_db

ER_ALERT = ObjectId("65f000000000000000000001")
ICU_ALERT = ObjectId("65f000000000000000000002")
PASSWORD = "pw-ada-123456"


@dataclass
class World:
    """A user of each role, two alerts in MongoDB (ER's, ICU's), and a switch for outages."""

    users: dict[str, Any]
    monkeypatch: pytest.MonkeyPatch

    def client(self, user: str | None = None, *, csrf: bool = False) -> APIClient:
        client = APIClient(enforce_csrf_checks=csrf)
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(self.users[user])}")
        return client

    def session(self, user: str) -> APIClient:
        """A session login, whose POSTs need the CSRF token, as the page's are."""
        client = APIClient(enforce_csrf_checks=True)
        client.force_login(self.users[user])
        return client

    def no_role(self) -> APIClient:
        """An active user without a dashboard role: authenticated, but no dashboard access."""
        user = type(self.users["admin"]).objects.create_user("norole", password=None)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
        return client

    def refresh_token(self, user: str = "admin") -> str:
        return str(RefreshToken.for_user(self.users[user]))

    def sources_down(self) -> None:
        """Redis and MongoDB as the code under test sees them: nothing answers on port 1."""
        down_redis = redis.Redis.from_url(
            "redis://127.0.0.1:1/0", decode_responses=True, socket_timeout=0.3, socket_connect_timeout=0.3
        )
        down_mongo = mongo.make_client("mongodb://127.0.0.1:1/?directConnection=true", timeout_ms=300)
        self.monkeypatch.setattr(redis_store, "client", lambda: down_redis)
        self.monkeypatch.setattr(mongo, "client", lambda: down_mongo)


@pytest.fixture
def world(redis_client, mongo_db, settings) -> Iterator[World]:
    # One password, hashed fast: the cases log in, they do not test hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache_tiers(HOSPITAL_SCOPE, Scope("ER"), Scope("ICU"))
    users = {
        key: upsert_dashboard_user(username=name, role=role, departments=codes, password=password)[0]
        for key, name, role, codes, password in (
            ("admin", "ada", "admin", [], PASSWORD),
            ("viewer", "vic", "viewer", [], None),
            ("er", "erin", "department", ["ER"], None),
            ("icu", "ian", "department", ["ICU"], None),
        )
    }
    now = datetime.now(UTC)
    mongo_db.alerts.insert_many(
        [
            {"_id": alert_id, "department": code, "severity": "critical", "kind": "code_blue",
             "message": f"{code} alert", "created_at": now, "acknowledged_at": None, "acknowledged_by": None}
            for alert_id, code in ((ER_ALERT, "ER"), (ICU_ALERT, "ICU"))
        ]
    )  # fmt: skip
    # Its own patches, undone before mongo_db drops the database through the real client.
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield World(users, monkeypatch)


def post_json(client: APIClient, path: str, body: Any) -> Any:
    return client.post(
        path, data=body if isinstance(body, str) else json.dumps(body), content_type="application/json"
    )


def locked_out(world: World) -> Any:
    client = world.client()
    for _ in range(django_settings.LOGIN_FAILURE_LIMIT):
        post_json(client, "/api/auth/token/", {"username": "ada", "password": "wrong"})
    return post_json(client, "/api/auth/token/", {"username": "ada", "password": PASSWORD})


def refresh_of_deleted_user(world: World) -> Any:
    token = world.refresh_token("viewer")
    world.users["viewer"].delete()
    return post_json(world.client(), "/api/auth/token/refresh/", {"refresh": token})


def snapshot_without_sources(world: World) -> Any:
    world.sources_down()
    return world.client("admin").get("/api/snapshot/?scope=hospital")


def ticket_without_redis(world: World) -> Any:
    world.sources_down()
    return world.client("admin").post("/api/ws-ticket/")


def alerts_without_mongo(world: World) -> Any:
    world.sources_down()
    return world.client("admin").get("/api/alerts/?scope=hospital")


def ack_without_mongo(world: World) -> Any:
    world.sources_down()
    return world.client("er").post(f"/api/alerts/{ER_ALERT}/ack/")


@dataclass(frozen=True)
class Case:
    path: str
    method: str
    status: int
    call: Callable[[World], Any]
    name: str


def posted(path: str, body: Any) -> Callable[[World], Any]:
    """An anonymous JSON POST; `body` may be a function of the world."""
    return lambda w: post_json(w.client(), path, body(w) if callable(body) else body)


def as_user(user: str, method: str, url: str) -> Callable[[World], Any]:
    return lambda w: getattr(w.client(user), method)(url)


def fresh_refresh(w: World) -> dict[str, str]:
    return {"refresh": w.refresh_token()}


TOKEN, REFRESH, BLACKLIST = "/api/auth/token/", "/api/auth/token/refresh/", "/api/auth/token/blacklist/"
TICKET, SNAPSHOT, ALERTS, ACK = (
    "/api/ws-ticket/",
    "/api/snapshot/",
    "/api/alerts/",
    "/api/alerts/{alert_id}/ack/",
)
ACK_ER, ACK_ICU = f"/api/alerts/{ER_ALERT}/ack/", f"/api/alerts/{ICU_ALERT}/ack/"
ACK_NONE = "/api/alerts/65f0000000000000000000ff/ack/"

CASES = [
    Case(TOKEN, "post", 200, posted(TOKEN, {"username": "ada", "password": PASSWORD}), "pair"),
    Case(TOKEN, "post", 400, posted(TOKEN, {"username": "ada"}), "no password"),
    Case(TOKEN, "post", 400, posted(TOKEN, '{"username": "\\ud800", "password": "x"}'), "not unicode"),
    Case(TOKEN, "post", 401, posted(TOKEN, {"username": "ada", "password": "wrong"}), "wrong password"),
    Case(TOKEN, "post", 429, locked_out, "locked out"),
    Case(REFRESH, "post", 200, posted(REFRESH, fresh_refresh), "rotated"),
    Case(REFRESH, "post", 400, posted(REFRESH, {}), "no token"),
    Case(REFRESH, "post", 401, posted(REFRESH, {"refresh": "forged"}), "forged"),
    Case(REFRESH, "post", 401, refresh_of_deleted_user, "deleted user"),
    Case(BLACKLIST, "post", 200, posted(BLACKLIST, fresh_refresh), "revoked"),
    Case(BLACKLIST, "post", 400, posted(BLACKLIST, {"refresh": ""}), "empty token"),
    Case(BLACKLIST, "post", 401, posted(BLACKLIST, {"refresh": "forged"}), "forged"),
    Case(TICKET, "post", 200, as_user("admin", "post", TICKET), "ticket"),
    Case(TICKET, "post", 401, lambda w: w.client().post(TICKET), "anonymous"),
    Case(TICKET, "post", 403, lambda w: w.no_role().post(TICKET), "no role"),
    Case(TICKET, "post", 403, lambda w: w.session("admin").post(TICKET), "no csrf token"),
    Case(TICKET, "post", 503, ticket_without_redis, "redis down"),
    Case(SNAPSHOT, "get", 200, as_user("admin", "get", f"{SNAPSHOT}?scope=hospital"), "admin"),
    Case(SNAPSHOT, "get", 200, as_user("er", "get", f"{SNAPSHOT}?scope=dept:ER"), "department"),
    Case(SNAPSHOT, "get", 400, as_user("admin", "get", f"{SNAPSHOT}?scope=dept:er"), "bad scope"),
    Case(SNAPSHOT, "get", 401, lambda w: w.client().get(f"{SNAPSHOT}?scope=hospital"), "anonymous"),
    Case(SNAPSHOT, "get", 403, lambda w: w.no_role().get(f"{SNAPSHOT}?scope=hospital"), "no role"),
    Case(SNAPSHOT, "get", 403, as_user("er", "get", f"{SNAPSHOT}?scope=dept:ICU"), "not its scope"),
    Case(SNAPSHOT, "get", 404, as_user("admin", "get", f"{SNAPSHOT}?scope=dept:NOPE"), "no such dept"),
    Case(SNAPSHOT, "get", 503, snapshot_without_sources, "sources down"),
    Case(ALERTS, "get", 200, as_user("er", "get", f"{ALERTS}?scope=dept:ER&state=all"), "department"),
    Case(ALERTS, "get", 400, as_user("admin", "get", f"{ALERTS}?scope=hospital&state=closed"), "state"),
    Case(ALERTS, "get", 401, lambda w: w.client().get(f"{ALERTS}?scope=hospital"), "anonymous"),
    Case(ALERTS, "get", 403, lambda w: w.no_role().get(f"{ALERTS}?scope=hospital"), "no role"),
    Case(ALERTS, "get", 403, as_user("er", "get", f"{ALERTS}?scope=hospital"), "not its scope"),
    Case(ALERTS, "get", 404, as_user("viewer", "get", f"{ALERTS}?scope=dept:NOPE"), "no such dept"),
    Case(ALERTS, "get", 503, alerts_without_mongo, "mongodb down"),
    Case(ACK, "post", 200, as_user("er", "post", ACK_ER), "acknowledged"),
    Case(ACK, "post", 401, lambda w: w.client().post(ACK_ER), "anonymous"),
    Case(ACK, "post", 403, lambda w: w.no_role().post(ACK_ER), "no role"),
    Case(ACK, "post", 403, as_user("er", "post", ACK_ICU), "not its alert"),
    Case(ACK, "post", 403, lambda w: w.session("er").post(ACK_ER), "no csrf token"),
    Case(ACK, "post", 404, as_user("admin", "post", ACK_NONE), "no such alert"),
    Case(ACK, "post", 503, ack_without_mongo, "mongodb down"),
]


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    """The schema as served, in JSON."""
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def documented(openapi: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {
        (path, method, int(status))
        for path, operations in openapi["paths"].items()
        for method, operation in operations.items()
        for status in operation["responses"]
    }


def validator(openapi: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """The response schema, closed, with the components its `$ref`s point into beside it."""
    root = closed({**schema, "components": openapi["components"]})
    Draft202012Validator.check_schema(root)
    return Draft202012Validator(root)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path} {c.status} {c.name}")
def test_each_answer_is_the_documented_one(world: World, openapi: dict[str, Any], case: Case) -> None:
    response = case.call(world)
    responses = openapi["paths"][case.path][case.method]["responses"]
    assert str(response.status_code) in responses, (
        f"undocumented {response.status_code}: {response.content!r}"
    )
    assert response.status_code == case.status, response.content
    documented_response = responses[str(case.status)]
    for header in documented_response.get("headers", {}):
        assert response.has_header(header), f"{header} is documented but missing"
    content = documented_response.get("content")
    if content is None:
        assert not response.content
        return
    assert response["Content-Type"].split(";")[0] in content
    body = json.loads(response.content)
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
        for e in validator(openapi, content["application/json"]["schema"]).iter_errors(body)
    ]
    assert not errors, f"{errors}: {body}"


def test_the_cases_cover_every_documented_answer_and_nothing_else(openapi: dict[str, Any]) -> None:
    assert {(case.path, case.method, case.status) for case in CASES} == documented(openapi)


def test_the_check_is_closed_and_typed(openapi: dict[str, Any]) -> None:
    error = validator(openapi, {"$ref": "#/components/schemas/CodedError"})
    assert error.is_valid({"code": "forbidden", "message": "no"})
    assert not error.is_valid({"code": "forbidden", "message": "no", "hint": "undocumented"})
    assert not error.is_valid({"code": "teapot", "message": "no"})


def test_the_schema_validates_without_a_warning(tmp_path: Path) -> None:
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.1.0")


def test_the_schema_and_its_page_are_public_and_need_no_cdn() -> None:
    client = Client()
    assert client.get("/api/schema/").status_code == 200
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    scripts = [part.split('"')[1] for part in html.split("<script src=")[1:]]
    assert html.count("<script") == len(scripts) == 3, (
        "every script is a file: script-src 'self' allows no other"
    )
    for url in scripts:
        assert url.startswith("/"), f"{url} is not served by this origin"
        assert client.get(url).status_code == 200
    assert "<style" not in html, "style-src 'self' allows no inline style element"
    assert page["Content-Security-Policy"] == POLICY, "the site's policy, not a looser one"
