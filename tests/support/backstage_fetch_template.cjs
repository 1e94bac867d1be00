// Render a scaffolder skeleton with Backstage's own templating, two ways, for one set of values.
//
// stdin: a JSON array of {"templateDir": DIR holding template.yaml, "url": "./skeleton",
// "values": {...}}; stdout: a JSON array, in the same order, of
// {"nunjitsu": {relative path: content}, "nunjucks": {relative path: content}} or {"error": message}
// (one process renders a whole batch: loading the backend package takes about a second).
//
// - "nunjitsu": the fetch:template action itself, createFetchTemplateAction from
//   @backstage/plugin-scaffolder-backend 4.2.0 (the release that matches the pinned
//   @backstage/plugin-scaffolder-common 2.3.0): nunjitsu's renderer with the default filters
//   (parseRepoUrl, parseEntityRef, pick, projectSlug), file names templated, entries whose name
//   renders empty or with '//' skipped. Run with a file:// template location, as Backstage runs a
//   template registered from a local file.
// - "nunjucks": the engine of scaffolder-backend 3.x and earlier, which many Backstage instances
//   still run: the real nunjucks 3.2.4 configured as SecureTemplater's script (scaffolder-backend
//   3.4.1, dist/lib/templating/SecureTemplater.cjs.js, mkScript): configure({autoescape: false,
//   tags: {variableStart: '${{', variableEnd: '}}'}}), values passed through JSON
//   (JSON.stringify in the host, JSON.parse in the sandbox), every filter's result passed through
//   JSON too, with '' (an undefined result) becoming undefined; the same default filters. Outside
//   isolated-vm (a native module that cannot be built here), which changes nothing rendered.
//   File names are rendered and skipped as fetch:template does.
//
// The packages come from tools/backstage/node_modules (npm ci from its package-lock.json).

"use strict";

const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const url = require("node:url");
const { createRequire } = require("node:module");

const packageDir =
  process.env.BACKSTAGE_VALIDATORS_DIR ?? path.resolve(__dirname, "..", "..", "tools", "backstage");
const requireTool = createRequire(path.join(packageDir, "package.json"));

const { createFetchTemplateAction } = requireTool("@backstage/plugin-scaffolder-backend");
const { ScmIntegrations } = requireTool("@backstage/integration");
const { ConfigReader } = requireTool("@backstage/config");
const nunjucks = requireTool("nunjucks");

// createDefaultFilters is not exported by the package; load the built module by its file.
const backendDist = path.dirname(requireTool.resolve("@backstage/plugin-scaffolder-backend"));
const { createDefaultFilters } = require(
  path.join(backendDist, "lib", "templating", "filters", "createDefaultFilters.cjs.js"),
);

const integrations = ScmIntegrations.fromConfig(new ConfigReader({}));

const silentLogger = {
  info() {}, warn() {}, error() {}, debug() {},
  child() { return silentLogger; },
};

function unusedReader() {
  const refuse = async () => { throw new Error("the test template is read from a file:// location"); };
  return { readUrl: refuse, readTree: refuse, search: refuse };
}

function listFiles(root) {
  const out = {};
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[path.relative(root, full).split(path.sep).join("/")] = fs.readFileSync(full, "utf8");
    }
  };
  walk(root);
  return out;
}

async function renderWithAction(request) {
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "fetch-template-"));
  try {
    const action = createFetchTemplateAction({ reader: unusedReader(), integrations });
    await action.handler({
      input: { url: request.url, values: request.values },
      templateInfo: {
        baseUrl: url.pathToFileURL(path.join(request.templateDir, "template.yaml")).href,
      },
      workspacePath: workspace,
      logger: silentLogger,
      output() {},
      createTemporaryDirectory: async () => fs.mkdtempSync(path.join(os.tmpdir(), "fetch-tmp-")),
      checkpoint: async ({ fn }) => fn(),
      getInitiatorCredentials: async () => ({}),
    });
    return listFiles(workspace);
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

function secureTemplaterEnv() {
  const env = nunjucks.configure({
    autoescape: false,
    tags: { variableStart: "${{", variableEnd: "}}" },
  });
  const handleFunctionResult = (value) => (value === "" ? undefined : JSON.parse(value));
  for (const { id, filter } of createDefaultFilters({ integrations })) {
    env.addFilter(id, (input, ...rest) => {
      const result = filter(input, ...rest);
      return handleFunctionResult(result === undefined ? "" : JSON.stringify(result));
    });
  }
  return env;
}

function renderWithNunjucks(request) {
  const env = secureTemplaterEnv();
  const values = JSON.parse(JSON.stringify({ values: request.values }));
  const root = path.resolve(request.templateDir, request.url);
  const out = {};
  for (const [relative, content] of Object.entries(listFiles(root))) {
    const target = env.renderString(relative, values);
    if (target === "" || target.startsWith("/") || target.includes("//")) continue;
    out[target] = env.renderString(content, values);
  }
  return out;
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const results = [];
  for (const request of JSON.parse(Buffer.concat(chunks).toString("utf8"))) {
    try {
      results.push({
        nunjitsu: await renderWithAction(request),
        nunjucks: renderWithNunjucks(request),
      });
    } catch (error) {
      results.push({ error: String(error && error.message ? error.message : error) });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
