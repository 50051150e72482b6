/**
 * @internal The dashboard: one self-contained HTML document (inline CSS and script, no CDN, no
 * framework) that polls the JSON endpoints under `base` while it is open.
 */
export function adminPage(base: string): string {
  const api = JSON.stringify(`${base}/api`).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Storm admin</title>
<style>
:root{--bg:#0f1419;--panel:#182029;--line:#2a3540;--text:#d8e0e8;--dim:#8a99a8;--in:#4fc3f7;--out:#ffb74d;--ok:#66bb6a;--bad:#ef5350}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,sans-serif;background:var(--bg);color:var(--text)}
header{padding:12px 20px;border-bottom:1px solid var(--line);display:flex;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0}header span{color:var(--dim)}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px;padding:16px 20px}
section{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:12px 14px;min-width:0}
section.wide{grid-column:1/-1}h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--dim);margin:0 0 10px}
table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--dim);font-weight:500}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:var(--ok)}.bad{color:var(--bad)}.big{font-size:28px;font-weight:600}
canvas{width:100%;height:180px;display:block}.legend{color:var(--dim);font-size:12px}.legend b{font-weight:600}
input{background:var(--bg);color:var(--text);border:1px solid var(--line);border-radius:4px;padding:6px 8px;width:280px}
button{background:#3a2323;color:#ffcdd2;border:1px solid #6d3434;border-radius:4px;padding:2px 10px;cursor:pointer}
.tag{display:inline-block;background:#22303c;border-radius:3px;padding:0 6px;margin-right:4px;font-size:12px}
#error{color:var(--bad)}
</style></head><body>
<header><h1>Storm admin</h1><span id="scope"></span><span id="error"></span></header>
<main>
<section><h2>Live sessions</h2><div class="big" id="total">–</div><div class="legend" id="updated"></div></section>
<section><h2>Message rates (per second)</h2><canvas id="chart"></canvas>
<div class="legend"><b style="color:var(--in)">■</b> received <b style="color:var(--out)">■</b> sent <span id="rate"></span></div></section>
<section class="wide"><h2>Servers</h2><table><thead><tr><th>Name</th><th>Transport</th><th>Port</th><th>State</th><th class="num">Sessions</th><th class="num">Cluster</th><th class="num">Received</th><th class="num">Sent</th><th class="num">Errors</th></tr></thead><tbody id="servers"></tbody></table></section>
<section><h2>Groups</h2><table><thead><tr><th>Group</th><th class="num">Members</th></tr></thead><tbody id="groups"></tbody></table></section>
<section class="wide"><h2>Sessions</h2><p><input id="search" type="search" placeholder="Search id, address, server, group, item key"> <span class="legend" id="shown"></span></p>
<table><thead><tr><th>Id</th><th>Server</th><th>Node</th><th>End point</th><th>Uptime</th><th class="num">Bytes in</th><th class="num">Bytes out</th><th>Groups</th><th>Items</th><th></th></tr></thead><tbody id="sessions"></tbody></table></section>
</main>
<script>
(function () {
  'use strict';
  var API = ${api};
  var $ = function (id) { return document.getElementById(id); };
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
  function row(cells) { var tr = document.createElement('tr'); cells.forEach(function (c) { tr.appendChild(c); }); return tr; }
  function fill(id, rows) { var body = $(id); body.replaceChildren.apply(body, rows); }
  function fmt(n) { return n === undefined || n === null ? '–' : Number(n).toLocaleString('en-US'); }
  function uptime(ms) { var s = Math.floor(ms / 1000); if (s < 60) return s + 's'; var m = Math.floor(s / 60); if (m < 60) return m + 'm ' + (s % 60) + 's'; return Math.floor(m / 60) + 'h ' + (m % 60) + 'm'; }
  function getJson(url, init) { return fetch(url, init).then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); }); }

  function drawChart(rates) {
    var canvas = $('chart'), ctx = canvas.getContext('2d');
    var rect = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    var w = Math.max(1, Math.round(rect.width)), h = Math.max(1, Math.round(rect.height)), pad = 28;
    if (canvas.width !== w * dpr || canvas.height !== h * dpr) { canvas.width = w * dpr; canvas.height = h * dpr; }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    var max = 1;
    rates.forEach(function (r) { max = Math.max(max, r.received, r.sent); });
    ctx.strokeStyle = '#2a3540'; ctx.fillStyle = '#8a99a8'; ctx.font = '11px system-ui'; ctx.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = pad / 2 + (h - pad) * i / 4;
      ctx.beginPath(); ctx.moveTo(pad + 16, y); ctx.lineTo(w, y); ctx.stroke();
      ctx.fillText(String(Math.round(max * (4 - i) / 4)), 0, y + 4);
    }
    function line(key, color) {
      if (rates.length < 2) return;
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
      rates.forEach(function (r, i) {
        var x = pad + 16 + (w - pad - 16) * i / (rates.length - 1);
        var y = pad / 2 + (h - pad) * (1 - r[key] / max);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
    }
    line('received', '#4fc3f7'); line('sent', '#ffb74d');
    canvas.dataset.points = String(rates.length);
    var last = rates[rates.length - 1];
    $('rate').textContent = last ? ' — now ' + last.received.toFixed(1) + ' in / ' + last.sent.toFixed(1) + ' out' : ' — collecting…';
  }

  function refreshOverview() {
    return getJson(API + '/overview').then(function (o) {
      var total = 0, cluster = 0;
      fill('servers', o.servers.map(function (s) {
        total += s.connections; cluster += s.clusterConnections;
        return row([el('td', s.name), el('td', s.transport), el('td', s.port === undefined ? '–' : s.port),
          el('td', s.listening ? 'listening' : 'stopped', s.listening ? 'ok' : 'bad'), el('td', fmt(s.connections), 'num'),
          el('td', fmt(s.clusterConnections), 'num'), el('td', fmt(s.messagesReceived), 'num'), el('td', fmt(s.messagesSent), 'num'), el('td', fmt(s.errors), 'num')]);
      }));
      fill('groups', o.groups.map(function (g) { return row([el('td', g.name), el('td', fmt(g.members), 'num')]); }));
      $('total').textContent = fmt(o.clusterWide ? cluster : total);
      $('scope').textContent = o.clusterWide ? 'cluster-wide' : 'this node';
      $('updated').textContent = 'updated ' + new Date(o.now).toLocaleTimeString();
      drawChart(o.rates);
    });
  }

  function refreshSessions() {
    var q = $('search').value;
    return getJson(API + '/sessions?q=' + encodeURIComponent(q)).then(function (r) {
      var now = Date.now();
      $('shown').textContent = r.sessions.length + ' of ' + r.total;
      fill('sessions', r.sessions.map(function (s) {
        var groups = el('td'); s.groups.forEach(function (g) { groups.appendChild(el('span', g, 'tag')); });
        var close = el('button', 'Close'); close.dataset.session = String(s.id);
        close.addEventListener('click', function () {
          close.disabled = true;
          getJson(API + '/sessions/' + s.id + '/close', { method: 'POST' }).then(refresh, showError);
        });
        var action = el('td'); action.appendChild(close);
        var tr = row([el('td', s.id), el('td', s.server), el('td', s.node), el('td', s.endPoint), el('td', uptime(now - s.connectedAt)),
          el('td', fmt(s.bytesReceived), 'num'), el('td', fmt(s.bytesSent), 'num'), groups, el('td', s.items.join(', ')), action]);
        tr.dataset.session = String(s.id);
        return tr;
      }));
    });
  }

  function showError(e) { $('error').textContent = String(e && e.message || e); }
  function refresh() { return Promise.all([refreshOverview(), refreshSessions()]).then(function () { $('error').textContent = ''; document.body.dataset.ready = 'true'; }, showError); }
  var typing;
  $('search').addEventListener('input', function () { clearTimeout(typing); typing = setTimeout(refreshSessions, 200); });
  refresh();
  setInterval(refresh, 2000);
})();
</script></body></html>`;
}
