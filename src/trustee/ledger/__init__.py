"""The signed-records ledger: assets, device-signed events and the transparency log they sit on.

The pure core lives here next to the services: :mod:`trustee.ledger.merkle` (RFC 9162 tree
hashing and proofs), :mod:`trustee.ledger.note` (C2SP signed notes and checkpoints) and
:mod:`trustee.ledger.canonical` (RFC 8785 bytes of a JSON value). None of them does I/O, so the
server and the offline auditor share them line for line.
"""
