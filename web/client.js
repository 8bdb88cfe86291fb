// web/client.js: the page of the web client. The room's protocol runs in
// WebAssembly (fkex.js, src/web/client.c: the chat layer of `fkex chat`);
// this file only shows its events (the JSON lines of `fkex chat --batch`,
// README "Scripting") and hands it what the user does. Plain JavaScript,
// no build step, nothing fetched but this page's own files.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  let fkex = null;         // the module, once loaded
  let running = false;     // a session runs
  let busyMs = 0;          // time spent inside the module since Join
  let joinStarted = 0;

  // ---- what the page shows ---------------------------------------------------

  function setStatus(text) { $('status').textContent = text; }

  function showError(text) {
    const e = $('error');
    e.textContent = text;
    e.hidden = !text;
  }

  function note(text) {
    const li = document.createElement('li');
    li.className = 'note';
    li.textContent = text;
    $('messages').appendChild(li);
    li.scrollIntoView({ block: 'nearest' });
  }

  // A member's line: [pseudonym] nick: text, the pseudonym first, since a
  // nick is whatever its member chose (another "you" among them). This
  // member's own lines carry no pseudonym and are marked by their class.
  function message(nick, pseudonym, text, own) {
    const li = document.createElement('li');
    if (own) li.className = 'own';
    if (pseudonym) {
      const p = document.createElement('span');
      p.className = 'mono';
      p.textContent = '[' + pseudonym + '] ';
      li.appendChild(p);
    }
    const name = document.createElement('span');
    name.className = 'who';
    name.textContent = own ? nick + ' (you)' : nick;
    li.appendChild(name);
    li.appendChild(document.createTextNode(': ' + text));
    $('messages').appendChild(li);
    li.scrollIntoView({ block: 'nearest' });
  }

  function showMembers(list) {
    const ul = $('members');
    ul.replaceChildren();
    for (const m of list) {
      const li = document.createElement('li');
      if (m.self) li.className = 'self';
      const pseudo = document.createElement('span');
      pseudo.className = 'mono';
      pseudo.textContent = m.pseudonym;
      li.appendChild(pseudo);
      li.appendChild(document.createTextNode(' ' + (m.nick || '(no messages yet)') + (m.self ? ' (you)' : '')));
      ul.appendChild(li);
    }
  }

  function inRoom(yes) {
    $('room').hidden = !yes;
    $('join-form').hidden = yes;
    if (yes) $('text').focus();
  }

  // ---- calls into the module --------------------------------------------------

  // The module's copy is wiped before it is freed (a passphrase, say).
  function withString(s, fn) {
    const n = fkex.lengthBytesUTF8(s) + 1;
    const p = fkex._malloc(n);
    fkex.stringToUTF8(s, p, n);
    try { return fn(p, n - 1); } finally {
      fkex.HEAPU8.fill(0, p, p + n);
      fkex._free(p);
    }
  }

  function withBytes(bytes, fn) {
    const p = fkex._malloc(bytes.length || 1);
    fkex.HEAPU8.set(bytes, p);
    try { return fn(p, bytes.length); } finally {
      fkex.HEAPU8.fill(0, p, p + bytes.length);
      fkex._free(p);
    }
  }

  // Bytes the module made (p, *lenp): copied out, then wiped and freed there.
  function takeBytes(p, lenp) {
    const n = fkex.HEAPU32[lenp >> 2];
    const out = fkex.HEAPU8.slice(p, p + n);
    fkex._fkexw_free(p, n);
    return out;
  }

  // Every entry into the module is timed: the page's share of a join's work.
  // Each wraps the WebAssembly export itself: emscripten's stub in
  // fkex[name] puts the export in its own place at its first call, which
  // would drop a wrapper of the stub after one call.
  function timeEntries() {
    for (const name of ['_fkexw_ws_opened', '_fkexw_ws_message', '_fkexw_ws_closed', '_fkexw_ws_gone',
                        '_fkexw_timer_fired', '_fkexw_handle_closed', '_fkexw_start']) {
      const f = fkex.asm[name.slice(1)];
      fkex[name] = function () {
        const t0 = performance.now();
        try { return f.apply(null, arguments); } finally { busyMs += performance.now() - t0; }
      };
    }
  }

  // ---- the session's events ---------------------------------------------------

  const say = {
    joined(ev) {
      inRoom(true);
      $('room-id').textContent = ev.room.slice(0, 16);
      $('epoch').textContent = ev.epoch;
      $('count').textContent = ev.members;
      const ms = performance.now() - joinStarted;
      document.body.dataset.joinMs = ms.toFixed(1);
      document.body.dataset.joinBusyMs = busyMs.toFixed(1);
      document.body.dataset.loadToJoinedMs = performance.now().toFixed(1);
      setStatus('In the room: epoch ' + ev.epoch + ', ' + ev.members + ' members.');
      note('You joined at epoch ' + ev.epoch + '.');
      fkex._fkexw_who();
    },
    epoch(ev) {
      $('epoch').textContent = ev.epoch;
      $('count').textContent = ev.members;
      setStatus('In the room: epoch ' + ev.epoch + ', ' + ev.members + ' members.');
      note('New epoch ' + ev.epoch + ': ' + ev.members + ' members.');
      fkex._fkexw_who();
    },
    message(ev) {
      message(ev.from, ev.pseudonym, ev.text, false);
      fkex._fkexw_who();   // the member list shows the nick last seen on each member's messages
    },
    own(ev) { message(ev.from, '', ev.text, true); },   // sent: encrypted and on its way
    sent() {},
    who(ev) { showMembers(ev.members); },
    verify(ev) {
      $('fingerprint').textContent = 'Epoch ' + ev.epoch + ' fingerprint: ' + ev.fingerprint;
      note('Epoch ' + ev.epoch + ' fingerprint: ' + ev.fingerprint +
           ' (compare it with the others: the same in every member of this epoch).');
    },
    error(ev) {
      showError(ev.message);
      if (ev.code === 'fork_suspected') note('Warning: ' + ev.message + ' Compare fingerprints (Verify).');
    },
    left(ev) { note(ev.pending ? ev.message : 'You left the room.'); },
    policy(ev) { note('The room\'s policy is now: ' + ev.policy); },
    kicked(ev) { note('The admin removed ' + ev.pseudonym + ': ' + ev.reason); },
    removed(ev) { note('The admin removed you: ' + ev.reason); },
    connection(ev) {
      setStatus(ev.state === 'online' ? 'Back online.' : 'Reconnecting…');
      note(ev.message);
    },
    done(ev) {
      running = false;
      inRoom(false);
      $('join').disabled = false;
      setStatus(ev.exit_code === 0 ? 'The session is over.' : 'The session ended: see the message below.');
    },
  };

  function onEvent(line) {
    let ev;
    try { ev = JSON.parse(line); } catch (e) { return; }
    const f = say[ev.event];
    if (f) f(ev);
  }

  // ---- keys kept in this browser (IndexedDB), sealed in the module ------------

  function db() {
    return new Promise((resolve, reject) => {
      const r = indexedDB.open('fkex', 1);
      r.onupgradeneeded = () => r.result.createObjectStore('keys');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }

  // One request, done when its transaction is (a write is kept only
  // then: a quota can still abort it after the request succeeded).
  async function store(op, value) {
    const d = await db();
    try {
      return await new Promise((resolve, reject) => {
        const tx = d.transaction('keys', op === 'get' ? 'readonly' : 'readwrite');
        const t = tx.objectStore('keys');
        const r = op === 'get' ? t.get('key') : op === 'put' ? t.put(value, 'key') : t.delete('key');
        tx.oncomplete = () => resolve(r.result);
        tx.onabort = tx.onerror = () => reject(tx.error || r.error);
      });
    } finally { d.close(); }
  }

  function seal(pass, bytes) {
    const lenp = fkex._malloc(4);
    try {
      const p = withString(pass, (sp) => withBytes(bytes, (kp, n) => fkex._fkexw_seal_key(sp, kp, n, lenp)));
      if (!p) throw new Error('the key could not be sealed');
      return takeBytes(p, lenp);
    } finally { fkex._free(lenp); }
  }

  function unseal(pass, sealed) {
    const lenp = fkex._malloc(4);
    try {
      const p = withString(pass, (sp) => withBytes(sealed, (kp, n) => fkex._fkexw_open_key(sp, kp, n, lenp)));
      return p ? takeBytes(p, lenp) : null;
    } finally { fkex._free(lenp); }
  }

  async function showStored() {
    let kept = null;
    try { kept = await store('get'); } catch (e) { /* no IndexedDB: nothing kept */ }
    $('stored').hidden = !kept;
    if (kept) $('stored-name').textContent = kept.name + ', kept ' + new Date(kept.when).toLocaleString();
  }

  // ---- what the user does -----------------------------------------------------

  async function keyBytes() {
    const file = $('keyfile').files[0];
    if (file) {
      const bytes = new Uint8Array(await file.arrayBuffer());
      if ($('remember').checked) {
        const pass = $('remember-pass').value;
        if ([...pass].length < PASS_MIN)
          throw new Error('Give a passphrase of at least ' + PASS_MIN + ' characters to keep the key in ' +
                          'this browser: whoever copies the browser\'s storage can try passphrases at leisure.');
        $('remember-pass').value = '';
        try {
          await store('put', { name: file.name, when: Date.now(), sealed: seal(pass, bytes) });
        } catch (e) {
          keepFailed = 'The key could not be kept in this browser (' + e.message + '); joining without keeping it.';
        }
        showStored();
      }
      return bytes;
    }
    const kept = await store('get').catch(() => null);
    if (!kept) throw new Error('Pick your key file.');
    const bytes = unseal($('stored-pass').value, kept.sealed);
    $('stored-pass').value = '';
    if (!bytes) throw new Error('That passphrase does not open the kept key.');
    return bytes;
  }

  const PASS_MIN = 12;     // characters of a kept key's passphrase (web/keystore.c: bytes)
  let keepFailed = '';     // why a key asked to be kept was not

  async function join(event) {
    event.preventDefault();
    if (running || !fkex || $('join').disabled) return;
    $('join').disabled = true;   // before reading the key: a second Enter meanwhile does nothing
    showError('');
    let bytes;
    try { bytes = await keyBytes(); } catch (e) { showError(e.message); $('join').disabled = false; return; }
    $('messages').replaceChildren();
    if (keepFailed) note(keepFailed);
    keepFailed = '';
    $('members').replaceChildren();
    $('fingerprint').textContent = '';
    setStatus('Joining: proving your attributes to the room…');
    busyMs = 0;
    joinStarted = performance.now();
    const invite = $('invite').value.trim();
    const rc = withString(invite, (ip) => withString($('nick').value, (np) =>
      withBytes(bytes, (kp, n) => fkex._fkexw_start(ip, kp, n, np))));
    document.body.dataset.startBusyMs = busyMs.toFixed(1);   // reading the key
    bytes.fill(0);
    if (rc === 0) {
      running = true;
      history.replaceState(null, '', '#' + invite);
    } else {
      $('join').disabled = false;
      setStatus('Not joined.');
    }
  }

  function send(event) {
    event.preventDefault();
    const text = $('text').value;
    if (!running || !text) return;
    $('text').value = '';
    if (text === '/verify') { fkex._fkexw_verify(); return; }
    if (text === '/who') { fkex._fkexw_who(); return; }
    if (text === '/leave') { leave(); return; }
    const line = text.startsWith('//') ? text.slice(1) : text;
    withString(line, (p, n) => fkex._fkexw_send(p, n));   // shown when the module sends it (own)
  }

  function leave() {
    if (!running) return;
    setStatus('Leaving: waiting for a member to commit your removal…');
    fkex._fkexw_leave();
  }

  function start() {
    $('join-form').addEventListener('submit', join);
    $('send-form').addEventListener('submit', send);
    $('leave').addEventListener('click', leave);
    $('verify').addEventListener('click', () => running && fkex._fkexw_verify());
    $('forget').addEventListener('click', async () => { await store('delete').catch(() => {}); showStored(); });
    $('remember').addEventListener('change', () => {
      $('remember-pass').hidden = $('remember-pass-label').hidden = !$('remember').checked;
    });
    let hash = '';
    try { hash = decodeURIComponent(location.hash.slice(1)); } catch (e) { /* not an invitation */ }
    if (hash.startsWith('fkex://')) $('invite').value = hash;
    window.addEventListener('pagehide', () => { if (running) fkex._fkexw_quit(); });

    FkexModule({ onFkexEvent: onEvent }).then((m) => {
      fkex = m;
      if (fkex._fkexw_init() !== 0) { showError('The client could not start in this browser.'); return; }
      timeEntries();
      document.body.dataset.loadedMs = performance.now().toFixed(1);
      $('join').disabled = false;
      setStatus('Ready.');
      showStored();
    }, (e) => showError('The client could not load: ' + e));
  }

  start();
})();
