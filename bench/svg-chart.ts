// A small SVG line-chart writer for the benchmark pictures (charts.ts): a
// grid of panels, each with its own axes, lines and legend. Hand-written so
// the pictures need no plotting package and open in any browser or viewer.

export interface Series {
  name: string;
  color: string;
  /** Dashed line (e.g. p99 beside a solid p50). */
  dashed?: boolean;
  /** [x, y] points; a null y breaks the line. */
  points: [number, number | null][];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Draw markers on every point (few points, e.g. A/B rounds). */
  markers?: boolean;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  panels: Panel[];
  /** Panels per row (default 2). */
  columns?: number;
}

const PANEL_W = 460;
const PANEL_H = 250;
const GAP = 24;
const HEAD = 58;
const M = { left: 58, right: 14, top: 30, bottom: 62 };

export const palette = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948', '#9c755f', '#ff9da7', '#bab0ac'];

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** An axis top of 4 steps of 1, 2 or 5 times a power of ten, at or above `v`. */
export function niceMax(v: number): number {
  if (!(v > 0) || !Number.isFinite(v)) return 4;
  const raw = v / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const step of [1, 2, 5, 10]) if (step * p >= raw - 1e-12) return 4 * step * p;
  return 40 * p;
}

function label(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1000) return `${+(v / 1000).toPrecision(3)}k`;
  return String(+v.toPrecision(3));
}

export function renderChart(spec: ChartSpec): string {
  const columns = Math.max(1, Math.min(spec.columns ?? 2, spec.panels.length));
  const rows = Math.ceil(spec.panels.length / columns);
  const width = GAP + columns * (PANEL_W + GAP);
  const height = HEAD + rows * (PANEL_H + GAP);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${GAP}" y="28" font-size="18" font-weight="600" fill="#1d2330">${escapeXml(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${GAP}" y="47" font-size="12" fill="#6b7385">${escapeXml(spec.subtitle)}</text>`);
  spec.panels.forEach((panel, i) => {
    const x0 = GAP + (i % columns) * (PANEL_W + GAP);
    const y0 = HEAD + Math.floor(i / columns) * (PANEL_H + GAP);
    out.push(renderPanel(panel, x0, y0));
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function renderPanel(p: Panel, x0: number, y0: number): string {
  const out: string[] = [];
  const plotW = PANEL_W - M.left - M.right;
  const plotH = PANEL_H - M.top - M.bottom;
  const xs = p.series.flatMap((s) => s.points.map(([x]) => x));
  const ys = p.series.flatMap((s) => s.points.map(([, y]) => y).filter((y): y is number => y !== null && Number.isFinite(y)));
  const xMin = xs.length > 0 ? Math.min(...xs) : 0;
  const xMax = xs.length > 0 ? Math.max(...xs) : 1;
  const yMax = niceMax(ys.length > 0 ? Math.max(...ys) : 0);
  const sx = (x: number): number => x0 + M.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const sy = (y: number): number => y0 + M.top + (1 - y / yMax) * plotH;

  out.push(`<g>`);
  out.push(`<rect x="${x0}" y="${y0}" width="${PANEL_W}" height="${PANEL_H}" rx="8" fill="#fafbfc" stroke="#e3e6ec"/>`);
  out.push(`<text x="${x0 + 12}" y="${y0 + 20}" font-size="13" font-weight="600" fill="#1d2330">${escapeXml(p.title)}</text>`);
  for (let g = 0; g <= 4; g++) {
    const v = (yMax * g) / 4;
    const y = sy(v).toFixed(1);
    out.push(`<line x1="${x0 + M.left}" x2="${x0 + M.left + plotW}" y1="${y}" y2="${y}" stroke="#e3e6ec"/>`);
    out.push(
      `<text x="${x0 + M.left - 6}" y="${(sy(v) + 4).toFixed(1)}" font-size="11" fill="#6b7385" text-anchor="end">${label(v)}</text>`,
    );
  }
  for (const x of xTicks(xMin, xMax)) {
    out.push(
      `<text x="${sx(x).toFixed(1)}" y="${y0 + M.top + plotH + 15}" font-size="11" fill="#6b7385" text-anchor="middle">${label(x)}</text>`,
    );
  }
  out.push(
    `<text x="${x0 + M.left + plotW / 2}" y="${y0 + M.top + plotH + 30}" font-size="11" fill="#6b7385" text-anchor="middle">${escapeXml(p.xLabel)}</text>`,
  );
  const ly = y0 + M.top + plotH / 2;
  out.push(
    `<text x="${x0 + 14}" y="${ly}" font-size="11" fill="#6b7385" text-anchor="middle" transform="rotate(-90 ${x0 + 14} ${ly})">${escapeXml(p.yLabel)}</text>`,
  );
  for (const s of p.series) {
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    for (const run of segments(s.points)) {
      const pts = run.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2" stroke-linejoin="round"${dash}/>`);
      if (p.markers)
        for (const [x, y] of run) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
  }
  // Legend under the plot, wrapped to the panel's width.
  let lx = x0 + M.left;
  let lyy = y0 + M.top + plotH + 46;
  for (const s of p.series) {
    const w = 28 + s.name.length * 6.5;
    if (lx + w > x0 + PANEL_W - 8) {
      lx = x0 + M.left;
      lyy += 14;
    }
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(`<line x1="${lx}" x2="${lx + 16}" y1="${lyy - 4}" y2="${lyy - 4}" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
    out.push(`<text x="${lx + 20}" y="${lyy}" font-size="11" fill="#3b4252">${escapeXml(s.name)}</text>`);
    lx += w;
  }
  out.push(`</g>`);
  return out.join('\n');
}

/** Consecutive points with a value; a null y ends a run. */
function segments(points: [number, number | null][]): [number, number][][] {
  const out: [number, number][][] = [];
  let cur: [number, number][] = [];
  for (const [x, y] of points) {
    if (y === null || !Number.isFinite(y)) {
      if (cur.length > 0) out.push(cur);
      cur = [];
    } else {
      cur.push([x, y]);
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function xTicks(min: number, max: number): number[] {
  if (max <= min) return [min];
  const span = niceMax(max - min) / 4;
  const out: number[] = [];
  for (let x = Math.ceil(min / span) * span; x <= max + 1e-9; x += span) out.push(+x.toPrecision(6));
  return out;
}
