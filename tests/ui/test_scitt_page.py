"""SCITT statements in the explorer (issue 15): the list, and each receipt checked by the page
itself. The page's pure functions (js/scitt.js, js/cbor.js) run against Python's references:
the entry and leaf hash of random statements, roots of random trees, and mutations of
statements, receipts and key sets that must each fail for their own reason."""

from __future__ import annotations

import random
import re
from typing import Any

import cbor2
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from playwright.sync_api import expect

import rfc9162
from trustee.crypto.secp256k1 import generate_private_key, public_key_from_private
from trustee.ledger import merkle
from trustee.scitt import (
    CoseKey,
    build_receipt,
    decode_sign1,
    entry_of,
    key_set_bytes,
    sign_statement,
    transparent_statement,
    verify_receipt,
)
from trustee.scitt.keys import EDDSA, ES256, ES256K, ES384, sign

pytestmark = pytest.mark.integration  # a live server; the browser fixture skips without chromium

COSE = {"Content-Type": "application/cose"}
KINDS = ("EdDSA", "ES256", "ES384", "ES256K")


def make_statement(kind: str, payload: bytes, **options: Any) -> bytes:
    """A statement signed by a fresh key of ``kind``, carrying its key as a CWT cnf claim."""
    if kind == "EdDSA":
        private: Any = ed25519.Ed25519PrivateKey.generate()
        public, alg = CoseKey.from_public_key(private.public_key()), EDDSA
    elif kind in ("ES256", "ES384"):
        private = ec.generate_private_key(ec.SECP256R1() if kind == "ES256" else ec.SECP384R1())
        public, alg = (
            CoseKey.from_public_key(private.public_key()),
            ES256 if kind == "ES256" else ES384,
        )
    else:
        private = generate_private_key()
        public, alg = CoseKey.from_secp256k1(public_key_from_private(private)), ES256K
    return sign_statement(payload, private, alg, public_key=public, **options)


