"use strict";

// The napi-rs name of the platform this process runs on (for example
// "linux-x64-gnu"): which npm/<triple>/ directory holds its addon. Only
// the platforms this package ships an addon for are recognised.

const SUPPORTED = ["linux-x64-gnu"];

function isMusl() {
  // glibc's Node reports the glibc version it runs on; musl builds do not.
  const report = typeof process.report?.getReport === "function" ? process.report.getReport() : null;
  const header = report && report.header;
  return !(header && header.glibcVersionRuntime);
}

function platformTriple() {
  const { platform, arch } = process;
  let triple = `${platform}-${arch}`;
  if (platform === "linux") triple += isMusl() ? "-musl" : "-gnu";
  if (!SUPPORTED.includes(triple)) {
    throw new Error(
      `notp: no native addon for ${triple}; supported: ${SUPPORTED.join(", ")}`
    );
  }
  return triple;
}

module.exports = { platformTriple, SUPPORTED };
