"""The Vault face: Vault's HTTP conventions under ``/v1`` over the services.

It owns its wire shapes (the envelope, ``{"errors": [...]}``), its error table
(:mod:`~trustee.server.faces.vault.envelope`), its token extraction and the mapping of its
paths to ACL resources (:mod:`~trustee.server.faces.vault.guard`), its conventions (the
``LIST`` verb, JSON whatever the label), its rate limits and its hot routes.
"""

from trustee.server.faces.vault.face import FACE, create_api

__all__ = ["FACE", "create_api"]
