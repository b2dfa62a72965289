import requests
from lib import outputStream, metadata, connection

BASE_URL = "http://127.0.0.1:8765"

# Full refresh behind HTTP Basic auth: the connection supplies the username and password.
response = requests.get(f"{BASE_URL}/api/basic/customers", auth=connection.auth, timeout=30)
response.raise_for_status()
customers = response.json()["data"]
for customer in customers:
    outputStream.write(customer)
print(f"{len(customers)} customers")

# No cursor here (the endpoint has no filter); keep the count to compare between runs.
metadata.save({"customers_seen": len(customers)})

# ruff: noqa: I001 - keeps the product's import order; peak_tui.demo.script() drops this line
