import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface ServingCertificate {
  caPem: string;
  certPem: string;
  keyPem: string;
}

function rsaPair(): { priv: forge.pki.rsa.PrivateKey; pub: forge.pki.rsa.PublicKey; pem: string } {
  // node:crypto generates the key natively (fast); forge only assembles and signs certificates.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem);
  const pub = forge.pki.setRsaPublicKey(priv.n, priv.e);
  return { priv, pub, pem };
}

function serial(): string {
  // Positive, non-zero serial (first bit cleared).
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

let cached: { cert: ServingCertificate; until: number } | undefined;

/**
 * A CA and a serving certificate for 127.0.0.1/localhost signed by it. Made once per process
 * (RSA generation and forge signing take over a second) and shared by every fake started in it.
 */
export function makeServingCertificate(): ServingCertificate {
  if (cached && cached.until > Date.now()) return cached.cert;
  const cert = createServingCertificate();
  cached = { cert, until: Date.now() + 12 * 3600_000 };
  return cert;
}

function createServingCertificate(): ServingCertificate {
  const now = new Date(Date.now() - 60_000);
  const later = new Date(Date.now() + 24 * 3600_000);
  const ca = rsaPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.pub;
  caCert.serialNumber = serial();
  caCert.validity.notBefore = now;
  caCert.validity.notAfter = later;
  const caName = [{ name: 'commonName', value: 'fake-apiserver-ca' }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(ca.priv, forge.md.sha256.create());

  const leaf = rsaPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = leaf.pub;
  cert.serialNumber = serial();
  cert.validity.notBefore = now;
  cert.validity.notAfter = later;
  cert.setSubject([{ name: 'commonName', value: 'kube-apiserver' }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 7, ip: '127.0.0.1' },
        { type: 2, value: 'localhost' },
        { type: 2, value: 'kubernetes.default.svc' },
      ],
    },
  ]);
  cert.sign(ca.priv, forge.md.sha256.create());
  return {
    caPem: forge.pki.certificateToPem(caCert),
    certPem: forge.pki.certificateToPem(cert),
    keyPem: leaf.pem,
  };
}
