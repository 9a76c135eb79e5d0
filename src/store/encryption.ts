/**
 * Secrets at rest: AES-256-GCM sealing, and where the 32-byte key comes from.
 *
 * A sealed value reads `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts). The
 * key id is a short hash of the key, so a reader picks the key that opens a value
 * without trying each one, and opening with another key is told apart from damaged
 * data. The associated data (the connection name) and the header are authenticated,
 * so a value copied to another connection's row fails to open.
 *
 * Rotation: a box seals under its current key and opens under that key or any of the
 * previous keys it was given (TOKENKEEPER_PREVIOUS_KEYS), so a value sealed before a
 * rotation still opens, and is sealed under the current key on its next write.
 */

import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, constants, promises as fs, fstatSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, TokenkeeperError } from '../errors.js';

export const ENCRYPTION_KEY_BYTES = 32;
const FORMAT_VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Seals and opens secrets; see createSecretBox. */
export interface SecretBox {
  /** Short, non-secret fingerprint of the current key; part of every value it seals. */
  readonly keyId: string;
  /** Every key id this box opens: the current key's first, then the previous keys'. */
  readonly keyIds: readonly string[];
  /** Seals under the current key. */
  seal(plaintext: string, associatedData: string): string;
  /**
   * Opens a value sealed under the current key or a previous one. Throws TokenkeeperError
   * code 'STORE_KEY' for an unknown key, damaged data or other associated data.
   */
  open(sealed: string, associatedData: string): string;
}

/** The non-secret fingerprint of a key: 8 base64url characters of a domain-separated SHA-256. */
export function encryptionKeyId(key: Buffer): string {
  return createHash('sha256')
    .update('tokenkeeper key id\0')
    .update(key)
    .digest()
    .subarray(0, 6)
    .toString('base64url');
}

/** 32 fresh random bytes. */
export function generateEncryptionKey(): Buffer {
  return randomBytes(ENCRYPTION_KEY_BYTES);
}

/**
 * The key id in a sealed value's header, or undefined when the value is not in this
 * format. Reads the header only: no key is needed and nothing is opened.
 */
export function sealedKeyId(sealed: string): string | undefined {
  if (typeof sealed !== 'string') return undefined;
  const parts = sealed.split('.', 3);
  const keyId = parts[1];
  return parts[0] === FORMAT_VERSION && parts.length === 3 && keyId && BASE64URL.test(keyId)
    ? keyId
    : undefined;
}

function headerOf(keyId: string): string {
  return `${FORMAT_VERSION}.${keyId}.`;
}

function additionalData(keyId: string, associatedData: string): Buffer {
  // The header is authenticated too, so it cannot be rewritten to point at another format.
  return Buffer.from(`${headerOf(keyId)}\0${associatedData}`, 'utf8');
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function describeSubject(associatedData: string): string {
  return JSON.stringify(associatedData.length > 80 ? `${associatedData.slice(0, 77)}...` : associatedData);
}

function damaged(associatedData: string, detail: string): TokenkeeperError {
  return new TokenkeeperError(
    'STORE_KEY',
    `The stored secrets of ${describeSubject(associatedData)} cannot be opened: ${detail}. ` +
      `Log in again (\`tokenkeeper login ${associatedData}\`) to store them anew.`,
    { connection: associatedData },
  );
}

function assertKeyLength(key: Buffer, what: string): void {
  if (!Buffer.isBuffer(key) || key.length !== ENCRYPTION_KEY_BYTES) {
    throw new ConfigError(
      `${what} must be exactly ${ENCRYPTION_KEY_BYTES} bytes; create one with \`openssl rand -base64 32\`.`,
    );
  }
}

/**
 * AES-256-GCM sealing of a connection's secrets, bound to its name, under a 32-byte key.
 * `previousKeys` only open: values sealed under them before a rotation.
 */
export function createSecretBox(key: Buffer, previousKeys: readonly Buffer[] = []): SecretBox {
  assertKeyLength(key, 'An encryption key');
  for (const previous of previousKeys) assertKeyLength(previous, 'A previous encryption key');
  // Private copies: the caller may wipe or reuse its buffers.
  const secretKey = Buffer.from(key);
  const keyId = encryptionKeyId(secretKey);
  const keysById = new Map<string, Buffer>([[keyId, secretKey]]);
  for (const previous of previousKeys) {
    const id = encryptionKeyId(previous);
    if (!keysById.has(id)) keysById.set(id, Buffer.from(previous));
  }

  return {
    keyId,
    keyIds: [...keysById.keys()],
    seal(plaintext, associatedData) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', secretKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(additionalData(keyId, associatedData));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return `${headerOf(keyId)}${iv.toString('base64url')}.${tag.toString('base64url')}.${ciphertext.toString('base64url')}`;
    },
    open(sealed, associatedData) {
      if (typeof sealed !== 'string') throw damaged(associatedData, 'the stored value is not text');
      const parts = sealed.split('.');
      const [version, sealedKeyId, ivText, tagText, ciphertextText] = parts;
      if (version !== FORMAT_VERSION) {
        if (parts.length === 5 && version !== undefined && /^v\d+$/.test(version)) {
          throw new TokenkeeperError(
            'STORE_KEY',
            `The stored secrets of ${describeSubject(associatedData)} use format ${version}, written by a newer ` +
              'tokenkeeper; upgrade tokenkeeper to read them.',
            { connection: associatedData },
          );
        }
        throw damaged(associatedData, 'the stored value is not in tokenkeeper format');
      }
      if (
        parts.length !== 5 ||
        sealedKeyId === undefined ||
        ivText === undefined ||
        tagText === undefined ||
        ciphertextText === undefined ||
        !parts.every((part) => BASE64URL.test(part))
      ) {
        throw damaged(associatedData, 'the stored value is malformed');
      }
      const openingKey = keysById.get(sealedKeyId);
      if (openingKey === undefined) throw unknownKey(associatedData, sealedKeyId, keyId);
      const iv = Buffer.from(ivText, 'base64url');
      const tag = Buffer.from(tagText, 'base64url');
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
        throw damaged(associatedData, 'the stored value is malformed');
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', openingKey, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(additionalData(sealedKeyId, associatedData));
        decipher.setAuthTag(tag);
        const plaintext = Buffer.concat([
          decipher.update(Buffer.from(ciphertextText, 'base64url')),
          decipher.final(),
        ]);
        return plaintext.toString('utf8');
      } catch {
        throw damaged(
          associatedData,
          'they fail their integrity check (changed outside tokenkeeper, or copied from another connection)',
        );
      }
    },
  };
}

