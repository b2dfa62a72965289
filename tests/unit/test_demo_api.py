"""The bundled demo API over real HTTP on 127.0.0.1: paging, filters, auth flows and test knobs."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from peak_tui import demo
from peak_tui.demo_api import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USER,
    DemoAPI,
    customers_total,
    invoices_total,
    orders_total,
)

CREDENTIALS = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}


@pytest.fixture(scope="module")
def api() -> Iterator[DemoAPI]:
    with DemoAPI() as server:
        yield server


@pytest.fixture(scope="module")
def token(api: DemoAPI) -> str:
    response = requests.post(f"{api.url}/auth/token", json=CREDENTIALS, timeout=5)
    assert response.status_code == 200
    return str(response.json()["access_token"])


def get(api: DemoAPI, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(f"{api.url}{path}", timeout=5, **kwargs)


def walk(api: DemoAPI, path: str, **params: Any) -> list[dict[str, Any]]:
    """Follow next_page from page 1 and return every row."""
    rows: list[dict[str, Any]] = []
    page: int | None = 1
    headers = params.pop("headers", None)
    while page is not None:
        body = get(api, path, params={**params, "page": page}, headers=headers).json()
        rows.extend(body["data"])
        page = body["next_page"]
    return rows


def test_health_and_totals(api: DemoAPI) -> None:
    assert api.url.startswith("http://127.0.0.1:")
    assert get(api, "/health").json() == {"ok": True}
    assert (orders_total(), customers_total(), invoices_total()) == (250, 25, 120)


def test_orders_are_deterministic_with_increasing_timestamps(api: DemoAPI) -> None:
    rows = walk(api, "/api/orders", per_page=100)
    assert [r["id"] for r in rows] == list(range(1, 251))
    assert rows[0]["updated_at"] == "2026-01-01T00:00:00Z"
    assert rows[1]["updated_at"] == "2026-01-01T00:37:00Z"
    assert rows[-1]["updated_at"] == "2026-01-07T09:33:00Z"  # 249 * 37 minutes later
    first = rows[0]
    assert set(first) == {"id", "customer", "items", "total", "status", "updated_at"}
    assert set(first["customer"]) == {"name", "email"}
    for row in rows:
        assert row["total"] == round(sum(i["quantity"] * i["unit_price"] for i in row["items"]), 2)


def test_orders_default_page_shape(api: DemoAPI) -> None:
    body = get(api, "/api/orders").json()
    assert (body["page"], body["per_page"], body["total"], body["next_page"]) == (1, 50, 250, 2)
    assert len(body["data"]) == 50
    last = get(api, "/api/orders", params={"page": 5}).json()
    assert (len(last["data"]), last["next_page"]) == (50, None)
    beyond = get(api, "/api/orders", params={"page": 9}).json()
    assert (beyond["data"], beyond["next_page"], beyond["total"]) == ([], None, 250)


def test_updated_since_is_strictly_greater(api: DemoAPI) -> None:
    body = get(api, "/api/orders", params={"updated_since": "2026-01-01T00:37:00Z"}).json()
    assert body["total"] == 248  # order 2 sits exactly on the cursor and is excluded
    assert body["data"][0]["id"] == 3
    just_before = get(api, "/api/orders", params={"updated_since": "2026-01-01T00:36:59Z"})
    assert just_before.json()["total"] == 249
    offset = get(api, "/api/orders", params={"updated_since": "2026-01-01T01:37:00+01:00"})
    assert offset.json()["total"] == 248
    last = get(api, "/api/orders", params={"updated_since": "2026-01-07T09:33:00Z"}).json()
    assert (last["total"], last["data"], last["next_page"]) == (0, [], None)


def test_incremental_walk_resumes_without_gaps_or_repeats(api: DemoAPI) -> None:
    first = walk(api, "/api/orders", per_page=7)[:100]
    rest = walk(api, "/api/orders", per_page=33, updated_since=first[-1]["updated_at"])
    assert [r["id"] for r in first + rest] == list(range(1, 251))


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"page": "0"}, "page"),
        ({"page": "two"}, "page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "0"}, "per_page"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"fail_after": "-1"}, "fail_after"),
    ],
)
def test_bad_parameters_answer_400_naming_them(
    api: DemoAPI, params: dict[str, str], named: str
) -> None:
    response = get(api, "/api/orders", params=params)
    assert response.status_code == 400
    assert named in response.json()["error"]


def test_fail_after_turns_later_pages_into_500(api: DemoAPI) -> None:
    ok = get(api, "/api/orders", params={"page": 2, "fail_after": 2})
    failed = get(api, "/api/orders", params={"page": 3, "fail_after": 2})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 50
    assert failed.status_code == 500
    assert "page 3" in failed.json()["error"]


def test_basic_auth(api: DemoAPI) -> None:
    missing = get(api, "/api/basic/customers")
    wrong = get(api, "/api/basic/customers", auth=(DEMO_USER, "nope"))
    good = get(api, "/api/basic/customers", auth=(DEMO_USER, DEMO_PASSWORD))
    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic ")
    assert good.status_code == 200
    customers = good.json()["data"]
    assert len(customers) == 25
    assert set(customers[0]) == {"id", "name", "email", "country"}


def test_token_endpoint_rejects_bad_requests(api: DemoAPI) -> None:
    wrong = requests.post(f"{api.url}/auth/token", timeout=5,
                          json={**CREDENTIALS, "client_secret": "guess"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})
    malformed = requests.post(f"{api.url}/auth/token", data=b"{not json", timeout=5,
                              headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400
    not_object = requests.post(f"{api.url}/auth/token", json=["demo-client"], timeout=5)
    assert not_object.status_code == 400


def test_token_flow_unlocks_invoices(api: DemoAPI, token: str) -> None:
    issued = requests.post(f"{api.url}/auth/token", json=CREDENTIALS, timeout=5).json()
    assert issued["token_type"] == "Bearer" and issued["expires_in"] == 3600
    assert issued["access_token"] != token  # each exchange issues a fresh random token
    assert get(api, "/api/token/invoices").status_code == 401
    bogus = get(api, "/api/token/invoices", headers={"Authorization": "Bearer made-up"})
    assert bogus.status_code == 401
    rows = walk(api, "/api/token/invoices", headers={"Authorization": f"Bearer {token}"})
    assert [r["id"] for r in rows] == list(range(1, 121))
    since = get(api, "/api/token/invoices", headers={"Authorization": f"Bearer {token}"},
                params={"updated_since": rows[99]["updated_at"]})
    assert since.json()["total"] == 20


def test_tokens_belong_to_one_server_instance(token: str) -> None:
    with DemoAPI() as other:
        response = get(other, "/api/token/invoices", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_slow_endpoint_sleeps(api: DemoAPI) -> None:
    started = time.monotonic()
    assert get(api, "/api/slow", params={"ms": 60}).json() == {"ok": True}
    assert time.monotonic() - started >= 0.06
    assert get(api, "/api/slow", params={"ms": "soon"}).status_code == 400


def test_unknown_paths_answer_404_and_nothing_is_logged(
    api: DemoAPI, capfd: pytest.CaptureFixture[str]
) -> None:
    assert get(api, "/api/nope").status_code == 404
    assert requests.post(f"{api.url}/api/orders", json={}, timeout=5).status_code == 404
    assert capfd.readouterr().err == ""


def test_stop_releases_the_port() -> None:
    server = DemoAPI().start()
    url = server.url
    assert get(server, "/health").status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/health", timeout=2)


def test_serve_forever_prints_url_and_stops_on_sigterm() -> None:
    code = "from peak_tui.demo_api import serve_forever; serve_forever(port=0)"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/health", timeout=5).json() == {"ok": True}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("name", demo.SCRIPTS)
def test_demo_scripts_are_valid_feeds(name: str) -> None:
    source = demo.script(name)
    compile(source, f"{name}.py", "exec")
    lines = source.splitlines()
    assert lines[0] == "import requests"
    assert lines[1].startswith("from lib import outputStream, metadata")
    assert 'BASE_URL = "http://127.0.0.1:8765"' in lines
    assert "outputStream.write(" in source and "metadata.save(" in source
    assert "# ruff:" not in source
    moved = demo.with_base_url(source, "http://127.0.0.1:9999/")
    assert 'BASE_URL = "http://127.0.0.1:9999"' in moved.splitlines()
    with pytest.raises(ValueError, match="no demo script"):
        demo.script("missing")
