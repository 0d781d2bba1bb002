"""Transcript tests in the etcd style: a small command language over in-memory nodes.

Each tests/raft/testdata/*.txt holds blocks of

    command arg arg
    ----
    expected output

separated by blank lines (`#` lines are comments). RAYBEE_REWRITE=1 rewrites the expected
output from what the code does now; review the diff before committing it.
"""

import os
import pathlib
import shlex

import pytest

from raybee.raft import ConfChange, ConfChangeKind, ConfState, RaftConfig, RaftError
from raybee.raft.testing import InMemoryCluster

TESTDATA = pathlib.Path(__file__).parent / "testdata"
REWRITE = os.environ.get("RAYBEE_REWRITE") == "1"


def parse(text):
    """Yield (command, expected_lines, comments_before) blocks."""
    blocks, comments = [], []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            if line.strip():
                comments.append(line)
            i += 1
            continue
        command = line
        if i + 1 >= len(lines) or lines[i + 1] != "----":
            raise ValueError(f"line {i + 1}: command {command!r} is not followed by ----")
        i += 2
        expected = []
        while i < len(lines) and lines[i].strip():
            expected.append(lines[i])
            i += 1
        blocks.append((command, expected, comments))
        comments = []
    return blocks, comments


class Driver:
    def __init__(self):
        self.cluster = None

    def run(self, command):
        words = shlex.split(command)
        name, args = words[0], words[1:]
        handler = getattr(self, "cmd_" + name.replace("-", "_"), None)
        if handler is None:
            raise ValueError(f"unknown transcript command {name!r}")
        try:
            out = handler(*args)
        except RaftError as e:
            out = f"error: {type(e).__name__}: {e}"
        return out.splitlines() if out else ["ok"]

    # -- commands --
    def cmd_add_nodes(self, n, *options):
        opts = dict(o.split("=", 1) for o in options)
        config = RaftConfig(
            pre_vote=opts.get("pre-vote", "true") == "true",
            check_quorum=opts.get("check-quorum", "true") == "true",
            priority_transfer=opts.get("priority-transfer", "true") == "true",
            snapshot_chunk_bytes_max=int(opts.get("chunk", "1048576")),
            max_entries_per_append=int(opts.get("max-entries", "512")),
            max_inflight_appends=int(opts.get("inflight", "64")),
        )
        priorities = ()
        if "priorities" in opts:
            pairs = (p.split(":") for p in opts["priorities"].split(","))
            priorities = tuple(sorted((int(a), int(b)) for a, b in pairs))
        self.cluster = InMemoryCluster(config, seed=int(opts.get("seed", "0")))
        conf = ConfState(voters=frozenset(range(1, int(n) + 1)), priorities=priorities)
        for i in range(1, int(n) + 1):
            self.cluster.add_node(i, conf)
        return self.cmd_status()

    def cmd_add_blank(self, node_id):
        self.cluster.add_node(int(node_id))
        return ""

    def cmd_campaign(self, node_id):
        self.cluster.nodes[int(node_id)].campaign()
        return ""

    def cmd_tick(self, node_id, count="1"):
        self.cluster.tick(int(node_id), int(count))
        return ""

    def cmd_tick_all(self, count="1"):
        for _ in range(int(count)):
            for node_id in sorted(self.cluster.nodes):
                self.cluster.tick(node_id)
        return ""

    def cmd_tick_stabilize(self, count, *node_ids):
        """Tick the given nodes (default all) and stabilize, `count` times; show the end state."""
        ids = [int(i) for i in node_ids] or sorted(self.cluster.nodes)
        sent = 0
        for _ in range(int(count)):
            for node_id in ids:
                self.cluster.tick(node_id)
            sent += len(self.cluster.stabilize())
        return f"messages: {sent}\n" + self.cmd_status()

    def cmd_stabilize(self):
        return "\n".join(self.cluster.stabilize())

    def cmd_propose(self, node_id, *values):
        indexes = self.cluster.nodes[int(node_id)].propose_many(values)
        return "indexes: " + " ".join(map(str, indexes))

    def cmd_status(self, *node_ids):
        ids = [int(i) for i in node_ids] or sorted(self.cluster.nodes)
        out = []
        for i in ids:
            n = self.cluster.nodes[i]
            out.append(
                f"{i}: {n.role.value} term={n.term} lead={n.leader_id} vote={n.vote} "
                f"commit={n.commit_index} applied={n.applied_index} last={n.last_index} "
                f"voters={','.join(map(str, sorted(n.voters)))} "
                f"learners={','.join(map(str, sorted(n.learners)))}"
            )
        return "\n".join(out)

    def cmd_values(self, node_id):
        return " ".join(map(str, self.cluster.values[int(node_id)])) or "(none)"

    def cmd_progress(self, node_id):
        views = self.cluster.nodes[int(node_id)].progress()
        return (
            "\n".join(
                f"{v.node_id}: {v.state.value} match={v.match_index} next={v.next_index} "
                f"inflight={v.inflight} active={v.recent_active} learner={v.is_learner}"
                for v in views.values()
            )
            or "(not leader)"
        )

    def cmd_isolate(self, node_id):
        self.cluster.isolate(int(node_id))
        return ""

    def cmd_heal(self):
        self.cluster.heal()
        return ""

    def cmd_restart(self, node_id):
        self.cluster.restart(int(node_id))
        return self.cmd_status(node_id)

    def cmd_transfer(self, node_id, target):
        self.cluster.nodes[int(node_id)].transfer_leadership(int(target))
        return ""

    def _conf_change(self, kind, node_id, target, priority="0"):
        index = self.cluster.nodes[int(node_id)].propose_conf_change(
            ConfChange(kind, int(target), int(priority))
        )
        return f"index: {index}"

    def cmd_add_learner(self, node_id, target, priority="0"):
        return self._conf_change(ConfChangeKind.ADD_LEARNER, node_id, target, priority)

    def cmd_promote(self, node_id, target):
        return self._conf_change(ConfChangeKind.PROMOTE, node_id, target)

    def cmd_remove(self, node_id, target):
        return self._conf_change(ConfChangeKind.REMOVE, node_id, target)

    def cmd_compact(self, node_id, index=None):
        node = self.cluster.nodes[int(node_id)]
        snap = self.cluster.compact(int(node_id), int(index) if index else node.applied_index)
        return f"snapshot index={snap.meta.index} term={snap.meta.term} bytes={len(snap.data)}"


@pytest.mark.parametrize("path", sorted(TESTDATA.glob("*.txt")), ids=lambda p: p.stem)
def test_transcript(path):
    blocks, trailing = parse(path.read_text())
    assert blocks, f"{path} holds no commands"
    driver = Driver()
    rewritten, mismatches = [], []
    for command, expected, comments in blocks:
        actual = driver.run(command)
        rewritten.extend(comments)
        rewritten.extend([command, "----", *actual, ""])
        if actual != expected:
            mismatches.append(
                f"{path.name}: {command}\n--- expected\n"
                + "\n".join(expected)
                + "\n--- actual\n"
                + "\n".join(actual)
            )
    if REWRITE:
        path.write_text("\n".join(rewritten + [c for c in trailing if c.strip()]).rstrip() + "\n")
        return
    assert not mismatches, "\n\n".join(mismatches[:3]) + "\n(RAYBEE_REWRITE=1 rewrites)"
