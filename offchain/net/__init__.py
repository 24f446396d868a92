"""Channels between parties: the abstract async transport, an in-memory one, and TLS.

Modules in dependency order: transport (the abstract Transport) -> memory
(n parties in one process) -> framing (the frame format) -> roster (who may
connect) -> channel (TlsTransport: framed, resumable channels over streams)
-> tls (mutually authenticated TLS 1.3 pinned by fingerprint, connect_job).
"""
