// Builds the UI into dist/: dist/index.html (never cached) and dist/ui/app-<hash>.{js,css} (cached forever),
// which the server embeds. Prints each file's size and gzipped size. `node build.mjs --dev` skips minifying.
import { build } from "esbuild";
import { mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { basename } from "node:path";

const dev = process.argv.includes("--dev");
rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/ui", { recursive: true });
const result = await build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  minify: !dev,
  sourcemap: false,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  outdir: "dist/ui",
  entryNames: "[name]-[hash]",
  jsx: "automatic",
  jsxImportSource: "preact",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs);
const js = outputs.find((f) => f.endsWith(".js"));
const css = outputs.find((f) => f.endsWith(".css"));
const icon =
  "data:image/svg+xml," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#1f6feb"/>' +
      '<path d="M6 17h5l3-8 4 14 3-6h5" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  );
// The theme is set before the first paint, so a dark page never flashes white.
const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>vigil</title>
<link rel="icon" href="${icon}">
<link rel="stylesheet" href="/ui/${basename(css)}">
<script>try{var t=localStorage.getItem("vigil.theme");document.documentElement.dataset.theme=t==="dark"||t==="light"?t:(matchMedia("(prefers-color-scheme: dark)").matches?"dark":"light")}catch(e){}</script>
<script type="module" src="/ui/${basename(js)}"></script>
</head>
<body><div id="app"></div></body>
</html>
`;
writeFileSync("dist/index.html", html);
for (const f of ["dist/index.html", js, css]) {
  const body = readFileSync(f);
  console.log(`${f.padEnd(34)} ${(body.length / 1024).toFixed(1).padStart(7)} KiB  gzip ${(gzipSync(body, { level: 9 }).length / 1024).toFixed(1).padStart(6)} KiB`);
}
