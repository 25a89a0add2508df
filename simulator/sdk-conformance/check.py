#!/usr/bin/env python3
"""Drive Docusign's official Python SDKs against the simulator and check every answer against their models.

Usage: check.py INFO_JSON   (the line `examples/conformance_sim.rs` prints)

Each SDK call is made with the SDK's own ApiClient and API classes, so its request building and model
deserialisation run unchanged. Every JSON body is then compared, recursively, with the model the SDK
deserialises it into: a key missing from the model's `attribute_map` is a mismatch, and for the generated
models a value of the wrong JSON type is one too (the SDK's hand-written OAuth models declare loose types,
`expires_in` as `str` for example, so only their keys are compared).

One accommodation: `request_jwt_user_token` and `get_user_info` build `https://{oauth_host}/…`; the simulator
speaks plain HTTP on loopback, so requests to exactly that host are sent as `http://` instead. Nothing else
is changed.

Prints one line per check and a summary line; exits 1 on any mismatch or failed call.
"""

import importlib
import inspect
import json
import re
import sys
import urllib.parse
from importlib.metadata import version

import docusign_admin
import docusign_esign
import docusign_monitor
from dateutil.parser import isoparse
from docusign_admin.client.api_exception import ApiException as AdminApiException
from docusign_esign.client.api_exception import ApiException as EsignApiException

SCOPES = ["signature", "impersonation", "organization_read", "user_read"]
PRIMITIVES = {"str", "int", "float", "bool", "object", "datetime", "date", "long"}


class Report:
    def __init__(self):
        self.checks = 0
        self.problems = []

    def fail(self, where, message):
        self.problems.append(f"{where}: {message}")
        print(f"  MISMATCH {where}: {message}")

    def ok(self, what):
        self.checks += 1
        print(f"  ok {what}")


def model_class(sdk, name):
    """The SDK model class called `name`: generated (also those `models` does not export), or hand-written OAuth."""
    for module in (sdk.models, getattr(sdk.client.auth, "oauth", None)):
        if module is not None and hasattr(module, name):
            return getattr(module, name)
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    try:
        return getattr(importlib.import_module(f"{sdk.__name__}.models.{snake}"), name, None)
    except ImportError:
        return getattr(sdk, name, None)


def model_keys(klass):
    """(JSON key -> declared type) of a model; hand-written classes without a map: their constructor's parameters."""
    instance = klass()
    attribute_map = getattr(instance, "attribute_map", None)
    if attribute_map is None:
        params = [p for p in inspect.signature(klass.__init__).parameters if p != "self"]
        return {p: "object" for p in params}, False
    types = getattr(instance, "swagger_types", {})
    generated = klass.__module__.split(".")[1] == "models"
    return {json_key: types.get(attr, "object") for attr, json_key in attribute_map.items()}, generated


def check_value(report, sdk, value, declared, path, strict):
    """Compare one JSON value with its declared SDK type, recursively."""
    if value is None:
        return
    m = re.fullmatch(r"list\[(.*)\]", declared)
    if m:
        if not isinstance(value, list):
            report.fail(path, f"expected a list ({declared}), got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check_value(report, sdk, item, m.group(1), f"{path}[{i}]", strict)
        return
    m = re.fullmatch(r"dict\(([^,]*), (.*)\)", declared)
    if m:
        if not isinstance(value, dict):
            report.fail(path, f"expected an object ({declared}), got {type(value).__name__}")
            return
        for k, v in value.items():
            check_value(report, sdk, v, m.group(2), f"{path}.{k}", strict)
        return
    if declared in PRIMITIVES:
        if strict:
            check_primitive(report, value, declared, path)
        return
    klass = model_class(sdk, declared)
    if klass is None:
        report.fail(path, f"the SDK has no model {declared}")
        return
    if not isinstance(value, dict):
        report.fail(path, f"expected an object ({declared}), got {type(value).__name__}")
        return
    keys, generated = model_keys(klass)
    for k, v in value.items():
        if k not in keys:
            report.fail(f"{path}.{k}", f"key not in the SDK model {declared}")
            continue
        inner = keys[k]
        # Hand-written models type some objects loosely (userinfo's `organization` as `str`): when a
        # model is named after the key, compare the object with it.
        named = "".join(part.title() for part in k.split("_"))
        if not generated and isinstance(v, dict) and inner in PRIMITIVES and model_class(sdk, named):
            inner = named
        check_value(report, sdk, v, inner, f"{path}.{k}", strict and generated)


def check_primitive(report, value, declared, path):
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "object": True,
        "datetime": isinstance(value, str),
        "date": isinstance(value, str),
    }[declared]
    if not ok:
        report.fail(path, f"expected {declared}, got {type(value).__name__} {value!r}")
    elif declared in ("datetime", "date"):
        try:
            isoparse(value)
        except ValueError:
            report.fail(path, f"not an ISO 8601 {declared}: {value!r}")


