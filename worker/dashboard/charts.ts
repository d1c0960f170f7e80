// Browser code for the dashboard's charts of the last minute (requests per
// second, latency at the leader) as inline SVG, spliced into the page script's
// closure (script.ts), whose helpers ($, el, svgEl) it uses. Plain ES5 with no
// template literals, as the rest of the script.
export const chartsScript = String.raw`// Every member's last minute, added up: only a leader counts the requests it served, so nothing is counted twice.
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

`;
