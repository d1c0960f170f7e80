// The dashboard page: HTML with its CSS (style.ts) and script (script.ts)
// inlined in one string, so the Worker serves it with nothing fetched from
// elsewhere (the bundlers need no loader for it).
import { dashboardScript } from './script';
import { dashboardCss } from './style';

export const dashboardHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>raft-kv dashboard</title>
<link rel="icon" href="data:,">
<style>${dashboardCss}</style>
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
<script>${dashboardScript}</script>
</body>
</html>
`;
