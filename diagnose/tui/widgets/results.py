"""The live results tree: side -> host and port -> check (-> findings), each with its status."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from diagnose.engine.model import Finding
from diagnose.knowledge.sanitize import clean
from diagnose.tui.state import CheckGroup, CheckRun, SideGroup
from diagnose.tui.widgets.badges import badge, elapsed, running_badge

Payload = "SideGroup | HostGroup | CheckGroup | CheckRun | Finding"


def _one_line(text: str) -> str:
    return clean(text, keep_newlines=False, limit=300)


class ResultsTree(Tree[str]):
    """Rebuilt from the state on every change (sorted, so it does not jump around); the cursor and
    the nodes the user collapsed survive a rebuild because every node has a stable key."""

    def __init__(self, **kwargs) -> None:
        super().__init__("checks", **kwargs)
        self.show_root = False
        self.guide_depth = 3
        self.payloads: dict[str, object] = {}
        self._by_key: dict[str, TreeNode[str]] = {}
        self._spinning: dict[str, CheckRun] = {}
        self._spinning_sides: dict[str, SideGroup] = {}
        self.collapsed: set[str] = set()

    @property
    def cursor_key(self) -> str | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def payload(self) -> object | None:
        key = self.cursor_key
        return self.payloads.get(key) if key else None

    def rebuild(self, groups: list[SideGroup], *, empty_text: str, frame: int) -> None:
        keep = self.cursor_key
        self.clear()
        self.payloads, self._by_key, self._spinning, self._spinning_sides = {}, {}, {}, {}
        for side in groups:
            snode = self._add(self.root, side.key, self._side_label(side, frame), side)
            if side.running:
                self._spinning_sides[side.key] = side
            for run in side.running:
                self._spinning[f"run|{run.id}"] = run
                self._add(snode, f"run|{run.id}", self._running_label(run, frame), run, leaf=True)
            for host in side.hosts:
                hnode = self._add(snode, host.key, Text.assemble(badge(host.status), _one_line(host.label)), host)
                for group in host.checks:
                    self._add_check(hnode, group)
        if not groups:
            self._add(self.root, "empty", Text(empty_text, style="italic"), None, leaf=True)
        if keep in self._by_key:
            _ = self.last_line  # lays the new nodes out, so they know their lines
            self.move_cursor(self._by_key[keep], animate=False)

    def _add_check(self, parent: TreeNode[str], group: CheckGroup) -> None:
        if len(group.findings) == 1:
            f = group.findings[0]
            label = Text.assemble(badge(f.status), (f"{group.check.id}  ", "bold"), _one_line(f.summary))
            self._add(parent, self._finding_key(group, f), label, f, leaf=True)
            return
        label = Text.assemble(badge(group.status), (group.check.id, "bold"), f"  {len(group.findings)} findings")
        cnode = self._add(parent, group.key, label, group)
        for f in group.findings:
            label = Text.assemble(badge(f.status), (_one_line(f.subject), "bold"), " — ", _one_line(f.summary))
            self._add(cnode, self._finding_key(group, f), label, f, leaf=True)

    def _add(
        self, parent: TreeNode[str], key: str, label: Text, payload: object, *, leaf: bool = False
    ) -> TreeNode[str]:
        n = 2
        while key in self._by_key:  # two findings with the same code and subject: keep both
            key = f"{key}#{n}"
            n += 1
        if leaf:
            node = parent.add_leaf(label, data=key)
        else:
            node = parent.add(label, data=key, expand=key not in self.collapsed)
        self._by_key[key] = node
        self.payloads[key] = payload
        return node

    @staticmethod
    def _finding_key(group: CheckGroup, f: Finding) -> str:
        return f"find|{group.key}|{f.code}|{f.subject}"

    @staticmethod
    def _side_label(side: SideGroup, frame: int) -> Text:
        label = Text.assemble(running_badge(frame) if side.running else badge(side.status), (side.title, "bold"))
        if side.running:
            label.append(f"  ({len(side.running)} running)", style="italic")
        return label

    @staticmethod
    def _running_label(run: CheckRun, frame: int, now: float | None = None) -> Text:
        now = time.monotonic() if now is None else now
        spent = elapsed(now - run.started) if run.started is not None else "waiting"
        return Text.assemble(running_badge(frame), (run.id, "bold"), f"  {spent} · ", _one_line(run.title))

    def tick(self, frame: int) -> None:
        """Advance the spinners and elapsed times of the running checks."""
        now = time.monotonic()
        for key, run in self._spinning.items():
            self._by_key[key].set_label(self._running_label(run, frame, now))
        for key, side in self._spinning_sides.items():
            self._by_key[key].set_label(self._side_label(side, frame))

    def first_problem(self) -> str | None:
        """Key of the first finding that needs attention, worst first."""
        order = {"fail": 0, "error": 1, "warn": 2}
        best = None
        for key, payload in self.payloads.items():
            if isinstance(payload, Finding) and payload.status.value in order:
                rank = order[payload.status.value]
                if best is None or rank < best[0]:
                    best = (rank, key)
        return best[1] if best else None

    def select_key(self, key: str) -> None:
        if key in self._by_key:
            _ = self.last_line
            self.move_cursor(self._by_key[key], animate=False)

    def on_tree_node_collapsed(self, event: Tree.NodeCollapsed) -> None:
        if event.node.data:
            self.collapsed.add(event.node.data)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        self.collapsed.discard(event.node.data or "")
