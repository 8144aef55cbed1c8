#!/bin/sh
# Fails when the module and its documentation have drifted apart:
#   - a GB_APLOGNO code used twice, or missing from docs/error-reference.md;
#   - docs/log-message-tags/next-number not above every code in use;
#   - a directive of the command table without its section in
#     docs/directives.md.
# Run by `make -C mod_gobridge check`; needs only POSIX sh, grep, sed, sort.
set -eu
cd "$(dirname "$0")/../.."
src=mod_gobridge
fail=0

codes=$(grep -oh 'GB_APLOGNO([0-9]*)' "$src"/*.c | sed 's/[^0-9]//g')

dups=$(printf '%s\n' $codes | sort | uniq -d)
for c in $dups; do
    echo "check_drift: GB$c is used by more than one message:" >&2
    grep -n "GB_APLOGNO($c)" "$src"/*.c >&2
    fail=1
done

for c in $(printf '%s\n' $codes | sort -u); do
    if ! grep -q "^| GB$c |" docs/error-reference.md; then
        echo "check_drift: GB$c is not documented in docs/error-reference.md" >&2
        fail=1
    fi
done

next=$(cat docs/log-message-tags/next-number)
max=$(printf '%s\n' $codes | sort -n | tail -1)
if [ "$(echo "$next" | sed "s/^0*//")" -le "$(echo "$max" | sed "s/^0*//")" ]; then
    echo "check_drift: docs/log-message-tags/next-number is $next, but GB$max is in use" >&2
    fail=1
fi

# Directive names: the string literals that open AP_INIT_* entries, and the
# names given to the GB_PHASE_CMD macro.
directives=$(sed -n 's/.*\(AP_INIT_[A-Z0-9_]*\|GB_PHASE_CMD\)("\(GoBridge[A-Za-z]*\)".*/\2/p' \
                 "$src"/mod_gobridge.c | sort -u)
[ -n "$directives" ] || { echo "check_drift: no directives found" >&2; exit 1; }
for d in $directives; do
    if ! grep -q "^## $d\$" docs/directives.md; then
        echo "check_drift: directive $d has no '## $d' section in docs/directives.md" >&2
        fail=1
    fi
done

[ "$fail" -eq 0 ] && echo "check_drift: $(printf '%s\n' $codes | wc -l) log codes and $(echo $directives | wc -w) directives documented"
exit "$fail"