def instrument(client, oauth_host):
    """Record every raw answer of `client`; send the SDK's https://{oauth_host} requests as http://."""
    original = client.request
    client.last_body = None

    def request(method, url, *args, **kwargs):
        prefix = "https://" + oauth_host + "/"
        if url.startswith(prefix):
            url = "http://" + url[len("https://"):]
        try:
            response = original(method, url, *args, **kwargs)
        except Exception as e:  # the SDK's ApiException carries the error body
            client.last_body = getattr(e, "body", None)
            raise
        client.last_body = response.data
        return response

    client.request = request
    return client


def body_json(client):
    raw = client.last_body
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw)


def checked(report, sdk, client, model, what):
    """Compare the last raw answer of `client` with `model`."""
    before = len(report.problems)
    try:
        body = body_json(client)
    except (TypeError, ValueError) as e:
        report.fail(what, f"the answer is not JSON: {e}")
        return None
    check_value(report, sdk, body, model, what, True)
    if len(report.problems) == before:
        report.ok(f"{what} ({model})")
    return body


def grant(report, sdk, info, key):
    client = instrument(sdk.ApiClient(host=info["base_url"], oauth_host_name=info["oauth_host"]), info["oauth_host"])
    token = client.request_jwt_user_token(
        client_id=info["integration_key"],
        user_id=info["user_id"],
        oauth_host_name=info["oauth_host"],
        private_key_bytes=key,
        expires_in=3600,
        scopes=SCOPES,
    )
    checked(report, sdk, client, "OAuthToken", f"{sdk.__name__} JWT grant")
    if not token.access_token:
        report.fail(f"{sdk.__name__} JWT grant", "no access_token in the SDK's OAuthToken")
    return token.access_token


def client_for(sdk, host, info, token):
    client = instrument(sdk.ApiClient(host=host, oauth_host_name=info["oauth_host"]), info["oauth_host"])
    client.set_default_header("Authorization", "Bearer " + token)
    return client


def query_of(uri, name):
    values = urllib.parse.parse_qs(urllib.parse.urlsplit(uri).query).get(name)
    return values[0] if values else None


def check_monitor(report, info, token):
    client = client_for(docusign_monitor, info["base_url"], info, token)
    api = docusign_monitor.DocuMonitorApi(client)
    cursor, events = "", 0
    for _ in range(5):
        page = api.stream(info["organization_id"], cursor=cursor, limit=100)
        checked(report, docusign_monitor, client, "StreamResponse", "Monitor v1 stream")
        events += len(page.result_data or [])
        if not page.result_data or page.end_cursor == cursor:
            break
        cursor = page.end_cursor
    # The lens endpoint (v2.0) has no SDK method: the SDK's ApiClient fetches it into CursoredResult, whose
    # events are `object`s; they are compared with StreamingEventRow, the SDK's model of a Monitor event.
    page = client.call_api(
        "/api/v2.0/datasets/monitor/stream", "GET",
        query_params=[("cursor", ""), ("limit", 50)],
        response_type=model_class(docusign_monitor, "CursoredResult"), _return_http_data_only=True,
    )
    body = checked(report, docusign_monitor, client, "CursoredResult", "Monitor v2.0 stream")
    if body is not None:
        check_value(report, docusign_monitor, body.get("data"), "list[StreamingEventRow]", "Monitor v2.0 events", True)
    if not page.data or not page.end_cursor:
        report.fail("Monitor v2.0 stream", "no events or no endCursor in the SDK's CursoredResult")
    if events == 0:
        report.fail("Monitor v1 stream", "no events in the SDK's StreamResponse")


