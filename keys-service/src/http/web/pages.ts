/** Server-rendered HTML for /device. No scripts, no inline styles (the CSP forbids both). */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page frame; `body` is trusted HTML (escape what goes in it). */
export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · neetoDeploy</title>
<link rel="stylesheet" href="/device/style.css">
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

const errorBox = (error?: string): string =>
  error ? `<p class="error" role="alert" id="error">${escapeHtml(error)}</p>` : '';

export function signInPage(p: {
  csrf: string;
  code: string;
  error?: string;
  email?: string;
}): string {
  return layout(
    'Sign in',
    `${errorBox(p.error)}
<p>Sign in to connect the neetoDeploy CLI to your account.</p>
<form method="post" action="/device/sign-in">
<input type="hidden" name="_csrf" value="${escapeHtml(p.csrf)}">
<input type="hidden" name="code" value="${escapeHtml(p.code)}">
<label>Email <input type="email" name="email" id="email" autocomplete="username" required value="${escapeHtml(p.email ?? '')}"></label>
<label>Password <input type="password" name="password" id="password" autocomplete="current-password" required></label>
<button type="submit" id="sign-in">Sign in</button>
</form>`,
  );
}

export function codePage(p: { csrf: string; email: string; code: string; error?: string }): string {
  return layout(
    'Connect the CLI',
    `${errorBox(p.error)}
<p>Signed in as <strong>${escapeHtml(p.email)}</strong>.</p>
<p>Type the code your terminal shows. Only continue if you started <code>neetodeploy login</code> yourself.</p>
<form method="post" action="/device/code">
<input type="hidden" name="_csrf" value="${escapeHtml(p.csrf)}">
<label>Code <input type="text" name="user_code" id="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" required maxlength="12" placeholder="ABCD-EFGH" value="${escapeHtml(p.code)}"></label>
<button type="submit" id="continue">Continue</button>
</form>
${signOutForm(p.csrf)}`,
  );
}

export function confirmPage(p: {
  csrf: string;
  email: string;
  userCode: string;
  client: string;
  clientIp: string;
  requestedAt: Date;
}): string {
  const hidden = `<input type="hidden" name="_csrf" value="${escapeHtml(p.csrf)}">
<input type="hidden" name="user_code" value="${escapeHtml(p.userCode)}">`;
  return layout(
    'Approve this sign-in?',
    `<p>A CLI asks to act as <strong>${escapeHtml(p.email)}</strong>.</p>
<dl>
<dt>Code</dt><dd id="confirm-code"><code>${escapeHtml(p.userCode)}</code></dd>
<dt>Client</dt><dd id="client">${escapeHtml(p.client)}</dd>
<dt>From</dt><dd>${escapeHtml(p.clientIp)}</dd>
<dt>Requested</dt><dd>${escapeHtml(p.requestedAt.toISOString())}</dd>
</dl>
<p>Approve only if this code matches the one in your terminal.</p>
<div class="actions">
<form method="post" action="/device/decision">${hidden}
<input type="hidden" name="decision" value="approve">
<button type="submit" id="approve">Approve</button>
</form>
<form method="post" action="/device/decision">${hidden}
<input type="hidden" name="decision" value="deny">
<button type="submit" id="deny" class="secondary">Deny</button>
</form>
</div>`,
  );
}

export function donePage(approved: boolean): string {
  return approved
    ? layout(
        'CLI connected',
        '<p id="done">You can close this window and return to your terminal.</p>',
      )
    : layout(
        'Sign-in denied',
        '<p id="done">The CLI was not connected. You can close this window.</p>',
      );
}

export function messagePage(title: string, message: string): string {
  return layout(
    title,
    `<p class="error" role="alert" id="error">${escapeHtml(message)}</p>
<p><a href="/device">Start again</a></p>`,
  );
}

function signOutForm(csrf: string): string {
  return `<form method="post" action="/device/sign-out" class="sign-out">
<input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">
<button type="submit" class="link">Sign out</button>
</form>`;
}

export const STYLESHEET = `body{font-family:system-ui,sans-serif;background:#f6f7f9;color:#1d2330;margin:0}
main{max-width:28rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 3px #0002}
h1{font-size:1.4rem;margin-top:0}
label{display:block;margin:1rem 0}
input[type=email],input[type=password],input[type=text]{display:block;width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;margin-top:.25rem}
#user_code{font-family:monospace;letter-spacing:.15em;text-transform:uppercase}
button{padding:.5rem 1.2rem;font-size:1rem;border:0;border-radius:4px;background:#2456d3;color:#fff;cursor:pointer}
button.secondary{background:#6b7280}
button.link{background:none;color:#2456d3;padding:0;margin-top:1.5rem}
.actions{display:flex;gap:1rem}
.error{color:#a61b1b;background:#fdecec;padding:.5rem;border-radius:4px}
dt{font-weight:600}dd{margin:0 0 .5rem}
`;
