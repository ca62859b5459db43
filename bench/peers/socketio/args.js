// Command-line options shared by the peer's scripts: `--name value`, and the loopback-only rule.
"use strict";

function arg(name, fallback) {
  const i = process.argv.indexOf("--" + name);
  return i === -1 ? fallback : process.argv[i + 1];
}

function loopback(url, schemes) {
  if (!new RegExp("^(" + schemes + ")://127\\.0\\.0\\.1:\\d+(/|$)").test(url)) {
    throw new Error("only 127.0.0.1 targets are allowed: " + url);
  }
  return url;
}

module.exports = { arg, loopback };
