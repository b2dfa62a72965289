"""The demo API's data set (customers, orders, invoices from a fixed seed) and its paging rules."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
START = datetime(2026, 1, 1, tzinfo=UTC)

_FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Linus", "Margaret", "Donald", "Radia"]
_LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Knuth", "Perlman"]
_COUNTRIES = ["US", "GB", "DE", "FR", "NL", "SE", "JP", "BR", "IN", "AU"]
_PRODUCTS = [("SKU-100", "Keyboard", 49.0), ("SKU-200", "Mouse", 19.5), ("SKU-300", "Monitor", 229.0),
             ("SKU-400", "Dock", 129.99), ("SKU-500", "Cable", 7.25), ("SKU-600", "Headset", 89.0)]
_ORDER_STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _build_customers(rng: random.Random, count: int = 25) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, count + 1):
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        email = f"{name.lower().replace(' ', '.')}{i}@example.com"
        rows.append({"id": i, "name": name, "email": email, "country": rng.choice(_COUNTRIES)})
    return rows


def _build_orders(rng: random.Random, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for i in range(1, 251):
        customer = rng.choice(customers)
        items: list[dict[str, Any]] = []
        total = 0.0
        for sku, name, price in rng.sample(_PRODUCTS, rng.randint(1, 3)):
            quantity = rng.randint(1, 4)
            items.append({"sku": sku, "name": name, "quantity": quantity, "unit_price": price})
            total += quantity * price
        rows.append({"id": i, "customer": {"name": customer["name"], "email": customer["email"]},
                     "items": items, "total": round(total, 2), "status": rng.choice(_ORDER_STATUSES),
                     "updated_at": _iso(START + timedelta(minutes=37 * (i - 1)))})
    return rows


def _build_invoices(rng: random.Random, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": i, "number": f"INV-{1000 + i}", "customer_id": rng.choice(customers)["id"],
             "amount": round(rng.uniform(20, 2000), 2), "currency": "USD",
             "status": rng.choice(["open", "paid", "void"]),
             "updated_at": _iso(START + timedelta(minutes=61 * (i - 1)))} for i in range(1, 121)]


_RNG = random.Random(20260101)
CUSTOMERS = _build_customers(_RNG)
ORDERS = _build_orders(_RNG, CUSTOMERS)
INVOICES = _build_invoices(_RNG, CUSTOMERS)


def orders_total() -> int:
    """Number of orders the demo API serves (250)."""
    return len(ORDERS)


def invoices_total() -> int:
    """Number of invoices the demo API serves (120)."""
    return len(INVOICES)


def customers_total() -> int:
    """Number of customers the demo API serves (25)."""
    return len(CUSTOMERS)


class BadParameter(ValueError):
    """A query parameter had the wrong type or range; the message names the parameter."""


def int_param(query: dict[str, list[str]], name: str, default: int, low: int, high: int) -> int:
    """Read integer parameter ``name`` (``default`` if absent), rejecting values outside the range."""
    raw = query.get(name, [str(default)])[-1]
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise BadParameter(f"{name} must be between {low} and {high}, got {value}")
    return value


def _since_param(query: dict[str, list[str]]) -> datetime | None:
    raw = query.get("updated_since", [""])[-1]
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadParameter(f"updated_since must be an ISO-8601 timestamp, got {raw!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # naive means UTC


def paginate(rows: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """Filter by ``updated_since`` (strictly after), sort, and cut one page of ``rows``."""
    since = _since_param(query)
    page = int_param(query, "page", 1, 1, 1_000_000)
    per_page = int_param(query, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    kept = [r for r in rows if since is None or datetime.fromisoformat(r["updated_at"]) > since]
    kept.sort(key=lambda r: (r["updated_at"], r["id"]))
    start = (page - 1) * per_page
    has_more = start + per_page < len(kept)
    return {"data": kept[start:start + per_page], "page": page, "per_page": per_page,
            "total": len(kept), "next_page": page + 1 if has_more else None}
