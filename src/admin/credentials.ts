import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { EnvNames } from '../env.js'

/**
 * What checks an admin credential, without keeping more than it needs.
 *
 * The page's cookie is not the token: it is HMAC-SHA256(service secret, token). The secret is random,
 * made by the first primary and handed to each successor, so a signed-in page survives restarts and a
 * new token (or a new service) ends every session.
 *
 * Workers do not get the token when it came from the environment: the primary strips
 * SMOOTH_ADMIN_TOKEN from what they inherit and hands them a verifier instead (SHA-256 of the token
 * and of the session value, plus the secret to mint a session at login). A verifier that leaks (an
 * app printing `process.env`) lets nobody in: the token is needed to make either value. A token set in
 * code or in the config file is read by the workers anyway: they run the same program.
 */
export class AdminCredentials {
  private constructor(
    private readonly tokenHash: Buffer,
    private readonly sessionHash: Buffer,
    private readonly secret: Buffer,
  ) {}

  static fromToken(token: string, secret: Buffer): AdminCredentials {
    return new AdminCredentials(sha256(token), sha256(session(secret, token)), secret)
  }

  /** A fresh per-service secret (the first primary makes one; successors inherit it). */
  static newSecret(): Buffer {
    return randomBytes(32)
  }

  /** What a worker gets instead of the token (see the class comment). */
  verifier(): string {
    return JSON.stringify({ t: this.tokenHash.toString('base64'), s: this.sessionHash.toString('base64'), k: this.secret.toString('base64') })
  }

  static fromVerifier(text: string): AdminCredentials | undefined {
    try {
      const v = JSON.parse(text) as { t: string; s: string; k: string }
      const [t, s, k] = [v.t, v.s, v.k].map((x) => Buffer.from(String(x), 'base64'))
      if (t!.length !== 32 || s!.length !== 32 || k!.length < 16) return undefined
      return new AdminCredentials(t!, s!, k!)
    } catch {
      return undefined
    }
  }

  /** A Bearer token or a login's token. */
  checkToken(given: string | undefined): boolean {
    return given !== undefined && timingSafeEqual(sha256(given), this.tokenHash)
  }

  checkSession(given: string | undefined): boolean {
    return given !== undefined && timingSafeEqual(sha256(given), this.sessionHash)
  }

  /** The cookie value for a login with `token`, or undefined when it is the wrong token. */
  sessionFor(token: string): string | undefined {
    return this.checkToken(token) ? session(this.secret, token) : undefined
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

function session(secret: Buffer, token: string): string {
  return createHmac('sha256', secret).update('smooth admin session\0').update(token).digest('base64url')
}

/** A worker's admin credentials: the verifier its primary handed down, if admin has a token. */
export function workerCredentials(token: string | undefined): AdminCredentials | undefined {
  const verifier = process.env[EnvNames.adminVerifier]
  if (verifier) return AdminCredentials.fromVerifier(verifier)
  // A worker started without a verifier (not by a Smooth primary): the token it read itself.
  return token ? AdminCredentials.fromToken(token, AdminCredentials.newSecret()) : undefined
}
