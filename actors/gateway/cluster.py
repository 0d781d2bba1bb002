"""Topology: raybee's brokers, partitions and roles in Zeebe's shape.

A raybee broker (one per Ray node) is a Zeebe broker: `nodeId` is its broker id, `host` names
its Ray node (clients never connect to brokers; the field is informational), `port` is 0.
Each replica it hosts is a partition entry: LEADER for the partition's leader replica,
FOLLOWER for other voters, INACTIVE for learners still catching up; health follows the
broker's state as the supervisor sees it (alive, suspect, lost).
"""

from pyzeebe.proto import gateway_pb2 as pb

from raybee import __version__
from raybee.actors.gateway.rpc import RpcBase, unary

GATEWAY_VERSION = f"raybee-{__version__}"
BROKER_HEALTH = {
    "alive": pb.Partition.HEALTHY,
    "starting": pb.Partition.UNHEALTHY,
    "suspect": pb.Partition.UNHEALTHY,
    "lost": pb.Partition.DEAD,
}


def topology_response(topology: dict) -> pb.TopologyResponse:
    brokers = {int(b): info for b, info in topology["brokers"].items()}
    partitions_by_broker: dict[int, list] = {b: [] for b in brokers}
    for p, info in sorted(topology["partitions"].items(), key=lambda kv: int(kv[0])):
        leader = info.get("leader_replica")
        for replica, member in info.get("members", {}).items():
            broker = member.get("broker")
            if broker is None or int(broker) not in brokers:
                continue
            if leader is not None and int(replica) == int(leader):
                role = pb.Partition.LEADER
            elif member.get("voter", True):
                role = pb.Partition.FOLLOWER
            else:
                role = pb.Partition.INACTIVE
            state = brokers[int(broker)].get("state", "alive")
            partitions_by_broker[int(broker)].append(
                pb.Partition(
                    partitionId=int(p),
                    role=role,
                    health=BROKER_HEALTH.get(state, pb.Partition.UNHEALTHY),
                )
            )
    infos = [
        pb.BrokerInfo(
            nodeId=b,
            host=str(brokers[b].get("node_id") or f"broker-{b}"),
            port=0,
            partitions=partitions_by_broker[b],
            version=GATEWAY_VERSION,
        )
        for b in sorted(brokers)
    ]
    return pb.TopologyResponse(
        brokers=infos,
        clusterSize=sum(1 for info in brokers.values() if info.get("state") != "lost"),
        partitionsCount=int(topology["partition_count"]),
        replicationFactor=int(topology["replication_factor"]),
        gatewayVersion=GATEWAY_VERSION,
    )


class ClusterRpcs(RpcBase):
    @unary
    async def Topology(self, request, context):
        return topology_response(await self.backend.topology())
