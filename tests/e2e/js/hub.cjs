// Runs one call of the JavaScript client (@huggingface/hub, pinned in tests/package.json) against
// a hub, with the client's defaults, and prints the outcome as one JSON line on stdout.
//
//   node hub.cjs <operation> '<json params>'
//
// Environment: KOHAKU_JS_HUB_URL (the hub), KOHAKU_JS_TOKEN (an access token, optional), NODE_PATH
// (the node_modules holding @huggingface/hub). test_js_client.py drives it; every assertion lives
// there. Outcome: {"ok": true, "result": ...} or {"ok": false, "error": ..., "status": ...}.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { pathToFileURL } = require("node:url");
const hub = require("@huggingface/hub");

const hubUrl = process.env.KOHAKU_JS_HUB_URL;
const accessToken = process.env.KOHAKU_JS_TOKEN || undefined;
const common = { hubUrl, ...(accessToken ? { accessToken } : {}) };

async function digest(blob) {
  const hash = crypto.createHash("sha256");
  const reader = blob.stream().getReader();
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    hash.update(value);
  }
  return { size, sha256: hash.digest("hex") };
}

async function collect(iterable) {
  const out = [];
  for await (const x of iterable) out.push(x);
  return out;
}

/** A Blob's class (XetBlob when the client downloads through Xet), size, sha256, and the text
 * when `text` is asked for; `range: [start, end)` reads a slice. */
async function describeBlob(blob, p) {
  if (blob === null) return null;
  const kind = blob.constructor.name;
  const part = p.range ? blob.slice(p.range[0], p.range[1]) : blob;
  // partSize: the bytes actually read.
  const { size: partSize, sha256 } = await digest(part);
  const out = { kind, size: blob.size, partSize, sha256 };
  if (p.text) out.text = await part.text();
  return out;
}

const operations = {
  whoAmI: () => hub.whoAmI(common),

  createRepo: (p) => hub.createRepo({ ...common, repo: p.repo, private: p.private }),

  /** `files`: [{path, file}] with `file` a local file, uploaded from its file: URL. */
  uploadFiles: async (p) => {
    const files = p.files.map((f) => ({ path: f.path, content: pathToFileURL(f.file) }));
    const args = { ...common, repo: p.repo, files, commitTitle: p.title };
    if (p.useXet !== undefined) args.useXet = p.useXet;
    if (p.branch !== undefined) args.branch = p.branch;
    const out = await hub.uploadFiles(args);
    return out && out.commit;
  },

  listFiles: (p) => collect(hub.listFiles({ ...common, repo: p.repo, recursive: p.recursive, revision: p.revision })),

  pathsInfo: (p) => hub.pathsInfo({ ...common, repo: p.repo, paths: p.paths, revision: p.revision, expand: p.expand }),

  fileExists: (p) => hub.fileExists({ ...common, repo: p.repo, path: p.path, revision: p.revision }),

  fileDownloadInfo: async (p) => {
    const info = await hub.fileDownloadInfo({ ...common, repo: p.repo, path: p.path, revision: p.revision, raw: p.raw });
    return info && { ...info, xet: info.xet && { hash: info.xet.hash, refreshUrl: info.xet.refreshUrl.href, reconstructionUrl: info.xet.reconstructionUrl.href } };
  },

  downloadFile: async (p) => {
    const args = { ...common, repo: p.repo, path: p.path, revision: p.revision, raw: p.raw };
    if (p.xet !== undefined) args.xet = p.xet;
    return describeBlob(await hub.downloadFile(args), p);
  },

  modelInfo: (p) => hub.modelInfo({ ...common, name: p.name, revision: p.revision, additionalFields: p.additionalFields }),

  datasetInfo: (p) => hub.datasetInfo({ ...common, name: p.name, revision: p.revision, additionalFields: p.additionalFields }),

  repoExists: (p) => hub.repoExists({ ...common, repo: p.repo, revision: p.revision }),

  deleteFile: async (p) => {
    const out = await hub.deleteFile({ ...common, repo: p.repo, path: p.path });
    return out && out.commit;
  },

  listCommits: (p) => collect(hub.listCommits({ ...common, repo: p.repo, revision: p.revision })),

  /** The snapshot folder, with each file's size and sha256 (symlinks followed). */
  snapshotDownload: async (p) => {
    const folder = await hub.snapshotDownload({ ...common, repo: p.repo, revision: p.revision, cacheDir: p.cacheDir });
    const files = {};
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (fs.statSync(full).isDirectory()) {
          walk(full);
        } else {
          const data = fs.readFileSync(full);
          files[path.relative(folder, full)] = {
            size: data.length,
            sha256: crypto.createHash("sha256").update(data).digest("hex"),
          };
        }
      }
    };
    walk(folder);
    return { folder, files };
  },
};

async function main() {
  const [op, raw] = process.argv.slice(2);
  const fn = operations[op];
  if (!fn) throw new Error(`unknown operation ${op}`);
  const result = await fn(raw ? JSON.parse(raw) : {});
  process.stdout.write(JSON.stringify({ ok: true, result: result === undefined ? null : result }) + "\n");
}

main().catch((e) => {
  process.stdout.write(
    JSON.stringify({ ok: false, error: String((e && e.message) || e), status: e && e.statusCode, name: e && e.name }) + "\n",
  );
  process.exitCode = 1;
});
