/**
 * Server-rendered HTML of the session pages: an app's recorded sessions, and one session in
 * asciinema-player. No inline scripts or styles: the player and its starter are files served by
 * this service, configured through `data-` attributes.
 */
import type { SessionEntry } from '@neetodeploy/contract';
import { escapeHtml } from './pages.js';

/** Where the page assets are served, under the web router's mount (`/device`). */
export const SESSION_ASSETS = {
  playerJs: '/device/assets/asciinema-player.min.js',
  playerCss: '/device/assets/asciinema-player.css',
  starterJs: '/device/assets/session-player.js',
  stylesheet: '/device/assets/sessions.css',
} as const;

export const sessionsListPath = (app: string): string =>
  `/device/apps/${encodeURIComponent(app)}/sessions`;
export const sessionPagePath = (id: string): string => `/device/sessions/${encodeURIComponent(id)}`;
export const sessionCastPath = (id: string): string =>
  `/device/sessions/${encodeURIComponent(id)}/recording.cast`;

/**
 * The CSP of the player page: scripts from here only, plus WebAssembly compilation (the player's
 * terminal emulator is WebAssembly; `wasm-unsafe-eval` allows that and nothing like `eval`).
 */
export const PLAYER_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

function frame(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · neetoDeploy</title>
<link rel="stylesheet" href="/device/style.css">
<link rel="stylesheet" href="${SESSION_ASSETS.stylesheet}">
${head}</head>
<body class="sessions">
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

function duration(ms: number | null): string {
  if (ms === null) return 'running';
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function exit(s: SessionEntry): string {
  if (s.exit_code !== null) return String(s.exit_code);
  return s.exit_signal !== null ? `SIG${s.exit_signal}` : '–';
}

function verifiedText(v: boolean | null): string {
  if (v === null) return 'not checked';
  return v ? 'verified' : 'FAILED';
}

export function sessionsListPage(p: {
  app: string;
  email: string;
  sessions: readonly SessionEntry[];
}): string {
  const rows = p.sessions
    .map(
      (s) => `<tr>
<td><a class="session-link" href="${escapeHtml(sessionPagePath(s.id))}">${escapeHtml(s.started_at.replace('T', ' ').slice(0, 19))}</a></td>
<td>${escapeHtml(s.user)}</td>
<td><code>${escapeHtml(s.command ?? '(shell)')}</code></td>
<td>${escapeHtml(duration(s.duration_ms))}</td>
<td>${escapeHtml(exit(s))}</td>
<td>${s.bytes.in}/${s.bytes.out}/${s.bytes.err}${s.dropped_bytes ? ` (${s.dropped_bytes} only hashed)` : ''}${s.incomplete !== undefined ? ' (ends early)' : ''}</td>
<td class="${s.verified === false ? 'error' : ''}">${escapeHtml(verifiedText(s.verified))}</td>
</tr>`,
    )
    .join('\n');
  const table =
    p.sessions.length === 0
      ? '<p id="no-sessions">No recorded sessions yet.</p>'
      : `<table id="sessions">
<thead><tr><th>Started (UTC)</th><th>User</th><th>Command</th><th>Duration</th><th>Exit</th><th>Bytes in/out/err</th><th>Recording</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`;
  return frame(
    `Sessions of ${p.app}`,
    `<p>Signed in as <strong>${escapeHtml(p.email)}</strong>. Newest first.</p>
${table}`,
  );
}

export function sessionPlayerPage(p: { id: string; app: string; speed: number }): string {
  return frame(
    `Session ${p.id}`,
    `<p><a href="${escapeHtml(sessionsListPath(p.app))}">All sessions of ${escapeHtml(p.app)}</a> · <a href="${escapeHtml(sessionCastPath(p.id))}" download>Download (asciicast v3)</a></p>
<div id="player" data-src="${escapeHtml(sessionCastPath(p.id))}" data-speed="${p.speed}"></div>
<noscript><p>The player needs JavaScript; download the recording instead.</p></noscript>`,
    `<link rel="stylesheet" href="${SESSION_ASSETS.playerCss}">
<script src="${SESSION_ASSETS.playerJs}" defer></script>
<script src="${SESSION_ASSETS.starterJs}" defer></script>
`,
  );
}

/** Starts the player on `#player`; autoplays, because the user came to watch. */
export const PLAYER_STARTER_JS = `(function () {
  var el = document.getElementById('player');
  if (!el || !window.AsciinemaPlayer) return;
  var speed = Number(el.getAttribute('data-speed')) || 1;
  window.sessionPlayer = window.AsciinemaPlayer.create(el.getAttribute('data-src'), el, {
    autoPlay: true,
    speed: speed,
    fit: 'width',
    idleTimeLimit: 2
  });
})();
`;

export const SESSIONS_STYLESHEET = `body.sessions main{max-width:72rem}
#sessions{border-collapse:collapse;width:100%;font-size:.9rem}
#sessions th,#sessions td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #e3e5ea;vertical-align:top}
#player{margin-top:1rem}
`;
