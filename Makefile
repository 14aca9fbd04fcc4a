# heapwatch - find memory leaks in running CPython processes from outside.
#
#   make            build build/heapwatch
#   make check      install what is missing, build, run every test and lint
#   make demo       install what is missing, run a census of a demo target
#   make install    honours PREFIX, DESTDIR, BINDIR, DATADIR, MANDIR,
#                   SYSCONFDIR, LOCALSTATEDIR (the default history path,
#                   under it); dashboards go to DATADIR/heapwatch/dashboards
#   make lint | sanitize | valgrind | fuzz | bench | layouts | dashboards
#   make sid-chroot  the Debian sid chroot (python3.13+, with and without
#                   debug files) the integration tests also run targets in;
#                   cached in /var/cache/heapwatch-test (tests/sid-chroot.sh)
#
# Packagers' CFLAGS, CPPFLAGS and LDFLAGS are honoured: the project's own
# flags are kept apart in HW_* variables and always added.

CC      ?= cc
CFLAGS  ?= -O2 -g
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
SYSCONFDIR ?= /etc
LOCALSTATEDIR ?= /var/lib
UNITDIR ?= /lib/systemd/system
DESTDIR ?=
INSTALL ?= install
# WERROR=1 (or yes, or -Werror): warnings are errors (make check sets it).
WERROR  ?=
SANITIZER ?=

B := build
PKGS := libelf libdw yaml-0.1 sqlite3
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   = $(shell pkg-config --libs check 2>/dev/null)

HW_WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wvla -Wpointer-arith -Wcast-align \
	-Wno-missing-field-initializers