def check_admin(report, info, token):
    client = client_for(docusign_admin, info["base_url"] + "/Management", info, token)
    api = docusign_admin.UsersApi(client)
    seen, start, pages = [], 0, 0
    while True:
        resp = api.get_users(info["organization_id"], account_id=info["account_id"], start=start, take=20)
        checked(report, docusign_admin, client, "OrganizationUsersResponse", f"Admin users start={start}")
        pages += 1
        seen += [u.id for u in resp.users]
        if not resp.paging.next:
            break
        start = int(query_of(resp.paging.next, "start"))
    if len(seen) != len(set(seen)) or len(seen) != resp.paging.total_set_size or pages < 2:
        report.fail("Admin users", f"paging read {len(seen)} users in {pages} pages, total {resp.paging.total_set_size}")
    try:
        api.get_users(info["organization_id"], account_id="not-this-account")
        report.fail("Admin error", "a foreign account_id was accepted")
    except AdminApiException:
        checked(report, docusign_admin, client, "ErrorDetails", "Admin error")


def check_esign(report, info, token):
    client = client_for(docusign_esign, info["base_url"] + "/restapi", info, token)
    info_model = client.get_user_info(token)
    checked(report, docusign_esign, client, "OAuthUserInfo", "userinfo")
    if not any(a.account_id == info["account_id"] for a in info_model.accounts):
        report.fail("userinfo", "the configured account is not in the SDK's OAuthUserInfo")
    api = docusign_esign.UsersApi(client)
    listed, start = [], "0"
    while True:
        page = api.list(info["account_id"], additional_info="true", count="20", start_position=start)
        checked(report, docusign_esign, client, "UserInformationList", f"Users:list start_position={start}")
        listed += [u.user_id for u in page.users]
        if not page.next_uri:
            break
        start = query_of(page.next_uri, "start_position")
    if len(listed) != int(page.total_set_size):
        report.fail("Users:list", f"read {len(listed)} users, totalSetSize {page.total_set_size}")
    for user_id in listed[:3]:
        user = api.get_information(info["account_id"], user_id, additional_info="true")
        checked(report, docusign_esign, client, "UserInformation", f"eSignature user {user_id[:8]}")
        if not (user.user_settings and user.user_settings.modified_date):
            report.fail("eSignature user", "no userSettings.modifiedDate in the SDK's model")
    for user_id in info["unknown_user_ids"]:
        try:
            api.get_information(info["account_id"], user_id)
            report.fail("eSignature unknown user", "answered 200")
        except EsignApiException as e:
            body = checked(report, docusign_esign, client, "ErrorDetails", "eSignature unknown user")
            if e.status != 400 or (body or {}).get("errorCode") != "USER_DOES_NOT_EXIST_IN_SYSTEM":
                report.fail("eSignature unknown user", f"HTTP {e.status} {body}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check.py INFO_JSON")
    with open(sys.argv[1]) as f:
        info = json.loads(f.readline())
    with open(info["key_file"], "rb") as f:
        key = f.read()
    report = Report()
    steps = [
        ("JWT grant and Monitor", lambda: check_monitor(report, info, grant(report, docusign_monitor, info, key))),
        ("JWT grant and Admin", lambda: check_admin(report, info, grant(report, docusign_admin, info, key))),
        ("JWT grant and eSignature", lambda: check_esign(report, info, grant(report, docusign_esign, info, key))),
    ]
    for name, step in steps:
        print(f"== {name}")
        try:
            step()
        except Exception as e:  # any SDK failure is a conformance failure
            report.fail(name, f"{type(e).__name__}: {e}")
    sdks = ", ".join(f"{p} {version(p)}" for p in ("docusign-esign", "docusign-admin", "docusign-monitor"))
    verdict = "PASS" if not report.problems else "FAIL"
    print(f"SDK conformance {verdict}: {report.checks} answers matched the models of {sdks}; "
          f"{len(report.problems)} mismatch(es)")
    sys.exit(0 if not report.problems else 1)


if __name__ == "__main__":
    main()
