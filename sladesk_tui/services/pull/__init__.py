"""`sladesk pull`: read a ticketing system's history through its API and store it (docs/pull.md).

The I/O half of pulling; the mapping is pure (`core.sources`), the storing is the
importer's (`store.pulls`). Three rules make a pull safe to cut off anywhere:

- **Keyset paging.** Each request asks for what follows the cursor (RT: transactions
  with an id above it, in id order), never for "page 7": a page number shifts when
  the provider changes under us, a key does not.
- **The cursor commits with the events.** A batch's events, its tickets' problems and
  the new cursor are one transaction (`base.Puller.store_page`); a pull killed, or a
  provider gone, between two batches resumes from the last committed one: no gap.
  The events' ids make a batch fetched twice harmless: no duplicate.
- **Waiting is part of the job** (`http.Http`). 429 waits for Retry-After; a 5xx, a
  refused or dropped connection and a body cut mid-page are retried with backoff for
  up to `retry_for_s`, then the pull stops with the cursor where it was.

Modules: `http` (the client and its waiting), `credentials`, `base` (what every
provider's puller shares), one module per provider, `run` (`pull`, `PULLERS`).
"""

from sladesk_tui.services.pull.run import PULLERS, pull
from sladesk_tui.services.pull.stats import PullError, PullStats

__all__ = ["PULLERS", "PullError", "PullStats", "pull"]
