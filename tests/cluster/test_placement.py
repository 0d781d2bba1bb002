"""Placement: replicas on distinct brokers, leaders spread by priority, replacement hosts,
leadership moves (pure functions, no Ray)."""

import collections

import pytest

from raybee.actors.placement import (
    initial_placement,
    leaders_per_broker,
    leadership_moves,
    preferred_leader,
    replacement_host,
)


@pytest.mark.parametrize(
    ("partitions", "rf", "brokers"),
    [(3, 3, 3), (3, 1, 3), (6, 3, 3), (7, 3, 5), (1, 1, 1), (10, 2, 4)],
)
def test_replicas_on_distinct_brokers_and_preferred_leaders_spread(partitions, rf, brokers):
    broker_ids = list(range(10, 10 + brokers))
    placement = initial_placement(partitions, rf, broker_ids)
    assert sorted(placement) == list(range(1, partitions + 1))
    for slots in placement.values():
        assert len({s.broker_id for s in slots}) == rf, slots
        assert [s.priority for s in slots] == list(range(rf, 0, -1))
    leaders = collections.Counter(slots[0].broker_id for slots in placement.values())
    # Round-robin: preferred leaders differ by at most one per broker.
    counts = [leaders.get(b, 0) for b in broker_ids]
    assert max(counts) - min(counts) <= 1, counts


def test_three_brokers_three_partitions_each_broker_prefers_exactly_one():
    placement = initial_placement(3, 3, [7, 3, 5])
    assert {p: slots[0].broker_id for p, slots in placement.items()} == {1: 3, 2: 5, 3: 7}


def test_placement_refuses_too_few_brokers_and_repeats():
    with pytest.raises(ValueError, match="needs 3 brokers"):
        initial_placement(3, 3, [1, 2])
    with pytest.raises(ValueError, match="repeat"):
        initial_placement(3, 2, [1, 1, 2])
    with pytest.raises(ValueError, match="at least 1"):
        initial_placement(0, 1, [1])


def test_replacement_host_is_a_live_broker_without_the_partition_least_loaded_first():
    hosted = {1: {1, 2, 3}, 2: {1, 2, 3}, 4: {2}, 5: set()}
    assert replacement_host(1, [1, 2, 4, 5], hosted) == 5
    assert replacement_host(1, [1, 2, 4], hosted) == 4
    assert replacement_host(2, [1, 2, 4], hosted) is None


def test_preferred_leader_is_the_healthy_voter_of_highest_priority():
    members = {
        11: {"voter": True, "priority": 3, "healthy": False},
        12: {"voter": True, "priority": 2},
        13: {"voter": False, "priority": 9},
        14: {"voter": True, "priority": 2},
    }
    assert preferred_leader(members) == 12
    assert preferred_leader({1: {"voter": False, "priority": 1}}) is None


def test_leadership_moves_skip_leaderless_partitions_and_well_led_ones():
    members = {1: {"voter": True, "priority": 3}, 2: {"voter": True, "priority": 1}}
    partitions = {
        1: {"leader": 2, "members": members},
        2: {"leader": 1, "members": members},
        3: {"leader": None, "members": members},
    }
    assert leadership_moves(partitions) == [(1, 2, 1)]
    assert leaders_per_broker({1: 5, 2: 5, 3: None}, [5, 6]) == {5: 2, 6: 0}
