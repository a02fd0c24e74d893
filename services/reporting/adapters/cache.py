"""Facts and derived rows kept between batches by a consumer that is the only writer of its
tables (a rebuild's): loading a contributor's history and deriving their rows again for
every batch that touches them is most of what a batch costs otherwise.

Only what committed may be kept. A batch's entries are staged while its handler runs and
kept once the consumer's `process` returns having called the handler exactly once (the
batch's own transaction committed); any other outcome (an exception, or the one-event-at-a-
time isolation of a failed batch) forgets everything, and the tables are read again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from services.reporting.projections.project import Derived


class DerivedCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, Derived] = OrderedDict()
        self._staged: dict[str, Derived] = {}
        self._handled = 0

    def __len__(self) -> int:
        return len(self._entries)

    def known(self, contributor_ids: Iterable[str]) -> dict[str, Derived]:
        return {cid: d for cid in contributor_ids if (d := self._entries.get(cid)) is not None}

    def begin(self) -> None:
        """A batch starts."""
        self._staged, self._handled = {}, 0

    def stage(self, changed: Mapping[str, Derived]) -> None:
        """The handler ran (in a transaction not yet committed) and changed these."""
        self._handled += 1
        self._staged.update(changed)

    def settle(self) -> None:
        """The batch's `process` returned: keep its entries if its one transaction did."""
        if self._handled != 1:
            self.forget()
            return
        for cid, derived in self._staged.items():
            self._entries[cid] = derived
            self._entries.move_to_end(cid)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        self._staged = {}

    def forget(self) -> None:
        self._entries.clear()
        self._staged = {}
