"""Membership reaches running daemons, and one daemon runs per organisation: processes on a Hardhat node.

Its own consortium (a member is suspended here): a second daemon for a home
refuses to start naming the first one's pid; a damaged cache is named by
`peer status`; after C is suspended, A refuses C's channels at once (whatever
the job), while C's daemon stays up, idle, and says why.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import MPCC, PASSPHRASE, Cluster, free_port, wait_until
from mpcc import orgs
from offchain.errors import PeerTimeout
from offchain.net.tls import ChannelSettings, HandshakeRefused, JobRoster, RosterEntry, TlsCredentials, connect_job

pytestmark = pytest.mark.hardhat


@pytest.fixture(scope="module")
def cluster(e2e_node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("membership"), e2e_node)
    try:
        made.form()
        made.start_service()
        for i in range(3):
            made.start_peer(i)
        wait_until("every peer to load its MAC key share",
                   lambda: all("MAC key share of party" in made.log_text(f"peer-{t}") for t in "abc"), timeout=90)
        yield made
    finally:
        made.stop_all()
        for name in ("peer-a", "peer-c"):
            print(f"----- {name}.log (last lines) -----\n" + "\n".join(made.log_text(name).splitlines()[-30:]))


def test_a_second_daemon_for_the_same_home_refuses_to_start_and_names_the_first(cluster: Cluster) -> None:
    second = cluster.workdir / "a-again.toml"  # Another port, so that only the lock can stop it.
    second.write_text(cluster.config(0).read_text().replace("accept =", f'listen = "127.0.0.1:{free_port()}"\naccept ='))
    process = subprocess.Popen([MPCC, "peer", "run", "--config", str(second)], env=cluster.env, cwd=cluster.workdir,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        raise AssertionError("a second daemon ran for the same organisation home") from None
    assert process.returncode == 2
    assert f"another peer daemon runs for {cluster.home(0)} (pid {cluster.processes['peer-a'].pid}" in err
    assert cluster.alive("peer-a")


def test_peer_status_on_a_damaged_cache_names_the_file(cluster: Cluster) -> None:
    damaged = cluster.workdir / "damaged.sqlite"
    damaged.write_bytes(b"not a database at all " * 200)
    config = cluster.workdir / "a-damaged.toml"
    config.write_text(cluster.config(0).read_text().replace(f'cache = "{cluster.cache(0).name}"',
                                                            f'cache = "{damaged.name}"'))
    done = cluster.mpcc("peer", "status", "--config", str(config), check=False)
    assert done.returncode == 2, done.stderr
    assert f"the tuple cache {damaged} is damaged" in done.stderr and "Traceback" not in done.stderr


def c_dials_a(cluster: Cluster, window: float) -> BaseException:
    """C, with its real keys, dials A for a made-up job; returns how it failed."""
    c = orgs.load(cluster.home(2), PASSPHRASE.encode())
    a = cluster.dep().registry.member(cluster.accounts[0])
    roster = JobRoster(bytes(31) + b"\x07", (RosterEntry(0, a.endpoint, a.tls_fingerprint),
                                             RosterEntry(1, f"127.0.0.1:{free_port()}", c.identity.tls_fingerprint)))

    async def dial() -> BaseException:
        try:
            transport = await connect_job(TlsCredentials.from_identity(c.identity, PASSPHRASE.encode()), roster, 1,
                                          settings=ChannelSettings(connect_timeout=window, timeout=5))
        except (HandshakeRefused, PeerTimeout) as err:
            return err
        await transport.close()
        raise AssertionError("A let C in")

    return asyncio.run(dial())


def test_a_suspended_member_is_refused_at_once_and_its_daemon_stays_up_and_says_why(cluster: Cluster) -> None:
    for voter in (0, 1):
        cluster.mpcc("org", "vote", "suspend", cluster.accounts[2], "--home", str(cluster.home(voter)))
    wait_until("C's daemon to log that it is suspended",
               lambda: "Party C is suspended in the consortium's registry" in cluster.log_text("peer-c"), 30)
    refusal = c_dials_a(cluster, window=10)
    assert isinstance(refusal, HandshakeRefused) and not refusal.retry, refusal
    wait_until("A to log why it refused C", lambda: "refused a connection" in cluster.log_text("peer-a")
               and "is suspended in the consortium's registry" in cluster.log_text("peer-a"), 20)
    status = wait_until("C's status to say it is suspended", lambda: (s := cluster.mpcc_json(
        "peer", "status", "--config", str(cluster.config(2))))["daemon"]["suspended"] and s, 30)
    assert status["daemon"]["running"] and cluster.alive("peer-c")
    assert "Traceback" not in cluster.log_text("peer-c") and "NotActiveMember" not in cluster.log_text("peer-c")
