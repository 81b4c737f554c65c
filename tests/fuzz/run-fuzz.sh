#!/bin/sh
# NAME
#	run-fuzz.sh - run every libFuzzer target for a while (CI and long runs)
# SYNOPSIS
#	tests/fuzz/run-fuzz.sh [TOTAL_SECONDS]     (default 60: CI)
#	tests/fuzz/run-fuzz.sh 3600                (an hour, for a long run)
#	tests/fuzz/run-fuzz.sh --build             (build the libraries only)
# DESCRIPTION
#	Builds the project's libraries with clang -fsanitize=fuzzer-no-link,
#	address,undefined in build-fuzz/ (next to the source tree), links each
#	target tests/fuzz/fuzz_*.c that defines LLVMFuzzerTestOneInput with
#	-fsanitize=fuzzer, and runs it on a copy of its seeds directory
#	(tests/fuzz/<target>_seeds) for TOTAL_SECONDS divided among the
#	targets (-max_total_time). A crash, leak or sanitizer report fails the
#	run; the input that caused it is copied into the target's seeds
#	directory as crash-<sha1> so that the ordinary seed tests (make check,
#	seeds_main.c: a crash-* seed must only not crash) keep it as a
#	regression seed once it is fixed. Commit it.
#	Prints one line per target and exits non-zero when any target failed.
set -u
total=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${SLUICE_FUZZ_BUILD:-$top/build-fuzz}
mkdir -p "$build" && cd "$build" || exit 1
if [ ! -f Makefile ]; then
	[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi >/dev/null 2>&1)
	"$top/configure" -q CC=clang --disable-integration-tests \
		CFLAGS="-g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" >configure.log 2>&1 \
		|| { cat configure.log; exit 1; }
fi
for d in lib policyd milter feedback logd; do
	make -j2 -C "$d" >make-$d.log 2>&1 || { tail -30 make-$d.log; exit 1; }
done
[ "$total" = --build ] && exit 0	# libraries only (.ci/run builds them ahead)
libs="$(pkg-config --libs hiredis libevent libcrypto libconfuse libpsl libidn2 opendkim milter \
	gmime-3.0 libxml-2.0 zlib libzip jansson) $(pkg-config --libs libsystemd 2>/dev/null) -lopendmarc -lspf2 -lresolv -lpthread"
cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -I$top/lib \
	-I$top/policyd -I$top/milter -I$top/feedback -I$top/logd -I$build $(pkg-config --cflags gmime-3.0 libxml-2.0 libconfuse libevent)"
targets=$(grep -l LLVMFuzzerTestOneInput "$top"/tests/fuzz/fuzz_*.c)
n=$(echo "$targets" | wc -l)
each=$(( total / n )); [ "$each" -ge 5 ] || each=5
failed=0
for src in $targets; do
	name=$(basename "$src" .c)
	part=${name#fuzz_}; part=${part%%_*}
	case $part in
	policyd) archive=policyd/libpolicyd.a ;;
	milter) archive=milter/libmilter_core.a ;;
	feedback) archive=feedback/libfeedback.a ;;
	logd) archive=logd/liblogd.a ;;
	token|conf) archive= ;;		# lib/token.c, lib/conf_lex.c: in libsluice.a
	*) echo "$name: no library for part $part"; failed=$((failed + 1)); continue ;;
	esac
	seeds=$top/tests/fuzz/${name}_seeds
	[ -d "$seeds" ] || seeds=$top/tests/fuzz/fuzz_${part}_seeds
	# shellcheck disable=SC2086
	if ! clang $cflags "$src" $archive lib/libsluice.a $libs -o "$name" >"$name.link.log" 2>&1; then
		echo "$name: FAILED to build"; tail -20 "$name.link.log"; failed=$((failed + 1)); continue
	fi
	corpus=$build/$name.corpus
	rm -rf "$corpus" "$build/$name.artifacts" && mkdir -p "$corpus" "$build/$name.artifacts"
	cp "$seeds"/* "$corpus"/ 2>/dev/null
	if ./"$name" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$build/$name.artifacts/" "$corpus" >"$name.log" 2>&1; then
		echo "$name: ok, $(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$name.log" \
			| grep -oE '[0-9]+$') executions in ${each}s"
	else
		failed=$((failed + 1))
		echo "$name: FAILED"; grep -m1 -E "ERROR|SUMMARY" "$name.log"
		for a in "$build/$name.artifacts"/*; do
			[ -f "$a" ] || continue
			cp "$a" "$seeds/crash-$(sha1sum "$a" | cut -c1-16)"
			echo "  regression seed: $seeds/crash-$(sha1sum "$a" | cut -c1-16)"
		done
	fi
done
[ "$failed" = 0 ]
