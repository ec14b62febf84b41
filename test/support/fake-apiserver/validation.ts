import { randomInt } from 'node:crypto';
import { badRequest, invalid, type FieldCause } from './status.js';
import type { ResourceInfo } from './resources.js';
import { apiVersionOf } from './resources.js';
import type { KubeObject } from './types.js';
import { str, type Rec } from './json.js';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function nameCause(info: ResourceInfo, name: string): FieldCause | undefined {
  if (!name)
    return {
      field: 'metadata.name',
      reason: 'FieldValueRequired',
      message: 'Required value: name or generateName is required',
    };
  const label = info.plural === 'namespaces';
  const ok = label
    ? DNS_LABEL.test(name) && name.length <= 63
    : DNS_SUBDOMAIN.test(name) && name.length <= 253;
  if (ok) return undefined;
  return {
    field: 'metadata.name',
    reason: 'FieldValueInvalid',
    message: label
      ? `Invalid value: "${name}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`
      : `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  };
}

/** Fills apiVersion/kind, checks they match the URL, and resolves `generateName`. */
export function prepareIncoming(info: ResourceInfo, obj: KubeObject): void {
  const apiVersion = apiVersionOf(info);
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion) {
    throw badRequest(
      `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersion})`,
    );
  }
  if (obj.kind !== undefined && obj.kind !== info.kind) {
    throw badRequest(
      `the kind in the data (${obj.kind}) does not match the expected kind (${info.kind})`,
    );
  }
  obj.apiVersion = apiVersion;
  obj.kind = info.kind;
  const meta = (obj.metadata ??= {});
  if (!meta.name && meta.generateName) {
    let suffix = '';
    for (let i = 0; i < 5; i++) suffix += GENERATE_ALPHABET[randomInt(GENERATE_ALPHABET.length)];
    meta.name = `${meta.generateName}${suffix}`;
  }
}

/** Defaults and validation for the kinds the project writes, with the real 422 shapes. */
export function defaultAndValidate(info: ResourceInfo, obj: KubeObject, creating: boolean): void {
  const meta = obj.metadata ?? {};
  const name = meta.name ?? '';
  const causes: FieldCause[] = [];
  const nc = nameCause(info, name);
  if (nc) causes.push(nc);
  for (const [field, map] of [
    ['metadata.labels', meta.labels],
    ['metadata.annotations', meta.annotations],
  ] as const) {
    if (map === undefined || map === null) continue;
    if (typeof map !== 'object')
      causes.push({ field, reason: 'FieldValueInvalid', message: 'Invalid value: must be a map' });
    else {
      for (const [k, v] of Object.entries(map)) {
        if (typeof v !== 'string') {
          causes.push({
            field: `${field}`,
            reason: 'FieldValueInvalid',
            message: `Invalid value: "${k}": value must be a string`,
          });
        }
      }
    }
  }
  const spec = (obj.spec ?? {}) as Rec;
  switch (info.kind) {
    case 'Pod': {
      const containers = spec.containers as Rec[] | undefined;
      if (!Array.isArray(containers) || containers.length === 0) {
        causes.push({
          field: 'spec.containers',
          reason: 'FieldValueRequired',
          message: 'Required value',
        });
      } else {
        containers.forEach((c, i) => {
          if (!c.name)
            causes.push({
              field: `spec.containers[${i}].name`,
              reason: 'FieldValueRequired',
              message: 'Required value',
            });
          if (!c.image)
            causes.push({
              field: `spec.containers[${i}].image`,
              reason: 'FieldValueRequired',
              message: 'Required value',
            });
          c.imagePullPolicy ??=
            str(c.image).endsWith(':latest') || !str(c.image).includes(':')
              ? 'Always'
              : 'IfNotPresent';
          c.terminationMessagePath ??= '/dev/termination-log';
          c.terminationMessagePolicy ??= 'File';
          c.resources ??= {};
        });
      }
      if (creating) {
        spec.restartPolicy ??= 'Always';
        spec.terminationGracePeriodSeconds ??= 30;
        spec.dnsPolicy ??= 'ClusterFirst';
        spec.schedulerName ??= 'default-scheduler';
        spec.serviceAccountName ??= 'default';
        spec.securityContext ??= {};
        spec.enableServiceLinks ??= true;
        spec.preemptionPolicy ??= 'PreemptLowerPriority';
        spec.priority ??= 0;
      }
      obj.spec = spec;
      break;
    }
    case 'Deployment': {
      const selector = spec.selector as { matchLabels?: Record<string, string> } | undefined;
      const template = (spec.template ?? {}) as Rec;
      const labels = ((template.metadata as Rec | undefined)?.labels ?? {}) as Record<
        string,
        string
      >;
      if (!selector)
        causes.push({
          field: 'spec.selector',
          reason: 'FieldValueRequired',
          message: 'Required value',
        });
      else if (Object.entries(selector.matchLabels ?? {}).some(([k, v]) => labels[k] !== v)) {
        causes.push({
          field: 'spec.template.metadata.labels',
          reason: 'FieldValueInvalid',
          message:
            'Invalid value: map[string]string{...}: `selector` does not match template `labels`',
        });
      }
      const podSpec = (template.spec ?? {}) as Rec;
      if (!Array.isArray(podSpec.containers) || podSpec.containers.length === 0) {
        causes.push({
          field: 'spec.template.spec.containers',
          reason: 'FieldValueRequired',
          message: 'Required value',
        });
      }
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      spec.strategy ??= {
        type: 'RollingUpdate',
        rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' },
      };
      obj.spec = spec;
      obj.status ??= {};
      break;
    }
    case 'Secret': {
      if (!obj.type) obj.type = 'Opaque';
      const stringData = obj.stringData as Record<string, string> | undefined;
      if (stringData && typeof stringData === 'object') {
        const data = (obj.data ?? {}) as Record<string, string>;
        for (const [k, v] of Object.entries(stringData))
          data[k] = Buffer.from(String(v)).toString('base64');
        obj.data = data;
      }
      delete obj.stringData;
      for (const [k, v] of Object.entries((obj.data ?? {}) as Record<string, unknown>)) {
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
          causes.push({
            field: `data[${k}]`,
            reason: 'FieldValueInvalid',
            message: 'Invalid value: illegal base64 data',
          });
        }
      }
      break;
    }
    case 'Namespace':
      obj.spec = { finalizers: ['kubernetes'], ...spec };
      obj.status ??= { phase: 'Active' };
      meta.labels = { ...meta.labels, 'kubernetes.io/metadata.name': name };
      obj.metadata = meta;
      break;
    default:
      break;
  }
  if (causes.length > 0) throw invalid(info, name, causes);
}
