#!/usr/bin/env bash
# The whole s3-sidecar story on one machine, in under two minutes, against a real S3 + STS
# server (Ceph RGW on 127.0.0.1, started by test/lab/start):
#   1. seed a small drone dataset into s3://<bucket>/projects/job1/input/
#   2. `credentials --once`: AssumeRole with a session policy scoped to the job's prefixes,
#      written as a credentials file; the AWS CLI lists the input and is denied elsewhere
#   3. `download --layout odm`: the init container's prefetch into the ODM project dir
#   4. a replayed ODM run writes products while `run --preset odm` streams them to S3
#   5. the manifest, read from S3 with the AWS CLI through the credentials the sidecar wrote
# Usage: npm run demo     (after npm ci; builds first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T0=$(date +%s)

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
# Show the sidecar's JSON log lines as "time  message  key=value ...", secrets never included.
pretty() { node -e '
  const rl = require("node:readline").createInterface({ input: process.stdin });
  const skip = new Set(["level", "time", "name", "msg", "pid", "hostname"]);
  rl.on("line", (l) => {
    let j; try { j = JSON.parse(l); } catch { return; }
    if (!["info", "warn", "error", "fatal"].includes(j.level)) return;
    const kv = Object.entries(j).filter(([k, v]) => !skip.has(k) && typeof v !== "object").map(([k, v]) => `${k}=${v}`).join(" ");
    console.log(`   ${j.time.slice(11, 19)} ${j.level === "info" ? "" : j.level.toUpperCase() + " "}${j.msg}${kv ? "  (" + kv + ")" : ""}`);
  });'; }

bold "0. Start a local S3 + STS server (Ceph RGW from Debian packages, loopback only), and build"
# The server's progress is noise here; its reason for failing is not: show that, and stop.
LAB_LOG=$(mktemp "${TMPDIR:-/tmp}/s3-sidecar-demo-lab.XXXXXX")
if ! LAB_ENV=$(test/lab/start 2>"$LAB_LOG"); then
  echo "The demo's local S3 server could not start:" >&2
  grep -E 'ERROR|error|denied|not found' "$LAB_LOG" | sed 's/^lab: \[[^]]*\] /   /' >&2 || tail -n 5 "$LAB_LOG" >&2
  echo "(full log: $LAB_LOG; a busy port can be changed with S3LAB_PORT, S3LAB_MON_PORT, S3LAB_OIDC_PORT)" >&2
  exit 1
fi
rm -f "$LAB_LOG"
eval "$LAB_ENV"
say "S3 + STS at $S3LAB_ENDPOINT"
[[ -d node_modules ]] || npm ci --no-audit --no-fund
npm run --silent build

WORK=$(mktemp -d /tmp/s3-sidecar-demo.XXXXXX)
BUCKET=demo-$(date +%s)
JOB=job1
IN=s3://$BUCKET/projects/$JOB/input/
OUT=s3://$BUCKET/projects/$JOB/output/
AWS=/usr/bin/aws   # Debian's AWS CLI v2
admin() { AWS_ACCESS_KEY_ID=$S3LAB_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3LAB_SECRET_KEY AWS_DEFAULT_REGION=us-east-1 \
  AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_CONFIG_FILE=/dev/null "$AWS" --endpoint-url "$S3LAB_ENDPOINT" "$@"; }

bold "1. Seed a small drone dataset into $IN (as the platform admin)"
mkdir -p "$WORK/seed/flight-a" "$WORK/seed/flight-b" "$WORK/seed/output"
for i in $(seq -w 1 6); do head -c 300000 /dev/urandom >"$WORK/seed/flight-a/DJI_00$i.JPG"; done
for i in $(seq -w 1 6); do head -c 300000 /dev/urandom >"$WORK/seed/flight-b/DJI_00$i.JPG"; done   # same names: must not clash
head -c 20000 /dev/urandom >"$WORK/seed/flight-a/DJI_0001_mask.png"
printf 'EPSG:32633\n500000 4649776 120 2000 1500 DJI_0001.JPG gcp1\n' >"$WORK/seed/gcp_list.txt"
echo 'stale output from an earlier run' >"$WORK/seed/output/old.txt"
admin s3 mb "s3://$BUCKET" >/dev/null
admin s3 cp --recursive --quiet "$WORK/seed" "$IN"
admin s3 cp --quiet - "s3://$BUCKET/projects/other-job/secret.txt" <<<"another job's data"
say "$(admin s3 ls --recursive "$IN" | wc -l) objects: 12 images in two folders (same file names), a mask, gcp_list.txt, an old output/"

# From here on the sidecar is the only holder of a long-lived key (standing in for its pod
# identity); the "main container" only ever sees what the sidecar hands it.
SIDECAR_ENV=(env -i PATH="$PATH" HOME="$WORK/home" AWS_ACCESS_KEY_ID="$S3LAB_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3LAB_SECRET_KEY"
  AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$S3LAB_ENDPOINT" S3_INPUT_PREFIX="$IN" S3_OUTPUT_PREFIX="$OUT"
  SIDECAR_ASSUME_ROLE_ARN="$S3LAB_ROLE_ARN" SIDECAR_ROLE_SESSION_NAME="odm-$JOB"
  SIDECAR_CREDENTIALS_FILE="$WORK/shared/aws/credentials" SIDECAR_CONFIG_FILE="$WORK/shared/aws/config"
  SIDECAR_PROCESS_FILE="$WORK/shared/aws/process.json")
sidecar() { "${SIDECAR_ENV[@]}" node dist/cli.js "$@"; }
# The main container: no keys of its own, only the shared credentials directory.
main_aws() { env -i PATH="$PATH" HOME="$WORK/home" AWS_SHARED_CREDENTIALS_FILE="$WORK/shared/aws/credentials" \
  AWS_CONFIG_FILE=/dev/null AWS_DEFAULT_REGION=us-east-1 "$AWS" --endpoint-url "$S3LAB_ENDPOINT" "$@"; }

bold "2. s3-sidecar credentials --once: AssumeRole scoped to the job's prefixes"
sidecar credentials --once | pretty
say "wrote $(ls "$WORK/shared/aws" | tr '\n' ' ')(mode $(stat -c %a "$WORK/shared/aws/credentials"))"
say "AWS CLI with that credentials file, listing the input prefix:"
main_aws s3 ls "$IN" | sed 's/^/      /'
if main_aws s3 ls "s3://$BUCKET/projects/other-job/" >/dev/null 2>&1; then
  say "!! listing another job's prefix was allowed"; exit 1
else
  say "listing another job's prefix: denied, as the session policy says"
fi
if main_aws s3 cp --quiet - "${IN}tamper.txt" <<<x >/dev/null 2>&1; then
  say "!! writing into the input prefix was allowed"; exit 1
else
  say "writing into the input prefix: denied (inputs are read-only)"
fi

bold "3. s3-sidecar download --layout odm: prefetch into the ODM project dir"
sidecar download --layout odm --input-dir "$WORK/workspace/$JOB" --ready-file "$WORK/workspace/$JOB/.inputs-ready" | pretty
say "project dir now holds:"
(cd "$WORK/workspace/$JOB" && find . -type f ! -path './.s3-sidecar/*' | sort | sed 's/^/      /' | head -20)

bold "4. A replayed ODM run writes its products; s3-sidecar run --preset odm streams them"
sidecar run --preset odm --output-dir "$WORK/workspace/$JOB" --stable-window 2s \
  >"$WORK/run.log" &
RUN_PID=$!
( tail -n +1 -f "$WORK/run.log" --pid=$RUN_PID 2>/dev/null | pretty ) &
sleep 1
node --import tsx test/upload/odm-replay.ts "$WORK/workspace/$JOB" 400 >/dev/null
say "(ODM finished and wrote log.json; the sidecar does its final pass and writes the manifest)"
wait $RUN_PID && rc=0 || rc=$?
sleep 0.5
say "sidecar exit code: $rc"

bold "5. What landed in S3, read by the AWS CLI through the credentials the sidecar wrote"
main_aws s3 ls --recursive "$OUT" | awk '{printf "      %10s  %s\n", $3, $4}' | grep -v '/images/' | head -25
main_aws s3 cp --quiet "${OUT}_manifest.json" "$WORK/manifest.json"
node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`   _manifest.json (uploaded last): ${m.files.length} files, complete=${m.complete}, ODM success=${m.jobSuccess}, ended by ${m.endedBy}`);
  for (const f of m.files.slice(0, 3)) console.log(`      ${f.path}  ${f.size} bytes  crc32=${f.crc32}  etag=${f.etag}`);
  console.log("      ...");' "$WORK/manifest.json"

bold "Done in $(( $(date +%s) - T0 )) s. Everything is under $WORK; the server keeps running (test/lab/stop stops it)."
exit $rc
