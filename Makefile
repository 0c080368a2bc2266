# mail2ticket — one non-recursive Makefile.
#   make            release build, ./mail2ticket
#   make deps       install missing Debian packages
#   make test       everything the tests need, then unit + integration tests
#   make demo       throw-away PostgreSQL + Dovecot, sample mail, one run
#   make bench      end-to-end throughput vs. a bare IMAP fetch
#   make bench-quotes  quote/signature stripping: accuracy on the corpus, speed
#   make bench-daemon  CPU of one daemon running 1,000 jobs every minute
#   make bench-idle    push latency: delivery to ticket with schedule: idle
#   make bench-isolation  100 accounts, 0/1/10 of them stalled: delay of the others
#   make fuzz       libFuzzer targets (clang)
#   make asan       sanitizer build used by the tests

CC      ?= cc
PKGS    := gmime-3.0 libpq libpcre2-8 yaml-0.1 openssl libxml-2.0 libytnef libgsasl \
           libcurl jansson libmicrohttpd
PKG_CFLAGS := $(patsubst -I%,-isystem %,$(shell pkg-config --cflags $(PKGS) 2>/dev/null))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -std=c17 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wcast-qual -Wvla -Wwrite-strings -Wformat=2 -fno-common -Werror
HARDEN  := -fstack-protector-strong -D_FORTIFY_SOURCE=2
BASE_CFLAGS := $(WARN) -D_GNU_SOURCE -I. -Ibuild/gen -MMD -MP $(PKG_CFLAGS)

REL_CFLAGS  := $(BASE_CFLAGS) $(HARDEN) -O2 -g
ASAN_CFLAGS := $(BASE_CFLAGS) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=undefined -DM2T_FAULTS
ASAN_LDFLAGS := -fsanitize=address,undefined
LDLIBS  := $(PKG_LIBS) -lpthread -lm

MODULES := engine/util engine/net engine/auth engine/fetch engine/mime engine/sched \
           engine/http engine/config engine/job engine/cli rules storage
ALL_SRCS := $(wildcard $(addsuffix /*.c,$(MODULES)))
MAIN_SRC := engine/cli/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(ALL_SRCS)) build/gen/migrations_embed.c \
            build/gen/packs_embed.c
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
PACKS := $(sort $(wildcard rules/packs/*.yaml))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
# bench tools, and test servers the integration tests start (tests/tools)
TOOL_SRCS := $(wildcard tests/bench/*.c tests/tools/*.c)

obj = $(patsubst %.c,build/$(1)/%.o,$(2))
REL_LIB_OBJS  := $(call obj,rel,$(LIB_SRCS))
ASAN_LIB_OBJS := $(call obj,asan,$(LIB_SRCS))
UNIT_BINS := $(patsubst tests/unit/%.c,build/asan/tests/%,$(UNIT_SRCS))
VG_BINS   := $(patsubst tests/unit/%.c,build/rel/tests/%,$(UNIT_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
TOOL_BINS := $(patsubst %.c,build/rel/tools/%,$(notdir $(TOOL_SRCS)))

.PHONY: all asan unit-tests tools deps test demo bench bench-quotes bench-daemon bench-idle \
	bench-isolation fuzz clean \
	check-clang valgrind
# keep the objects of test and tool binaries between runs
.SECONDARY:
all: mail2ticket

build/gen/migrations_embed.c: $(MIGRATIONS) storage/embed-migrations.sh
	@mkdir -p $(dir $@)
	$(Q)sh storage/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

build/gen/packs_embed.c: $(PACKS) rules/embed-packs.sh
	@mkdir -p $(dir $@)
	$(Q)sh rules/embed-packs.sh $(PACKS) > $@.tmp && mv $@.tmp $@

# V=1 shows the full command lines.
ifeq ($(V),1)
Q :=
else
Q := @
endif

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(REL_CFLAGS) -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC asan $<")
	$(Q)$(CC) $(ASAN_CFLAGS) -c $< -o $@

build/rel/libm2t.a: $(REL_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

build/asan/libm2t.a: $(ASAN_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

mail2ticket: build/rel/$(MAIN_SRC:.c=.o) build/rel/libm2t.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

build/asan/mail2ticket: build/asan/$(MAIN_SRC:.c=.o) build/asan/libm2t.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LDLIBS)

build/asan/tests/%: build/asan/tests/unit/%.o build/asan/libm2t.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ASAN_LDFLAGS) -o $@ $^ $(LDLIBS)

# The unit tests again without sanitizers, for valgrind.
build/rel/tests/%: build/rel/tests/unit/%.o build/rel/libm2t.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

build/rel/tools/%: build/rel/tests/bench/%.o build/rel/libm2t.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

build/rel/tools/%: build/rel/tests/tools/%.o build/rel/libm2t.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

asan: build/asan/mail2ticket
unit-tests: $(UNIT_BINS)
tools: $(TOOL_BINS)

# libFuzzer targets: clang only, built from the sources directly.
FUZZ_CFLAGS := $(BASE_CFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined
build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS)
fuzz: $(FUZZ_BINS)

deps:
	@sh tests/scripts/deps.sh

test: deps
	@$(MAKE) --no-print-directory mail2ticket asan unit-tests tools check-clang
	@sh tests/run-tests.sh

demo: deps
	@$(MAKE) --no-print-directory mail2ticket
	@sh examples/demo.sh

# throughput and cost end to end, then push latency (schedule: idle)
bench: deps
	@$(MAKE) --no-print-directory mail2ticket tools
	@bash tests/bench/bench.sh
	@bash tests/bench/bench_idle.sh

# accuracy of the default preprocessing pipeline on the quote corpus, and its speed
bench-quotes:
	@$(MAKE) --no-print-directory mail2ticket tools
	@bash tests/bench/bench-quotes.sh

bench-daemon: deps
	@$(MAKE) --no-print-directory mail2ticket
	@bash tests/bench/bench_daemon.sh

bench-idle: deps
	@$(MAKE) --no-print-directory mail2ticket tools
	@bash tests/bench/bench_idle.sh

bench-isolation: deps
	@$(MAKE) --no-print-directory mail2ticket tools
	@bash tests/bench/bench_isolation.sh

valgrind: deps
	$(MAKE) $(VG_BINS)
	@sh tests/scripts/valgrind-units.sh $(VG_BINS)

# The same sources must build clean under clang as well as gcc.
# (-fsyntax-only: clang's warnings come from its front end, and gcc's objects stay as they are)
check-clang: build/gen/migrations_embed.c build/gen/packs_embed.c
	@$(if $(Q),echo "  CLANG   -fsyntax-only on every source")
	$(Q)clang $(subst -MMD -MP,,$(REL_CFLAGS)) -fsyntax-only $(ALL_SRCS) $(UNIT_SRCS) $(TOOL_SRCS)

clean:
	rm -rf build mail2ticket

# (build/debs holds unpacked Debian packages, whose directories may end in .d)
-include $(shell find build -path build/debs -prune -o -name '*.d' -type f -print 2>/dev/null)
