"""The HTTP face: Vault's conventions over the services, thin handlers, one error mapping."""

from trustee.server.app import create_app

__all__ = ["create_app"]
