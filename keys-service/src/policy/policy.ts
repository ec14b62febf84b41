/**
 * The access policy: who may do what on which app. Deny by default: a permission exists only
 * when a rule grants it. Rules match users (emails) and groups (from the account or from the
 * policy's own `groups` map) against apps by name or glob.
 *
 * ```yaml
 * groups:
 *   developers: [alice@example.com]
 * rules:
 *   - groups: [developers]
 *     apps: [demo, "shop-*"]
 *     permissions: [exec, logs, config:read]
 *   - users: [bob@example.com]
 *     apps: ["*"]
 *     permissions: [exec, port-forward]
 *     sourceAddress: 10.0.0.0/8
 * recording:            # per app (name or glob); absent: full
 *   "shop-*": output-only
 *   sandbox: off
 * ```
 *
 * `recording` says what the bastion records of each console session on an app (see
 * docs/recordings.md): `full` (input and output), `output-only` (not what the user types), or
 * `off`. When several entries match an app, the one that records the most wins, so a broad glob
 * can never switch off recording that a narrower entry asks for.
 */
import { PERMISSIONS } from '@neetodeploy/contract';
import type { Permission } from '@neetodeploy/contract';
import { DEFAULT_RECORDING_POLICY, RECORDING_POLICIES } from '@neetodeploy/recording';
import type { RecordingPolicy } from '@neetodeploy/recording';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { intersectSourceAddresses, parseSourceAddress } from './source-address.js';

// The permission names are the API's (`GET /apps` lists them): defined by the contract.
export { PERMISSIONS };
export type { Permission };

const appPattern = z
  .string()
  .regex(/^[a-z0-9*?][-a-z0-9*?]{0,62}$/, 'an app name or a glob of [a-z0-9-*?]');

const ruleSchema = z
  .object({
    users: z.array(z.string().min(1)).default([]),
    groups: z.array(z.string().min(1)).default([]),
    apps: z.array(appPattern).min(1),
    permissions: z.array(z.enum(PERMISSIONS)).min(1),
    /** Pins certificates to client addresses (OpenSSH `source-address`, comma-separated CIDRs). */
    sourceAddress: z
      .string()
      .regex(/^[0-9a-fA-F:.,/]+$/, 'comma-separated addresses or CIDRs')
      .refine((v) => parseSourceAddress(v) !== undefined, 'comma-separated addresses or CIDRs')
      .optional(),
  })
  .strict()
  .refine((r) => r.users.length + r.groups.length > 0, 'a rule needs users or groups');

export const policySchema = z
  .object({
    groups: z.record(z.string().min(1), z.array(z.string().min(1))).default({}),
    rules: z.array(ruleSchema).default([]),
    recording: z.record(appPattern, z.enum(RECORDING_POLICIES)).default({}),
  })
  .strict();

export type PolicyDocument = z.output<typeof policySchema>;

export interface Subject {
  readonly email: string;
  readonly groups: readonly string[];
}

export interface AppGrant {
  readonly permissions: ReadonlySet<Permission>;
  /**
   * What every matching rule's pin admits (their intersection); an unpinned rule never lifts
   * another rule's pin. `''` when the pins admit no address at all (then nothing is granted).
   */
  readonly sourceAddress?: string;
  /** What the bastion records of the app's sessions; carried in the certificate. */
  readonly recording: RecordingPolicy;
}

/** How much each recording policy records, to pick the strongest of several matches. */
const RECORDING_STRENGTH: Record<RecordingPolicy, number> = { off: 0, 'output-only': 1, full: 2 };

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[*?]/g, (c) => (c === '*' ? '[-a-z0-9]*' : '[-a-z0-9]'));
  return new RegExp(`^${body}$`);
}

interface CompiledRule {
  readonly users: ReadonlySet<string>;
  readonly groups: ReadonlySet<string>;
  readonly apps: readonly RegExp[];
  readonly literalApps: readonly string[];
  readonly permissions: readonly Permission[];
  readonly sourceAddress?: string;
}

