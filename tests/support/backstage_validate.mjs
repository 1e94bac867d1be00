// Validate Backstage entities with the code the Backstage catalog itself runs.
//
// One process validates a whole batch: stdin is a JSON array of {"id": string, "entity": object};
// stdout is a JSON array of {"id": string, "errors": [string, ...]} in the same order (no errors
// means valid). Each entity goes through the catalog's default entity policies (namespace default,
// no foreign root fields, field formats: name/label/annotation rules, the Entity JSON schema) and
// then the validator of its kind (Component, Location, or the scaffolder's Template v1beta3).
//
// `node backstage_validate.mjs --schemas` prints the JSON schemas those validators compile, keyed
// by $id, so the Python side can also check documents (e.g. form parameter pages) with jsonschema.
//
// The packages come from tools/backstage/node_modules (installed by `npm ci` from the committed
// package-lock.json, whose integrity hashes pin them); BACKSTAGE_VALIDATORS_DIR overrides it.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const packageDir =
  process.env.BACKSTAGE_VALIDATORS_DIR ?? path.resolve(here, "..", "..", "tools", "backstage");
const require = createRequire(path.join(packageDir, "package.json"));

const catalogModel = require("@backstage/catalog-model");
const scaffolder = require("@backstage/plugin-scaffolder-common");

const policy = catalogModel.EntityPolicies.allOf([
  new catalogModel.DefaultNamespaceEntityPolicy(),
  new catalogModel.NoForeignRootFieldsEntityPolicy(),
  new catalogModel.FieldFormatEntityPolicy(),
  new catalogModel.SchemaValidEntityPolicy(),
]);

const kindValidators = {
  Component: catalogModel.componentEntityV1alpha1Validator,
  Location: catalogModel.locationEntityV1alpha1Validator,
  Template: scaffolder.templateEntityV1beta3Validator,
};

function message(error) {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

async function validate(entity) {
  const errors = [];
  let checked = entity;
  try {
    // enforce() may fill defaults (metadata.namespace); the kind validators see that result.
    checked = (await policy.enforce(structuredClone(entity))) ?? entity;
  } catch (error) {
    errors.push(`policy: ${message(error)}`);
  }
  const validator = kindValidators[entity?.kind];
  if (validator === undefined) {
    errors.push(`no kind validator for kind ${JSON.stringify(entity?.kind)}`);
    return errors;
  }
  try {
    // check() returns false when the entity is not of the validator's apiVersion/kind at all.
    if (!(await validator.check(checked))) {
      errors.push(`kind: not a ${entity.kind} of a version this validator knows (${entity.apiVersion})`);
    }
  } catch (error) {
    errors.push(`kind: ${message(error)}`);
  }
  return errors;
}

function schemas() {
  const modelDist = path.dirname(require.resolve("@backstage/catalog-model"));
  const scaffolderDist = path.dirname(require.resolve("@backstage/plugin-scaffolder-common"));
  const files = [
    path.join(modelDist, "schema", "Entity.schema.json.cjs.js"),
    path.join(modelDist, "schema", "EntityEnvelope.schema.json.cjs.js"),
    path.join(modelDist, "schema", "EntityMeta.schema.json.cjs.js"),
    path.join(modelDist, "schema", "shared", "common.schema.json.cjs.js"),
    path.join(modelDist, "schema", "kinds", "Component.v1alpha1.schema.json.cjs.js"),
    path.join(modelDist, "schema", "kinds", "Location.v1alpha1.schema.json.cjs.js"),
    path.join(scaffolderDist, "Template.v1beta3.schema.json.cjs.js"),
  ];
  const out = {};
  for (const file of files) {
    const schema = require(file).default;
    out[schema.$id] = schema;
  }
  return out;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  if (process.argv.includes("--schemas")) {
    process.stdout.write(JSON.stringify(schemas()));
    return;
  }
  const batch = JSON.parse(await readStdin());
  const results = [];
  for (const { id, entity } of batch) {
    results.push({ id, errors: await validate(entity) });
  }
  process.stdout.write(JSON.stringify(results));
}

await main();
