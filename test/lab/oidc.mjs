// Minimal OIDC issuer stub for RGW's AssumeRoleWithWebIdentity (loopback only).
//   node oidc.mjs serve            -> serves /.well-known/openid-configuration and /jwks on 127.0.0.1:$OIDC_PORT
//   node oidc.mjs token [sub] [ttl] [aud] [claims-json]
//                                   -> prints a fresh RS256 JWT (iss=http://127.0.0.1:$OIDC_PORT, aud=sts.amazonaws.com unless
//                                      given; claims-json adds claims, e.g. Kubernetes' {"kubernetes.io":{...}} for the broker)
// Key material: $OIDC_DIR/key.pem + cert.pem (made by `start` with openssl). RGW (Pacific) validates the
// signature against the x5c certificate and matches that certificate's SHA-1 thumbprint.
import http from "node:http";
import crypto from "node:crypto";
import fs from "node:fs";

const port = Number(process.env.OIDC_PORT || 7581);
const dir = process.env.OIDC_DIR || `${process.env.S3LAB_DIR || "/tmp/s3-sidecar-lab"}/oidc`;
const iss = `http://127.0.0.1:${port}`;
const key = crypto.createPrivateKey(fs.readFileSync(`${dir}/key.pem`));
const der = fs.readFileSync(`${dir}/cert.pem`, "utf8").replace(/-----[^-]+-----|\s/g, "");
const jwk = { ...crypto.createPublicKey(key).export({ format: "jwk" }), kid: "s3lab", use: "sig", alg: "RS256", x5c: [der] };
const b64u = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");

if (process.argv[2] === "token") {
  const sub = process.argv[3] || "system:serviceaccount:default:s3lab";
  const ttl = Number(process.argv[4] || 86400);
  const aud = process.argv[5] || "sts.amazonaws.com";
  const extra = process.argv[6] ? JSON.parse(process.argv[6]) : {};
  const now = Math.floor(Date.now() / 1000);
  const head = b64u({ alg: "RS256", typ: "JWT", kid: "s3lab" });
  const body = b64u({ ...extra, iss, sub, aud, iat: now, nbf: now - 5, exp: now + ttl });
  const sig = crypto.sign("RSA-SHA256", Buffer.from(`${head}.${body}`), key).toString("base64url");
  process.stdout.write(`${head}.${body}.${sig}\n`);
} else if (process.argv[2] === "serve") {
  http.createServer((req, res) => {
    const doc = req.url.startsWith("/.well-known/openid-configuration")
      ? { issuer: iss, jwks_uri: `${iss}/jwks`, id_token_signing_alg_values_supported: ["RS256"], response_types_supported: ["id_token"], subject_types_supported: ["public"] }
      : req.url.startsWith("/jwks") ? { keys: [jwk] } : null;
    res.writeHead(doc ? 200 : 404, { "content-type": "application/json" });
    res.end(JSON.stringify(doc || { error: "not found" }));
  }).listen(port, "127.0.0.1");
} else {
  console.error("usage: node oidc.mjs serve | token [sub] [ttl_seconds] [aud] [claims-json]");
  process.exit(2);
}