class ReceiptKey:
    """A receipt key of the tests' own: receipts for statements in trees built here."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.public = CoseKey.from_public_key(self.private.public_key())

    def key_set(self) -> bytes:
        return key_set_bytes([(self.public, ES256)])

    def receipt(self, entry: bytes, size: int, index: int, *, alg: int = ES256) -> tuple:
        leaves = [b"leaf %d" % n for n in range(size)]
        leaves[index] = entry
        tree = rfc9162.Tree(leaves)
        root = tree.mth(0, size)
        receipt = build_receipt(
            tree_size=size,
            leaf_index=index,
            path=tree.path(index, size),
            root=root,
            alg=alg,
            kid=self.public.thumbprint(),
            sign=lambda message: sign(ES256, self.private, message),
            issuer="log.example/tests",
            issued_at=1_700_000_000,
        )
        return receipt, root


CHECK = """
async (cases) => {
  const s = await import("/ui/js/scitt.js");
  const e = await import("/ui/js/encoding.js");
  const answers = [];
  for (const c of cases) {
    const r = c.receipt
      ? await s.checkStatementAndReceipt(e.fromHex(c.statement), e.fromHex(c.receipt),
          e.fromHex(c.keys))
      : await s.checkTransparentStatement(e.fromHex(c.statement), e.fromHex(c.keys));
    const first = r.receipts[0] || {};
    answers.push({
      ok: r.ok,
      reason: r.reason,
      entry: r.entry ? e.toHex(r.entry) : null,
      leaf: first.leafHash ? e.toHex(first.leafHash) : null,
      root: first.root ? e.toHex(first.root) : null,
      size: first.treeSize ?? null,
      index: first.leafIndex ?? null,
    });
  }
  return answers;
}
"""


@pytest.fixture(scope="module")
def page(browser, demo):
    context = browser.new_context(base_url=demo.address)
    page = context.new_page()
    page.goto("/ui/#/token")
    page.get_by_role("heading", name="Token checker").wait_for()
    yield page
    context.close()


def register(demo, data: bytes) -> str:
    response = httpx.post(f"{demo.address}/entries", content=data, headers=COSE, timeout=10)
    assert response.status_code == 303, response.content
    return response.headers["location"].rsplit("/", 1)[1]


def test_random_statements_entry_leaf_and_root_match_python(page) -> None:
    rng = random.Random(15)
    key = ReceiptKey()
    sizes = [0, 1, 23, 24, 255, 256, 1000, 65535, 65536, 70_000]
    cases, expected = [], []
    for number, payload_size in enumerate(sizes * 2):
        payload = rng.randbytes(payload_size)
        options: dict[str, Any] = {}
        if number % 3:
            options["issuer"] = "urn:issuer:" + "é" * rng.randrange(40)
        if number % 4:
            options["subject"] = "s" * rng.choice([1, 23, 24, 300])
        if number % 2:
            options["content_type"] = "application/octet-stream"
        data = make_statement(KINDS[number % len(KINDS)], payload, **options)
        message = decode_sign1(data)
        entry = entry_of(message)
        size = rng.randrange(1, 70)
        index = rng.randrange(size)
        receipt, root = key.receipt(entry, size, index)
        # Unprotected headers of any kind are left out of the entry, in Python as in the page.
        extra = {rng.randrange(-70000, 70000): rng.randbytes(rng.randrange(30)), "note": "x"}
        extra.pop(394, None)
        transparent = transparent_statement(message.encode(unprotected=extra), [receipt])
        assert verify_receipt(receipt, entry, {key.public.thumbprint(): key.public}).root == root
        cases.append({"statement": transparent.hex(), "keys": key.key_set().hex()})
        expected.append(
            {
                "ok": True,
                "reason": None,
                "entry": entry.hex(),
                "leaf": merkle.leaf_hash(entry).hex(),
                "root": root.hex(),
                "size": size,
                "index": index,
            }
        )
    assert page.evaluate(CHECK, cases) == expected


def _resign1(data: bytes, position: int, value: Any) -> bytes:
    """``data`` (a tagged COSE_Sign1) with item ``position`` replaced, nothing re-signed."""
    tagged = cbor2.loads(data)
    body = list(tagged.value)
    body[position] = value
    return cbor2.dumps(cbor2.CBORTag(18, body))


def _flip(data: bytes, at: int = -1) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


def _receipt_proof(receipt: bytes, change) -> bytes:
    tagged = cbor2.loads(receipt)
    body = list(tagged.value)
    size, index, path = cbor2.loads(body[1][396][-1][0])
    body[1] = {396: {-1: [cbor2.dumps(change(size, index, list(path)))]}}
    return cbor2.dumps(cbor2.CBORTag(18, body))


def test_mutated_statements_receipts_and_key_sets_say_bad(page) -> None:
    key, stranger = ReceiptKey(), ReceiptKey()
    data = make_statement("ES256", b'{"sbom": 1}', issuer="urn:a", subject="urn:s")
    entry = entry_of(decode_sign1(data))
    receipt, _ = key.receipt(entry, 13, 6)
    other, _ = key.receipt(entry_of(decode_sign1(make_statement("EdDSA", b"x"))), 13, 6)
    es384, _ = key.receipt(entry, 13, 6, alg=ES384)
    payload = cbor2.loads(data).value[2]
    keys = key.key_set().hex()
    lying = cbor2.dumps([{**cbor2.loads(stranger.key_set())[0], 2: key.public.thumbprint()}]).hex()

    def transparent(statement: bytes = data, receipts: list[bytes] | None = None) -> str:
        return transparent_statement(statement, receipts or [receipt]).hex()

    good = transparent()
    mutants: dict[str, tuple[dict[str, str], str]] = {
        "statement-payload-bit": (
            {"statement": transparent(_resign1(data, 2, _flip(payload, 0)))},
            "signature does not verify",
        ),
        "statement-signature-bit": (
            {"statement": transparent(_resign1(data, 3, _flip(cbor2.loads(data).value[3])))},
            "signature does not verify",
        ),
        "statement-protected-header": (
            {"statement": transparent(_resign1(data, 0, cbor2.dumps({1: -7, 3: "text/x"})))},
            "signature does not verify",
        ),
        "receipt-signature-bit": (
            {"statement": transparent(receipts=[_flip(receipt)])},
            "signature does not verify",
        ),
        "receipt-of-another-statement": (
            {"statement": transparent(receipts=[other])},
            "signature does not verify",
        ),
        "leaf-index-plus-1": (
            {
                "statement": transparent(
                    receipts=[_receipt_proof(receipt, lambda n, i, p: [n, i + 1, p])]
                )
            },
            "signature does not verify",
        ),
        "modified-proof[0]-bit": (
            {
                "statement": transparent(
                    receipts=[
                        _receipt_proof(receipt, lambda n, i, p: [n, i, [_flip(p[0], 0), *p[1:]]])
                    ]
                )
            },
            "signature does not verify",
        ),
        "truncated-proof": (
            {
                "statement": transparent(
                    receipts=[_receipt_proof(receipt, lambda n, i, p: [n, i, p[:-1]])]
                )
            },
            "shorter than the path",
        ),
        "index-outside-tree": (
            {
                "statement": transparent(
                    receipts=[_receipt_proof(receipt, lambda n, i, p: [n, n, p])]
                )
            },
            "outside a tree",
        ),
        "alg-es384": ({"statement": transparent(receipts=[es384])}, "alg is not ES256"),
        "another-service-key": (
            {"statement": good, "keys": stranger.key_set().hex()},
            "names no key",
        ),
        "key-set-kid-lies": ({"statement": good, "keys": lying}, "not its thumbprint"),
        "no-receipt": ({"statement": data.hex()}, "1 to 16 receipts"),
        "truncated": ({"statement": good[:-14]}, "truncated"),
        "trailing-garbage": ({"statement": good + "00"}, "bytes follow"),
        "garbage": ({"statement": "00"}, "not a COSE_Sign1"),
        "indefinite-length": ({"statement": "d2" + "9f" + good[4:]}, "indefinite"),
        "separate-receipt-bit": (
            {"statement": data.hex(), "receipt": _flip(receipt).hex()},
            "signature does not verify",
        ),
    }
    cases = [{"keys": keys, **case} for case, _ in mutants.values()]
    cases.append({"statement": data.hex(), "receipt": receipt.hex(), "keys": keys})
    cases.append({"statement": good, "keys": keys})
    answers = page.evaluate(CHECK, cases)
    for (name, (_, reason)), answer in zip(mutants.items(), answers, strict=False):
        assert answer["ok"] is False, name
        assert reason in answer["reason"], (name, answer["reason"])
    assert answers[-2]["ok"] is True and answers[-1]["ok"] is True
    assert answers[-2]["root"] == answers[-1]["root"]


def test_the_statements_view_lists_statements_and_checks_receipts(
    signed_in, demo, artifacts
) -> None:
    registered = {}
    for number, kind in enumerate(KINDS):
        data = make_statement(
            kind,
            b'{"build": %d}' % number,
            issuer=f"urn:example:builder:{number}",
            subject=f"pkg:pypi/trustee@0.{number}",
            content_type="application/json",
        )
        registered[register(demo, data)] = number
    page = signed_in()
    page.get_by_role("link", name="Statements").click()
    page.get_by_role("heading", name="Statements").wait_for()
    rows = page.locator("tr.statement-row")
    expect(rows.first).to_be_visible()
    entries = [rows.nth(i).get_attribute("data-entry") for i in range(rows.count())]
    newest = sorted(registered, key=lambda e: int(e.split(".")[1]), reverse=True)
    assert entries[: len(newest)] == newest
    for entry_id, number in registered.items():
        row = page.locator(f"tr.statement-row[data-entry='{entry_id}']")
        expect(row).to_contain_text(f"urn:example:builder:{number}")
        expect(row).to_contain_text(f"pkg:pypi/trustee@0.{number}")
        expect(row).to_contain_text("application/json")
        expect(row).to_contain_text(KINDS[number])
        expect(row.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))

    first = newest[0]
    page.get_by_role("button", name=f"Check the receipt of entry {first}").click()
    verdict = page.get_by_role("region", name=f"Receipt of entry {first}").locator(".verdict")
    expect(verdict).to_have_attribute("data-verified", "true")
    expect(verdict).to_contain_text("GOOD")
    expect(verdict).to_contain_text("verified in this browser")
    page.screenshot(path=artifacts / "statements.png", full_page=True)

    # The same check of a transparent statement altered on its way to the page: BAD.
    def tampered(route) -> None:
        answer = route.fetch()
        route.fulfill(response=answer, body=_flip(answer.body()))

    second = newest[1]
    page.route(f"**/entries/{second}/statement", tampered)
    page.get_by_role("button", name=f"Check the receipt of entry {second}").click()
    bad = page.get_by_role("region", name=f"Receipt of entry {second}").locator(".verdict")
    expect(bad).to_have_attribute("data-verified", "false")
    expect(bad).to_contain_text("BAD")
    expect(bad).to_contain_text("signature does not verify")


def test_an_unknown_entry_is_an_error_not_a_verdict(page, demo) -> None:
    answer = page.evaluate(
        """async () => {
          const v = await import("/ui/js/views/statements.js");
          try {
            await v.checkListedReceipt({ entry_id: "999999.999998" });
            return "answered";
          } catch (error) {
            return error.message;
          }
        }"""
    )
    assert "HTTP 404" in answer


DESCRIBE = """
async (cases) => {
  const c = await import("/ui/js/cbor.js");
  const e = await import("/ui/js/encoding.js");
  const describe = (v) => {
    // The values tested here keep integers and floats apart: no float is integral.
    if (typeof v === "number" && Number.isInteger(v)) return { int: String(v) };
    if (typeof v === "bigint") return { int: v.toString() };
    if (typeof v === "number") return { float: v };
    if (v instanceof Uint8Array) return { bytes: e.toHex(v) };
    if (typeof v === "string") return { text: v };
    if (Array.isArray(v)) return { array: v.map(describe) };
    if (v instanceof Map) return { map: [...v].map(([k, x]) => [describe(k), describe(x)]) };
    if (v instanceof c.Tagged) return { tag: v.tag, value: describe(v.value) };
    return { simple: v };
  };
  return cases.map((hex) => {
    try {
      return describe(c.decodeCbor(e.fromHex(hex)));
    } catch (error) {
      return { refused: error.name };
    }
  });
}
"""


def describe(value: Any) -> Any:
    """A decoded value in the form DESCRIBE gives the page's."""
    if isinstance(value, bool) or value is None:
        return {"simple": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": value}
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, str):
        return {"text": value}
    if isinstance(value, list):
        return {"array": [describe(item) for item in value]}
    if isinstance(value, dict):
        return {"map": [[describe(k), describe(v)] for k, v in value.items()]}
    assert isinstance(value, cbor2.CBORTag)
    return {"tag": value.tag, "value": describe(value.value)}


