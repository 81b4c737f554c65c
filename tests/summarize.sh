#!/bin/sh
# summarize.sh - print each failed test's log and one "N passed, N failed" line
#
# Usage: summarize.sh TESTS-BUILD-DIR MAKE-CHECK-STATUS
# Unit test programs count one each (automake .trs files); the integration
# suite counts its pytest tests one each.
dir=$1
status=$2
passed=0
failed=0
skipped=0
for trs in $(find "$dir" -name '*.trs' | sort); do
	log=${trs%.trs}.log
	name=${trs#"$dir"/}
	name=${name%.trs}
	result=$(sed -n 's/^:test-result: //p' "$trs")
	case "$name" in
	integration/run-integration)
		line=$(grep -E '^[=]* ?[0-9]+ (passed|failed|skipped|error)' "$log" | tail -1)
		p=$(echo "$line" | grep -oE '[0-9]+ passed' | cut -d' ' -f1)
		f=$(echo "$line" | grep -oE '[0-9]+ failed' | cut -d' ' -f1)
		e=$(echo "$line" | grep -oE '[0-9]+ errors?' | cut -d' ' -f1)
		s=$(echo "$line" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1)
		passed=$((passed + ${p:-0}))
		failed=$((failed + ${f:-0} + ${e:-0}))
		skipped=$((skipped + ${s:-0}))
		if [ "$result" != PASS ] && [ -z "$f$e" ]; then failed=$((failed + 1)); fi
		echo "integration suite: ${line:-no summary line}"
		[ "$result" = PASS ] || tail -150 "$log"
		;;
	*)
		case "$result" in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)); echo "SKIP: $name" ;;
		*) failed=$((failed + 1)); echo "FAIL: $name"; tail -60 "$log" ;;
		esac
		;;
	esac
done
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
	echo "make check exited $status without a failed test: see $dir/../check.log"
	tail -30 "$dir/../check.log"
	failed=1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ] && [ "$status" = 0 ]
