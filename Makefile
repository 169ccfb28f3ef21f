# vectorpg: PGXS build.
#
#   make && make install             build and install (as root)
#   make installcheck                pg_regress suite on a temporary instance
#   make prove_installcheck          TAP suite (test/t), PROVE_TESTS=... for one file
#
# CI and the README's test command build with
#   PG_CFLAGS="-DUSE_ASSERT_CHECKING -Wall -Wextra -Werror -Wno-unused-parameter"
# (see test/run-tests.sh).  -DVECTORPG_NO_SIMD leaves out the SIMD kernels.

EXTENSION = vectorpg
EXTVERSION = 0.1.0

MODULE_big = vectorpg
# Every C file in src/ is part of the module: one file per concern, see
# DEVELOPERS.md for which is which
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
MODULE_HEADERS = $(wildcard src/*.h)
HEADERS = src/vectorpg.h src/hnsw.h

# libcurl and cJSON (Debian: libcurl4-openssl-dev, libcjson-dev) for the
# remote clients.  libcurl is compiled against but not linked: the first
# remote request loads it (src/remote_curl.h)
PG_CPPFLAGS += -I/usr/include/cjson
SHLIB_LINK += -lcjson


# The install script is built from sql/vectorpg.sql (the type and the
# index) followed by the parts in sql/install/, in file-name order; each part
# is one concern (collections and batches, remote transport, the FDW, ...)
INSTALL_SQL = sql/$(EXTENSION).sql $(sort $(wildcard sql/install/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql

# pg_regress: sql/<name>.sql against expected/<name>.out, on a temporary
# instance so that no running server is needed
REGRESS = \
	vector_io \
	vector_functions \
	vector_operators \
	vector_casts \
	vector_aggregates \
	vector_boundaries \
	vector_errors \
	vector_copy \
	hnsw_options \
	hnsw_storage \
	hnsw_updates \
	remote_options \
	fdw_plan \
	batch_collections \
	batch_writes \
	batch_parallel \
	batch_search \
	batch_filter \
	batch_doc \
	fdw_modify
REGRESS_OPTS = --load-extension=$(EXTENSION) --temp-instance=tmp_regress \
	--temp-config=test/regress.conf

# TAP tests live in test/t; prove_installcheck below runs them
PROVE_TESTS ?= test/t/*.pl
# override: run-tests.sh sets PROVE_FLAGS on make's command line
override PROVE_FLAGS += -I $(CURDIR)/test/perl

EXTRA_CLEAN = sql/$(EXTENSION)--$(EXTVERSION).sql tmp_check tmp_regress results regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_SQL)
	cat $^ > $@

.PHONY: prove_installcheck
prove_installcheck:
	$(prove_installcheck)

# PGXS does not track header dependencies: every object depends on every
# module header, so a struct change never leaves a stale object behind
$(OBJS): $(MODULE_HEADERS)
