import path from 'node:path';

/** Where the local platform keeps each kind of state under its data dir. */
export interface LocalPaths {
  readonly dataDir: string;
  readonly appsDir: string;
  appDir(app: string): string;
  procfile(app: string): string;
  configVarsFile(app: string): string;
  configLockFile(app: string): string;
  appLogDir(app: string): string;
  runFile(app: string): string;
  readonly runDir: string;
  /** Owned by the one process that runs the apps. */
  readonly supervisorFile: string;
  /** Marks that the demo app was offered once, so deleting it is respected. */
  readonly demoMarker: string;
}

/** Callers validate `app` against APP_NAME_PATTERN first, so it cannot climb out of a folder. */
export function localPaths(dataDir: string): LocalPaths {
  const root = path.resolve(dataDir);
  const appsDir = path.join(root, 'apps');
  return {
    dataDir: root,
    appsDir,
    appDir: (app) => path.join(appsDir, app),
    procfile: (app) => path.join(appsDir, app, 'Procfile'),
    configVarsFile: (app) => path.join(root, 'config-vars', `${app}.json`),
    configLockFile: (app) => path.join(root, 'config-vars', `${app}.lock`),
    appLogDir: (app) => path.join(root, 'logs', app),
    runFile: (app) => path.join(root, 'run', `${app}.json`),
    runDir: path.join(root, 'run'),
    supervisorFile: path.join(root, 'run', '.supervisor'),
    demoMarker: path.join(root, '.demo-app-created'),
  };
}
