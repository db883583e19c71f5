// openbatch web console: live updates without reloading.
// - <main data-poll=ms>: every ms, fetch this page's live part (the server
//   renders only <main> when it sees X-Console-Fetch) and put it in place.
// - <pre data-tail=url data-offset=n>: append what the file grew by, while
//   the task runs. Bytes are decoded as a UTF-8 stream, so a character split
//   across two reads is kept whole.
// Polling pauses while the tab is hidden. No framework, no build step.
(function () {
  'use strict';
  var status = document.getElementById('live-status');
  function say(text) { if (status) status.textContent = text; }

  var live = document.getElementById('live');
  if (live && live.dataset.poll) {
    var every = Math.max(1000, parseInt(live.dataset.poll, 10) || 2000);
    var busy = false;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(location.href, { headers: { 'X-Console-Fetch': '1' }, credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) {
          if (r.status === 401) { location.reload(); return null; }
          if (!r.ok) { say('update failed (' + r.status + ')'); return null; }
          return r.text();
        })
        .then(function (html) {
          if (html === null || html === undefined) return;
          live.innerHTML = html;
          say('updated ' + new Date().toLocaleTimeString());
        })
        .catch(function () { say('server unreachable; retrying'); })
        .finally(function () { busy = false; });
    }, every);
  }

  var tail = document.querySelector('pre[data-tail]');
  if (tail) {
    var url = tail.dataset.tail;
    var offset = parseInt(tail.dataset.offset, 10) || 0;
    var decoder = new TextDecoder('utf-8');
    var note = document.getElementById('tail-note');
    var sizeEl = document.getElementById('file-size');
    var timer = null;
    function poll() {
      if (document.hidden) { timer = setTimeout(poll, 1000); return; }
      fetch(url + '?offset=' + offset, { headers: { 'X-Console-Fetch': '1' }, credentials: 'same-origin', cache: 'no-store' })
        .then(function (r) {
          if (r.status === 401) { location.reload(); return null; }
          if (!r.ok) throw new Error('HTTP ' + r.status);
          var state = r.headers.get('X-Task-State');
          var size = r.headers.get('X-File-Size');
          if (sizeEl && size !== null) sizeEl.textContent = size + ' bytes';
          return r.arrayBuffer().then(function (buf) { return { buf: buf, state: state }; });
        })
        .then(function (res) {
          if (!res) return;
          var n = res.buf.byteLength;
          if (n > 0) {
            offset += n;
            var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 4;
            tail.appendChild(document.createTextNode(decoder.decode(res.buf, { stream: true })));
            if (atBottom) window.scrollTo(0, document.body.scrollHeight);
          }
          if (res.state === 'completed' && n === 0) {
            if (note) note.textContent = 'The task completed; this is the whole file.';
            return;
          }
          timer = setTimeout(poll, n > 0 ? 200 : 1000);
        })
        .catch(function () { say('server unreachable; retrying'); timer = setTimeout(poll, 3000); });
    }
    timer = setTimeout(poll, 500);
  }
})();
