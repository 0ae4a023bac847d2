import { AdminCredentials } from '../admin/credentials.js'
import { EnvNames } from '../env.js'
import { envName } from '../config/keys.js'

const TOKEN_ENV = envName('adminToken')

/**
 * The primary's admin credentials, and what the processes it starts get of them. Workers inherit
 * this process's environment (node:cluster), so the token read from SMOOTH_ADMIN_TOKEN is removed from
 * it and a verifier put in its place; a successor gets the token and the session secret back
 * explicitly (`forSuccessor`), so sessions survive the restart.
 */
export class AdminSecret {
  readonly credentials: AdminCredentials | undefined
  private readonly secret: Buffer
  private readonly envToken: string | undefined

  constructor(token: string | undefined) {
    const inherited = process.env[EnvNames.adminSecret]
    delete process.env[EnvNames.adminSecret]
    this.secret = inherited ? Buffer.from(inherited, 'base64') : AdminCredentials.newSecret()
    if (this.secret.length < 16) this.secret = AdminCredentials.newSecret()
    this.envToken = process.env[TOKEN_ENV]
    if (!token) {
      this.credentials = undefined
      delete process.env[EnvNames.adminVerifier]
      return
    }
    this.credentials = AdminCredentials.fromToken(token, this.secret)
    delete process.env[TOKEN_ENV]
    process.env[EnvNames.adminVerifier] = this.credentials.verifier()
  }

  /** Environment entries for a successor primary (it makes its own verifier). */
  forSuccessor(): Record<string, string> {
    const out: Record<string, string> = { [EnvNames.adminSecret]: this.secret.toString('base64') }
    if (this.envToken !== undefined) out[TOKEN_ENV] = this.envToken
    return out
  }
}
