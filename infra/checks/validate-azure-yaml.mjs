// Validates azure.yaml against azd's v1.0 schema, offline. Usage: node validate-azure-yaml.mjs <azure.yaml> <schema.json>
import fs from 'node:fs';
import { createRequire } from 'node:module';
import Ajv2019 from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import YAML from 'yaml';

const require = createRequire(import.meta.url);
const [yamlPath, schemaPath] = process.argv.slice(2);
const schema = JSON.parse(fs.readFileSync(schemaPath, 'utf8'));

const ajv = new Ajv2019({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-07.json'));

// The schema $refs azd extension schemas by URL; offline they are registered as empty schemas.
const external = new Set();
(function collect(node) {
  if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith('http')) external.add(value.split('#')[0]);
      else collect(value);
    }
  }
})(schema);
for (const url of external) ajv.addSchema({}, url);

const validate = ajv.compile(schema);
const document = YAML.parse(fs.readFileSync(yamlPath, 'utf8'));
if (!validate(document)) {
  for (const error of validate.errors) console.error(`azure.yaml${error.instancePath || ''}: ${error.message} ${JSON.stringify(error.params)}`);
  process.exit(1);
}
// The schema leaves host and language free strings, and azd's version range a free string: print them so the caller can assert them.
console.log(JSON.stringify({ valid: true, services: document.services ?? {}, requiredVersions: document.requiredVersions ?? null }));
