"""The preprocessing service as its own process: keeps the group stocked and serves ciphertexts.

The group is the registry's active members when the service starts, in
registry order (party i = the i-th active member). The service deals batches
(mpcc.service.dealing.PreprocessingService), seals each member's part with
HPKE to its registered key, commits every batch on chain, and keeps each
tuple key stocked: when the tuples still usable of a key (batches attested by
every member, or younger than ``INTAKE_GRACE_S`` and still being checked,
minus what jobs reserved) fall below the configured level, it commits a new
batch of that size.

The MAC key and the shares dealt to the members are kept in a state file
(mpcc.service.dealer_state: ``--state``, default ``.mpcc/dealer-state.json``,
mode 0600, sealed under a key derived from the service account's key), so a
restart for the same group of the same deployment deals under the same key
and serves the same key shares: the members notice nothing. Another group or
deployment gets a new key, logged as a warning with what the members must do;
a state file that cannot be used stops the service with the file named.
Batches committed before a restart are no longer listed or served.

It serves the request protocol of offchain.preprocessing.protocol over TLS
with its own throwaway self-signed certificate (integrity comes from the
on-chain commitment, confidentiality from HPKE).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from eth_account.signers.local import LocalAccount

from mpcc.loopwatch import LoopWatch
from mpcc.progress import NoProgress, Reporter
from mpcc.service.dealer_state import REFETCH, LoadedKeys
from mpcc.service.dealing import Offer, PreprocessingService
from offchain.errors import ConfigError
from offchain.net.limits import ConnectionLimits, start_server
from offchain.preprocessing.protocol import (
    BAD_REQUEST,
    NOT_FOUND,
    OK,
    OP_BATCH,
    OP_KEY_SHARE,
    OP_LIST,
    REQUEST,
    RESPONSE_HEAD,
    WIRE_VERSION,
)
from offchain.preprocessing.tuples import Needs, TupleKey, TupleKind
from onchain.abi.preprocessing_ledger import BatchCommitted
from onchain.aio import AsyncChain
from onchain.deploy import Deployment
from onchain.ledger import BatchStatus

log = logging.getLogger(__name__)
INTAKE_GRACE_S = 60.0


def parse_stock(text: str, n_parties: int) -> dict[TupleKey, int]:
    """``triple=N,input_mask=M,...`` as levels per tuple key; input_mask means M per owner.

    Truncation pairs are named ``trunc:F:BITS=N``.
    """
    levels: dict[TupleKey, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, count = item.partition("=")
        if not sep or not count.strip().isdigit() or int(count) < 1:
            raise ConfigError(f"--stock: {item!r} is not KIND=COUNT with COUNT >= 1")
        n = int(count)
        kind, *params = name.strip().split(":")
        try:
            tuple_kind = TupleKind(kind)
        except ValueError:
            raise ConfigError(f"--stock: unknown tuple kind {kind!r}; choose from "
                              f"{', '.join(k.value for k in TupleKind)}") from None
        if tuple_kind is TupleKind.INPUT_MASK:
            levels.update({TupleKey(tuple_kind, owner=i): n for i in range(n_parties)})
        elif tuple_kind is TupleKind.TRUNC:
            if len(params) != 2 or not all(p.isdigit() for p in params):
                raise ConfigError("--stock: truncation pairs are named trunc:F:BITS=COUNT")
            levels[TupleKey(tuple_kind, f=int(params[0]), bits=int(params[1]))] = n
        else:
            levels[TupleKey(tuple_kind)] = n
    if not levels:
        raise ConfigError("--stock names no tuple kind (e.g. --stock input_mask=64,triple=1000)")
    return levels


@dataclass
class ServiceProcess:
    """The service's state: the dealer for the group and every batch it committed."""

    dep: Deployment
    service: PreprocessingService
    levels: dict[TupleKey, int]
    progress: Reporter = field(default_factory=NoProgress)
    batches: dict[bytes, Offer] = field(default_factory=dict)
    committed_at: dict[bytes, float] = field(default_factory=dict)
    delivered: dict[bytes, set[int] | None] = field(default_factory=dict)  # None: intake over

    @classmethod
    def start(cls, dep: Deployment, account: LocalAccount, levels: dict[TupleKey, int], state: Path,
              progress: Reporter | None = None) -> ServiceProcess:
        """The service for the registry's active members, dealing under the key kept in ``state``."""
        members = dep.registry.active_members()
        if len(members) < 2:
            raise ConfigError(f"the registry has {len(members)} active members; a group needs 2 or more")
        owners = [k.owner for k in levels if k.owner is not None]
        if owners and max(owners) >= len(members):
            raise ConfigError(f"input masks for owner {max(owners)} but the group has {len(members)} members")
        service = PreprocessingService(dep, account, members, state)
        if service.loaded is not None:  # Always, given a state file: it says which key it deals under.
            _announce(dep, service.loaded)
        return cls(dep, service, levels, progress or NoProgress())

    @property
    def group_size(self) -> int:
        return len(self.service.recipients)

    def usable(self, batch_id: bytes) -> int:
        """Tuples of a batch a job may still reserve (or soon may: its intake is under way)."""
        batch = self.dep.ledger.batch(batch_id)
        if batch.status is not BatchStatus.COMMITTED:
            return 0
        young = time.monotonic() - self.committed_at.get(batch_id, 0.0) < INTAKE_GRACE_S
        if young or batch.attestations >= self.group_size:
            return batch.available
        return 0

    def refill(self) -> list[Offer]:
        """Commits a batch for each key stocked below its level."""
        low = [(key, level) for key, level in self.levels.items()
               if sum(self.usable(b) for b, o in self.batches.items() if o.key == key) < level]
        made: list[Offer] = []
        for step, (key, level) in enumerate(low):
            self.progress.update("refill", f"dealing, sealing and committing {level} {key}", step, len(low))
            for offer in self.service.produce(Needs.of(key, level)):
                self.batches[offer.batch_id] = offer
                self.committed_at[offer.batch_id] = time.monotonic()
                self.delivered[offer.batch_id] = set()
                log.info("batch %s committed: %d %s", offer.batch_id.hex(), offer.count, key)
                made.append(offer)
        if low:
            self.progress.finish("refill", f"{len(made)} batches committed")
        return made

    def report_intake(self) -> None:
        """Progress of each batch until every member attested it: fetched, then sacrifice-checked."""
        n = self.group_size
        for batch_id, parties in list(self.delivered.items()):
            if parties is None:
                continue
            task, batch = f"batch {batch_id.hex()[:12]}", self.dep.ledger.batch(batch_id)
            if batch.status is not BatchStatus.COMMITTED or batch.attestations >= n:
                self.delivered[batch_id] = None
                self.progress.finish(task, f"sacrifice-checked and attested by all {n} members"
                                     if batch.status is BatchStatus.COMMITTED else batch.status.name.lower())
            else:
                self.progress.update(task, f"{self.batches[batch_id].key}: fetched by {len(parties)}, "
                                     f"attested by {batch.attestations} of {n} members",
                                     len(parties) + batch.attestations, 2 * n)

    def respond(self, request: bytes) -> tuple[int, bytes]:
        """(status, body) for one request (see the module docstring)."""
        if len(request) != REQUEST.size:
            return BAD_REQUEST, b"request of the wrong length"
        version, op, party, batch_id = REQUEST.unpack(request)
        if version != WIRE_VERSION:
            return BAD_REQUEST, f"request version {version}, this service speaks {WIRE_VERSION}".encode()
        if op == OP_LIST:
            headers = [o.sealed.header.to_bytes() for o in self.batches.values()]
            return OK, len(headers).to_bytes(4, "big") + b"".join(headers)
        if party >= self.group_size:
            return NOT_FOUND, f"no party {party} in a group of {self.group_size}".encode()
        if op == OP_KEY_SHARE:
            sealed = self.service.sealed_keys[party]
            return OK, self.service.group + self.group_size.to_bytes(2, "big") + party.to_bytes(2, "big") + sealed
        if op == OP_BATCH:
            offer = self.batches.get(batch_id)
            if offer is None:
                return NOT_FOUND, f"no batch {batch_id.hex()} here".encode()
            parties = self.delivered.get(batch_id)
            if parties is not None:
                parties.add(party)
            return OK, offer.sealed.delivery(party).to_bytes()
        return BAD_REQUEST, f"unknown op {op}".encode()


