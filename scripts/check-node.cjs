#!/usr/bin/env node
// Fails early, with the versions involved, when this Node.js is outside package.json's
// engines.node (the range every installed package accepts: the Pulumi SDK, vitest's vite, npm's own).
// Understands the forms package.json uses: "^A.B.C" and ">=A.B.C" alternatives joined by "||".
"use strict";
const path = require("node:path");

function parse(version) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (!m) throw new Error(`not a version: ${version}`);
  return m.slice(1, 4).map(Number);
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

function satisfies(version, range) {
  const v = parse(version);
  return range.split("||").some((alternative) => {
    const part = alternative.trim();
    const m = /^(\^|>=)(\d+\.\d+\.\d+)$/.exec(part);
    if (!m) throw new Error(`scripts/check-node.cjs cannot read the engines.node part ${JSON.stringify(part)}; use ^A.B.C or >=A.B.C`);
    const min = parse(m[2]);
    if (compare(v, min) < 0) return false;
    return m[1] === ">=" || v[0] === min[0];
  });
}

const range = require(path.join(__dirname, "..", "package.json")).engines.node;
if (!satisfies(process.version, range)) {
  console.error(
    `Node.js ${process.version} is not supported: this project needs Node.js ${range} (package.json engines.node, ` +
      "the range its pinned packages accept). Install a supported Node.js (e.g. from your distribution or nodejs.org) and run npm ci again.",
  );
  process.exit(1);
}
module.exports = { satisfies };
