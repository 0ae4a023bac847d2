/**
 * Build step, run after tsc (`npm run build`, `prepare`): writes the config validators as ajv
 * standalone code beside schema.js, so no process compiles the schema at start (schema.ts says why).
 */
import { writeFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import standalone from 'ajv/dist/standalone/index.js'
import { ajvOptions, schemaText, settingsSchema, ValidatorFiles } from './schema.js'

for (const kind of ['plain', 'coercing'] as const) {
  const ajv = new Ajv({ ...ajvOptions(kind === 'coercing'), code: { source: true } })
  const code = standalone.default(ajv, ajv.compile(settingsSchema))
  // The schema it was made from: schema.ts uses the file only while the schema is still this one.
  writeFileSync(new URL(ValidatorFiles[kind], import.meta.url), `${code}\nmodule.exports.schema = ${JSON.stringify(schemaText())};\n`)
}
