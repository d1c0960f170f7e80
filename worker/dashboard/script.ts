// The dashboard page's script: it polls /dashboard/cluster a few times a
// second and draws the members table, the leader timeline (timeline.ts) and
// the charts (charts.ts) as plain DOM and inline SVG. It is written without
// template literals so that it can live inside one.
import { chartsScript } from './charts';
import { timelineScript } from './timeline';

// Wrapped in a function so that none of its names clash with the window's (history, open, ...).
export const dashboardScript =
  String.raw`
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

` +
  timelineScript +
  chartsScript +
  String.raw`poll();
setInterval(poll, POLL_MS);
})();
`;
