import assert from 'node:assert/strict';
import {
  ContractError,
  KEY_ID_USER_MAX_LENGTH,
  decodeKeyId,
  encodeKeyId,
  isKeyId,
} from '@neetodeploy/contract';
import type { KeyId } from '@neetodeploy/contract';
import { anyString, forSeeds, keyIdUser, requestId } from './generate.js';

/**
 * Every field of KeyId, set. A field added to KeyId fails the type-check here; one the codec
 * drops fails the round trip below.
 */
const FULL: Required<KeyId> = { user: 'alice@example.com', requestId: 'Zm9vYmFyYmF6cXV4' };

function decoded(text: string): KeyId {
  const result = decodeKeyId(text);
  if (!result.ok) throw result.error;
  return result.value;
}

describe('contract: certificate key id (<email>:<requestId>)', () => {
  it('is the email and the request id joined by a colon', () => {
    assert.equal(encodeKeyId(FULL), 'alice@example.com:Zm9vYmFyYmF6cXV4');
  });

  it('round-trips every field, and decodes to no other field', () => {
    const back = decoded(encodeKeyId(FULL));
    assert.deepEqual(back, FULL);
    assert.deepEqual(Object.keys(back).sort(), Object.keys(FULL).sort());
  });

  it('splits at the last colon, so a user may contain one', () => {
    const id = { user: 'odd:user@example.com', requestId: 'abc' };
    assert.equal(encodeKeyId(id), 'odd:user@example.com:abc');
    assert.deepEqual(decoded('odd:user@example.com:abc'), id);
  });

  it('encode then decode is the identity, for 3,000 generated ids', () => {
    forSeeds(3000, (rng) => {
      const id: KeyId = { user: keyIdUser(rng), requestId: requestId(rng) };
      assert.deepEqual(decoded(encodeKeyId(id)), id);
    });
  });

  it('decode then encode is the identity, for every generated text it accepts', () => {
    let accepted = 0;
    forSeeds(3000, (rng) => {
      const text =
        rng() < 0.5 ? `${keyIdUser(rng)}:${requestId(rng)}` : `${anyString(rng)}:${anyString(rng)}`;
      const result = decodeKeyId(text);
      assert.equal(isKeyId(text), result.ok);
      if (!result.ok) {
        assert.equal(result.error.code, 'invalid_key_id');
        return;
      }
      accepted++;
      assert.equal(encodeKeyId(result.value), text);
    });
    assert.ok(accepted > 1000, `only ${accepted} accepted: the generator is off`);
  });

  it('refuses what the keys-service never issues, saying why', () => {
    const cases: [string, RegExp][] = [
      ['alice@example.com', /not a key id <user>:<requestId>/],
      [':abc', /not a key id <user>:<requestId>/],
      ['alice@example.com:', /not a request id/],
      ['alice@example.com:a b', /not a request id/],
      ['alice@example.com:a/b', /not a request id/],
      [`alice@example.com:${'a'.repeat(65)}`, /not a request id/],
      ['ali\nce:abc', /no control characters/],
      [`${'a'.repeat(KEY_ID_USER_MAX_LENGTH + 1)}:abc`, /1 to 1024 characters/],
    ];
    for (const [text, message] of cases) {
      const result = decodeKeyId(text);
      assert.ok(!result.ok, JSON.stringify(text));
      assert.equal(result.error.code, 'invalid_key_id');
      assert.match(result.error.message, message, JSON.stringify(text));
    }
  });

  it('will not encode an id it could not decode back', () => {
    const cases: [KeyId, string][] = [
      [{ user: '', requestId: 'abc' }, 'invalid_key_id_user'],
      [{ user: 'a\u0000b', requestId: 'abc' }, 'invalid_key_id_user'],
      [{ user: 'alice', requestId: 'a:b' }, 'invalid_request_id'],
      [{ user: 'alice', requestId: '' }, 'invalid_request_id'],
    ];
    for (const [id, code] of cases) {
      assert.throws(
        () => encodeKeyId(id),
        (err: unknown) => err instanceof ContractError && err.code === code,
        JSON.stringify(id),
      );
    }
  });
});
