"""The access log's rule for query strings: token-like names keep their names, lose their values."""

import logging

import pytest

from trustee.server.access_log import RedactQueryFilter, redact_query, redact_target


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("X-Vault-Token=s.abc", "X-Vault-Token=[redacted]"),
        ("access_token=a&token=b&client_token=c", "access_token=[redacted]&token=[redacted]"
         "&client_token=[redacted]"),
        ("JWT=x&api_key=y&Secret=z&password=p&passphrase=q", "JWT=[redacted]&api_key=[redacted]"
         "&Secret=[redacted]&password=[redacted]&passphrase=[redacted]"),
        ("X-Amz-Signature=s&sig=t&authorization=u&credential=v", "X-Amz-Signature=[redacted]"
         "&sig=[redacted]&authorization=[redacted]&credential=[redacted]"),
        ("tok%65n=x&X%2DVault%2DToken=y", "tok%65n=[redacted]&X%2DVault%2DToken=[redacted]"),
        ("a=1;token=x", "a=1;token=[redacted]"),
        ("standbyok=true&list=true&page=2", "standbyok=true&list=true&page=2"),
        ("token", "token"),  # no value to hide
        ("token=&token=a=b", "token=[redacted]&token=[redacted]"),
        ("", ""),
    ],
)  # fmt: skip
def test_token_like_parameters_lose_their_values(query: str, logged: str) -> None:
    assert redact_query(query) == logged


def test_a_target_without_a_query_is_kept() -> None:
    assert redact_target("/v1/sys/health") == "/v1/sys/health"
    assert redact_target("/v1/sys/health?") == "/v1/sys/health?"


def test_the_filter_cleans_uvicorns_access_record() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/v1/sys/health?token=SECRET&x=1", "1.1", 200), None,
    )  # fmt: skip
    assert RedactQueryFilter().filter(record)
    assert record.getMessage() == (
        '127.0.0.1:5000 - "GET /v1/sys/health?token=[redacted]&x=1 HTTP/1.1" 200'
    )
