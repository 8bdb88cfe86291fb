#!/bin/sh
# `make test`: the whole suite twice, normally and under AddressSanitizer +
# UndefinedBehaviorSanitizer, `make demo`, an outside program against the
# installed library, the Python module, the web client in a browser, the
# constant-time check, then every libFuzzer target over its checked-in
# corpus (the Makefile has checked the layers first).
# Ends with one line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0

# run_suite LABEL TESTS FKEX: runs a test binary, adds its counts.
run_suite() {
    echo "==> test suite ($1)"
    out=$(FKEX_BIN="$3" "$2" | tail -n 1)
    echo "$1: $out"
    p=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        echo "$1: the runner crashed or printed no summary"
        failed=$((failed + 1))
        return
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

run_suite normal build/fkex-tests ./fkex

# run_step NAME LOG SUMMARY CMD...: one more check, its output in LOG; on
# success the line SUMMARY lines from the log's end says how it went (0:
# nothing), on failure the log's end and where the rest is.
run_step() {
    name=$1 log=$2 summary=$3
    shift 3
    if "$@" > "$log" 2>&1; then
        [ "$summary" -eq 0 ] || tail -n "$summary" "$log" | head -n 1
        passed=$((passed + 1))
    else
        tail -n 30 "$log"
        echo "$name: failed (the whole run is in $log)"
        failed=$((failed + 1))
    fi
}

# The README promises `make demo` works: the whole system on loopback.
echo "==> make demo (scripts/demo.sh)"
run_step demo build/demo.log 0 sh scripts/demo.sh

echo "==> make install, and a program from outside the tree against it (scripts/install-test.sh)"
run_step install-test build/install-test.log 1 sh scripts/install-test.sh

# The Python module over each shared library: libfkex.so (files and keys;
# no rooms) and libfkex-io.so (rooms too).
for lib in libfkex libfkex-io; do
    echo "==> the Python module over $lib.so (python/test_fkex.py)"
    run_step python build/python-$lib.log 3 \
        env FKEX_LIB=build/$lib.so FKEX_BIN=./fkex python3 python/test_fkex.py
done

# The web client in headless chromium against the real relay and a terminal
# member; its screenshot and figures stay in build/web/.
echo "==> the web client in a real browser (tests/web/e2e.js)"
run_step web build/web-e2e.log 1 node tests/web/e2e.js ./fkex build/wasm/web

echo "==> constant time: secrets marked undefined under valgrind (tests/ctgrind)"
if valgrind -q --error-exitcode=1 --suppressions=tests/ctgrind/ctgrind.supp build/fkex-ctgrind; then
    passed=$((passed + 1))
else
    echo "ctgrind: a branch or an address depends on a secret"
    failed=$((failed + 1))
fi

echo "==> building under ASan and UBSan"
if make -s BUILD=build/asan SAN=1 build/asan/fkex build/asan/fkex-tests; then
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run_suite sanitized build/asan/fkex-tests build/asan/fkex
else
    echo "sanitized build failed"
    failed=$((failed + 1))
fi

echo "==> fuzz targets over their corpora"
if make -s fuzz; then
    for src in fuzz/*.c; do
        name=$(basename "$src" .c)
        corpus="fuzz/corpus/${name#fuzz_}"
        if [ ! -d "$corpus" ] || [ -z "$(ls "$corpus")" ]; then
            echo "fuzz $name: no corpus in $corpus"
            failed=$((failed + 1))
        elif "build/fuzz/$name" -runs=0 "$corpus" >"build/fuzz/$name.log" 2>&1; then
            echo "fuzz $name: $(ls "$corpus" | wc -l) inputs ok"
            passed=$((passed + 1))
        else
            echo "fuzz $name: FAILED (see build/fuzz/$name.log)"
            tail -n 20 "build/fuzz/$name.log"
            failed=$((failed + 1))
        fi
    done
else
    echo "fuzz build failed"
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
