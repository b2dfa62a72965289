import requests
from lib import outputStream, metadata

BASE_URL = "http://127.0.0.1:8765"

# metadata holds what the last successful run saved; it is empty on the first run.
since = metadata.get("updated_since")

# Ask the API for one page of orders changed after `since` (all orders if it is None).
params = {"per_page": 100, "updated_since": since} if since else {"per_page": 100}
response = requests.get(f"{BASE_URL}/api/orders", params=params, timeout=30)
response.raise_for_status()  # an HTTP error stops the run and shows in the log
rows = response.json()["data"]

# Every dict written here becomes one record in the destination.
for row in rows:
    outputStream.write(row)
print(f"wrote {len(rows)} records")  # print() lines appear in the run log

# Save a cursor so the next run starts where this one stopped.
if rows:
    metadata.save({"updated_since": rows[-1]["updated_at"]})

# ruff: noqa: I001 - keeps the product's import order; peak_tui.demo.script() drops this line
