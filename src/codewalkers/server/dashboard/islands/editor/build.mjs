// Builds the editor island into the package's static files (committed, so that
// `pip install` needs no Node):
//   cd src/codewalkers/server/dashboard/islands/editor && npm ci && npm run build
// Writes ../../static/islands/editor.js (minified) and editor.LICENSES.txt (the licences
// of every npm package bundled into it).
import * as esbuild from "esbuild";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "static", "islands");
mkdirSync(out, { recursive: true });

const result = await esbuild.build({
  entryPoints: [join(here, "src", "editor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  legalComments: "none", // the licences go to editor.LICENSES.txt, whole
  metafile: true,
  outfile: join(out, "editor.js"),
  logLevel: "info",
});

// Every package that contributed code, with its version and licence text.
const packages = new Map();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (!match) continue;
  const root = join(here, input.slice(0, match.index + match[0].length));
  if (packages.has(match[1])) continue;
  const meta = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const file = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license"].map((n) => join(root, n)).find(existsSync);
  packages.set(match[1], { version: meta.version, license: meta.license, text: file ? readFileSync(file, "utf8").trim() : "" });
}
const lines = ["Third-party code bundled into editor.js (built by islands/editor/build.mjs):", ""];
for (const [name, info] of [...packages].sort()) {
  lines.push("=".repeat(78), `${name}@${info.version} (${info.license})`, "", info.text || `License: ${info.license}`, "");
}
writeFileSync(join(out, "editor.LICENSES.txt"), lines.join("\n"));
console.log(`bundled ${packages.size} packages`);
