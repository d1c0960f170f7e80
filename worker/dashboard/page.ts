// The dashboard page: HTML, CSS and a small script in one string, so the
// Worker serves it with nothing fetched from elsewhere (the bundlers need no
// loader for it). The script polls /dashboard/cluster a few times a second
// and draws the members table, the leader timeline and the charts as plain
// DOM and inline SVG. It is written without template literals so that it can
// live inside this one.

const css = `
:root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --muted:#6b7385; --line:#e3e6ec; --lead:#fff7e0; --lead-edge:#f0b400;
  --ok:#2e7d32; --warn-bg:#fff4e5; --warn:#a35a00; --bad-bg:#fdecec; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; align-items:baseline; gap:24px; flex-wrap:wrap; padding:16px 24px 8px; }
h1 { font-size:20px; margin:0; font-weight:650; }
h2 { font-size:13px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted); margin:0 0 10px; font-weight:600; }
.sub { color:var(--muted); }
.big { font-size:18px; font-weight:600; }
.big b { color:#8a6500; }
main { padding:0 24px 24px; display:grid; gap:16px; grid-template-columns: 1fr 1fr; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 16px; overflow-x:auto; }
.wide { grid-column: 1 / -1; }
.banner { grid-column: 1 / -1; border-radius:10px; padding:10px 14px; font-weight:500; display:none; }
.banner.warn { display:block; background:var(--warn-bg); color:var(--warn); border:1px solid #f3d2a2; }
.banner.bad { display:block; background:var(--bad-bg); color:var(--bad); border:1px solid #f2b8b5; }
table { width:100%; border-collapse:collapse; font-size:13px; font-variant-numeric: tabular-nums; }
th { text-align:left; font-weight:600; color:var(--muted); font-size:12px; padding:6px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
td { padding:7px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
td.num, th.num { text-align:right; }
tr.leader td { background:var(--lead); }
tr.leader td:first-child { box-shadow: inset 4px 0 0 var(--lead-edge); }
tr.down td { color:var(--muted); }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; }
.r-leader { background:#ffe7a3; color:#6d4c00; }
.r-follower { background:#e6eefb; color:#234a8a; }
.r-candidate, .r-precandidate { background:#f3e5f5; color:#6a1b9a; }
.r-down { background:#eceff1; color:#546e7a; }
.dot { display:inline-block; width:10px; height:10px; border-radius:50%; margin-right:6px; vertical-align:-1px; }
.you { color:var(--muted); font-size:12px; margin-left:4px; }
svg text { font:11px system-ui,sans-serif; fill:#6b7385; }
.legend { display:flex; gap:14px; flex-wrap:wrap; font-size:12px; color:var(--muted); margin-top:4px; }
.legend i { display:inline-block; width:14px; height:3px; vertical-align:middle; margin-right:5px; border-radius:2px; }
ol.events { list-style:none; margin:8px 0 0; padding:0; max-height:170px; overflow:auto; }
ol.events li { padding:3px 0; border-bottom:1px dashed var(--line); }
ol.events time { color:var(--muted); font-variant-numeric: tabular-nums; margin-right:10px; }
.fresh { font-size:12px; color:var(--muted); margin-left:auto; }
`;

