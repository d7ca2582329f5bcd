// The package registry these machines reach serves only the platform packages this machine can use,
// so `npm install` leaves rollup's other-platform optional packages out of package-lock.json and
// `npm ci` then refuses the lock as out of sync. This adds those entries (version from the parent's
// optionalDependencies, os/cpu/libc from the package name), so npm ci checks them and skips them
// on this platform, as it would with a lock made where the registry serves everything.
// Usage: node scripts/lock-optional-platforms.mjs   (after any `npm install`)
import { readFileSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const lockPath = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, "utf8"));
const CPUS = { "arm-eabi": "arm", "arm-gnueabihf": "arm", "arm-musleabihf": "arm", arm64: "arm64", x64: "x64", ia32: "ia32", loong64: "loong64", ppc64: "ppc64", riscv64: "riscv64", s390x: "s390x" };

let added = 0;
for (const [location, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key] || !name.startsWith("@rollup/rollup-")) continue;
    const parts = name.slice("@rollup/rollup-".length).split("-"); // e.g. linux-arm64-musl, win32-x64-msvc
    const os = parts[0];
    const rest = parts.slice(1);
    const abi = rest.length > 1 && !CPUS[rest.join("-")] ? rest.pop() : undefined;
    const cpu = CPUS[rest.join("-")];
    if (!cpu) throw new Error(`cannot tell the cpu of ${name} (from ${location})`);
    const libc = abi === "gnu" || abi === "gnueabihf" ? ["glibc"] : abi === "musl" || abi === "musleabihf" ? ["musl"] : undefined;
    lock.packages[key] = { version, cpu: [cpu], dev: true, license: "MIT", optional: true, os: [os], ...(libc ? { libc } : {}) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))));
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + "\n");
console.log(`added ${added} platform entries to package-lock.json`);
