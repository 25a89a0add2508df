"""A client generated from src/api/openapi.json (openapi-python-client) creates, reads, changes
and deletes an integration against a running collector; run by scripts/contract.

    client_roundtrip.py <generated package dir's parent> <base URL> <token file> <key file> <simulator URL>

Only the generated package is used to talk to the API: its models build the seed-shaped request
and parse every answer (an answer outside the document fails to parse). Exits non-zero with the
step that failed.
"""

import sys

sys.path.insert(0, sys.argv[1])

from contract_client import AuthenticatedClient, Client  # noqa: E402
from contract_client.api.health import readyz  # noqa: E402
from contract_client.api.integrations import (  # noqa: E402
    create_integration,
    delete_integration,
    get_integration,
    list_integrations,
    update_integration,
)
from contract_client.models import (  # noqa: E402
    Integration,
    IntegrationCreate,
    IntegrationUpdate,
    Readiness,
)

base, token_file, key_file, sim = sys.argv[2:6]
token = open(token_file, encoding="utf-8").read().strip()
key = open(key_file, encoding="utf-8").read()
api = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)
anonymous = Client(base_url=base, raise_on_unexpected_status=True)


def expect(step, response, status):
    if response.status_code != status:
        sys.exit(f"{step}: HTTP {int(response.status_code)} (expected {status}): {response.content!r}")
    for secret in [token] + [line for line in key.splitlines() if len(line) > 20]:
        if secret.encode() in response.content:
            sys.exit(f"{step}: the answer contains a secret")
    return response.parsed


# The seed's shape: integration 8, data.environment, data.changeKeys.
request = IntegrationCreate.from_dict({
    "integration": 8,
    "name": "generated-client",
    "status": "active",
    "data": {
        "environment": "stage",
        "changeKeys": False,
        "integrationKey": "5c2b8d3e-sim0-4a1b-9c2d-3e4f5a6b7c8d",
        "userId": "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b",
        "privateKey": key,
        "accountId": "8949bd2a-1c3e-4b5d-8f6a-7b8c9d0e1f02",
        "organizationId": "3b5c9a1e-7d24-4f6b-9a0e-5c1d2e3f4a01",
        "eventTypes": ["customer_events"],
        "customerEvents": {"interval": "1m"},
        "endpoints": {"oauth": sim, "monitor": sim, "admin": sim + "/management"},
    },
})

# Open, and in the document either way (the fuzzer's integrations may have made it not ready).
ready = readyz.sync_detailed(client=anonymous)
if ready.status_code not in (200, 503) or not isinstance(ready.parsed, Readiness):
    sys.exit(f"readyz without a token: HTTP {int(ready.status_code)}: {ready.content!r}")
unauthorised = list_integrations.sync_detailed(client=anonymous)
if unauthorised.status_code != 401:
    sys.exit(f"listing without a token: HTTP {int(unauthorised.status_code)}, expected 401")

created = expect("create", create_integration.sync_detailed(client=api, body=request), 201)
assert isinstance(created, Integration), created
assert created.name == "generated-client" and created.source.value == "api", created
assert created.data.environment.value == "stage" and created.data.change_keys is False, created
assert created.data.has_private_key is True and created.created_at, created
ident = str(created.id)

read = expect("read by id", get_integration.sync_detailed(ident, client=api), 200)
assert read.id == created.id and read.name == created.name, read
by_name = expect("read by name", get_integration.sync_detailed("name:generated-client", client=api), 200)
assert by_name.id == created.id, by_name
listed = expect("list", list_integrations.sync_detailed(client=api), 200)
assert created.id in [i.id for i in listed], listed

change = IntegrationUpdate.from_dict({"status": "inactive", "data": {"changeKeys": True}})
changed = expect("change", update_integration.sync_detailed(ident, client=api, body=change), 200)
assert changed.status.value == "inactive" and changed.data.change_keys is True, changed
assert changed.data.has_private_key is True and changed.id == created.id, changed

expect("delete", delete_integration.sync_detailed(ident, client=api), 204)
gone = get_integration.sync_detailed(ident, client=api)
if gone.status_code != 404:
    sys.exit(f"read after delete: HTTP {int(gone.status_code)}, expected 404")
print(f"generated client: created, read, changed and deleted integration {ident} (generated-client)")