// Wrapped in a function so that none of its names clash with the window's (history, open, ...).
const script = String.raw`
(function () {
"use strict";
var POLL_MS = 400;
var palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1", "#edc948", "#9c755f"];
var sent = 0, shown = 0, lastOk = 0;
var seen = [];             // what this page saw: {t, leader}
var events = new Map();    // every node event seen so far, by key
var colors = {};

function $(id) { return document.getElementById(id); }
function el(tag, attrs, text) {
  var e = document.createElement(tag);
  if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
function svgEl(tag, attrs) {
  var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}
function colorOf(id) {
  if (!(id in colors)) colors[id] = palette[Object.keys(colors).length % palette.length];
  return colors[id];
}
function bytes(n) {
  if (n == null) return "?";
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}
function ago(ms) {
  if (ms == null) return "never";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
  return Math.round(ms / 60000) + " min";
}
function clock(t) {
  var d = new Date(t);
  function p(n, w) { return String(n).padStart(w, "0"); }
  return p(d.getHours(), 2) + ":" + p(d.getMinutes(), 2) + ":" + p(d.getSeconds(), 2) + "." + p(d.getMilliseconds(), 3);
}

function poll() {
  var mine = ++sent;
  fetch("/dashboard/cluster", { cache: "no-store" })
    .then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error("HTTP " + r.status + " " + t.slice(0, 200)); });
      return r.json();
    })
    .then(function (rep) { if (mine > shown) { shown = mine; lastOk = Date.now(); render(rep); } })
    .catch(function (err) { if (mine > shown) { shown = mine; renderViewerDown(err); } });
}

function renderViewerDown(err) {
  var b = $("banner");
  b.className = "banner bad";
  b.textContent = "The node serving this page does not answer (" + err.message + "). Everything below is from " + ago(Date.now() - lastOk) + " ago.";
  $("fresh").textContent = "last update " + ago(Date.now() - lastOk) + " ago";
}

// The leader is whoever claims it in the highest term among the members that answered.
function findLeader(up) {
  var best = null;
  up.forEach(function (m) {
    if (m.status.role === "leader" && (best === null || m.status.term > best.status.term)) best = m;
  });
  return best;
}

function render(rep) {
  var members = rep.members;
  var up = members.filter(function (m) { return m.reachable; });
  var down = members.filter(function (m) { return !m.reachable; });
  var viewer = members.find(function (m) { return m.self; });
  var leader = findLeader(up);
  var majority = Math.floor(members.length / 2) + 1;
  members.forEach(function (m) { colorOf(m.id); });

  document.title = "raft-kv: " + (leader ? leader.id + " leads" : "no leader") + " (viewed from " + rep.viewer + ")";
  $("viewer").textContent = rep.viewer + " (" + viewer.url + ")";
  var lt = $("leader");
  lt.textContent = leader ? leader.id : "none";
  lt.setAttribute("data-leader", leader ? leader.id : "");
  $("term").textContent = String(Math.max.apply(null, up.map(function (m) { return m.status.term; })));
  $("answering").textContent = up.length + " of " + members.length + " members answer";
  $("fresh").textContent = "updated " + clock(rep.at);

  var b = $("banner");
  if (up.length < majority) {
    b.className = "banner bad";
    b.textContent = rep.viewer + " cannot reach a majority of the cluster: only " + up.length + " of " + members.length +
      " members answer it (" + down.map(function (m) { return m.id; }).join(", ") + " do not). It cannot tell whether the others have elected a leader; " +
      (viewer.status.leader ? "its own last known leader is " + viewer.status.leader.id + "." : "it knows of no leader.");
  } else if (down.length > 0) {
    b.className = "banner warn";
    b.textContent = rep.viewer + " cannot reach " + down.map(function (m) { return m.id + " (" + m.error + ")"; }).join(", ") + ". The rest of the cluster still has a majority.";
  } else if (!leader) {
    b.className = "banner warn";
    b.textContent = "Every member answers, but none is leader right now: an election is under way.";
  } else {
    b.className = "banner";
    b.textContent = "";
  }

  renderTable(members, leader, viewer);
  noteHistory(rep.at, leader);
  members.forEach(function (m) {
    if (!m.reachable) return;
    m.view.events.forEach(function (e) {
      // A node learning of a leader it is not: the same news as the leader's own event.
      var key = e.kind === "leader" ? "leader/" + e.term + "/" + e.leader : e.kind + "/" + e.node + "/" + e.term + "/" + e.at;
      var known = events.get(key);
      if (!known || (e.kind === "leader" && e.node === e.leader) || e.at < known.at) events.set(key, e);
    });
  });
  renderTimeline(rep.at);
  renderCharts(up);
}

function renderTable(members, leader, viewer) {
  var body = $("members");
  body.textContent = "";
  members.forEach(function (m) {
    var tr = el("tr", { "data-member": m.id });
    var idCell = el("td");
    idCell.appendChild(el("span", { class: "dot", style: "background:" + colorOf(m.id) }));
    idCell.appendChild(document.createTextNode(m.id));
    if (m.self) idCell.appendChild(el("span", { class: "you" }, "(serving this page)"));
    tr.appendChild(idCell);
    tr.appendChild(el("td", null, m.url));
    if (!m.reachable) {
      tr.className = "down";
      var roleCell = el("td");
      roleCell.appendChild(el("span", { class: "badge r-down", "data-role": "unreachable" }, "unreachable"));
      tr.appendChild(roleCell);
      tr.appendChild(el("td", { colspan: "8" }, "no answer: " + m.error));
      body.appendChild(tr);
      return;
    }
    var s = m.status;
    if (leader && m.id === leader.id) tr.className = "leader";
    var rc = el("td");
    rc.appendChild(el("span", { class: "badge r-" + s.role, "data-role": s.role }, s.role));
    tr.appendChild(rc);
    tr.appendChild(el("td", { class: "num" }, String(s.term)));
    tr.appendChild(el("td", { class: "num" }, String(s.commitIndex)));
    tr.appendChild(el("td", { class: "num" }, String(s.appliedIndex)));
    var held = s.firstLogIndex === undefined ? s.lastLogIndex : s.lastLogIndex - s.firstLogIndex + 1;
    tr.appendChild(el("td", { class: "num" }, held + " entries · " + bytes(m.view.storageBytes)));
    var snap = m.view.snapshot;
    tr.appendChild(el("td", { class: "num" }, snap ? "to " + snap.index + ", " + bytes(snap.bytes) : "none"));
    tr.appendChild(el("td", { class: "num" }, lagOf(m, leader)));
    tr.appendChild(el("td", { class: "num" }, contactOf(m, leader, viewer)));
    tr.appendChild(el("td", null, streamsOf(s)));
    body.appendChild(tr);
  });
}

function lagOf(m, leader) {
  if (!leader) return "no leader";
  if (m.id === leader.id) return "0";
  var p = leader.status.peers.find(function (x) { return x.id === m.id; });
  var behind = p ? leader.status.lastLogIndex - p.matchIndex : leader.status.lastLogIndex - m.status.lastLogIndex;
  return behind + (behind === 1 ? " entry" : " entries") + (p && p.state === "snapshot" ? " (sending snapshot)" : "");
}

function contactOf(m, leader, viewer) {
  if (leader && m.id !== leader.id) {
    var p = leader.status.peers.find(function (x) { return x.id === m.id; });
    if (p) return ago(p.lastContactMs) + " (by " + leader.id + ")";
  }
  if (m.id === viewer.id) return "this node";
  if (viewer.reachable) return ago(viewer.view.lastHeardMs[m.id]) + " (by " + viewer.id + ")";
  return "?";
}

function streamsOf(s) {
  if (!s.streams) return "off (POSTs)";
  var ids = Object.keys(s.streams);
  var open = ids.filter(function (k) { return s.streams[k] === "open"; }).length;
  return open + " of " + ids.length + " open";
}

function noteHistory(t, leader) {
  seen.push({ t: t, leader: leader ? leader.id : null });
  while (seen.length > 0 && seen[0].t < t - 125000) seen.shift();
}

var MAX_SPAN_MS = 120000, MIN_SPAN_MS = 20000;

// Who led when: from the members' own events (a leader's term starts at its
// "became leader" and ends at the next leader, or at the first election or
// loss of leader after it); without any, from what this page has seen.
function leaderSegments(list, now) {
  var segs = [];
  var starts = list.filter(function (e) { return e.kind === "leader"; });
  starts.forEach(function (e, i) {
    var end = i + 1 < starts.length ? starts[i + 1].at : now;
    list.forEach(function (o) {
      if (o.at > e.at && o.at < end && o.term >= e.term && (o.kind === "campaign" || o.kind === "leaderLost")) end = o.at;
    });
    segs.push({ from: e.at, to: end, leader: e.leader });
  });
  if (segs.length > 0) return segs;
  seen.forEach(function (h, i) {
    var next = seen[i + 1];
    if (h.leader !== null) segs.push({ from: h.t, to: next ? next.t : now, leader: h.leader });
  });
  return segs;
}

function renderTimeline(now) {
  var svg = $("timeline");
  svg.textContent = "";
  var list = Array.from(events.values()).sort(function (a, b) { return a.at - b.at; });
  var first = list.length > 0 ? list[0].at : now;
  var span = Math.min(MAX_SPAN_MS, Math.max(MIN_SPAN_MS, Math.ceil((now - first + 2000) / 10000) * 10000));
  var W = svg.clientWidth || 900, H = 64, top = 8, band = 22;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  var x = function (t) { return ((Math.max(t, now - span) - (now - span)) / span) * (W - 20) + 10; };
  svg.appendChild(svgEl("rect", { x: 10, y: top, width: W - 20, height: band, fill: "#eef0f4", rx: 4 }));
  leaderSegments(list, now).forEach(function (g) {
    if (g.to < now - span) return;
    svg.appendChild(svgEl("rect", { x: x(g.from), y: top, width: Math.max(1, x(g.to) - x(g.from)), height: band, fill: colorOf(g.leader), opacity: 0.85 }));
  });
  list.forEach(function (e) {
    if (e.at < now - span || e.kind !== "campaign") return;
    svg.appendChild(svgEl("line", { x1: x(e.at), x2: x(e.at), y1: top - 4, y2: top + band + 4, stroke: "#6a1b9a", "stroke-width": 1.5 }));
  });
  var step = span / 4;
  for (var s = 0; s <= span; s += step) {
    var anchor = s === 0 ? "start" : s === span ? "end" : "middle";
    var tx = svgEl("text", { x: x(now - span + s), y: H - 6, "text-anchor": anchor });
    tx.textContent = s === span ? "now" : "-" + Math.round((span - s) / 1000) + " s";
    svg.appendChild(tx);
  }
  var ol = $("events");
  ol.textContent = "";
  list.slice(-12).reverse().forEach(function (e) {
    var li = el("li");
    li.appendChild(el("time", null, clock(e.at)));
    var what;
    if (e.kind === "campaign") what = e.node + " started an election for term " + e.term;
    else if (e.kind === "preCampaign") what = e.node + " asked for a pre-vote to campaign for term " + (e.term + 1);
    else if (e.kind === "leader") what = (e.node === e.leader ? e.leader + " became leader" : e.node + " learned that " + e.leader + " leads") + " in term " + e.term;
    else what = e.node + " lost its leader in term " + e.term;
    li.appendChild(document.createTextNode(what));
    ol.appendChild(li);
  });
  if (list.length === 0) ol.appendChild(el("li", null, "No elections seen yet by the members that answer."));
}

// Every member's last minute, added up: only a leader counts the requests it served, so nothing is counted twice.
function renderCharts(up) {
  var byT = new Map();
  up.forEach(function (m) {
    m.view.recent.forEach(function (p) {
      var acc = byT.get(p.t);
      if (!acc) { acc = { t: p.t, writes: 0, reads: 0, w: null, r: null }; byT.set(p.t, acc); }
      acc.writes += p.writes; acc.reads += p.reads;
      if (p.writes > 0 && (!acc.w || p.writes > acc.w.writes)) acc.w = p;
      if (p.reads > 0 && (!acc.r || p.reads > acc.r.reads)) acc.r = p;
    });
  });
  var pts = Array.from(byT.values()).sort(function (a, b) { return a.t - b.t; }).slice(-60);
  function col(f) { return pts.map(f); }
  lineChart($("rates"), pts, [
    { name: "writes/s", color: "#4e79a7", values: col(function (p) { return p.writes; }) },
    { name: "reads/s", color: "#59a14f", values: col(function (p) { return p.reads; }) },
  ], "");
  lineChart($("latency"), pts, [
    { name: "write p50", color: "#4e79a7", values: col(function (p) { return p.w ? p.w.writeP50 : null; }) },
    { name: "write p99", color: "#4e79a7", dash: "5 3", values: col(function (p) { return p.w ? p.w.writeP99 : null; }) },
    { name: "read p50", color: "#59a14f", values: col(function (p) { return p.r ? p.r.readP50 : null; }) },
    { name: "read p99", color: "#59a14f", dash: "5 3", values: col(function (p) { return p.r ? p.r.readP99 : null; }) },
  ], " ms");
}

// The top of the axis: four gridline steps of 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 4;
  var raw = v / 4, p = Math.pow(10, Math.floor(Math.log10(raw)));
  var steps = [1, 2, 5, 10];
  for (var i = 0; i < steps.length; i++) if (steps[i] * p >= raw) return 4 * steps[i] * p;
  return 40 * p;
}
function short(v) { return v >= 100 || v === 0 ? String(Math.round(v)) : String(+v.toPrecision(3)); }

function lineChart(box, pts, series, unit) {
  var svg = box.querySelector("svg");
  svg.textContent = "";
  var W = svg.clientWidth || 420, H = 170, L = 58, R = 10, T = 10, B = 22;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  var max = 0;
  series.forEach(function (s) { s.values.forEach(function (v) { if (v != null && v > max) max = v; }); });
  max = niceMax(max);
  var n = Math.max(pts.length, 2);
  var x = function (i) { return L + (i / (n - 1)) * (W - L - R); };
  var y = function (v) { return T + (1 - v / max) * (H - T - B); };
  for (var g = 0; g <= 4; g++) {
    var gv = (max * g) / 4;
    svg.appendChild(svgEl("line", { x1: L, x2: W - R, y1: y(gv), y2: y(gv), stroke: "#e3e6ec" }));
    var lab = svgEl("text", { x: L - 6, y: y(gv) + 4, "text-anchor": "end" });
    lab.textContent = short(gv) + unit;
    svg.appendChild(lab);
  }
  [["-60 s", 0, "start"], ["-30 s", 0.5, "middle"], ["now", 1, "end"]].forEach(function (a) {
    var t = svgEl("text", { x: L + a[1] * (W - L - R), y: H - 6, "text-anchor": a[2] });
    t.textContent = a[0];
    svg.appendChild(t);
  });
  series.forEach(function (s) {
    var d = "", pen = false;
    s.values.forEach(function (v, i) {
      if (v == null) { pen = false; return; }
      d += (pen ? "L" : "M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
      pen = true;
    });
    if (d) svg.appendChild(svgEl("path", { d: d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dash || "", "stroke-linejoin": "round" }));
  });
  var legend = box.querySelector(".legend");
  legend.textContent = "";
  series.forEach(function (s) {
    var last = null;
    for (var i = s.values.length - 1; i >= 0 && last === null; i--) last = s.values[i];
    var item = el("span");
    var sw = el("i", { style: "background:" + (s.dash ? "repeating-linear-gradient(90deg," + s.color + " 0 5px,transparent 5px 8px)" : s.color) });
    item.appendChild(sw);
    item.appendChild(document.createTextNode(s.name + (last === null ? "" : ": " + short(last) + unit)));
    legend.appendChild(item);
  });
}

poll();
setInterval(poll, POLL_MS);
})();
`;

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>raft-kv dashboard</title>
<link rel="icon" href="data:,">
<style>${css}</style>
</head>
<body>
<header>
  <h1>raft-kv cluster</h1>
  <span class="big">leader <b id="leader" data-leader="">?</b> · term <span id="term">?</span></span>
  <span class="sub"><span id="answering">loading…</span> · viewed from <span id="viewer">?</span></span>
  <span class="fresh" id="fresh"></span>
</header>
<main>
  <div id="banner" class="banner" role="status"></div>
  <section class="card wide">
    <h2>Members</h2>
    <table>
      <thead><tr><th>id</th><th>URL</th><th>role</th><th class="num">term</th><th class="num">commit</th><th class="num">applied</th>
      <th class="num">log · database</th><th class="num">snapshot</th><th class="num">lag behind leader</th><th class="num">last contact</th><th>streams out</th></tr></thead>
      <tbody id="members"></tbody>
    </table>
  </section>
  <section class="card wide">
    <h2>Who led, elections (purple marks) and leader changes</h2>
    <svg id="timeline" width="100%" height="64"></svg>
    <ol class="events" id="events"></ol>
  </section>
  <section class="card" id="rates"><h2>Requests served per second, last minute</h2><svg width="100%" height="170"></svg><div class="legend"></div></section>
  <section class="card" id="latency"><h2>Latency at the leader, last minute</h2><svg width="100%" height="170"></svg><div class="legend"></div></section>
</main>
<script>${script}</script>
</body>
</html>
`;
