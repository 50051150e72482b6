/** The chat page: plain HTML and JavaScript, no build step. Served at `/` by `ChatController`. */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Storm chat</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Cpath d='M9 0 3 9h4l-1 7 7-10H9z' fill='%23f5a623'/%3E%3C/svg%3E">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  form { display: flex; gap: .5rem; margin: .5rem 0; }
  input { flex: 1; padding: .4rem; }
  #log { list-style: none; padding: 0; border: 1px solid #ccc; height: 20rem; overflow-y: auto; }
  #log li { padding: .2rem .5rem; }
  #log li.notice { color: #666; font-style: italic; }
  #log li.error { color: #b00; }
  #log li.pending { color: #999; }
  #log li.delivered::after { content: " \\2713"; color: #090; }
  #status { color: #666; }
</style>
</head>
<body>
<h1>Storm chat</h1>
<p id="status">connecting…</p>
<form id="join-form">
  <input id="name" placeholder="your name" required maxlength="24">
  <input id="room" placeholder="room" value="lobby" required maxlength="32">
  <button id="join" type="submit">Join</button>
</form>
<p>Online: <span id="online">—</span> <button id="drop" type="button" title="Cut the connection without a goodbye, as a dead mobile link would">Drop connection</button></p>
<ul id="log"></ul>
<form id="say-form">
  <input id="text" placeholder="message" autocomplete="off" maxlength="500" disabled>
  <button id="send" type="submit" disabled>Send</button>
</form>
<script type="module">
  // The browser client, served by the Nest app itself (StormModule's serveClient option).
  import { StormSocket } from '/storm/client/index.js';
  const $ = (id) => document.getElementById(id);
  const log = (text, kind) => {
    const li = document.createElement('li');
    li.textContent = text;
    if (kind) li.className = kind;
    $('log').append(li);
    $('log').scrollTop = $('log').scrollHeight;
    return li;
  };
  const enable = (on) => { $('text').disabled = $('send').disabled = !on; };
  const showRoom = (room, members) => {
    $('status').textContent = 'in room ' + room + ' (' + members + ' here)';
    document.body.dataset.members = String(members);
  };
  const socket = new StormSocket('/ws', { requestTimeout: 5000 });
  let joined;
  const join = async (request) => {
    try {
      const room = await socket.request('join', request);   // the ack carries the room and its head count
      joined = request;
      showRoom(room.room, room.members);
      document.body.dataset.room = room.room;
      enable(true);
      $('text').focus();
    } catch (error) {
      log('error: ' + error.message, 'error');
    }
  };
  socket.on('connect', () => {
    if (socket.recovered) {                                   // same session, nothing missed: the replay follows
      log('reconnected: session ' + socket.id + ' recovered, nothing lost', 'notice');
      document.body.dataset.recovered = 'true';
      if (joined) showRoom(joined.room, Number(document.body.dataset.members));
      enable(Boolean(joined));
      return;
    }
    $('status').textContent = 'connected: pick a name and a room';
    if (joined) void join(joined);                            // a new session (recovery window passed): join again
  });
  // Who is online in our room, from presence (several tabs of one name count once).
  // The head count follows presence too: a blip (recovered) does not change it, a page closed does.
  socket.on('presence', (group, state) => {
    if (!joined || group !== 'room:' + joined.room) return;
    $('online').textContent = Object.keys(state).sort().join(', ') || '—';
    showRoom(joined.room, Object.values(state).reduce((n, entry) => n + entry.metas.length, 0));
  });
  $('drop').onclick = () => socket.emit('drop');
  socket.on('disconnect', (info) => { $('status').textContent = 'disconnected (' + info.code + ')'; enable(false); });
  socket.on('reconnecting', (attempt, delay) => { $('status').textContent = 'reconnecting (attempt ' + attempt + ')…'; });
  socket.on('message', (m) => log(m.from + ': ' + m.text));
  // The head count in the status line follows presence (below), which a blip does not change.
  socket.on('notice', (n) => log(n.text + ' (' + n.members + ' here)', 'notice'));
  $('join-form').onsubmit = (e) => { e.preventDefault(); void join({ name: $('name').value, room: $('room').value }); };
  $('say-form').onsubmit = async (e) => {
    e.preventDefault();
    const text = $('text').value;
    $('text').value = '';
    if (!text) return;
    // Our own line shows at once; the server's ack confirms it reached the room.
    const line = log(joined.name + ': ' + text, 'pending');
    try {
      await socket.request('say', { text });
      line.className = 'delivered';
      line.title = 'delivered';
    } catch (error) {
      line.className = 'error';
      line.textContent += ' (not delivered: ' + error.message + ')';
    }
  };
  await socket.connect();
</script>
</body>
</html>
`;
