"""ray_cluster.yaml is a real cluster-launcher file: Ray's own schema accepts it, and it keeps
Ray's unauthenticated endpoints off public interfaces."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load():
    return yaml.safe_load((ROOT / "ray_cluster.yaml").read_text())


def test_ray_accepts_the_cluster_file():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(load())
    validate_config(config)
    assert config["provider"]["type"] == "local"
    assert len(config["provider"]["worker_ips"]) >= 2, "replication factor 3 needs 3 machines"


def test_every_node_advertises_a_broker_slot_and_the_dashboard_stays_local():
    config = load()
    head = " ".join(config["head_start_ray_commands"])
    worker = " ".join(config["worker_start_ray_commands"])
    assert '"raybee_broker": 1' in head and '"raybee_broker": 1' in worker
    assert "--dashboard-host=127.0.0.1" in head
    assert "0.0.0.0" not in head + worker
