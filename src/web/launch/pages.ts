import type { StarterContentRecord } from '../../store/starter-content';
import { FAILURE_REASONS, type FailureReason } from './reasons';

/** HTML-escapes text for element content and quoted attributes. */
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;color:#1d1d3f;background:#f6f6fb}
main{max-width:52rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem}dt{font-weight:600}dd{margin:0 0 .6rem}.muted{color:#667}
.ref{font-family:monospace}section{margin-top:1.2rem}button{font:inherit;padding:.4rem 1rem}`;

export function layout(o: { title: string; nonce: string; body: string; head?: string }): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(o.title)}</title><style nonce="${o.nonce}">${STYLE}</style>${o.head ?? ''}</head>
<body><main>${o.body}</main></body></html>`;
}

export function failurePage(o: {
  reason: FailureReason;
  referenceId: string;
  supportContact: string;
  accountName?: string;
  nonce: string;
}): string {
  const r = FAILURE_REASONS[o.reason];
  const account = o.accountName ? `<p>Talkdesk account: <strong>${esc(o.accountName)}</strong></p>` : '';
  return layout({
    title: 'Sign-in failed',
    nonce: o.nonce,
    body: `<h1>We could not sign you in</h1>
<p id="reason" data-reason="${o.reason}">${esc(r.sentence)}</p>
<p><strong>What to do:</strong> ${esc(r.next)}</p>${account}
<p>If you need help, contact ${esc(o.supportContact)} and give this reference: <span class="ref" id="reference">${esc(o.referenceId)}</span></p>
<p class="muted">Reason code: <span class="ref">${o.reason}</span></p>`,
  });
}

/** 429: too many failed sign-ins from this address (SSO_FAILED_SIGN_INS_PER_MINUTE); nothing was recorded, so no reference. */
export function tooManyFailuresPage(o: { nonce: string; retryAfterSeconds: number; supportContact: string }): string {
  return layout({
    title: 'Too many failed sign-ins',
    nonce: o.nonce,
    body: `<h1>Too many failed sign-ins</h1>
<p id="reason" data-reason="rate_limited">Too many sign-ins from your network failed in the last minute.</p>
<p><strong>What to do:</strong> wait <span id="retry-after">${o.retryAfterSeconds}</span> seconds, then open the app again from Talkdesk.</p>
<p class="muted">Help: ${esc(o.supportContact)}. Reason code: <span class="ref">rate_limited</span></p>`,
  });
}

export function notSignedInPage(nonce: string, supportContact: string): string {
  return layout({
    title: 'Not signed in',
    nonce,
    body: `<h1>You are not signed in</h1><p>Your session has ended or was never opened in this browser.</p>
<p><strong>What to do:</strong> open the app again from Talkdesk; you will be signed in automatically.</p>
<p class="muted">Help: ${esc(supportContact)}</p>`,
  });
}

export function signedOutPage(nonce: string): string {
  return layout({
    title: 'Signed out',
    nonce,
    body: '<h1>You are signed out</h1><p>To use the app again, open it from Talkdesk.</p>',
  });
}

/** The sign-out button: a form posting the session's CSRF token (app-page.ts). */
const signOutForm = (csrfToken: string, label = 'Sign out'): string =>
  `<form method="post" action="/app/logout"><input type="hidden" name="csrf" value="${esc(csrfToken)}"><button type="submit">${esc(label)}</button></form>`;

/** A sign-out from a page of an earlier sign-in (the app opened again since in this browser): asked again, not refused outright. */
export function signOutConfirmPage(nonce: string, csrfToken: string): string {
  return layout({
    title: 'Sign out?',
    nonce,
    body: `<h1>Sign out?</h1><p id="reason" data-reason="earlier_page">That page was from an earlier sign-in: the app was opened again in this browser since. Nothing was signed out.</p>
${signOutForm(csrfToken, 'Sign out now')}`,
  });
}

export function simplePage(nonce: string, title: string, text: string): string {
  return layout({ title, nonce, body: `<h1>${esc(title)}</h1><p>${esc(text)}</p>` });
}

/** OpenID Connect form post: the token travels in a POST body, never in a URL. */
export function handoffPage(o: { nonce: string; action: string; token: string }): string {
  return layout({
    title: 'Opening the app',
    nonce: o.nonce,
    body: `<h1>Opening the app…</h1>
<form id="handoff" method="post" action="${esc(o.action)}"><input type="hidden" name="token" value="${esc(o.token)}">
<noscript><button type="submit">Continue</button></noscript></form>
<script nonce="${o.nonce}">document.getElementById('handoff').submit();</script>`,
  });
}

export interface AppPageView {
  userName: string;
  email?: string;
  role: 'admin' | 'user';
  accountName: string;
  licensedUsers: number;
  plan: string;
  starter?: StarterContentRecord;
  csrfToken: string;
  widgetUrl?: string;
  nonce: string;
}

export function appPage(v: AppPageView): string {
  const dashboards = v.starter?.dashboards.length
    ? `<ul>${v.starter.dashboards.map((d) => `<li><strong>${esc(d.title)}</strong> <span class="muted">${esc(d.description)}</span></li>`).join('')}</ul>`
    : '<p class="muted">Your sample dashboards are being prepared; they will appear here shortly.</p>';
  const checklist = v.starter?.checklist.length
    ? `<ol>${v.starter.checklist.map((c) => `<li>${c.done ? '&#10003; ' : ''}${esc(c.title)}</li>`).join('')}</ol>`
    : '<ol><li>Open a sample dashboard</li><li>Invite your team from Talkdesk</li></ol>';
  const roleText = v.role === 'admin' ? 'Administrator (installed the app)' : 'Standard user';
  return layout({
    title: `${v.accountName} - app`,
    nonce: v.nonce,
    head: v.widgetUrl ? `<script src="${esc(v.widgetUrl)}" async></script>` : '',
    body: `<h1>Welcome, <span id="user-name">${esc(v.userName)}</span></h1>
<dl><dt>Talkdesk account</dt><dd id="account-name">${esc(v.accountName)}</dd>
<dt>Your role</dt><dd id="role" data-role="${v.role}">${roleText}</dd>
<dt>Licensed users</dt><dd id="licensed-users">${v.licensedUsers}</dd>
<dt>Plan</dt><dd id="plan">${esc(v.plan)}</dd></dl>
<section><h2>Sample dashboards</h2>${dashboards}</section>
<section><h2>Getting started</h2>${checklist}</section>
${signOutForm(v.csrfToken)}`,
  });
}
