"""Majority arithmetic, alone: who wins a vote, which index a quorum has."""

from collections.abc import Iterable, Mapping


def majority(voter_count: int) -> int:
    """The smallest number of voters that is more than half of `voter_count`."""
    assert voter_count >= 1, voter_count
    return voter_count // 2 + 1


def committed_index(voters: Iterable[int], match_index: Mapping[int, int]) -> int:
    """The highest index stored by a majority of `voters` (missing voters count as 0)."""
    matches = sorted((match_index.get(v, 0) for v in voters), reverse=True)
    assert matches, "an empty voter set commits nothing"
    return matches[majority(len(matches)) - 1]


class VoteResult:
    WON = "won"
    LOST = "lost"
    PENDING = "pending"


def vote_result(voters: Iterable[int], votes: Mapping[int, bool]) -> str:
    """WON once a majority granted, LOST once a majority can no longer grant, else PENDING."""
    voters = list(voters)
    granted = sum(1 for v in voters if votes.get(v) is True)
    rejected = sum(1 for v in voters if votes.get(v) is False)
    need = majority(len(voters))
    if granted >= need:
        return VoteResult.WON
    if len(voters) - rejected < need:
        return VoteResult.LOST
    return VoteResult.PENDING


def has_quorum(voters: Iterable[int], active: Iterable[int]) -> bool:
    """Whether the `active` members include a majority of `voters`."""
    voters = set(voters)
    return len(voters & set(active)) >= majority(len(voters))
