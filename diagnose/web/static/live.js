// maildoctor serve: the live page. Follows one run's Server-Sent Events (/r/ID/events) and fills in
// the mail-flow picture, the findings and, at the end, the headline. Server text is only ever set
// with textContent; the flow picture is SVG made (and escaped) by the server, parsed in an inert document.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (!live) return;
  const $ = (id) => document.getElementById(id);
  const state = $("state"), flow = $("flow"), rows = $("findings"), count = $("count");
  const WORDS = { pass: "PASS", warn: "WARN", fail: "FAIL", error: "ERROR", skip: "SKIP" };
  const RANK = { fail: 0, error: 1, warn: 2, pass: 3, skip: 4 };
  let total = 0, finished = 0, findings = 0, problems = 0, ended = false;
  const running = new Set();

  function badge(status) {
    const span = document.createElement("span");
    span.className = "badge s-" + (WORDS[status] ? status : "skip");
    span.textContent = WORDS[status] || String(status).toUpperCase();
    return span;
  }

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  }

  function progress() {
    let text = total ? `${finished} of ${total} checks done` : "Starting…";
    if (problems) text += `, ${problems} problem${problems === 1 ? "" : "s"} so far`;
    if (running.size) {
      const names = [...running];
      text += " · running: " + names.slice(0, 4).join(", ") + (names.length > 4 ? " …" : "");
    }
    state.textContent = text;
    count.textContent = findings ? `(${findings})` : "";
  }

  function addFinding(f) {
    findings += 1;
    if (f.status === "fail" || f.status === "warn" || f.status === "error") problems += 1;
    const tr = document.createElement("tr");
    tr.className = "finding s-row-" + f.status;
    tr.dataset.rank = String(RANK[f.status] ?? 5);
    const status = document.createElement("td");
    status.appendChild(badge(f.status));
    tr.append(status, cell(f.check, "id"), cell(f.subject, "subject"), cell(f.summary));
    // problems first, in arrival order within a status
    let before = null;
    for (const row of rows.children) {
      if (Number(row.dataset.rank) > Number(tr.dataset.rank)) { before = row; break; }
    }
    rows.insertBefore(tr, before);
  }

  function drawFlow(svgText) {
    // parsed as HTML (as the report embeds it: <svg> gets its namespace), in an inert document
    const svg = new DOMParser().parseFromString(svgText, "text/html").querySelector("body > svg");
    if (svg) flow.replaceChildren(document.importNode(svg, true));
  }

  function done(d) {
    $("headline").textContent = d.headline;
    const verdict = $("verdict");
    verdict.replaceChildren(badge(d.verdict), document.createTextNode(" " + (d.words || "")));
    if (d.refused && d.refused.length) {
      const refused = $("refused");
      refused.textContent = "Not connected (this server diagnoses public addresses only): " +
        d.refused.map((r) => `${r.address} (${r.why})`).join(", ");
      refused.hidden = false;
    }
    $("open-report").href = d.report;
    $("result").hidden = false;
    state.textContent = "Done.";
    live.classList.add("done");
  }

  const source = new EventSource(live.dataset.events);
  const on = (name, handler) => source.addEventListener(name, (ev) => handler(JSON.parse(ev.data)));
  on("queued", (d) => { total = d.checks; state.textContent = "Waiting for a free slot…"; });
  on("running", () => progress());
  on("finding", (d) => { addFinding(d); progress(); });
  on("started", (d) => { running.add(d.check); progress(); });
  on("finished", (d) => { running.delete(d.check); finished += 1; progress(); });
  on("flow", (d) => drawFlow(d.svg));
  on("done", (d) => done(d));
  on("failed", (d) => {
    state.textContent = "No diagnosis: " + d.message;
    state.classList.add("error");
    live.classList.add("done");
  });
  on("end", () => { ended = true; source.close(); });
  source.onerror = () => {
    if (!ended) state.textContent = "Connection lost; reconnecting…";
  };
})();
