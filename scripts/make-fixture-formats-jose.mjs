// Part of scripts/make-fixture-formats.sh: node `jose` (panva/jose, an independent JOSE library)
// exports keys/rsa_pkcs8.pem as a private JWK and signs RS256 and PS256 tokens with it.
// Usage: node make-fixture-formats-jose.mjs JOSE_DIR KEY.pem OUT_DIR
// (JOSE_DIR is a directory where `npm install jose` was run, outside the repository.)
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [joseDir, keyPath, outDir] = process.argv.slice(2);
const require = createRequire(join(joseDir, "package.json"));
const jose = await import(pathToFileURL(require.resolve("jose")).href);

const pem = readFileSync(keyPath, "utf8");
const claims = { sub: "jose", iss: "node-jose", iat: 1767225600, exp: 4102444800 };
const kid = "rsa-jose";

const rs = await jose.importPKCS8(pem, "RS256", { extractable: true });
const jwk = await jose.exportJWK(rs);
for (const m of ["n", "e", "d", "p", "q", "dp", "dq", "qi"]) {
  if (!jwk[m]) throw new Error(`exported JWK lacks ${m}`);
}
writeFileSync(join(outDir, "rsa_private_jose.jwk"), JSON.stringify({ ...jwk, kid }, null, 2) + "\n");

for (const [alg, file] of [["RS256", "rsa_jose.jwt"], ["PS256", "rsa_jose_ps256.jwt"]]) {
  const key = alg === "RS256" ? rs : await jose.importPKCS8(pem, alg);
  const token = await new jose.SignJWT(claims).setProtectedHeader({ alg, typ: "JWT", kid }).sign(key);
  writeFileSync(join(outDir, file), token + "\n");
}
