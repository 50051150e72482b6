/** The chat page: plain HTML and JavaScript, no build step. Served at `/` by `ChatController`. */
export const CHAT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Storm chat</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
  form { display: flex; gap: .5rem; margin: .5rem 0; }
  input { flex: 1; padding: .4rem; }
  #log { list-style: none; padding: 0; border: 1px solid #ccc; height: 20rem; overflow-y: auto; }
  #log li { padding: .2rem .5rem; }
  #log li.notice { color: #666; font-style: italic; }
  #log li.error { color: #b00; }
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
<ul id="log"></ul>
<form id="say-form">
  <input id="text" placeholder="message" autocomplete="off" maxlength="500" disabled>
  <button id="send" type="submit" disabled>Send</button>
</form>
<script>
  const $ = (id) => document.getElementById(id);
  const log = (text, kind) => {
    const li = document.createElement('li');
    li.textContent = text;
    if (kind) li.className = kind;
    $('log').append(li);
    $('log').scrollTop = $('log').scrollHeight;
  };
  const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  const emit = (event, data) => socket.send(JSON.stringify({ event, data }));
  socket.onopen = () => { $('status').textContent = 'connected: pick a name and a room'; };
  socket.onclose = (e) => { $('status').textContent = 'disconnected (' + e.code + ')'; $('text').disabled = $('send').disabled = true; };
  socket.onmessage = (e) => {
    const { event, data } = JSON.parse(e.data);
    if (event === 'join') {
      $('status').textContent = 'in room ' + data.room + ' (' + data.members + ' here)';
      $('text').disabled = $('send').disabled = false;
      document.body.dataset.room = data.room;
      $('text').focus();
    } else if (event === 'message') {
      log(data.from + ': ' + data.text);
    } else if (event === 'notice') {
      log(data.text + ' (' + data.members + ' here)', 'notice');
    } else if (event === 'exception') {
      log('error: ' + [].concat(data.message).join(', '), 'error');
    }
  };
  $('join-form').onsubmit = (e) => { e.preventDefault(); emit('join', { name: $('name').value, room: $('room').value }); };
  $('say-form').onsubmit = (e) => {
    e.preventDefault();
    if ($('text').value) emit('say', { text: $('text').value });
    $('text').value = '';
  };
</script>
</body>
</html>
`;
