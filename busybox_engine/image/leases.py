"""Leases: the blobs and snapshots a pull, import, push, export or container
create is using, which the garbage collector leaves alone until it is done.

As containerd's leases, but held in memory: they end with the operation,
or with the daemon (a pull cut off by a crash leaves garbage that the next
collection takes). Reads and writes of the lease sets take one lock; the
collector takes it for each removal, so an item is either leased before
the collector looks at it (and kept) or removed before the lease is taken
(and the operation, which leases first and then looks, fetches it again).

A lease released while a collection runs is kept until that collection
ends: what it protected (say, a pull's blobs) may be referenced by a record
the collector read too early to see.
"""
import threading


class Lease:
    def __init__(self, leases: "Leases"):
        self.leases = leases
        self.blobs = set()
        self.chains = set()

    def blob(self, *digests: str) -> None:
        with self.leases.mu:
            self.blobs.update(digests)

    def chain(self, *chain_ids: str) -> None:
        with self.leases.mu:
            self.chains.update(chain_ids)

    def release(self) -> None:
        self.leases._release(self)

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class Leases:
    def __init__(self):
        self.mu = threading.Lock()
        self.live = set()
        self.collecting = 0
        self.grace_blobs, self.grace_chains = set(), set()

    def lease(self) -> Lease:
        lease = Lease(self)
        with self.mu:
            self.live.add(lease)
        return lease

    def _release(self, lease: Lease) -> None:
        with self.mu:
            if lease not in self.live:
                return
            self.live.discard(lease)
            if self.collecting:
                self.grace_blobs |= lease.blobs
                self.grace_chains |= lease.chains

    # for the collector, which holds mu while it asks and removes

    def holds_blob(self, digest: str) -> bool:
        return digest in self.grace_blobs or any(digest in lease.blobs for lease in self.live)

    def holds_chain(self, chain_id: str) -> bool:
        return chain_id in self.grace_chains or any(chain_id in lease.chains for lease in self.live)

    def begin_collection(self) -> None:
        with self.mu:
            self.collecting += 1

    def end_collection(self) -> None:
        with self.mu:
            self.collecting -= 1
            if not self.collecting:
                self.grace_blobs.clear()
                self.grace_chains.clear()
