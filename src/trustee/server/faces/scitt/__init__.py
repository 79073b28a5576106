"""The SCITT face: the SCITT Reference API (SCRAPI) over the registration service, CBOR in and
out. ``POST /entries`` takes a COSE_Sign1 statement, ``GET /entries/<id>`` answers its
receipt, ``GET /entries/<id>/statement`` the transparent statement, and
``GET /.well-known/scitt-keys`` the receipt keys; every error is a concise problem details
map (RFC 9290) in CBOR."""

from trustee.server.faces.scitt.face import FACE, create_app

__all__ = ["FACE", "create_app"]
