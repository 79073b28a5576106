"""The DataTrails (RKVST) face: ``/archivist/v2`` assets and events and ``/archivist/iam/v1``
application registrations, in DataTrails' wire shapes, over the same ledger as every face."""

from trustee.server.faces.archivist.face import FACE, create_api

__all__ = ["FACE", "create_api"]
