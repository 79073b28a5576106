"""Trust-list files for recipients: the forms `trustee verify --trust-list` reads, checked once."""

import json

import pytest

from trustee.auth.trust_file import TrustFileError, load_trust_list, parse_trust_list

ALICE = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
BOB = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"


@pytest.mark.parametrize(
    "text",
    [
        json.dumps([ALICE, BOB.lower()]),
        json.dumps({"addresses": [ALICE, BOB]}),
        json.dumps({"request_id": "x", "data": {"name": "p", "addresses": [ALICE, BOB]}}),
        f"# partners\n{ALICE}\n\n  {BOB.lower()}  # bob, all lower case is fine\n",
    ],
)
def test_every_form_gives_the_same_list(text):
    trust = parse_trust_list(text)
    assert set(trust) == {ALICE, BOB}
    assert BOB.lower() in trust and ALICE.upper().replace("0X", "0x") in trust


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[" + json.dumps(ALICE), "not valid JSON"),
        (json.dumps({"keys": [ALICE]}), "must be a list"),
        (json.dumps([ALICE, 7]), "must be a list"),
        (ALICE[:-1] + "f", "bad address"),
        ("0x1234", "bad address"),
    ],
)
def test_bad_files_say_why(text, fragment):
    with pytest.raises(TrustFileError, match=fragment):
        parse_trust_list(text)


def test_load_from_disk(tmp_path):
    path = tmp_path / "partners.json"
    path.write_text(json.dumps([ALICE]))
    assert list(load_trust_list(path)) == [ALICE]
    with pytest.raises(TrustFileError, match="cannot read"):
        load_trust_list(tmp_path / "missing.json")
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TrustFileError, match="not UTF-8"):
        load_trust_list(binary)
