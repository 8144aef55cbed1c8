# mod_gobridge/test/module.mk: unit tests of the module's own pure parts
# (gb_response header validation, gb_config create/merge and directive
# parsing, gb_mutate phase-answer validation, gb_stats counters). No httpd, no Check: a small TAP runner. Kept apart from the
# transport tests' Makefile so the two can change independently.
#
#   make -f module.mk check-module

CC        ?= cc
APXS      ?= apxs
HTTPD_INC := $(shell $(APXS) -q INCLUDEDIR 2>/dev/null || echo /usr/include/apache2)
APR_CFLAGS := $(shell apr-1-config --cflags --cppflags --includes) \
              $(shell apu-1-config --includes)
APR_LIBS  := $(shell apr-1-config --link-ld --libs) \
             $(shell apu-1-config --link-ld --libs)

MB         = build-module
MCFLAGS    = -g -O1 -Wall -Wextra
MCPPFLAGS  = -I.. -I../gen -I$(HTTPD_INC) $(APR_CFLAGS) \
             $(shell pkg-config --cflags libprotobuf-c openssl)
MLIBS      = $(APR_LIBS) $(shell pkg-config --libs libprotobuf-c openssl)
MUNITS     = gb_response gb_config gb_remote gb_tls gb_pb gb_stats
MOBJS      = $(MUNITS:%=$(MB)/%.o) $(MB)/test_module.o $(MB)/gobridge.pb-c.o

.PHONY: check-module clean-module

check-module: $(MB)/test_module $(MB)/test_mutate
	./$(MB)/test_module
	./$(MB)/test_mutate

$(MB):
	mkdir -p $@

$(MB)/%.o: ../%.c $(wildcard ../gb_*.h ../gen/gobridge/v1/*.pb-c.h) | $(MB)
	$(CC) $(MCPPFLAGS) $(MCFLAGS) -c $< -o $@

$(MB)/test_module.o: test_module.c $(wildcard ../gb_*.h ../gen/gobridge/v1/*.pb-c.h) | $(MB)
	$(CC) $(MCPPFLAGS) $(MCFLAGS) -c $< -o $@

$(MB)/gobridge.pb-c.o: ../gen/gobridge/v1/gobridge.pb-c.c | $(MB)
	$(CC) $(MCPPFLAGS) -g -O1 -c $< -o $@

$(MB)/test_module: $(MOBJS)
	$(CC) $(MCFLAGS) -o $@ $(MOBJS) $(MLIBS)

# gb_mutate: what a phase plugin may change (test_mutate.c).
XOBJS      = $(MB)/gb_mutate.o $(MB)/gb_response.o $(MB)/gb_pb.o \
             $(MB)/test_mutate.o $(MB)/gobridge.pb-c.o

$(MB)/test_mutate.o: test_mutate.c $(wildcard ../gb_*.h ../gen/gobridge/v1/*.pb-c.h) | $(MB)
	$(CC) $(MCPPFLAGS) $(MCFLAGS) -c $< -o $@

$(MB)/test_mutate: $(XOBJS)
	$(CC) $(MCFLAGS) -o $@ $(XOBJS) $(MLIBS)

clean-module:
	rm -rf $(MB)
