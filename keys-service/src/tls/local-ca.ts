/**
 * HTTPS for the embedded default: a local CA and a server certificate for `localhost` and
 * `127.0.0.1`, made with node-forge on first start and kept in `<dataDir>/tls/`. Clients trust
 * the CA file (`ca.crt`). Keys come from node:crypto (native and fast); forge writes the X.509.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import forge from 'node-forge';

export interface TlsMaterial {
  readonly key: string;
  readonly cert: string;
  /** The CA clients should trust (self-signed mode), as a file path. */
  readonly caFile?: string;
  /** SHA-256 fingerprint of the server certificate (DER), `AA:BB:...`. */
  readonly fingerprint: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;

function rsaKeyPair(): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
} {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(pem);
  return {
    privateKey: forgeKey,
    publicKey: forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e),
  };
}

function serialHex(): string {
  // Positive: the top bit clear.
  const bytes = crypto.randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

function makeCa(): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * DAY_MS);
  const attrs = [{ name: 'commonName', value: 'neetodeploy local CA' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

function makeServerCert(ca: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }): {
  cert: forge.pki.Certificate;
  key: forge.pki.rsa.PrivateKey;
} {
  const keys = rsaKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serialHex();
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  // Browsers refuse leaf certificates valid for more than 398 days.
  cert.validity.notAfter = new Date(Date.now() + 397 * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
      ],
    },
  ]);
  cert.sign(ca.key, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

/** SHA-256 over the DER of a PEM certificate, colon-separated upper-case hex. */
export function certificateFingerprint(certPem: string): string {
  return new crypto.X509Certificate(certPem).fingerprint256;
}

function writeSecret(file: string, text: string): void {
  // Write then rename so a crash never leaves a half-written key behind.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/**
 * Returns the server key and certificate in `<dataDir>/tls`, creating the CA and the server
 * certificate when missing, and renewing the server certificate within 30 days of expiry.
 */
export function ensureLocalTls(dataDir: string): TlsMaterial {
  const dir = path.join(dataDir, 'tls');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = path.join(dir, 'ca.crt');
  const caKeyFile = path.join(dir, 'ca.key');
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');

  let ca: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey };
  if (fs.existsSync(caFile) && fs.existsSync(caKeyFile)) {
    ca = {
      cert: forge.pki.certificateFromPem(fs.readFileSync(caFile, 'utf8')),
      key: forge.pki.privateKeyFromPem(fs.readFileSync(caKeyFile, 'utf8')),
    };
  } else {
    ca = makeCa();
    writeSecret(caKeyFile, forge.pki.privateKeyToPem(ca.key));
    fs.writeFileSync(caFile, forge.pki.certificateToPem(ca.cert), { mode: 0o644 });
    fs.rmSync(certFile, { force: true });
  }

  let renew = !fs.existsSync(certFile) || !fs.existsSync(keyFile);
  if (!renew) {
    const existing = new crypto.X509Certificate(fs.readFileSync(certFile, 'utf8'));
    renew = new Date(existing.validTo).getTime() - Date.now() < 30 * DAY_MS;
  }
  if (renew) {
    const server = makeServerCert(ca);
    writeSecret(keyFile, forge.pki.privateKeyToPem(server.key));
    fs.writeFileSync(certFile, forge.pki.certificateToPem(server.cert), { mode: 0o644 });
  }
  const cert = fs.readFileSync(certFile, 'utf8');
  return {
    key: fs.readFileSync(keyFile, 'utf8'),
    cert,
    caFile,
    fingerprint: certificateFingerprint(cert),
  };
}

/** A given certificate and key (PEM files). */
export function loadTlsFiles(certFile: string, keyFile: string): TlsMaterial {
  const cert = fs.readFileSync(certFile, 'utf8');
  return { cert, key: fs.readFileSync(keyFile, 'utf8'), fingerprint: certificateFingerprint(cert) };
}