/** A validated, compiled policy. Immutable: a reload builds a new one. */
export class Policy {
  private readonly rules: readonly CompiledRule[];
  private readonly groupMembers: ReadonlyMap<string, ReadonlySet<string>>;
  private readonly recording: ReadonlyArray<{ app: RegExp; policy: RecordingPolicy }>;

  constructor(doc: PolicyDocument) {
    this.recording = Object.entries(doc.recording).map(([app, policy]) => ({
      app: globToRegExp(app),
      policy,
    }));
    this.groupMembers = new Map(
      Object.entries(doc.groups).map(([g, members]) => [g, new Set(members.map(lowerEmail))]),
    );
    this.rules = doc.rules.map((r) => ({
      users: new Set(r.users.map(lowerEmail)),
      groups: new Set(r.groups),
      apps: r.apps.map(globToRegExp),
      literalApps: r.apps.filter((a) => !/[*?]/.test(a)),
      permissions: r.permissions,
      ...(r.sourceAddress ? { sourceAddress: r.sourceAddress } : {}),
    }));
  }

  /** An empty policy: nobody may do anything. */
  static denyAll(): Policy {
    return new Policy({ groups: {}, rules: [], recording: {} });
  }

  /** Throws PolicyError with a readable reason for invalid YAML or schema violations. */
  static parse(text: string): Policy {
    let data: unknown;
    try {
      data = parseYaml(text);
    } catch (err) {
      throw new PolicyError(`not valid YAML: ${(err as Error).message}`);
    }
    const result = policySchema.safeParse(data ?? {});
    if (!result.success) {
      throw new PolicyError(
        result.error.issues
          .map((i) => `${['policy', ...i.path.map(String)].join('.')}: ${i.message}`)
          .join('; '),
      );
    }
    return new Policy(result.data);
  }

  /** The subject's groups: its own plus the policy's `groups` entries naming it. */
  groupsOf(subject: Subject): Set<string> {
    const groups = new Set(subject.groups);
    const email = lowerEmail(subject.email);
    for (const [g, members] of this.groupMembers) if (members.has(email)) groups.add(g);
    return groups;
  }

  /** What the subject may do on the app; an empty set means no access. */
  grantFor(subject: Subject, app: string): AppGrant {
    const email = lowerEmail(subject.email);
    const groups = this.groupsOf(subject);
    const permissions = new Set<Permission>();
    const pins: string[] = [];
    for (const rule of this.rules) {
      if (!rule.users.has(email) && ![...rule.groups].some((g) => groups.has(g))) continue;
      if (!rule.apps.some((re) => re.test(app))) continue;
      for (const p of rule.permissions) permissions.add(p);
      if (rule.sourceAddress) pins.push(rule.sourceAddress);
    }
    const sourceAddress = intersectSourceAddresses(pins);
    const recording = this.recordingFor(app);
    // Disjoint pins admit nobody: deny rather than issue a certificate no client can use.
    if (sourceAddress === '') return { permissions: new Set(), sourceAddress, recording };
    return sourceAddress ? { permissions, sourceAddress, recording } : { permissions, recording };
  }

  /** The recording policy of an app: the strongest matching entry, `full` when none matches. */
  recordingFor(app: string): RecordingPolicy {
    let best: RecordingPolicy | undefined;
    for (const entry of this.recording) {
      if (!entry.app.test(app)) continue;
      if (best === undefined || RECORDING_STRENGTH[entry.policy] > RECORDING_STRENGTH[best]) {
        best = entry.policy;
      }
    }
    return best ?? DEFAULT_RECORDING_POLICY;
  }

  /** App names the policy names literally for the subject (when no platform lists apps). */
  literalAppsFor(subject: Subject): string[] {
    const email = lowerEmail(subject.email);
    const groups = this.groupsOf(subject);
    const out = new Set<string>();
    for (const rule of this.rules) {
      if (!rule.users.has(email) && ![...rule.groups].some((g) => groups.has(g))) continue;
      for (const a of rule.literalApps) out.add(a);
    }
    return [...out].sort();
  }
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

function lowerEmail(e: string): string {
  return e.trim().toLowerCase();
}
