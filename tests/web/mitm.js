// tests/web/mitm.js: a relay that lies, for the browser tests. A TLS man
// in the middle on a free port of 127.0.0.1, with an ECDSA key of its own
// (made by openssl), in front of the relay's --web port. Page requests and
// everything the browser sends pass as they are; once the relay has
// answered an upgrade with 101, each binary message it sends (one relay
// envelope, docs/FORMATS.md "Browsers") is handed to tamper(envelope),
// which may change its bytes in place, before the browser gets it, and
// inject(message) puts a message of its own between the relay's.
// The relay's own key is not checked: this is the attacker, on loopback.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const tls = require('tls');
const { execFileSync } = require('child_process');

// An ECDSA P-256 key and a self-signed certificate for name (an IPv4
// address or a DNS name), made by openssl in dir as base.key (mode 0600)
// and base.crt; spki is the key's pin (base64 of SHA-256 of its
// SubjectPublicKeyInfo), for chromium's --ignore-certificate-errors-spki-list.
function selfSigned(dir, base, name) {
  const keyPath = path.join(dir, base + '.key'), certPath = path.join(dir, base + '.crt');
  const san = /^[0-9.]+$/.test(name) ? 'IP:' + name : 'DNS:' + name;
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                           '-nodes', '-subj', '/CN=' + name, '-addext', 'subjectAltName=' + san,
                           '-days', '1', '-keyout', keyPath, '-out', certPath], { stdio: 'ignore' });
  fs.chmodSync(keyPath, 0o600);
  const cert = fs.readFileSync(certPath);
  const spki = new crypto.X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return { keyPath, certPath, key: fs.readFileSync(keyPath), cert,
           spki: crypto.createHash('sha256').update(spki).digest('base64') };
}

// The relay's bytes to the browser on one connection: the response head,
// then, after a 101, WebSocket frames (RFC 6455, 5.2) one by one, which
// the relay sends unmasked and unfragmented: binary ones (opcode 2) are
// its envelopes, the others (close, ping, pong) pass as they are.
function fromRelay(tamper, send, upgraded) {
  let buf = Buffer.alloc(0), head = true, frames = false;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (head) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      frames = buf.subarray(0, 13).toString() === 'HTTP/1.1 101 ';
      send(buf.subarray(0, end + 4));
      if (frames) upgraded();
      buf = buf.subarray(end + 4);
      head = false;
    }
    if (!frames) {   /* a file: its body as it is */
      if (buf.length) send(buf);
      buf = Buffer.alloc(0);
      return;
    }
    for (;;) {
      if (buf.length < 2) return;
      let len = buf[1] & 0x7f, off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      if (buf.length < off + len) return;
      const frame = Buffer.from(buf.subarray(0, off + len));
      if ((frame[0] & 0x0f) === 2) tamper(frame.subarray(off));
      send(frame);
      buf = buf.subarray(off + len);
    }
  };
}

class Mitm {
  // Makes its key in dir (selfSigned, for 127.0.0.1); this.spki is its pin.
  constructor(dir) {
    const own = selfSigned(dir, 'mitm', '127.0.0.1');
    this.key = own.key;
    this.cert = own.cert;
    this.spki = own.spki;
    this.tamper = () => {};
    this.sockets = new Set();
    this.pages = new Set();   /* the browsers' upgraded connections */
  }

  // Sends every upgraded connection one binary message of its own (an
  // unmasked, unfragmented frame, its length in the shortest form, which
  // a browser requires); returns how many connections it went to.
  inject(message) {
    const n = message.length;
    const head = Buffer.alloc(n < 126 ? 2 : n < 65536 ? 4 : 10);
    head[0] = 0x82;
    if (n < 126) {
      head[1] = n;
    } else if (n < 65536) {
      head[1] = 126;
      head.writeUInt16BE(n, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(n), 2);
    }
    for (const page of this.pages) page.write(Buffer.concat([head, message]));
    return this.pages.size;
  }

  // Listens in front of the relay at relayPort; resolves to its own port.
  listen(relayPort) {
    this.server = tls.createServer({ key: this.key, cert: this.cert }, (browser) => {
      const relay = tls.connect({ host: '127.0.0.1', port: relayPort, rejectUnauthorized: false });
      for (const s of [browser, relay]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          this.pages.delete(browser);
          browser.destroy();
          relay.destroy();
        });
      }
      browser.on('data', (b) => relay.write(b));
      relay.on('data', fromRelay((env) => this.tamper(env), (b) => browser.write(b),
                                 () => this.pages.add(browser)));
    });
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve(this.server.address().port));
    });
  }

  close() {
    if (!this.server) return Promise.resolve();
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

module.exports = { Mitm, selfSigned };
