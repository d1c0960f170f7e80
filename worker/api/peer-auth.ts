// Checking the cluster secret a peer presents as `Authorization: Bearer <secret>`.
//
// The comparison must not reveal how much of a guess was right. In workerd,
// crypto.subtle.timingSafeEqual compares the bytes in constant time (this runs
// on every peer POST, so it must be cheap). Node, where route tests run, lacks
// it: there both sides are hashed first, so the bytes compared have a fixed
// length and no relation an attacker can steer, and then compared without an
// early exit.

export type PeerAuth = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'wrong' };

const bearer = /^Bearer[ ]+(\S+)[ ]*$/i;

export async function checkPeerAuth(header: string | null, secret: string): Promise<PeerAuth> {
  if (header === null) return { ok: false, reason: 'missing' };
  const match = bearer.exec(header);
  const presented = match?.[1];
  if (presented === undefined) return { ok: false, reason: 'malformed' };
  return (await sameSecret(presented, secret)) ? { ok: true } : { ok: false, reason: 'wrong' };
}

const encoder = new TextEncoder();

/** The configured secret's digest, computed once rather than on every peer request. */
let secretDigest: { secret: string; digest: Promise<ArrayBuffer> } | null = null;

function digestOfSecret(secret: string): Promise<ArrayBuffer> {
  if (secretDigest?.secret !== secret) {
    secretDigest = { secret, digest: crypto.subtle.digest('SHA-256', encoder.encode(secret)) };
  }
  return secretDigest.digest;
}

/** workerd's constant-time comparison; Node (where route tests run) lacks it. */
type TimingSafeEqual = (a: ArrayBufferView, b: ArrayBufferView) => boolean;
const timingSafeEqual = (crypto.subtle as SubtleCrypto & { timingSafeEqual?: TimingSafeEqual }).timingSafeEqual?.bind(crypto.subtle);
async function sameSecret(a: string, b: string): Promise<boolean> {
  if (timingSafeEqual !== undefined) {
    // Constant time in the bytes compared; a length mismatch answers at once,
    // which tells a guesser only the secret's length (fixed by the launcher).
    const x = encoder.encode(a);
    const y = encoder.encode(b);
    return x.byteLength === y.byteLength && timingSafeEqual(x, y);
  }
  return sameDigest(a, b);
}

async function sameDigest(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([crypto.subtle.digest('SHA-256', encoder.encode(a)), digestOfSecret(b)]);
  const x = new Uint8Array(da);
  const y = new Uint8Array(db);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
