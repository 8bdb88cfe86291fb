// tests/web/webdriver.js: the little of W3C WebDriver the browser tests use,
// over HTTP to Debian's chromedriver driving Debian's headless chromium.
// Every request is bounded in time; the driver is started and stopped by
// its pid alone.
'use strict';

const { spawn } = require('child_process');
const net = require('net');

const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

class Driver {
  // Starts chromedriver on a free port of 127.0.0.1 and a session in
  // headless chromium trusting the relay's TLS key (spki: its pin, base64,
  // or several, comma-separated), with more of chromium's flags if given.
  static async start(spki, logFile, more = []) {
    const d = new Driver();
    d.port = await freePort();
    const fs = require('fs');
    const log = fs.openSync(logFile, 'a');
    d.proc = spawn('chromedriver', ['--port=' + d.port, '--allowed-ips=127.0.0.1'],
                   { stdio: ['ignore', log, log] });
    const end = Date.now() + 15000;
    for (;;) {
      try {
        const st = await d.call('GET', '/status');
        if (st.ready) break;
      } catch (e) { /* not listening yet */ }
      if (Date.now() > end) throw new Error('chromedriver did not start within 15 s');
      await sleep(100);
    }
    const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--disable-dev-shm-usage', '--window-size=1100,900',
                  '--user-data-dir=' + fs.mkdtempSync(require('os').tmpdir() + '/fkex-chromium-')];
    if (spki) args.push('--ignore-certificate-errors-spki-list=' + spki);
    args.push(...more);
    const s = await d.call('POST', '/session', {
      capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': { binary: '/usr/bin/chromium', args } } },
    });
    d.session = s.sessionId;
    return d;
  }

  async call(method, path, body, timeoutMs = 30000) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    try {
      const r = await fetch('http://127.0.0.1:' + this.port + path, {
        method, signal: ctl.signal,
        headers: body ? { 'Content-Type': 'application/json' } : undefined,
        body: body ? JSON.stringify(body) : undefined,
      });
      const j = await r.json();
      if (!r.ok) throw new Error(method + ' ' + path + ': ' + (j.value && j.value.message || r.status));
      return j.value;
    } finally { clearTimeout(timer); }
  }

  s(path) { return '/session/' + this.session + path; }
  go(url) { return this.call('POST', this.s('/url'), { url }); }
  async find(css) {
    const e = await this.call('POST', this.s('/element'), { using: 'css selector', value: css });
    return e[ELEMENT];
  }
  async type(css, text) {
    const id = await this.find(css);
    await this.call('POST', this.s('/element/' + id + '/clear'), {}).catch(() => {});
    return this.call('POST', this.s('/element/' + id + '/value'), { text });
  }
  // Keys typed into the page, as a keyboard user would (\uE004 Tab, \uE007 Enter).
  keys(text) {
    const actions = [];
    for (const ch of text) actions.push({ type: 'keyDown', value: ch }, { type: 'keyUp', value: ch });
    return this.call('POST', this.s('/actions'), { actions: [{ type: 'key', id: 'kb', actions }] });
  }
  async click(css) { return this.call('POST', this.s('/element/' + await this.find(css) + '/click'), {}); }
  exec(script, args = []) { return this.call('POST', this.s('/execute/sync'), { script, args }); }
  text(css) { return this.exec('const e = document.querySelector(arguments[0]); return e ? e.textContent : null;', [css]); }
  // Waits until fn() (in the page) returns something true: that value.
  async until(what, script, args = [], ms = 60000) {
    const end = Date.now() + ms;
    for (;;) {
      const v = await this.exec(script, args);
      if (v) return v;
      if (Date.now() > end) throw new Error('timed out waiting for ' + what);
      await sleep(100);
    }
  }
  async screenshot(file) {
    const png = await this.call('GET', this.s('/screenshot'));
    require('fs').writeFileSync(file, Buffer.from(png, 'base64'));
  }
  async stop() {
    if (this.session) await this.call('DELETE', this.s(''), undefined, 10000).catch(() => {});
    this.session = null;
    if (this.proc && this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      await Promise.race([new Promise((r) => this.proc.once('exit', r)), sleep(5000)]);
      if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
    }
  }
}

module.exports = { Driver, freePort, sleep };
