#!/bin/sh
# run.sh: build every fuzz target with clang's libFuzzer (ASan + UBSan)
# and run each for FUZZ_SECONDS (default 60), starting from the seed
# corpus in the tree; new interesting inputs are added to a scratch copy,
# crashes are kept in build-fuzz/ and make the run fail.
set -eu
secs=${FUZZ_SECONDS:-60}
out=build-fuzz
mkdir -p "$out"
sh tests/install-deps.sh clang libclang-rt-14-dev >/dev/null
srcs=$(ls src/*.c | grep -v src/main.c)
fail=0
for f in tests/fuzz/fuzz_*.c; do
	name=$(basename "$f" .c); name=${name#fuzz_}
	echo "fuzz: building $name"
	clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-Iinclude -Itests/unit -D_GNU_SOURCE $(pkg-config --cflags libelf libdw yaml-0.1) \
		"$f" tests/unit/synth.c $srcs -o "$out/fuzz_$name" \
		$(pkg-config --libs libelf libdw yaml-0.1) -lsqlite3 -lpthread -lm
	rm -rf "$out/corpus_$name"; mkdir -p "$out/corpus_$name"
	cp tests/fuzz/corpus/"$name"/* "$out/corpus_$name/"
	echo "fuzz: running $name for ${secs}s"
	if ! (cd "$out" && ./fuzz_"$name" -max_total_time="$secs" -max_len=70000 \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=crash_"$name"_ corpus_"$name" 2>&1 | \
		grep -E 'stat::number_of_executed_units|Done|ERROR|SUMMARY' ); then
		:
	fi
	if ls "$out"/crash_"$name"_* >/dev/null 2>&1; then
		echo "fuzz: $name: crash inputs in $out/"; fail=1
	fi
done
exit $fail
