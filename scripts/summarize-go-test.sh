#!/usr/bin/env bash
# Passes `go test -v` output through and ends with one plain summary line
# ("N passed, N failed, N skipped"), failing when any test failed or when no
# test ran at all. When something failed, the messages the failing tests
# logged are printed again above the summary (long ones cut short), and
# last, right above it, the first line of each: a CI log that keeps only
# its tail still says why.
set -o pipefail
pass=0 fail=0 skip=0 broken=0
current="" inmsg=0
declare -A msgs=() heads=()
failed=()
while IFS= read -r line; do
    printf '%s\n' "$line"
    case "$line" in
        "=== RUN "*|"=== CONT "*|"=== NAME "*|"=== PAUSE "*)
            current=$(printf '%s' "${line#=== * }" | tr -d ' ')
            inmsg=0
            continue ;;
        *"--- PASS:"*) pass=$((pass+1)); inmsg=0; continue ;;
        *"--- FAIL:"*)
            fail=$((fail+1)); inmsg=0
            name=${line#*--- FAIL: }
            failed+=("${name%% *}")
            continue ;;
        *"--- SKIP:"*) skip=$((skip+1)); inmsg=0; continue ;;
        # The package failed (also without a failing test: a panic, a
        # TestMain that gave up, a build error).
        FAIL|FAIL$'\t'*) broken=1; continue ;;
        "panic:"*) broken=1; msgs[panic]+="$line"$'\n'; continue ;;
    esac
    # A test's message is "    file.go:N: text"; its continuation lines
    # are indented further.
    if [[ $line =~ ^[[:space:]]+[A-Za-z0-9_.-]+\.go:[0-9]+:\  ]]; then
        msgs[$current]+="$line"$'\n'
        heads[$current]+="    ${line#"${line%%[![:space:]]*}"}"$'\n'
        inmsg=1
    elif ((inmsg)) && [[ $line =~ ^[[:space:]]{8} ]]; then
        msgs[$current]+="$line"$'\n'
    else
        inmsg=0
    fi
done
if ((fail > 0 || broken)); then
    echo "--- what the failing tests said:"
    for name in "${failed[@]}"; do
        [[ -n ${msgs[$name]:-} ]] || continue
        printf '%s:\n' "$name"
        # An error log dump can run to hundreds of lines; its head and
        # tail are what explain a failure.
        printf '%s' "${msgs[$name]}" | awk '{ l[NR] = $0 } END {
            for (i = 1; i <= NR; i++)
                if (i <= 40 || i > NR - 40) print l[i]
                else if (i == 41) print "        [... " NR - 80 " lines ...]"
        }'
    done
    [[ -n ${msgs[panic]:-} ]] && printf '%s' "${msgs[panic]}" | head -n 40
    echo "--- why, in a line each:"
    for name in "${failed[@]}"; do
        [[ -n ${heads[$name]:-} ]] && printf '%s:\n%s' "$name" "${heads[$name]}" | cut -c1-300
    done
fi
echo "e2e: $pass passed, $fail failed, $skip skipped"
((broken)) && echo "e2e: the test binary failed"
[ "$fail" -eq 0 ] && [ "$broken" -eq 0 ] && [ "$pass" -gt 0 ]
