"""Every write route of the OpenAPI document, thrown generated and hostile JSON (hypothesis).

The invariant, checked on the database itself around each request:

- an answer of 4xx or 5xx wrote nothing: every table holds exactly what it held before;
- what a 2xx wrote reads back: every stored string is valid UTF-8, every JSON column parses,
  and reading every object through the API answers no 5xx;
- no answer is a 5xx.

Bodies are built from each operation's request schema (right field names, values of the
right type most of the time, so that requests get past validation) with hostile strings in
them (lone surrogates, U+0000, names that spell ``root``, values nested around the depth cap
and far past it), the whole body now and then in a hostile encoding (behind a UTF-8 byte order
mark, UTF-16, raw surrogate bytes, trailing garbage). Left out: ``sys/seal`` and
``auth/token/revoke-self``, which end the session the test runs in (``test_api_schema.py``
covers them), ``sys/unseal`` (rate limited), and keystore export, whose scrypt costs a second
a call and which writes nothing.
"""

import json
import re
import warnings

import orjson
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engines import open_dev_core
from trustee.core import Core
from trustee.server.app import create_app
from trustee.server.faces.vault import create_api
from trustee.storage.schema import metadata

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

EXAMPLES = 25
SKIPPED = re.compile(
    r"/v1/(sys/seal|sys/unseal|auth/token/revoke-self|trustee/trustees/\{name\}/export)$"
)
HOSTILE_STRINGS = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "a\x00b",
    "\ufeff",
    "root",
    " root",
    "Root\t",
    "default",
    "../../sys/init",
    "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f",
    "x" * 5000,
    "\u202e",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ready = open_dev_core(f"sqlite:///{tmp_path_factory.mktemp('invariant') / 'trustee.db'}")
    with TestClient(create_app(ready.core), raise_server_exceptions=False) as client:
        client.headers["X-Vault-Token"] = ready.root
        known = _seed(client)
        yield client, ready.core, known
    ready.core.close()


def _seed(client) -> dict[str, list[str]]:
    """Objects for path parameters to name: real ones, and some that do not exist."""
    alice = client.post("/v1/trustee/trustees/alice").json()["data"]
    asset = client.post("/v1/ledger/assets", json={"attributes": {"a": "b"}}).json()["data"]
    event = client.post(f"/v1/ledger/assets/{asset['uuid']}/events", json={}).json()["data"]
    event_uuid = event["identity"].rsplit("/", 1)[1]
    client.post("/v1/trustee/trust-lists/t1", json={"addresses": [alice["address"]]})
    client.post("/v1/auth/trustee/role/r1", json={"trust_list": "t1"})
    client.put("/v1/sys/policies/acl/p1", json={"policy": 'path "x" {capabilities=["read"]}'})
    return {
        "name": ["alice", "r1", "t1", "nobody", "A", "a" * 200],
        "address": [alice["address"], alice["address"].lower(), "0x00", "nobody"],
        "asset": [asset["uuid"], "-", "00000000-0000-0000-0000-000000000000"],
        "event": [event_uuid, "nobody"],
        "policy": ["p1", "P1", "root", "default", "new"],
        "device": ["file", "other"],
    }


def write_operations() -> list:
    core, _ = Core.dev()
    try:
        document = create_api(core).openapi()
    finally:
        core.close()
    schemas = document["components"]["schemas"]
    found = []
    for path, operations in document["paths"].items():
        if SKIPPED.search(path):
            continue
        for method in ("post", "delete"):
            operation = operations.get(method)
            if operation is None:
                continue
            content = operation.get("requestBody", {}).get("content", {})
            schema = content.get("application/json", {}).get("schema")
            found.append(
                pytest.param(method, path, _resolve(schema, schemas), id=f"{method} {path}")
            )
    return found