/** Sealed under a key this box was not given: name both key ids (fingerprints, never keys). */
function unknownKey(associatedData: string, sealedKeyId: string, currentKeyId: string): TokenkeeperError {
  return new TokenkeeperError(
    'STORE_KEY',
    `The store was encrypted with another key: the secrets of ${describeSubject(associatedData)} are sealed with ` +
      `key ${sealedKeyId}, the current key is ${currentKeyId}. Set TOKENKEEPER_KEY to the key used when it was ` +
      'written, or add that key to TOKENKEEPER_PREVIOUS_KEYS while you rotate keys, or log in again ' +
      `(\`tokenkeeper login ${associatedData}\`) to replace the connection.`,
    { connection: associatedData },
  );
}

/**
 * A box for a store whose key is lost (see openStoreWithKeys): it opens nothing and seals nothing,
 * and every attempt, and the key id itself, throws `missing`, which says what to do. What
 * reads only the clear metadata (listing, status, forgetting) never asks it.
 */
export function keylessSecretBox(missing: () => TokenkeeperError): SecretBox {
  return {
    get keyId(): string {
      throw missing();
    },
    keyIds: [],
    seal() {
      throw missing();
    },
    open() {
      throw missing();
    },
  };
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}={0,1}$/;

/**
 * Parses a key written as base64 / base64url (44 characters with padding, 43 without) or
 * 64 hex characters. `source` names where it came from, for the error message; the value
 * itself never appears in a message.
 */
export function parseEncryptionKey(text: string, source = 'TOKENKEEPER_KEY'): Buffer {
  const value = text.trim();
  if (HEX_KEY.test(value)) return Buffer.from(value, 'hex');
  if (BASE64_KEY.test(value)) {
    const key = Buffer.from(value.replace(/=+$/, ''), 'base64url');
    if (key.length === ENCRYPTION_KEY_BYTES) return key;
  }
  throw new ConfigError(
    `${source} is not a valid encryption key: it must be ${ENCRYPTION_KEY_BYTES} random bytes written as base64 ` +
      '(44 characters, as printed by `openssl rand -base64 32`) or as 64 hex characters (`openssl rand -hex 32`); ' +
      `the value given is ${value.length} characters long.`,
  );
}

/**
 * The keys listed in TOKENKEEPER_PREVIOUS_KEYS: comma-separated, each written as
 * TOKENKEEPER_KEY is. Empty entries are skipped, so a trailing comma does no harm.
 */
export function parsePreviousEncryptionKeys(
  text: string | undefined,
  source = 'TOKENKEEPER_PREVIOUS_KEYS',
): Buffer[] {
  if (text === undefined) return [];
  const keys: Buffer[] = [];
  text.split(',').forEach((entry, index) => {
    if (entry.trim() !== '') keys.push(parseEncryptionKey(entry, `${source} (entry ${index + 1})`));
  });
  return keys;
}

/**
 * A key passed as an option (`encryptionKey`, or an entry of `previousEncryptionKeys`): 32
 * bytes, or their base64 or hex. A bad one is refused naming the option, never
 * TOKENKEEPER_KEY, and never echoing the value.
 */
