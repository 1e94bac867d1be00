// Drive the Backstage scaffolder form (tools/backstage/form/form.jsx, react-jsonschema-form with
// Backstage's validator setup) in headless Chromium with playwright-core, as a person fills it in.
//
// stdin: {"parameters": [pages...], "outDir": DIR, "screenshotDir": DIR, "chromium": PATH,
//         "steps": [{"fill": {selector: text}} | {"select": {selector: value}} |
//                   {"check": selector} | {"next": true} | {"screenshot": name} |
//                   {"errors": label} | {"title": label}]}
// stdout: {"errors": {label: [visible error texts]}, "titles": {label: step title},
//          "submitted": values after the last page or null}
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const url = require("node:url");
const { createRequire } = require("node:module");

const packageDir =
  process.env.BACKSTAGE_VALIDATORS_DIR ?? path.resolve(__dirname, "..", "..", "tools", "backstage");
const requireTool = createRequire(path.join(packageDir, "package.json"));
const esbuild = requireTool("esbuild");
const { chromium } = requireTool("playwright-core");

function buildPage(request) {
  fs.mkdirSync(request.outDir, { recursive: true });
  esbuild.buildSync({
    entryPoints: [path.join(packageDir, "form", "form.jsx")],
    absWorkingDir: packageDir,
    bundle: true,
    outfile: path.join(request.outDir, "form.js"),
    jsx: "automatic",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "error",
  });
  const parameters = JSON.stringify(request.parameters).replace(/</g, "\\u003c");
  const html = `<!doctype html><html><head><meta charset="utf-8"><title>Backstage form</title>
<style>body{font-family:sans-serif;margin:24px;max-width:760px}
input,select,textarea{display:block;width:100%;margin:4px 0 8px}
.errors{border:2px solid #c62828;padding:8px;color:#c62828}.error-detail{color:#c62828}
.field-description{color:#555;font-size:90%}</style></head>
<body><div id="app"></div><script>window.TEMPLATE_PARAMETERS = ${parameters};</script>
<script src="form.js"></script></body></html>`;
  const page = path.join(request.outDir, "index.html");
  fs.writeFileSync(page, html);
  return url.pathToFileURL(page).href;
}

async function visibleErrors(page) {
  return page.$$eval(".errors li, .error-detail li", (items) =>
    items.map((item) => item.textContent.trim()).filter((text) => text !== ""),
  );
}

async function runStep(page, step, request, result) {
  if (step.fill) {
    for (const [selector, text] of Object.entries(step.fill)) await page.fill(selector, text);
  } else if (step.select) {
    for (const [selector, value] of Object.entries(step.select)) {
      await page.selectOption(selector, value);
    }
  } else if (step.check) {
    await page.check(step.check);
  } else if (step.next) {
    await page.click("#next");
    await page.waitForTimeout(0);
  } else if (step.screenshot) {
    fs.mkdirSync(request.screenshotDir, { recursive: true });
    const file = path.join(request.screenshotDir, `${step.screenshot}.png`);
    await page.screenshot({ path: file, fullPage: true });
  } else if (step.errors) {
    result.errors[step.errors] = await visibleErrors(page);
  } else if (step.title) {
    result.titles[step.title] = (await page.textContent("#step-title")) ?? "";
  } else {
    throw new Error(`unknown step ${JSON.stringify(step)}`);
  }
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const address = buildPage(request);
  const browser = await chromium.launch({ executablePath: request.chromium, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    await page.goto(address);
    await page.waitForSelector("#next");
    const result = { errors: {}, titles: {}, submitted: null };
    for (const step of request.steps) await runStep(page, step, request, result);
    result.submitted = await page.evaluate(() => window.SUBMITTED ?? null);
    if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
    process.stdout.write(JSON.stringify(result));
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
