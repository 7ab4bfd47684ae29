// Builds the dashboard into dist/: the bundled, minified script and stylesheet under
// dist/assets/ with content hashes in their names, index.html written from the template with
// those names, and the static files of public/ copied as they are. dist/ is never emptied
// first: the new assets are written, then index.html is switched to them, then older assets are
// removed, so a server reading dist/ meanwhile always finds a complete dashboard.
//
//   node build.mjs           one build
//   node build.mjs --watch   rebuild on every change (a reload of the page shows it)
import * as esbuild from "esbuild";
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const assets = join(dist, "assets");
const watch = process.argv.includes("--watch");

/** Writes index.html naming the hashed outputs, and reports their sizes. */
const writeIndex = {
  name: "write-index",
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length > 0 || !result.metafile) return;
      const outputs = Object.keys(result.metafile.outputs).map((file) => relative(assets, join(root, file)));
      const js = outputs.find((f) => /^app-.*\.js$/.test(f));
      const css = outputs.find((f) => /^app-.*\.css$/.test(f));
      if (!js || !css) throw new Error(`build.mjs: expected app-*.js and app-*.css, got ${outputs.join(", ")}`);
      const template = await readFile(join(root, "index.html"), "utf8");
      const index = join(dist, "index.html");
      await writeFile(`${index}.tmp`, template.replace("%APP_JS%", js).replace("%APP_CSS%", css));
      await rename(`${index}.tmp`, index);
      for (const old of await readdir(assets)) {
        if (!outputs.includes(old)) await rm(join(assets, old), { force: true });
      }
      for (const file of [js, css]) {
        const bytes = await readFile(join(assets, file));
        const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
        console.log(`dist/assets/${file}  ${kib(bytes.length)}  (gzip ${kib(gzipSync(bytes, { level: 9 }).length)})`);
      }
    });
  },
};

await mkdir(assets, { recursive: true });
for (const file of await readdir(join(root, "public"))) await copyFile(join(root, "public", file), join(dist, file));

const options = {
  absWorkingDir: root,
  entryPoints: { app: "src/main.tsx" },
  outdir: assets,
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
  plugins: [writeIndex],
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log("build.mjs: watching src/ for changes");
} else {
  await esbuild.build(options);
}
