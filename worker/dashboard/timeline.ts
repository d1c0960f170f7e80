// Browser code for the dashboard's leader timeline and list of elections,
// spliced into the page script's closure (script.ts), whose helpers
// ($, el, svgEl, colorOf, clock) and event map it uses. Plain ES5 with no
// template literals, as the rest of the script.
export const timelineScript = String.raw`function noteHistory(t, leader) {
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

`;