def _resolve(schema, schemas):
    """The schema with every ``$ref`` replaced by what it names (they do not recurse here)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolve(schemas[schema["$ref"].rsplit("/", 1)[1]], schemas)
        return {key: _resolve(value, schemas) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolve(item, schemas) for item in schema]
    return schema


# -- strategies ------------------------------------------------------------------------------

hostile_text = st.one_of(
    st.sampled_from(HOSTILE_STRINGS),
    st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=20),
    st.text(st.characters(categories=["Cs", "Cc", "Zs", "Lu"]), max_size=8),
)
scalars = st.one_of(
    hostile_text,
    hostile_text,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    hostile_text,
)
shallow_json = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(hostile_text, inner, max_size=3)
    ),
    max_leaves=8,
)


def _nest(value, levels: int):
    for _ in range(levels):
        value = {"x": value}
    return value


# Values nested around the depth cap and far past it (the cap counts the body's own levels).
deep_json = st.builds(_nest, scalars, st.sampled_from([20, 29, 30, 31, 40, 300, 600]))
any_json = st.one_of(shallow_json, shallow_json, shallow_json, deep_json)
fresh_names = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-_."), min_size=1)


def from_schema(schema) -> st.SearchStrategy:
    """Values of the schema's type, with hostile content, and sometimes of any type."""
    if not isinstance(schema, dict):
        return any_json
    if "anyOf" in schema:  # a null option is tried, not favoured
        options = [from_schema(option) for option in schema["anyOf"] if option != {"type": "null"}]
        return st.one_of(*options, *options, st.none())
    kind = schema.get("type")
    if "enum" in schema:
        typed = st.sampled_from(schema["enum"])
    elif kind == "string":
        typed = hostile_text
    elif kind == "integer":
        typed = st.integers(min_value=-(2**70), max_value=2**70)
    elif kind == "number":
        typed = st.floats(allow_nan=False)
    elif kind == "boolean":
        typed = st.booleans()
    elif kind == "null":
        typed = st.none()
    elif kind == "array":
        typed = st.lists(from_schema(schema.get("items")), max_size=3)
    elif kind == "object" and "properties" in schema:
        fields = {name: from_schema(sub) for name, sub in schema["properties"].items()}
        required = set(schema.get("required", []))
        typed = st.one_of(
            st.fixed_dictionaries(fields),
            st.fixed_dictionaries(
                {name: value for name, value in fields.items() if name in required},
                optional={name: value for name, value in fields.items() if name not in required},
            ),
        )
    elif kind == "object":
        values = schema.get("additionalProperties")
        values = from_schema(values) if isinstance(values, dict) else hostile_text | any_json
        typed = st.dictionaries(hostile_text, values, min_size=1, max_size=3)
    else:
        typed = any_json
    return st.one_of(typed, typed, typed, typed, any_json)


@st.composite
def encoded(draw, values: st.SearchStrategy) -> bytes:
    """JSON text of a drawn value, sometimes in a hostile encoding or nested deep."""
    value = draw(values)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates as (invalid) UTF-8 bytes
    wrapping = draw(st.sampled_from(["plain"] * 4 + ["bom"] * 3 + ["utf16", "garbage"]))
    if wrapping == "bom":
        return b"\xef\xbb\xbf" + raw
    if wrapping == "utf16":
        return text.encode("utf-16", "surrogatepass")
    if wrapping == "garbage":
        return raw + b"}"
    return raw


# -- the invariant ---------------------------------------------------------------------------


# Written behind the appends by the indexer thread, at its own pace, from committed events.
BEHIND = {"ledger_event_terms", "ledger_index_state"}


def snapshot(core) -> dict[str, list[tuple]]:
    with core.db.connect() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(sa.select(table)).all()), key=repr)
            for table in metadata.sorted_tables
            if table.name not in BEHIND
        }


def check_storable(tables: dict[str, list[tuple]]) -> None:
    for name, rows in tables.items():
        for row in rows:
            for value in row:
                if isinstance(value, str):
                    value.encode("utf-8")  # raises on a lone surrogate
                    assert "\x00" not in value, (name, row)
                    if value[:1] in ("{", "["):
                        orjson.loads(value)


def check_reads_back(client) -> None:
    """Every object the API can list reads back without a 5xx."""
    reads = ["/v1/auth/token/lookup-self", "/v1/trustee/jwks", "/v1/ledger/log/checkpoint"]
    for folder, item in (
        ("/v1/trustee/trustees", "/v1/trustee/trustees/{}"),
        ("/v1/trustee/addresses", "/v1/trustee/addresses/{}"),
        ("/v1/auth/trustee/role", "/v1/auth/trustee/role/{}"),
        ("/v1/trustee/trust-lists", "/v1/trustee/trust-lists/{}"),
        ("/v1/trustee/audiences", "/v1/trustee/audiences/{}"),
        ("/v1/sys/policies/acl", "/v1/sys/policies/acl/{}"),
        ("/v1/ledger/assets", "/v1/ledger/assets/{}"),
    ):
        listed = client.request("LIST", folder)
        assert listed.status_code < 500, (folder, listed.text)
        keys = listed.json()["data"]["keys"] if listed.status_code == 200 else []
        reads += [item.format(key) for key in keys[:30]]
        if folder == "/v1/ledger/assets":
            for key in keys[:30]:
                reads += [f"/v1/ledger/assets/{key}/events", f"/v1/ledger/assets/{key}/bundle"]
    reads.append("/v1/ledger/assets/-/events")
    for path in reads:
        answer = client.get(path)
        assert answer.status_code < 500, (path, answer.text)


@pytest.mark.parametrize(("method", "path", "schema"), write_operations())
def test_a_refused_write_writes_nothing_and_an_accepted_one_reads_back(
    served, method, path, schema
):
    client, core, known = served
    names = re.findall(r"\{(\w+)\}", path)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        params=st.fixed_dictionaries(
            {name: st.sampled_from(known.get(name, ["x"])) | fresh_names for name in names}
        ),
        body=st.one_of(*[encoded(from_schema(schema))] * 9, st.just(b"")),
    )
    def check(params, body):
        url = path.format(**params)
        before = snapshot(core)
        answer = client.request(
            method.upper(), url, content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code < 500, (url, body[:200], answer.text)
        after = snapshot(core)
        if answer.status_code >= 400:
            changed = [name for name in before if before[name] != after[name]]
            assert not changed, (url, body[:200], answer.status_code, changed)
        elif after != before:
            check_storable(after)
            check_reads_back(client)

    check()