def _announce(dep: Deployment, loaded: LoadedKeys) -> None:
    """Logs which MAC key the service deals under; a warning when members may hold another one."""
    if loaded.outcome == "created":
        earlier = len(dep.ledger.logs(BatchCommitted, from_block=dep.manifest.deploy_block))
        if earlier:
            log.warning("%s; but the ledger of this deployment already holds committed batches (%d), dealt "
                        "under a MAC key this state does not hold: %s", loaded.message, earlier, REFETCH)
            return
    log.log(logging.WARNING if loaded.outcome == "replaced" else logging.INFO, "%s", loaded.message)


async def serve(process: ServiceProcess, host: str, port: int, poll_s: float = 1.0,
                ready: asyncio.Event | None = None) -> None:
    """Serves requests on host:port and refills the stock every ``poll_s`` until cancelled."""
    with tempfile.TemporaryDirectory(prefix="mpcc-service-tls-") as tmp:
        context = _throwaway_tls(Path(tmp))
        server, _ = await start_server(lambda r, w: _handle(process, r, w), host, port, limits=ConnectionLimits(),
                                       name="the preprocessing service", context=context)
        log.info("preprocessing service for %d members listening on %s:%d", process.group_size, host, port)
        # Dealing, sealing and committing run on a worker thread, the chain's receipts included:
        # requests for deliveries are answered meanwhile.
        chain, watch = AsyncChain(process.dep.chain), LoopWatch()
        watching = asyncio.ensure_future(watch.run())
        try:
            while True:
                try:
                    await chain.run(process.refill)
                    if process.progress.enabled:
                        await chain.run(process.report_intake)
                except Exception:
                    log.exception("refill failed; retrying")
                if ready is not None:
                    ready.set()
                await asyncio.sleep(poll_s)
        finally:
            watching.cancel()
            sent = list(process.dep.chain.log)
            log.info("stopping: event loop's longest stall %.3f s; %d transactions, longest receipt wait %.1f s",
                     watch.longest_s, len(sent), max((s.waited_s for s in sent), default=0.0))
            chain.close()
            server.close()
            await server.wait_closed()


async def _handle(process: ServiceProcess, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    host, port = writer.get_extra_info("peername")[:2]
    peer = f"{host}:{port}"
    try:
        request = await asyncio.wait_for(reader.readexactly(REQUEST.size), 10.0)
        status, body = process.respond(request)
        log.info("request op %d from %s: status %d, %d bytes", request[1], peer, status, len(body))
        writer.write(RESPONSE_HEAD.pack(WIRE_VERSION, status, len(body)) + body)
        await writer.drain()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as err:
        log.warning("request from %s failed: %s", peer, err or type(err).__name__)
    finally:
        writer.close()


def _throwaway_tls(directory: Path) -> ssl.SSLContext:
    """A TLS 1.3 server context with a fresh self-signed certificate (see the module docstring)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mpcc preprocessing service")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    key_path.touch(mode=0o600)
    # Even a throwaway key is never on disk in clear: its password lives in memory only.
    password = secrets.token_bytes(32)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(password)))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(cert_path, key_path, password=password)
    return context