ifneq ($(SANITIZER),)
HW_SAN := -fsanitize=$(SANITIZER) -fno-omit-frame-pointer
B := build-san
endif
HW_CPPFLAGS := -Iinclude -D_GNU_SOURCE -DHW_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-DHW_LOCALSTATEDIR='"$(LOCALSTATEDIR)"'
ifneq ($(filter 1 yes -Werror,$(WERROR)),)
HW_WERROR := -Werror
endif
HW_CFLAGS := -std=gnu11 $(HW_WARN) $(HW_WERROR) -MMD -MP $(HW_SAN)
HW_LDLIBS = $(PKG_LIBS) -lpthread -lm
ALL_CFLAGS = $(HW_CPPFLAGS) $(CPPFLAGS) $(HW_CFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(HW_SAN) $(LDFLAGS)

LIB_SRCS := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/check_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)
UNIT_HELPERS := $(filter-out tests/unit/check_%,$(wildcard tests/unit/*.c))
# Each fuzz target's corpus is replayed by `make check` (built with $(CC),
# no libFuzzer needed); `make fuzz` runs the fuzzers themselves (clang).
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRCS:tests/fuzz/fuzz_%.c=$(B)/tests/check_corpus_%)

.PHONY: all clean check check-unit check-integration demo deps deps-test \
	install uninstall lint sanitize valgrind fuzz bench layouts soak sid-chroot \
	dashboards

all: $(B)/heapwatch

$(B)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libheapwatch.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/heapwatch: $(B)/obj/main.o $(B)/libheapwatch.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(HW_LDLIBS)

$(B)/tests/%: tests/unit/%.c $(UNIT_HELPERS) $(B)/libheapwatch.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests/unit -o $@ $< $(UNIT_HELPERS) \
		$(B)/libheapwatch.a $(ALL_LDFLAGS) $(CHECK_LIBS) $(HW_LDLIBS)

# --- set-up: everything a fresh Debian 12 needs, installed when missing ---
DEPS_BUILD := gcc make pkg-config libelf-dev libdw-dev libyaml-dev libsqlite3-dev check
DEPS_TEST := python3 python3.11-dbg gunicorn valgrind strace binutils dwz graphviz \
	graphite-carbon graphite-web chromium python3-pil \
	systemd procps man-db groff-base
STATSD_VERSION := 0.9.0
deps:
	@sh tests/install-deps.sh $(DEPS_BUILD)
deps-test: deps
	@sh tests/install-deps.sh $(DEPS_TEST)
	@command -v npm >/dev/null || sh tests/install-deps.sh nodejs npm
	@[ -f build/statsd/node_modules/statsd/stats.js ] || { mkdir -p build/statsd && \
		cd build/statsd && npm install --no-audit --no-fund --silent statsd@$(STATSD_VERSION) >/dev/null; }

# --- tests ---
check: deps-test
	@$(MAKE) --no-print-directory WERROR=1 all unit-bins
	@sh tests/sid-chroot.sh ensure
	@sh tests/run-tests.sh $(B)
	@# lint is part of the check: cppcheck, the unit file, the man pages
	@$(MAKE) --no-print-directory lint >/dev/null && echo "PASS lint (cppcheck, systemd-analyze, man)"

# Never fails for a network problem: the tests that need it say SKIP and why.
sid-chroot:
	@sh tests/sid-chroot.sh ensure
	@sh tests/sid-chroot.sh status

$(B)/tests/check_corpus_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(UNIT_HELPERS) $(B)/libheapwatch.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit -DCORPUS='"tests/fuzz/corpus/$*"' -o $@ $< \
		tests/fuzz/replay.c $(UNIT_HELPERS) $(B)/libheapwatch.a $(ALL_LDFLAGS) $(HW_LDLIBS)

# test-only tools the integration tests run (not installed)
TEST_TOOLS := $(B)/tests/hw-objdump
$(B)/tests/hw-objdump: tests/integration/hw_objdump.c $(B)/libheapwatch.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libheapwatch.a $(ALL_LDFLAGS) $(HW_LDLIBS)

unit-bins: $(UNIT_BINS) $(FUZZ_REPLAY) $(TEST_TOOLS)
.PHONY: unit-bins

check-unit: all unit-bins
	@sh tests/run-tests.sh $(B) unit

check-integration: all
	@sh tests/run-tests.sh $(B) integration

demo: deps
	@sh tests/install-deps.sh python3 python3.11-dbg graphviz
	@$(MAKE) --no-print-directory all
	@sh tests/demo.sh $(B)/heapwatch

sanitize:
	@$(MAKE) --no-print-directory SANITIZER=address,undefined all unit-bins
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		sh tests/run-tests.sh build-san unit

valgrind: all
	@sh tests/run-valgrind.sh $(B)/heapwatch

lint: all
	@sh tests/install-deps.sh cppcheck systemd man-db groff-base
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
		--inline-suppr -Iinclude -D_GNU_SOURCE src
	@mkdir -p $(B)/lint && sed 's|@BINDIR@|$(CURDIR)/$(B)|g; s|@SYSCONFDIR@|$(CURDIR)/conf|g' \
		systemd/heapwatch.service > $(B)/lint/heapwatch.service
	systemd-analyze verify --man=no $(B)/lint/heapwatch.service
	systemd-analyze security --offline=true --threshold=35 $(B)/lint/heapwatch.service >/dev/null
	@for m in man/*.[1-8]; do \
		LC_ALL=C.UTF-8 MANROFFSEQ= MANWIDTH=80 man --warnings -E UTF-8 -l $$m >/dev/null || exit 1; done

soak: all
	@/usr/bin/python3 tests/soak/soak.py $(B)/heapwatch

bench: all
	@sh tests/install-deps.sh python3-objgraph python3.11-dbg
	@sh tests/bench/run.sh $(B)/heapwatch

fuzz:
	@sh tests/fuzz/run.sh

# The two dashboards are written from one list of panels; make check
# fails when the shipped files differ from it.
dashboards:
	python3 tools/gen-dashboards.py

layouts: all
	@sh tools/gen-layouts.sh $(B)/heapwatch

# --- install ---
install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/heapwatch \
		$(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 755 $(B)/heapwatch $(DESTDIR)$(BINDIR)/heapwatch
	$(INSTALL) -m 644 man/heapwatch.1 $(DESTDIR)$(MANDIR)/man1/heapwatch.1
	$(INSTALL) -m 644 man/heapwatch.yaml.5 $(DESTDIR)$(MANDIR)/man5/heapwatch.yaml.5
	$(INSTALL) -d $(DESTDIR)$(DATADIR)/heapwatch/dashboards $(DESTDIR)$(DATADIR)/heapwatch/examples
	$(INSTALL) -m 644 dashboards/graphite-web.json dashboards/grafana.json \
		$(DESTDIR)$(DATADIR)/heapwatch/dashboards/
	$(INSTALL) -m 644 conf/graphite/storage-schemas.conf conf/graphite/storage-aggregation.conf \
		conf/graphite/statsd-config.js $(DESTDIR)$(DATADIR)/heapwatch/examples/
	@# never overwrite a configuration someone already edited
	[ -f $(DESTDIR)$(SYSCONFDIR)/heapwatch/heapwatch.yaml ] || $(INSTALL) -m 644 \
		conf/heapwatch.yaml $(DESTDIR)$(SYSCONFDIR)/heapwatch/heapwatch.yaml
	sed 's|@BINDIR@|$(BINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
		systemd/heapwatch.service > $(DESTDIR)$(UNITDIR)/heapwatch.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/heapwatch $(DESTDIR)$(MANDIR)/man1/heapwatch.1 \
		$(DESTDIR)$(MANDIR)/man5/heapwatch.yaml.5 $(DESTDIR)$(UNITDIR)/heapwatch.service
	rm -f $(DESTDIR)$(DATADIR)/heapwatch/dashboards/graphite-web.json \
		$(DESTDIR)$(DATADIR)/heapwatch/dashboards/grafana.json \
		$(DESTDIR)$(DATADIR)/heapwatch/examples/storage-schemas.conf \
		$(DESTDIR)$(DATADIR)/heapwatch/examples/storage-aggregation.conf \
		$(DESTDIR)$(DATADIR)/heapwatch/examples/statsd-config.js
	-rmdir $(DESTDIR)$(DATADIR)/heapwatch/dashboards $(DESTDIR)$(DATADIR)/heapwatch/examples \
		$(DESTDIR)$(DATADIR)/heapwatch 2>/dev/null

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJS:.o=.d) $(B)/obj/main.d
