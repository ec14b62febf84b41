import { badRequest, unsupportedMediaType } from './status.js';
import { str } from './json.js';

/**
 * Decoding of the Kubernetes protobuf envelope (`k8s\0` + runtime.Unknown) for the kinds that
 * kubectl's typed clients send as protobuf (`create secret|configmap|namespace|serviceaccount`,
 * `create role|rolebinding|deployment`, `auth can-i`). Field numbers come from k8s.io/api's generated.proto. Responses stay JSON:
 * those clients accept it.
 */

type FieldType =
  | 'string'
  | 'bytes'
  | 'int'
  | 'bool'
  | 'mapStringString'
  | 'mapStringBytes'
  | 'repeatedString'
  | MessageSchema
  | { repeated: MessageSchema };
interface MessageSchema {
  [field: number]: [name: string, type: FieldType];
}

const OBJECT_META: MessageSchema = {
  1: ['name', 'string'],
  2: ['generateName', 'string'],
  3: ['namespace', 'string'],
  5: ['uid', 'string'],
  6: ['resourceVersion', 'string'],
  7: ['generation', 'int'],
  10: ['deletionGracePeriodSeconds', 'int'],
  11: ['labels', 'mapStringString'],
  12: ['annotations', 'mapStringString'],
  14: ['finalizers', 'repeatedString'],
};

const RESOURCE_ATTRIBUTES: MessageSchema = {
  1: ['namespace', 'string'],
  2: ['verb', 'string'],
  3: ['group', 'string'],
  4: ['version', 'string'],
  5: ['resource', 'string'],
  6: ['subresource', 'string'],
  7: ['name', 'string'],
};
const NON_RESOURCE_ATTRIBUTES: MessageSchema = { 1: ['path', 'string'], 2: ['verb', 'string'] };

const LABEL_SELECTOR: MessageSchema = { 1: ['matchLabels', 'mapStringString'] };
const CONTAINER: MessageSchema = {
  1: ['name', 'string'],
  2: ['image', 'string'],
  3: ['command', 'repeatedString'],
  4: ['args', 'repeatedString'],
  5: ['workingDir', 'string'],
  7: ['env', { repeated: { 1: ['name', 'string'], 2: ['value', 'string'] } }],
  14: ['imagePullPolicy', 'string'],
};
const POD_SPEC: MessageSchema = {
  2: ['containers', { repeated: CONTAINER }],
  3: ['restartPolicy', 'string'],
  5: ['activeDeadlineSeconds', 'int'],
  8: ['serviceAccountName', 'string'],
};
const DEPLOYMENT: MessageSchema = {
  1: ['metadata', OBJECT_META],
  2: [
    'spec',
    {
      1: ['replicas', 'int'],
      2: ['selector', LABEL_SELECTOR],
      3: ['template', { 1: ['metadata', OBJECT_META], 2: ['spec', POD_SPEC] }],
    },
  ],
};

const DELETE_OPTIONS: MessageSchema = {
  1: ['gracePeriodSeconds', 'int'],
  2: ['preconditions', { 1: ['uid', 'string'], 2: ['resourceVersion', 'string'] }],
  4: ['propagationPolicy', 'string'],
  5: ['dryRun', 'repeatedString'],
};

const POLICY_RULE: MessageSchema = {
  1: ['verbs', 'repeatedString'],
  2: ['apiGroups', 'repeatedString'],
  3: ['resources', 'repeatedString'],
  4: ['resourceNames', 'repeatedString'],
  5: ['nonResourceURLs', 'repeatedString'],
};
const ROLE: MessageSchema = {
  1: ['metadata', OBJECT_META],
  2: ['rules', { repeated: POLICY_RULE }],
};
const BINDING: MessageSchema = {
  1: ['metadata', OBJECT_META],
  2: [
    'subjects',
    {
      repeated: {
        1: ['kind', 'string'],
        2: ['apiGroup', 'string'],
        3: ['name', 'string'],
        4: ['namespace', 'string'],
      },
    },
  ],
  3: ['roleRef', { 1: ['apiGroup', 'string'], 2: ['kind', 'string'], 3: ['name', 'string'] }],
};

