/**
 * The HTML the authorization endpoint serves: Doorkeeper's error page, a sign-in and
 * consent form, and the out-of-band page that shows the code. Element ids are stable so
 * a headless browser can fill and click them (`#user_email`, `#user_password`,
 * `#authorize`, `#deny`, `#authorization_code`, `#error`, `#error_description`).
 */
import type { EmulatorResponse } from '../core/router.js';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

export function htmlResponse(status: number, html: string): EmulatorResponse {
  return {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
    },
    body: html,
  };
}

function page(title: string, main: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)} · Factorial emulator</title>`,
    '<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}' +
      'label{display:block;margin-top:1rem}input{width:100%;padding:.4rem}' +
      'button{margin:1.5rem .5rem 0 0;padding:.5rem 1.2rem}.notice{color:#a40000}</style>',
    '</head>',
    '<body>',
    `<header><h1>${escapeHtml(title)}</h1></header>`,
    `<main role="main">${main}</main>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Doorkeeper's `authorizations/error` view, plus the error code. */
export function errorPage(error: string, description: string): string {
  return page(
    'An error has occurred',
    `<p>Error: <code id="error">${escapeHtml(error)}</code></p>\n` +
      `<pre id="error_description">${escapeHtml(description)}</pre>`,
  );
}

export interface ConsentPageData {
  clientName: string;
  scopes: readonly string[];
  resourceOwnerType: 'user' | 'company';
  authenticityToken: string;
  email: string;
  password: string;
  /** Shown above the form (a failed sign-in). */
  notice?: string;
}

const SCOPE_WORDS: Record<string, string> = {
  read: 'Read your Factorial data',
  write: 'Create, change and delete your Factorial data',
};

function scopeWords(scope: string): string {
  return SCOPE_WORDS[scope] ?? `Read and change your ${scope.replace(/_/g, ' ')} data`;
}

/** Sign-in and consent in one form; both buttons submit it, `commit` says which one. */
export function consentPage(data: ConsentPageData): string {
  const owner =
    data.resourceOwnerType === 'company'
      ? 'your company (a company token, which does not expire)'
      : 'your account';
  const scopes = data.scopes
    .map((scope) => `<li><code>${escapeHtml(scope)}</code>: ${escapeHtml(scopeWords(scope))}</li>`)
    .join('');
  const notice = data.notice
    ? `<p class="notice" id="notice" role="alert">${escapeHtml(data.notice)}</p>\n`
    : '';
  return page(
    'Authorization required',
    `${notice}<p class="h4">Authorize <strong id="client_name">${escapeHtml(data.clientName)}</strong> to use ${owner}?</p>\n` +
      `<p>This application will be able to:</p>\n<ul id="scopes">${scopes}</ul>\n` +
      '<form id="authorization_form" method="post" action="/oauth/authorize">\n' +
      `<input type="hidden" name="authenticity_token" id="authenticity_token" value="${escapeHtml(data.authenticityToken)}">\n` +
      `<label for="user_email">Email</label><input type="email" name="email" id="user_email" autocomplete="username" value="${escapeHtml(data.email)}">\n` +
      `<label for="user_password">Password</label><input type="password" name="password" id="user_password" autocomplete="current-password" value="${escapeHtml(data.password)}">\n` +
      '<button type="submit" name="commit" value="authorize" id="authorize">Authorize</button>' +
      '<button type="submit" name="commit" value="deny" id="deny" formnovalidate>Deny</button>\n' +
      '</form>',
  );
}

/** Doorkeeper's `authorizations/show` view (`/oauth/authorize/native`). */
export function authorizationCodePage(code: string): string {
  return page(
    'Authorization code',
    `<p>Copy this code and paste it into the application:</p>\n<code id="authorization_code">${escapeHtml(code)}</code>`,
  );
}
