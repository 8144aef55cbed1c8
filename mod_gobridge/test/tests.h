/* tests.h: the suites of the transport test runner. */
#ifndef GB_TESTS_H
#define GB_TESTS_H

#include <check.h>

Suite *gb_test_codec_suite(void);
Suite *gb_test_encode_suite(void);
Suite *gb_test_transport_suite(void);
Suite *gb_test_hostile_suite(void);
Suite *gb_test_resolve_suite(void);

#endif