export function parseKeyOption(value: unknown, option: string): Buffer {
  if (typeof value === 'string') return parseEncryptionKey(value, option);
  if (value instanceof Uint8Array) {
    if (value.length === ENCRYPTION_KEY_BYTES) return Buffer.from(value);
    throw new ConfigError(
      `${option} must be ${ENCRYPTION_KEY_BYTES} bytes, but the Buffer given holds ${value.length}; ` +
        'create a key with generateEncryptionKey() or `openssl rand -base64 32`.',
    );
  }
  throw new ConfigError(
    `${option} must be a Buffer of ${ENCRYPTION_KEY_BYTES} bytes, or those bytes as base64 or hex text, ` +
      `not ${value === null ? 'null' : typeof value}; create a key with generateEncryptionKey() or \`openssl rand -base64 32\`.`,
  );
}

/** `previousEncryptionKeys`: an array of keys, each as parseKeyOption takes it. */
export function parseKeyListOption(value: unknown, option: string): Buffer[] {
  if (!Array.isArray(value)) {
    throw new ConfigError(
      `${option} must be an array of keys (each a Buffer of ${ENCRYPTION_KEY_BYTES} bytes, or its base64 or hex), ` +
        `not ${value === null ? 'null' : typeof value}.`,
    );
  }
  return value.map((key, index) => parseKeyOption(key, `${option}[${index}]`));
}

export interface ResolveEncryptionKeyOptions {
  /** Where TOKENKEEPER_KEY is read from; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** The key file to read (and create, see createIfMissing) when TOKENKEEPER_KEY is not set. */
  keyFile?: string;
  /** Create the key file with a fresh random key when it does not exist. Default false. */
  createIfMissing?: boolean;
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

const checksModes = process.platform !== 'win32';

/** Synchronous on purpose: a 45-byte file read once at start-up, where each async step costs a thread-pool round trip. */
async function readKeyFile(keyFile: string): Promise<Buffer> {
  const fd = openSync(keyFile, 'r');
  try {
    if (checksModes) {
      const mode = fstatSync(fd).mode;
      if ((mode & 0o077) !== 0) {
        throw new ConfigError(
          `The key file ${keyFile} can be read by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); ` +
            `run \`chmod 600 ${keyFile}\` and try again.`,
        );
      }
    }
    return parseEncryptionKey(readFileSync(fd, 'utf8'), `The key file ${keyFile}`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `keyFile` holding a fresh key, atomically: the key is written to a private
 * temporary file first and then hard-linked into place, which fails with EEXIST when
 * another process got there first, so everyone ends up with one key and nobody ever
 * sees a half-written file. Resolves to false when the file already existed.
 */
async function createKeyFile(keyFile: string, key: Buffer): Promise<boolean> {
  const content = `${key.toString('base64')}\n`;
  const temp = join(
    dirname(keyFile),
    `.tokenkeeper-key-${process.pid}-${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    const handle = await fs.open(temp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(temp, keyFile);
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return false;
      if (!isErrno(error, 'EPERM') && !isErrno(error, 'ENOTSUP') && !isErrno(error, 'EXDEV')) throw error;
      // No hard links on this file system: fall back to an exclusive create of the file itself.
      try {
        await fs.writeFile(keyFile, content, { flag: 'wx', mode: 0o600 });
      } catch (fallbackError) {
        if (isErrno(fallbackError, 'EEXIST')) return false;
        throw fallbackError;
      }
    }
    return true;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

/**
 * The store's encryption key: TOKENKEEPER_KEY when set, else the key file (created with
 * mode 0600 when `createIfMissing`). Throws ConfigError with what to do when neither works.
 */
export async function resolveEncryptionKey(options: ResolveEncryptionKeyOptions = {}): Promise<Buffer> {
  const env = options.env ?? process.env;
  const fromEnv = env.TOKENKEEPER_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseEncryptionKey(fromEnv, 'TOKENKEEPER_KEY');

  const { keyFile } = options;
  if (keyFile === undefined) {
    throw new ConfigError(
      'No encryption key: set TOKENKEEPER_KEY to 32 random bytes in base64 (create one with `openssl rand -base64 32`).',
    );
  }
  // A key file that a sibling is still creating is never seen half-written (see createKeyFile),
  // but one written by the wx fallback could be: retry an empty read briefly.
  for (let attempt = 0; ; attempt++) {
    try {
      return await readKeyFile(keyFile);
    } catch (error) {
      if (isErrno(error, 'ENOENT')) {
        if (!options.createIfMissing) {
          throw new ConfigError(
            `The key file ${keyFile} does not exist; set TOKENKEEPER_KEY to the store's key, or restore the key file.`,
            { cause: error },
          );
        }
        await fs.mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });
        const key = generateEncryptionKey();
        if (await createKeyFile(keyFile, key)) return key;
        continue; // someone else created it first: read theirs
      }
      if (error instanceof ConfigError && attempt < 20 && (await isEmptyFile(keyFile))) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        continue;
      }
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(
        `Cannot read the key file ${keyFile} (${(error as NodeJS.ErrnoException).code ?? 'error'}); ` +
          'check its owner and permissions, or set TOKENKEEPER_KEY instead.',
        { cause: error },
      );
    }
  }
}

async function isEmptyFile(path: string): Promise<boolean> {
  try {
    return (await fs.stat(path)).size === 0;
  } catch {
    return false;
  }
}
