#!/bin/sh
# Regenerates vswitch.schema.json, the Open_vSwitch database schema rvs embeds, from the schema
# Debian's openvswitch-common installs: the same JSON, compacted, one table per line (so a diff
# names the table that changed). control/src/ovsdb/schema.rs's tests check that the embedded
# file and the installed one agree on every table, column, type and constraint.
#
# Usage: control/schema/vswitch-schema.sh [SCHEMA]   (default /usr/share/openvswitch/vswitch.ovsschema)
set -eu
src=${1:-/usr/share/openvswitch/vswitch.ovsschema}
out=$(dirname "$0")/vswitch.schema.json
{
    printf '{"name":%s,"version":%s,"cksum":%s,"tables":{\n' \
        "$(jq -c .name "$src")" "$(jq -c .version "$src")" "$(jq -c .cksum "$src")"
    jq -r '.tables | to_entries | map((.key | tojson) + ":" + (.value | tojson)) | join(",\n")' "$src"
    printf '}}\n'
} > "$out.tmp"
jq -e . "$out.tmp" > /dev/null
mv "$out.tmp" "$out"