const SCHEMAS: Record<string, MessageSchema> = {
  'rbac.authorization.k8s.io/v1/Role': ROLE,
  'rbac.authorization.k8s.io/v1/ClusterRole': ROLE,
  'rbac.authorization.k8s.io/v1/RoleBinding': BINDING,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': BINDING,
  'apps/v1/Deployment': DEPLOYMENT,
  'v1/Pod': { 1: ['metadata', OBJECT_META], 2: ['spec', POD_SPEC] },
  'v1/DeleteOptions': DELETE_OPTIONS,
  'meta.k8s.io/v1/DeleteOptions': DELETE_OPTIONS,
  'v1/Secret': {
    1: ['metadata', OBJECT_META],
    2: ['data', 'mapStringBytes'],
    3: ['type', 'string'],
    4: ['stringData', 'mapStringString'],
    5: ['immutable', 'bool'],
  },
  'v1/ConfigMap': {
    1: ['metadata', OBJECT_META],
    2: ['data', 'mapStringString'],
    3: ['binaryData', 'mapStringBytes'],
    4: ['immutable', 'bool'],
  },
  'v1/Namespace': {
    1: ['metadata', OBJECT_META],
    2: ['spec', { 1: ['finalizers', 'repeatedString'] }],
  },
  'v1/ServiceAccount': {
    1: ['metadata', OBJECT_META],
    4: ['automountServiceAccountToken', 'bool'],
  },
  'authorization.k8s.io/v1/SelfSubjectAccessReview': {
    1: ['metadata', OBJECT_META],
    2: [
      'spec',
      {
        1: ['resourceAttributes', RESOURCE_ATTRIBUTES],
        2: ['nonResourceAttributes', NON_RESOURCE_ATTRIBUTES],
      },
    ],
  },
  'authorization.k8s.io/v1/SubjectAccessReview': {
    1: ['metadata', OBJECT_META],
    2: [
      'spec',
      {
        1: ['resourceAttributes', RESOURCE_ATTRIBUTES],
        2: ['nonResourceAttributes', NON_RESOURCE_ATTRIBUTES],
        3: ['user', 'string'],
        4: ['groups', 'repeatedString'],
        6: ['uid', 'string'],
      },
    ],
  },
};

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.buf.length) throw badRequest('protobuf: truncated varint');
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  }
  bytes(): Buffer {
    const len = Number(this.varint());
    if (this.pos + len > this.buf.length) throw badRequest('protobuf: truncated field');
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw badRequest(`protobuf: unsupported wire type ${wire}`);
  }
}

function decodeMapEntry(buf: Buffer): [string, Buffer] {
  const r = new Reader(buf);
  let key = '';
  let value: Buffer = Buffer.alloc(0);
  while (!r.done()) {
    const tag = Number(r.varint());
    if (tag >> 3 === 1 && (tag & 7) === 2) key = r.bytes().toString('utf8');
    else if (tag >> 3 === 2 && (tag & 7) === 2) value = r.bytes();
    else r.skip(tag & 7);
  }
  return [key, value];
}

function decodeMessage(buf: Buffer, schema: MessageSchema): Record<string, unknown> {
  const r = new Reader(buf);
  const out: Record<string, unknown> = {};
  while (!r.done()) {
    const tag = Number(r.varint());
    const field = schema[tag >> 3];
    const wire = tag & 7;
    if (!field) {
      r.skip(wire);
      continue;
    }
    const [name, type] = field;
    if (type === 'int' || type === 'bool') {
      const v = r.varint();
      out[name] = type === 'bool' ? v !== 0n : Number(BigInt.asIntN(64, v));
      continue;
    }
    const raw = r.bytes();
    if (type === 'string') out[name] = raw.toString('utf8');
    else if (type === 'bytes') out[name] = raw.toString('base64');
    else if (type === 'repeatedString')
      out[name] = [...((out[name] as string[] | undefined) ?? []), raw.toString('utf8')];
    else if (type === 'mapStringString' || type === 'mapStringBytes') {
      const [k, v] = decodeMapEntry(raw);
      const map = (out[name] as Record<string, string> | undefined) ?? {};
      map[k] = type === 'mapStringString' ? v.toString('utf8') : v.toString('base64');
      out[name] = map;
    } else if ('repeated' in type) {
      out[name] = [
        ...((out[name] as unknown[] | undefined) ?? []),
        decodeMessage(raw, type.repeated),
      ];
    } else out[name] = decodeMessage(raw, type);
  }
  return out;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

export function isProtobuf(contentType: string | undefined): boolean {
  return (contentType ?? '').toLowerCase().startsWith('application/vnd.kubernetes.protobuf');
}

/** Decodes a protobuf request body into the JSON object it stands for. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC))
    throw badRequest('protobuf: missing k8s envelope');
  const unknown = decodeMessage(body.subarray(4), {
    1: ['typeMeta', { 1: ['apiVersion', 'string'], 2: ['kind', 'string'] }],
    2: ['raw', 'bytes'],
  });
  const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
  const key = `${typeMeta.apiVersion ?? ''}/${typeMeta.kind ?? ''}`;
  const schema = SCHEMAS[key];
  if (!schema)
    throw unsupportedMediaType(
      `application/vnd.kubernetes.protobuf (${key} is not decoded by this fake)`,
      'application/json, application/yaml',
    );
  const raw = Buffer.from(str(unknown.raw), 'base64');
  return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...decodeMessage(raw, schema) };
}
