"""Ticketing systems as sources: the mapping file, signatures and payload mapping.

Pure parts only (docs/sources.md): the receiver (`services/receiver.py`) and the
history puller feed bytes and stored state in, and get events or a refusal out.
"""
