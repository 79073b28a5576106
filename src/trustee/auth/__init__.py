"""Authentication and authorisation: server tokens, ACL policies, roles and JWT login.

Server tokens (:mod:`trustee.auth.token_store`) are random 32-byte secrets stored only as
SHA-256 hashes; policies deny by default.
"""
