#!/usr/bin/env bash
# rgw-topic.sh — create (or update) a Ceph RGW notification topic that pushes to an HTTP endpoint; prints its ARN.
# Usage: S3_ENDPOINT=http://127.0.0.1:9000 S3_ACCESS_KEY=... S3_SECRET_KEY=... rgw-topic.sh NAME PUSH_URL [persistent]
# Uses RGW's SNS-compatible API on the S3 endpoint, signed with SigV4 by curl (service "sns").
set -euo pipefail
NAME=${1:?topic name}
PUSH=${2:?push endpoint URL}
PERSISTENT=${3:-false}
: "${S3_ENDPOINT:?}" "${S3_ACCESS_KEY:?}" "${S3_SECRET_KEY:?}"
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
BODY="Action=CreateTopic&Name=$(enc "$NAME")&Attributes.entry.1.key=push-endpoint&Attributes.entry.1.value=$(enc "$PUSH")&Attributes.entry.2.key=persistent&Attributes.entry.2.value=$PERSISTENT"
# RGW checks the payload hash of SNS requests (UNSIGNED-PAYLOAD is refused).
HASH=$(printf %s "$BODY" | sha256sum | cut -d' ' -f1)
OUT=$(curl -fsS --aws-sigv4 "aws:amz:${S3_REGION:-us-east-1}:sns" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
  -H "x-amz-content-sha256: $HASH" -H "Content-Type: application/x-www-form-urlencoded" \
  -X POST "$S3_ENDPOINT/" --data-binary "$BODY")
ARN=$(sed -n 's:.*<TopicArn>\(.*\)</TopicArn>.*:\1:p' <<<"$OUT")
[[ -n "$ARN" ]] || { echo "rgw-topic: no ARN in answer: $OUT" >&2; exit 1; }
echo "$ARN"
