// The dashboard page's style sheet (page.ts inlines it, so nothing is fetched from elsewhere).

export const dashboardCss = `
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
