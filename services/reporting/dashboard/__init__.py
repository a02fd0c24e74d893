"""The live dashboard: `GET /dashboard`, a page for business-unit leaders, HR, procurement,
security and the DEI office, kept current by server-sent events (`GET /dashboard/stream`).

Include `router` in the reporting app. The figures come from the reporting service's own
tables, read in one snapshot and passed to the pure report functions
(`projections/reports`), the same functions the report API calls.

Authentication (a decision; bearer JWTs with scopes, as everywhere):
- The page itself carries no data, so `GET /dashboard` needs no token. Its script takes a
  token once from `?token=...`, keeps it in `sessionStorage` (this tab only, gone when the
  tab closes), and removes it from the address bar at once (`history.replaceState`), so it
  stays out of the history and of bookmarks; the page sends no referrer. Without a token the
  page says how to open it with one; it never prompts.
- The token goes only into an `Authorization` header: `POST /dashboard/stream-tickets`
  exchanges it for a stream ticket, because `EventSource` cannot send headers. The ticket
  (see `tickets`) expires within a minute, opens only the stream, cannot pass as a bearer
  token, and the stream it opens ends when the token expires. Scripts may open the stream
  with the bearer header instead.
- Scopes: `reports:read` for everything; the demographic tables also need `dei:aggregate`
  (without it their panel says so and the stream never carries them). DEI enrolment counts
  follow the k-rule of `dei_coverage` and show as "suppressed", as do the suppressed cells
  of a demographic table, which the dashboard shows as released (frozen) by
  `GET /v1/reports/dei/demographics` and never releases itself.

Vendored: Chart.js 4.6.1 (MIT), `static/chart.umd.min.js` from the npm registry's
`chart.js-4.6.1.tgz` (`dist/chart.umd.min.js`, sha256 87364cc2b2a76a66...c6925d2), with its
licence in `static/chart.js-LICENSE.md`. No build step and no CDN: the machines are offline.
"""

from services.reporting.dashboard.routes import router

__all__ = ["router"]
