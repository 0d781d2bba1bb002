"""The replicated partition: one replica of one partition (Raft, the journal, the stream
processor and RocksDB composed), driven from outside with no threads, sockets or Ray.

See replica.py for the data path and leadership, log_view.py for positions and the committed
view, request_ids.py for retries, and `partitions/raft_storage.py` / `partitions/snapshots.py`
for snapshots as files.
"""

from .config import ReplicaConfig
from .errors import BackpressureError, NotLeaderError, ReplicaClosedError, ReplicaError
from .log_view import RaftLogView
from .replica import FAULT_POINTS, MemoryState, PartitionReplica, ReplicaReady, RocksDBState
from .request_ids import REQUEST_ID_WINDOW_POSITIONS, RequestIdWindow

__all__ = [
    "FAULT_POINTS",
    "MemoryState",
    "REQUEST_ID_WINDOW_POSITIONS",
    "BackpressureError",
    "NotLeaderError",
    "PartitionReplica",
    "RaftLogView",
    "ReplicaClosedError",
    "ReplicaConfig",
    "ReplicaError",
    "ReplicaReady",
    "RequestIdWindow",
    "RocksDBState",
]
