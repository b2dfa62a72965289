import requests
from lib import outputStream, metadata

BASE_URL = "http://127.0.0.1:8765"

# Incremental feed: the first run reads every order, later runs only what changed since.
updated_since = metadata.get("updated_since")
newest = updated_since
page = 1
while page:
    params = {"page": page, "per_page": 50}
    if updated_since:
        params["updated_since"] = updated_since
    response = requests.get(f"{BASE_URL}/api/orders", params=params, timeout=30)
    response.raise_for_status()
    body = response.json()
    rows = body["data"]
    for order in rows:
        outputStream.write(order)
        # Timestamps share one format (2026-01-01T00:00:00Z), so text order is time order.
        if newest is None or order["updated_at"] > newest:
            newest = order["updated_at"]
    print(f"page {page}: {len(rows)} orders")
    page = body["next_page"]

# Remember the cursor; the next run asks only for orders updated after it.
metadata.save({"updated_since": newest})

# ruff: noqa: I001 - keeps the product's import order; peak_tui.demo.script() drops this line
