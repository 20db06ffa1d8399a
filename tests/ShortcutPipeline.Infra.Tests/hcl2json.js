// Parses every *.tf file of one directory (as Terraform reads a module: no subdirectories), and its
// *.tfvars.example files, with @cdktf/hcl2json and prints [{ file, body }] or [{ file, error }] as JSON on stdout.
// Usage: node hcl2json.js <path of the @cdktf/hcl2json package> <terraform directory>
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const [packageDir, directory] = process.argv.slice(2);
  if (!packageDir || !directory) {
    throw new Error("usage: node hcl2json.js <@cdktf/hcl2json package dir> <terraform dir>");
  }
  const hcl2json = require(path.resolve(packageDir));
  const files = fs.readdirSync(directory).filter((name) => name.endsWith(".tf") || name.endsWith(".tfvars.example")).sort();
  const results = [];
  for (const file of files) {
    const text = fs.readFileSync(path.join(directory, file), "utf8");
    try {
      results.push({ file, body: await hcl2json.parse(file, text) });
    } catch (error) {
      results.push({ file, error: String(error && error.message ? error.message : error) });
    }
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack ? error.stack : error) + "\n");
  process.exit(1);
});
