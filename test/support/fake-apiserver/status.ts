import type { KubeStatus } from './types.js';
import type { ResourceInfo } from './resources.js';

/** An error that the REST layer answers with its `status` (a real `metav1.Status`). */
export class StatusError extends Error {
  readonly status: KubeStatus;
  constructor(status: KubeStatus) {
    super(status.message);
    this.name = 'StatusError';
    this.status = status;
  }
  get code(): number {
    return this.status.code;
  }
}

type Details = NonNullable<KubeStatus['details']>;

function failure(code: number, reason: string, message: string, details?: Details): StatusError {
  const status: KubeStatus = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
  return new StatusError(status);
}

/** `pods` or `deployments.apps`: how the API server names a resource in messages. */
export function qualifiedName(info: Pick<ResourceInfo, 'group' | 'plural'>): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

function detailsFor(info: Pick<ResourceInfo, 'group' | 'plural'>, name?: string): Details {
  return {
    ...(name ? { name } : {}),
    ...(info.group ? { group: info.group } : {}),
    kind: info.plural,
  };
}

export function notFound(info: Pick<ResourceInfo, 'group' | 'plural'>, name: string): StatusError {
  return failure(
    404,
    'NotFound',
    `${qualifiedName(info)} "${name}" not found`,
    detailsFor(info, name),
  );
}

export function alreadyExists(info: ResourceInfo, name: string): StatusError {
  return failure(
    409,
    'AlreadyExists',
    `${qualifiedName(info)} "${name}" already exists`,
    detailsFor(info, name),
  );
}

export function conflict(info: ResourceInfo, name: string, why: string): StatusError {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedName(info)} "${name}": ${why}`,
    detailsFor(info, name),
  );
}

export const STALE_OBJECT =
  'the object has been modified; please apply your changes to the latest version and try again';

export interface FieldCause {
  field: string;
  reason: 'FieldValueRequired' | 'FieldValueInvalid' | 'FieldValueNotSupported';
  message: string;
}

/** 422 Invalid, with the message `Pod "x" is invalid: field: Required value` shape. */
export function invalid(info: ResourceInfo, name: string, causes: FieldCause[]): StatusError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const joined = parts.length === 1 ? parts[0]! : `[${parts.join(', ')}]`;
  return failure(422, 'Invalid', `${info.kind} "${name}" is invalid: ${joined}`, {
    name,
    ...(info.group ? { group: info.group } : {}),
    kind: info.kind,
    causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
  });
}

export function badRequest(message: string): StatusError {
  return failure(400, 'BadRequest', message);
}

export function unauthorized(): StatusError {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function forbidden(
  message: string,
  info?: ResourceInfo | { group: string; plural: string },
  name?: string,
): StatusError {
  return failure(403, 'Forbidden', message, info ? detailsFor(info, name) : {});
}

export function methodNotAllowed(): StatusError {
  return failure(
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
  );
}

export function pathNotFound(): StatusError {
  return failure(404, 'NotFound', 'the server could not find the requested resource');
}

export function notAcceptable(accept: string): StatusError {
  return failure(
    406,
    'NotAcceptable',
    `only the following media types are accepted: application/json (got ${accept})`,
  );
}

export function unsupportedMediaType(
  contentType: string,
  accepted = 'application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json',
): StatusError {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted} (got ${contentType})`,
  );
}

/** What the watch cache sends (as an ERROR event) for a resourceVersion it no longer has. */
export function expired(message: string): StatusError {
  return failure(410, 'Expired', message);
}

export function internalError(message: string): StatusError {
  return failure(500, 'InternalError', `Internal error occurred: ${message}`);
}

export function asStatusError(err: unknown): StatusError {
  if (err instanceof StatusError) return err;
  return internalError(err instanceof Error ? err.message : String(err));
}
