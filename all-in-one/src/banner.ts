/**
 * The friendly text `npm start` prints on stdout: where things listen, what to trust, and the
 * next commands, exactly runnable from the folder the server was started in.
 */
import path from 'node:path';
import type { AllInOneAddress } from './app.js';

/** Quotes for POSIX shells only when needed, so the common case stays copy-paste clean. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A path as the user should type it from `cwd`: relative when inside it. */
export function displayPath(file: string, cwd: string): string {
  const relative = path.relative(cwd, file);
  if (relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative)) return relative;
  return file;
}

/** The three commands a newcomer types next (also asserted by the end-to-end test). */
export function nextCommands(address: AllInOneAddress, cwd: string): string[] {
  const app = address.demoApp ?? 'APP';
  return [
    `npx neetodeploy login --api ${address.apiUrl} --ca-file ${shellWord(displayPath(address.caFile, cwd))}`,
    `npx neetodeploy exec -a ${app}`,
    `npx neetodeploy logs -a ${app} --tail`,
  ];
}

export function renderBanner(
  address: AllInOneAddress,
  options: { cwd: string; logFile?: string },
): string {
  const { cwd } = options;
  const show = (file: string): string => displayPath(file, cwd);
  const lines = [
    '',
    'neetodeploy access is running',
    '',
    `  API (HTTPS):     ${address.apiUrl}`,
    `  Bastion (SSH):   ${address.sshHost}:${address.sshPort}`,
    `  CA file:         ${show(address.caFile)}  (trust it for the API)`,
    `  Data dir:        ${show(address.dataDir)}`,
    ...(options.logFile ? [`  Server logs:     ${show(options.logFile)}`] : []),
    `  Access policy:   ${show(address.layout.policyFile)}`,
    '',
  ];
  if (address.firstAccount) {
    lines.push(`  First account:   ${address.firstAccount.email}`);
    if (address.firstAccount.generatedPassword) {
      lines.push(
        `  Password:        ${address.firstAccount.generatedPassword}  (shown only this once: save it)`,
      );
    } else {
      lines.push('  Password:        the one in NEETODEPLOY_ADMIN_PASSWORD');
    }
  } else {
    lines.push(`  Accounts:        ${address.accounts.join(', ') || '(none)'}`);
  }
  lines.push(
    '',
    `Next, in another terminal in ${cwd}:`,
    '',
    ...nextCommands(address, cwd).map((c) => `  ${c}`),
    '',
    `Add accounts: npx neetodeploy-keys users add EMAIL --password-stdin --data-dir ${shellWord(show(address.dataDir))}`,
    'Press Ctrl-C to stop.',
    '',
  );
  return lines.join('\n');
}
