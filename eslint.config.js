// @ts-check
import eslint from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import path from 'node:path';
import tseslint from 'typescript-eslint';

// The dependency rules of ARCHITECTURE.md ("Parts"), enforced here so that `npm run lint` fails
// on a violation. test/lint/boundaries.test.ts proves each rule reports and permits what it says.
const workspaces = [
  'sshcert',
  'contract',
  'platform',
  'recording',
  'keys-service',
  'bastion',
  'cli',
  'all-in-one',
];
const servers = ['keys-service', 'bastion'];
// Tests, benchmarks and scripts may import anything; production code imports none of them.
const harness = ['test', 'bench', 'scripts'];
const ARCH = 'see ARCHITECTURE.md, "Parts"';

/** What each workspace may not import, besides itself. */
const forbidden = {
  sshcert: {
    parts: workspaces.filter((w) => w !== 'sshcert'),
    why: 'sshcert depends on nothing internal',
  },
  contract: {
    parts: workspaces.filter((w) => w !== 'contract'),
    why: 'contract depends on nothing internal',
  },
  platform: {
    parts: [...servers, 'cli', 'all-in-one', 'recording'],
    why: 'platform imports only sshcert and contract internally',
  },
  recording: {
    parts: workspaces.filter((w) => w !== 'recording' && w !== 'contract'),
    why: 'recording depends on nothing internal but contract (the bastion and keys-service use it)',
  },
  'keys-service': {
    parts: ['bastion', 'cli', 'all-in-one'],
    why: 'keys-service never imports the bastion, the CLI or all-in-one (only all-in-one wires servers)',
  },
  bastion: {
    parts: ['keys-service', 'cli', 'all-in-one'],
    why: 'the bastion never imports keys-service, the CLI or all-in-one (only all-in-one wires servers)',
  },
  cli: {
    parts: ['platform', ...servers, 'all-in-one'],
    why: 'the CLI imports no server (nor platform or all-in-one)',
  },
  'all-in-one': {
    parts: ['cli'],
    why: 'all-in-one wires the servers, not the CLI',
  },
};

/** Packages that would make platform speak SSH or HTTP as a server. */
const sshAndHttpServerPackages = [
  'ssh2',
  'ssh2-streams',
  'express',
  'express-*',
  'helmet',
  'cookie-parser',
  'proxy-addr',
];

const boundariesPolicies = [
  ...Object.entries(forbidden).map(([from, { parts, why }]) => ({
    from: { element: { type: from } },
    disallow: { to: { element: { types: parts } } },
    message: `${why} (${ARCH})`,
  })),
  {
    from: { element: { types: workspaces } },
    disallow: { to: { element: { types: harness } } },
    message: `production code imports no test, bench or script (${ARCH})`,
  },
  {
    from: { element: { type: 'contract' } },
    disallow: { to: { module: { origin: 'external', source: '!zod' } } },
    message: `contract depends on zod alone (${ARCH})`,
  },
  {
    from: { element: { type: 'platform' } },
    disallow: {
      to: { module: { origin: 'external', source: sshAndHttpServerPackages } },
    },
    message: `platform knows no SSH or HTTP server (${ARCH})`,
  },
];

const httpServerModules = ['http', 'https', 'http2'].flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      'cli/bundle/**',
      '**/node_modules/**',
      '.neetodeploy-data/**',
      '**/*.cjs',
      'charts/**',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: {
          allowDefaultProject: ['eslint.config.js'],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-shadow': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': [...workspaces, ...harness].map((type) => ({
        type,
        pattern: type,
        partialMatch: false,
      })),
      // `@neetodeploy/x` and `./y.js` (y.ts on disk) resolve to the workspace's own files.
      'import/resolver': {
        [path.join(import.meta.dirname, 'scripts/eslint-workspace-resolver.cjs')]: {},
      },
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        { default: 'allow', checkAllOrigins: true, policies: boundariesPolicies },
      ],
    },
  },
  {
    // Platform is a client of the Kubernetes API (node:http agents are fine), never an HTTP
    // server; boundaries sees modules, not which of their exports are used, hence these two.
    files: ['platform/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: httpServerModules.map((name) => ({
            name,
            importNames: ['createServer', 'createSecureServer', 'Server', 'ServerResponse'],
            message: `platform knows no HTTP server (${ARCH})`,
          })),
        },
      ],
      'no-restricted-properties': [
        'error',
        ...['http', 'https', 'http2'].flatMap((object) =>
          ['createServer', 'createSecureServer', 'Server'].map((property) => ({
            object,
            property,
            message: `platform knows no HTTP server (${ARCH})`,
          })),
        ),
      ],
    },
  },
  {
    // The config file itself is plain JS whose imports ship loose types; the bin shims are one
    // import of their package's built entry point, outside every TypeScript project.
    files: ['eslint.config.js', '*/bin/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // Tests poke at untyped protocol objects; keep the safety rules that catch real bugs.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
