/**
 * The dashboard at `/`: one server-rendered page, no front-end build step. A strict
 * Content-Security-Policy allows only the daemon's own small script and style sheet
 * (no inline code); the script counts each token's time to expiry down live and
 * reloads the page every 15 s for new state. Everything shown is escaped.
 */

import { shellWord } from '../shell-word.js';
import type { ViewedConnection } from './connection-view.js';
import { needsLogin } from './connection-view.js';
import type { StoreArgument } from './store-argument.js';

export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export function renderDashboard(
  connections: readonly ViewedConnection[],
  now: number,
  store: StoreArgument,
): string {
  const rows = connections.map((c) => row(c, now, store)).join('\n');
  const reauth = connections.filter(needsLogin).length;
  return page(
    'tokenkeeper',
    `<h1>tokenkeeper</h1>
<p class="summary">${connections.length} connection${connections.length === 1 ? '' : 's'}${
      reauth > 0 ? `, <strong class="bad">${reauth} need${reauth === 1 ? 's' : ''} a new login</strong>` : ''
    } · page rendered <time datetime="${new Date(now).toISOString()}">${escapeHtml(new Date(now).toISOString())}</time></p>
<table>
<thead><tr><th>Connection</th><th>Provider</th><th>State</th><th>Expires in</th><th>Last refresh</th><th>Failures</th><th>Fix</th></tr></thead>
<tbody>
${rows || `<tr><td colspan="7">No connections yet: run <code>${escapeHtml(store.command('login NAME --provider …'))}</code>${noteOf(store)}.</td></tr>`}
</tbody>
</table>`,
  );
}

/** What the shown command cannot say itself (set TOKENKEEPER_STORE first). */
function noteOf(store: StoreArgument): string {
  return store.note ? ` <span class="note">(${escapeHtml(store.note)})</span>` : '';
}

function row(c: ViewedConnection, now: number, store: StoreArgument): string {
  const login = needsLogin(c);
  const state = login ? 'needs a new login' : c.failures > 0 ? 'failing' : 'ok';
  const stateClass = login ? 'bad' : c.failures > 0 ? 'warn' : 'good';
  const expires =
    c.expiresAt === null
      ? 'never expires'
      : c.expiresAt === undefined
        ? '-'
        : `<span class="countdown" data-expires-at="${c.expiresAt}">${escapeHtml(countdown(c.expiresAt - now))}</span>`;
  const lastRefresh = c.lastRefreshAt === undefined ? '-' : new Date(c.lastRefreshAt).toISOString();
  const failures =
    c.failures > 0 || c.lastErrorCode
      ? `${c.failures}${c.lastErrorCode ? ` (${escapeHtml(c.lastErrorCode)})` : ''}`
      : '0';
  const fix = login
    ? `<code class="fix">${escapeHtml(store.command(`login ${shellWord(c.name)}`))}</code>${noteOf(store)}`
    : '';
  return `<tr data-connection="${escapeHtml(c.name)}"><td>${escapeHtml(c.name)}</td><td>${escapeHtml(c.provider)}</td><td class="${stateClass}">${state}</td><td>${expires}</td><td>${escapeHtml(lastRefresh)}</td><td>${failures}</td><td>${fix}</td></tr>`;
}

export function renderLoginForm(message?: string): string {
  return page(
    'tokenkeeper: sign in',
    `<h1>tokenkeeper</h1>
${message ? `<p class="bad">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/login">
<label>Access secret <input type="password" name="secret" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form>
<p>Or open the one-time link the daemon printed when it started.</p>`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/dashboard.css"><script src="/dashboard.js" defer></script></head>
<body>
${body}
</body></html>
`;
}

/** `1h 02m 03s`, or `expired 5s ago`: the same wording as the script's. */
export function countdown(ms: number): string {
  const expired = ms <= 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  const text = d > 0 ? `${d}d ${h}h ${pad(m)}m` : h > 0 ? `${h}h ${pad(m)}m ${pad(s)}s` : `${m}m ${pad(s)}s`;
  return expired ? `expired ${text} ago` : text;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Served at /dashboard.js: counts down every `.countdown` each second, reloads every 15 s. */
export const DASHBOARD_SCRIPT = `'use strict';
(function () {
  function pad(n) { return String(n).padStart(2, '0'); }
  function countdown(ms) {
    var expired = ms <= 0;
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400); s -= d * 86400;
    var h = Math.floor(s / 3600); s -= h * 3600;
    var m = Math.floor(s / 60); s -= m * 60;
    var text = d > 0 ? d + 'd ' + h + 'h ' + pad(m) + 'm' : h > 0 ? h + 'h ' + pad(m) + 'm ' + pad(s) + 's' : m + 'm ' + pad(s) + 's';
    return expired ? 'expired ' + text + ' ago' : text;
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll('.countdown').forEach(function (el) {
      var at = Number(el.getAttribute('data-expires-at'));
      el.textContent = countdown(at - now);
      el.classList.toggle('bad', at <= now);
    });
  }
  tick();
  setInterval(tick, 1000);
  setTimeout(function () { location.reload(); }, 15000);
})();
`;

export const DASHBOARD_STYLE = `body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
code { background: #f4f4f4; padding: .1rem .3rem; border-radius: 3px; }
.good { color: #1a7f37; } .warn { color: #9a6700; } .bad { color: #cf222e; }
.countdown { font-variant-numeric: tabular-nums; }
form { display: flex; gap: .5rem; align-items: center; }
`;
