import requests
from lib import outputStream, metadata, connection

BASE_URL = "http://127.0.0.1:8765"

# Custom auth: before this script starts, the engine exchanges the client id and secret
# at /auth/token and puts "Authorization: Bearer <token>" into connection.headers.
updated_since = metadata.get("updated_since")
newest = updated_since
page = 1
while page:
    params = {"page": page, "per_page": 50}
    if updated_since:
        params["updated_since"] = updated_since
    response = requests.get(
        f"{BASE_URL}/api/token/invoices", params=params, headers=connection.headers, timeout=30
    )
    response.raise_for_status()
    body = response.json()
    rows = body["data"]
    for invoice in rows:
        outputStream.write(invoice)
        if newest is None or invoice["updated_at"] > newest:
            newest = invoice["updated_at"]
    print(f"page {page}: {len(rows)} invoices")
    page = body["next_page"]

metadata.save({"updated_since": newest})

# ruff: noqa: I001 - keeps the product's import order; peak_tui.demo.script() drops this line
