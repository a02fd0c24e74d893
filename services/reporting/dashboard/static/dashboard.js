/* The dashboard's script: token intake, the live stream, and rendering.
 *
 * Token: taken once from ?token=, kept in sessionStorage, removed from the address bar.
 * Stream: the token buys a short-lived ticket (POST stream-tickets, token in the header);
 * the ticket opens the EventSource. "snapshot" carries every section, "update" only those
 * that changed, "end" asks for a new ticket and a new connection.
 * Rendering: textContent only (never innerHTML with data), one Chart.js chart per figure,
 * updated in place.
 */
(function () {
  "use strict";

  const TOKEN_KEY = "wfe.dashboard.token";
  const base = location.pathname.replace(/\/+$/, "");
  const state = {};
  const rendered = {};
  const charts = {};
  let source = null;
  let retryDelay = 1000;
  let lastMessageAt = null;

  const TYPE_COLOURS = {
    employee: "#2563eb",
    contractor: "#f59e0b",
    agency_worker: "#10b981",
    gig_worker: "#ec4899",
    subcontractor: "#8b5cf6",
    partner: "#06b6d4",
    app_developer: "#84cc16",
    digital_agent: "#64748b",
  };
  const SPARE_COLOURS = ["#0ea5e9", "#d946ef", "#f97316", "#14b8a6", "#a855f7", "#eab308"];
  const STATUS_COLOURS = {
    compliant: "#16a34a",
    pending: "#f59e0b",
    non_compliant: "#dc2626",
    expired: "#7f1d1d",
    unknown: "#cbd5e1",
  };
  const STATUS_LABELS = {
    compliant: "Compliant",
    pending: "Pending",
    non_compliant: "Non-compliant",
    expired: "Expired",
    unknown: "No decision",
  };

  // ---- small helpers -------------------------------------------------------------------

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function human(name) {
    const words = String(name).replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function typeColour(type, index) {
    return TYPE_COLOURS[type] || SPARE_COLOURS[index % SPARE_COLOURS.length];
  }

  function withAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  const numberFormat = new Intl.NumberFormat();
  function fmt(n) {
    return numberFormat.format(n);
  }

  function day(iso) {
    return new Date(iso + "T00:00:00Z").toLocaleDateString(undefined, {
      month: "short",
      day: "numeric",
      timeZone: "UTC",
    });
  }

  function when(iso) {
    if (!iso) return "never";
    const d = new Date(iso);
    return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function ago(iso) {
    const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} d ago`;
  }

  function suppressed(k) {
    return el("span", {
      class: "suppressed",
      title: `Suppressed: fewer than ${k}, or needed to protect a cell that is. Not zero.`,
      text: "suppressed",
    });
  }

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  function setStatus(kind, text) {
    const node = $("status");
    node.className = `status status-${kind}`;
    node.textContent = text;
  }

  function banner(message) {
    const node = $("banner");
    node.replaceChildren();
    if (!message) {
      node.hidden = true;
      return;
    }
    for (const part of message) node.append(part);
    node.hidden = false;
  }

  // ---- rendering -----------------------------------------------------------------------

  function renderComposition(c) {
    const total = c.total;
    $("kpi-contributors").textContent = fmt(total);
    const types = c.types.filter((t) => c.current[t] > 0);
    $("kpi-contributors-note").textContent =
      types.length === 0
        ? "none yet"
        : `${types.length} ${types.length === 1 ? "type" : "types"} · largest: ${human(types[0])}`;
    const empty = c.types.length === 0;
    show("composition-empty", empty);
    $("composition-chart").parentElement.hidden = empty;
    if (empty || typeof Chart === "undefined") return;
    const datasets = c.types.map((type, i) => ({
      label: human(type),
      data: c.series[type],
      borderColor: typeColour(type, i),
      backgroundColor: withAlpha(typeColour(type, i), 0.55),
      fill: i === 0 ? "origin" : "-1",
      pointRadius: 0,
      borderWidth: 1.5,
      tension: 0,
    }));
    const labels = c.days.map(day);
    if (!charts.composition) {
      charts.composition = new Chart($("composition-chart"), {
        type: "line",
        data: { labels, datasets },
        options: {
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          scales: {
            y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
            x: { ticks: { maxTicksLimit: 10, autoSkip: true }, grid: { display: false } },
          },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12, usePointStyle: true } } },
        },
      });
    } else {
      replaceData(charts.composition, labels, datasets);
    }
  }

  function replaceData(chart, labels, datasets) {
    // Same series as before: change the numbers in place, so the chart moves smoothly
    // from the old figures to the new ones instead of being drawn again from zero.
    const same =
      chart.data.datasets.length === datasets.length &&
      chart.data.datasets.every((d, i) => d.label === datasets[i].label);
    chart.data.labels = labels;
    if (same) chart.data.datasets.forEach((d, i) => (d.data = datasets[i].data));
    else chart.data.datasets = datasets;
    chart.update();
  }

  function renderCompliance(c) {
    const current = c.contributors;
    const compliant = c.totals.compliant || 0;
    const kpi = $("kpi-compliant");
    if (current === 0) {
      kpi.textContent = "–";
      kpi.className = "kpi-value";
      $("kpi-compliant-note").textContent = "no current contributors";
    } else {
      const share = Math.round((100 * compliant) / current);
      kpi.textContent = `${share}%`;
      kpi.className = `kpi-value ${share >= 90 ? "good" : share >= 60 ? "warn" : ""}`;
      const bad = (c.totals.non_compliant || 0) + (c.totals.expired || 0);
      $("kpi-compliant-note").textContent =
        `${fmt(compliant)} of ${fmt(current)} · ${fmt(bad)} non-compliant or expired`;
    }
    const empty = c.types.length === 0;
    show("compliance-empty", empty);
    $("compliance-chart-box").hidden = empty;
    $("compliance-table").hidden = empty;

    const head = el("tr", {}, el("th", { text: "Type" }));
    for (const b of c.buckets) {
      head.append(el("th", { class: "num" }, el("span", { class: "swatch", "data-bucket": b }), STATUS_LABELS[b] || human(b)));
    }
    head.append(el("th", { class: "num", text: "Total" }));
    $("compliance-table").tHead.replaceChildren(head);
    const body = c.types.map((t) => {
      const row = el("tr", { "data-type": t.contributor_type }, el("td", { text: human(t.contributor_type) }));
      for (const b of c.buckets) row.append(el("td", { class: "num", "data-bucket": b, text: fmt(t[b]) }));
      row.append(el("td", { class: "num", text: fmt(t.contributors) }));
      return row;
    });
    $("compliance-table").tBodies[0].replaceChildren(...body);
    for (const swatch of $("compliance-table").querySelectorAll(".swatch")) {
      swatch.style.background = STATUS_COLOURS[swatch.dataset.bucket] || "#999";
    }
    if (empty || typeof Chart === "undefined") return;
    $("compliance-chart-box").style.height = `${70 + c.types.length * 34}px`;
    const labels = c.types.map((t) => human(t.contributor_type));
    const datasets = c.buckets.map((b) => ({
      label: STATUS_LABELS[b] || human(b),
      data: c.types.map((t) => t[b]),
      backgroundColor: STATUS_COLOURS[b] || "#999",
      borderRadius: 3,
      barThickness: 20,
    }));
    if (!charts.compliance) {
      charts.compliance = new Chart($("compliance-chart"), {
        type: "bar",
        data: { labels, datasets },
        options: {
          indexAxis: "y",
          maintainAspectRatio: false,
          scales: {
            x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
            y: { stacked: true, grid: { display: false } },
          },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        },
      });
    } else {
      replaceData(charts.compliance, labels, datasets);
    }
  }

  function renderAccess(a) {
    const sensitive = $("kpi-external-sensitive");
    sensitive.textContent = fmt(a.external_sensitive_total);
    sensitive.classList.toggle("alert", a.external_sensitive_total > 0);
    const after = $("kpi-after-end");
    after.textContent = fmt(a.after_end_total);
    after.classList.toggle("alert", a.after_end_ongoing > 0);
    const longest = a.after_end.reduce((m, x) => Math.max(m, x.days), 0);
    $("kpi-after-end-note").textContent =
      a.after_end_total === 0
        ? "after offboarding or contract end"
        : `${fmt(a.after_end_ongoing)} ongoing · longest ${longest.toFixed(1)} days`;

    const rows = a.external_sensitive.map((g) =>
      el(
        "tr",
        { "data-grant": g.grant_id },
        el("td", { class: "id", text: g.contributor_id }),
        el("td", { text: human(g.contributor_type) }),
        el("td", { text: g.resource }),
        el("td", {}, el("span", { class: `badge badge-${g.classification}`, text: g.classification })),
        el("td", { text: g.expires_at ? when(g.expires_at) : "never" }),
      ),
    );
    $("external-sensitive").tBodies[0].replaceChildren(...rows);
    $("external-sensitive").hidden = rows.length === 0;
    show("external-sensitive-empty", rows.length === 0);
    $("external-sensitive-count").textContent = countNote(rows.length, a.external_sensitive_total);

    const exposures = a.after_end.map((x) =>
      el(
        "tr",
        { "data-grant": x.grant_id, "data-kind": x.kind },
        el("td", { class: "id", text: x.contributor_id }),
        el("td", { text: human(x.contributor_type) }),
        el("td", { class: "id", text: x.grant_id }),
        el(
          "td",
          {},
          el("span", {
            class: `badge ${x.kind === "after_offboarding" ? "badge-offboarding" : "badge-contract"}`,
            text: x.kind === "after_offboarding" ? "after offboarding" : "after contract end",
          }),
        ),
        el("td", { text: when(x.exposed_from) }),
        el("td", { class: "num days", text: x.days.toFixed(1) }),
        el("td", {}, el("span", { class: `badge badge-${x.ongoing ? "ongoing" : "ended"}`, text: x.ongoing ? "still held" : "revoked" })),
      ),
    );
    $("after-end").tBodies[0].replaceChildren(...exposures);
    $("after-end").hidden = exposures.length === 0;
    show("after-end-empty", exposures.length === 0);
    $("after-end-count").textContent = countNote(exposures.length, a.after_end_total);
  }

  function countNote(shown, total) {
    if (total === 0) return "";
    return shown < total ? `(${fmt(shown)} of ${fmt(total)})` : `(${fmt(total)})`;
  }

  function renderDei(d) {
    $("dei-subtitle").textContent =
      `Offered: the policy extends the program to them. Enrolled: shown only when both the enrolled and the others number at least ${d.k}.`;
    const empty = d.types.length === 0;
    show("dei-empty", empty);
    $("dei-coverage").hidden = empty;
    const top = el(
      "tr",
      {},
      el("th", { rowspan: "2", text: "Type" }),
      el("th", { rowspan: "2", class: "num", text: "Current" }),
    );
    const sub = el("tr");
    for (const p of d.programs) {
      top.append(el("th", { colspan: "2", class: "group-start program", text: human(p) }));
      sub.append(
        el("th", { class: "num group-start", text: "offered" }),
        el("th", { class: "num", text: "enrolled" }),
      );
    }
    $("dei-coverage").tHead.replaceChildren(top, sub);
    const byKey = new Map(d.coverage.map((c) => [`${c.contributor_type}/${c.program}`, c]));
    const rows = d.types.map((t) => {
      const first = byKey.get(`${t}/${d.programs[0]}`);
      const row = el(
        "tr",
        { "data-type": t },
        el("td", { text: human(t) }),
        el("td", { class: "num", text: fmt(first ? first.contributors : 0) }),
      );
      for (const p of d.programs) {
        const c = byKey.get(`${t}/${p}`);
        const offered = el("td", {
          class: "num group-start",
          "data-program": p,
          "data-measure": "offered",
        });
        const enrolled = el("td", { class: "num", "data-program": p, "data-measure": "enrolled" });
        if (c) {
          offered.textContent = fmt(c.extended);
          if (c.extended === 0) offered.classList.add("zero");
          enrolled.append(c.enrolled === null ? suppressed(d.k) : fmt(c.enrolled));
        }
        row.append(offered, enrolled);
      }
      return row;
    });
    $("dei-coverage").tBodies[0].replaceChildren(...rows);
  }

  function renderDemographics(d) {
    const box = $("demographics");
    box.replaceChildren();
    const empty = $("demographics-empty");
    if (!d.allowed) {
      empty.textContent = "Demographic aggregates need the dei:aggregate scope. Ask for a token that has it.";
      empty.hidden = false;
      return;
    }
    if (d.tables.length === 0) {
      empty.textContent =
        "No demographic table has been released yet. Each is released once per closed period (GET /v1/reports/dei/demographics) and then shown here as released.";
      empty.hidden = false;
      return;
    }
    empty.hidden = true;
    for (const t of d.tables) {
      const table = el("table", { class: "numbers demographic", "data-dimension": t.dimension });
      table.append(
        el(
          "caption",
          {},
          human(t.dimension),
          el("small", { text: ` · ${t.period} · k = ${t.k} · released ${when(t.released_at)}` }),
        ),
      );
      const head = el("tr", {}, el("th", { text: "Type" }));
      for (const c of t.columns) head.append(el("th", { class: "num", text: c }));
      head.append(el("th", { class: "num", text: "Total" }));
      table.append(el("thead", {}, head));
      const body = el("tbody");
      const cell = (n) => el("td", { class: "num" }, n === null ? suppressed(t.k) : fmt(n));
      t.rows.forEach((label, i) => {
        const row = el("tr", { "data-type": label }, el("td", { text: human(label) }));
        for (const n of t.cells[i]) row.append(cell(n));
        row.append(cell(t.row_totals[i]));
        body.append(row);
      });
      const totals = el("tr", { class: "total" }, el("td", { text: "Total" }));
      for (const n of t.column_totals) totals.append(cell(n));
      totals.append(cell(t.total));
      body.append(totals);
      table.append(body);
      box.append(el("div", { class: "scroll" }, table));
    }
  }

  function renderFreshness(f) {
    const lag = $("kpi-lag");
    const note = $("kpi-lag-note");
    if (f.lag_events === null) {
      lag.textContent = "–";
      lag.className = "kpi-value";
      note.textContent =
        f.status === "starting" ? "the consumer is starting" : `lag unknown: ${f.status}`;
      return;
    }
    if (f.lag_events === 0) {
      lag.textContent = "0";
      lag.className = "kpi-value good";
      note.textContent = f.last_event_time
        ? `events behind · caught up · last event ${ago(f.last_event_time)}`
        : "events behind · no event to process yet";
    } else {
      lag.textContent = fmt(f.lag_events);
      lag.className = "kpi-value warn";
      const seconds = f.lag_seconds === null ? "unknown" : `≤ ${fmt(f.lag_seconds)} s`;
      note.textContent = `events behind · ${seconds} behind`;
    }
  }

  function renderStatus(s) {
    if (s.ok) banner(null);
    else banner([s.detail]);
  }

  const RENDERERS = {
    composition: renderComposition,
    compliance: renderCompliance,
    access: renderAccess,
    dei: renderDei,
    demographics: renderDemographics,
    freshness: renderFreshness,
    status: renderStatus,
  };

  function apply(message) {
    for (const [name, value] of Object.entries(message.sections)) {
      // A new connection starts with a full snapshot: redraw only what really changed.
      const text = JSON.stringify(value);
      if (rendered[name] === text) continue;
      rendered[name] = text;
      state[name] = value;
      const render = RENDERERS[name];
      if (render) {
        try {
          render(value);
        } catch (error) {
          console.error(`cannot render ${name}`, error);
        }
      }
    }
    lastMessageAt = new Date(message.at);
    $("updated").textContent = `Updated ${lastMessageAt.toLocaleTimeString()}`;
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  // ---- connection ----------------------------------------------------------------------

  function takeToken() {
    const url = new URL(location.href);
    const fromUrl = url.searchParams.get("token");
    if (fromUrl) {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
      url.searchParams.delete("token");
      history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    }
    return sessionStorage.getItem(TOKEN_KEY);
  }

  function noToken(why) {
    setStatus("error", "Not signed in");
    const example = `${location.origin}${base}?token=…`;
    banner([
      `${why} Open this page once with a token that has the reports:read scope, e.g. `,
      el("code", { text: example }),
      " (operators mint one with ",
      el("code", { text: "wfe token create --scope reports:read --scope dei:aggregate" }),
      "). It is kept for this tab only.",
    ]);
  }

  async function ticket(token) {
    const response = await fetch(`${base}/stream-tickets`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
    if (response.status === 401 || response.status === 403) {
      const problem = await response.json().catch(() => ({}));
      const error = new Error(problem.detail || response.statusText);
      error.auth = response.status;
      throw error;
    }
    if (!response.ok) throw new Error(`stream ticket: HTTP ${response.status}`);
    return (await response.json()).ticket;
  }

  async function connect() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      noToken("No token.");
      return;
    }
    let t;
    try {
      t = await ticket(token);
    } catch (error) {
      if (error.auth) {
        sessionStorage.removeItem(TOKEN_KEY);
        noToken(error.auth === 403 ? `Not allowed: ${error.message}.` : `The token was refused: ${error.message}.`);
        return;
      }
      reconnectLater();
      return;
    }
    source = new EventSource(`${base}/stream?ticket=${encodeURIComponent(t)}`);
    source.addEventListener("snapshot", (e) => {
      retryDelay = 1000;
      setStatus("live", "Live");
      document.body.dataset.connections = String(Number(document.body.dataset.connections || 0) + 1);
      apply(JSON.parse(e.data));
    });
    source.addEventListener("update", (e) => apply(JSON.parse(e.data)));
    source.addEventListener("end", () => {
      source.close();
      source = null;
      connect();
    });
    source.addEventListener("error", () => {
      // A broken connection, or a refused ticket: either way, a new ticket and try again.
      if (source) source.close();
      source = null;
      reconnectLater();
    });
  }

  function reconnectLater() {
    setStatus("reconnecting", "Reconnecting…");
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  }

  function tick() {
    // Relative times ("last event 20 s ago") move on between messages.
    if (state.freshness) renderFreshness(state.freshness);
  }

  function start() {
    const token = takeToken();
    if (!token) {
      noToken("No token.");
      return;
    }
    if (typeof Chart !== "undefined") {
      Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
      Chart.defaults.color = "#5b6472";
      if (matchMedia("(prefers-reduced-motion: reduce)").matches) Chart.defaults.animation = false;
      else Chart.defaults.animation.duration = 400;
    }
    connect();
    setInterval(tick, 5000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