def test_the_page_cbor_decoder_agrees_with_the_server_and_is_as_strict(page) -> None:
    from trustee.scitt import cbor

    ints = [0, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53 - 1, 2**53, 2**64 - 1]
    values: list[Any] = [*ints, *(-1 - n for n in ints)]
    values += [b"", b"\x01" * 23, b"\x02" * 24, bytes(range(256)) * 2, "", "é€𝄞", "a" * 300]
    values += [1.5, -0.25, 3.14e-200, True, False, None, [], {}, [1, [2, [3, b"x"]]]]
    values += [{1: -7, -1: b"k", "iss": "urn:x", 394: [b"r"]}, cbor2.CBORTag(18, [b"", {}])]
    good = [cbor2.dumps(value, canonical=True) for value in values]
    good += [bytes.fromhex("1817"), bytes.fromhex("f93e00")]  # non-shortest int; half float
    good += [bytes.fromhex("81" * depth + "00") for depth in (15, 16)]
    refused = {
        "duplicate-key": "a201010102",
        "indefinite-array": "9f00ff",
        "indefinite-bytes": "5f4100ff",
        "undefined": "f7",
        "simple-16": "f0",
        "tag-25": "d81900",
        "tag-256": "d9010000",
        "trailing-garbage": "0000",
        "truncated-bytes": "580501",
        "truncated-head": "19",
        "reserved-info": "1c",
        "break": "ff",
        "array-as-key": "a18000",
        "not-utf8": "62fffe",
        "too-deep": "81" * 17 + "00",
        "huge-length": "5bffffffffffffffff",
    }
    answers = page.evaluate(DESCRIBE, [data.hex() for data in good] + list(refused.values()))
    expected = [describe(cbor.decode(data)) for data in good]
    assert answers[: len(good)] == expected
    for (name, hex_text), answer in zip(refused.items(), answers[len(good) :], strict=True):
        assert answer == {"refused": "CborError"}, name
        with pytest.raises(cbor.CBORError):  # the server refuses each one too
            cbor.decode(bytes.fromhex(hex_text))
