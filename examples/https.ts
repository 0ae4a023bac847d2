/**
 * The seed's Example 2: HTTPS on 8200 with graceful and admin on.
 * CERT and KEY name the PEM files; without them a self-signed development certificate is made with
 * openssl in .smooth-dev-cert/. PORT and HOST override the address.
 */
import cluster from 'node:cluster'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { server } from 'smooth-runtime'

function devCertificate(): { cert: string; key: string } {
  const dir = '.smooth-dev-cert'
  const cert = `${dir}/server.crt`
  const key = `${dir}/server.key`
  // Only the primary makes it; workers start after it and read the same files.
  if (cluster.isPrimary && !(existsSync(cert) && existsSync(key))) {
    mkdirSync(dir, { recursive: true })
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', key, '-out', cert], { stdio: 'ignore' })
  }
  return { cert, key }
}

const { cert, key } = process.env.CERT || process.env.KEY
  ? { cert: process.env.CERT ?? '', key: process.env.KEY ?? '' }
  : devCertificate()

const s = server()
s.bindHandler('/', async (req) => `Hello! (${req.protocol})\n`)
s.setGraceful(true)
s.enableHTTPS(cert, key)
s.enableAdmin()
s.setAddress(`${process.env.HOST ?? ''}:${process.env.PORT ?? 8200}`)
await s.run()
