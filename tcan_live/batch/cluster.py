"""The Dask cluster a batch runs on: a local one of worker processes, or an existing one.

On a ``LocalCluster`` each worker is a process running one task at a time (one Dask thread);
the engine inside it gets the CPU threads (``engine_threads``), so workers x engine threads
fill the machine's physical cores without oversubscribing them. An existing cluster
(``dask scheduler`` / ``dask worker``, dask-jobqueue on SLURM ...) is used as it was started.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tcan_live.engine.ort_backend import cpu_threads

if TYPE_CHECKING:
    from distributed import Client


@dataclass(frozen=True)
class ClusterPlan:
    """How many worker processes a local cluster starts, and the engine threads of each."""

    workers: int
    engine_threads: int

    @classmethod
    def for_machine(cls, workers: int | None, engine_threads: int | None) -> ClusterPlan:
        """Fill the physical cores: workers x engine threads, the missing one derived."""
        cores = cpu_threads()
        if workers is None:
            workers = max(1, cores // (engine_threads or 1))
        if engine_threads is None:
            engine_threads = max(1, cores // workers)
        return cls(workers, engine_threads)


@contextmanager
def batch_client(
    scheduler: str | None,
    plan: ClusterPlan,
    *,
    dashboard_address: str | None = ":8787",
) -> Iterator[Client]:
    """Connect to ``scheduler``, or start a local cluster of ``plan.workers`` processes.

    Parameters
    ----------
    scheduler
        Address of a running scheduler (``tcp://host:8786``); None starts a ``LocalCluster``.
    plan
        The local cluster's size.
    dashboard_address
        Where the local cluster serves its dashboard (None: none; a taken port picks another).
    """
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=plan.workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=_free_or_any(dashboard_address),
        silence_logs=logging.ERROR,
    )
    with cluster, Client(cluster) as client:
        yield client


def _free_or_any(address: str | None) -> str | None:
    """Return ``address`` if its port is free here, else ``":0"`` (any free port).

    Another Dask dashboard (or any program) may hold the port; Dask would then warn and leak a
    socket while it moves elsewhere. The command prints the link the cluster got either way.
    """
    if address is None:
        return None
    host, _, port = address.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        return address
    with socket.socket() as probe:
        try:
            probe.bind((host, int(port)))
        except OSError:
            return f"{host}:0"
    return address


def dashboard_link(client: Client) -> str | None:
    """Return the scheduler's dashboard address, or None when it serves no dashboard.

    Asked of the dashboard itself: a scheduler started without one still answers on its HTTP
    port (health, metrics), but not on the dashboard's page. A missing page is answered at
    once; the generous time-out is for a dashboard that is slow to render its first page on a
    busy machine (measured: over 2 s while other jobs held both cores).
    """
    import urllib.error
    import urllib.request

    link = str(client.dashboard_link)
    try:
        with urllib.request.urlopen(link, timeout=20) as response:
            return link if response.status == 200 else None
    except (urllib.error.URLError, OSError, ValueError):
        return None
