/* main.c: Check runner for the mod_gobridge transport tests. Exits
 * non-zero when any test fails. CK_TAP_LOG_FILE_NAME=- gives TAP output. */
#include <signal.h>
#include <stdlib.h>

#include <apr_general.h>
#include <check.h>

#include "tests.h"

int main(void)
{
    SRunner *sr;
    int failed;

    /* httpd's children ignore SIGPIPE (ap_unixd_mpm_set_signals); so do
     * we, or a write racing the peer's close (close_mid_stream) kills the
     * runner instead of returning EPIPE to the transport. */
    signal(SIGPIPE, SIG_IGN);
    apr_initialize();
    atexit(apr_terminate);
    sr = srunner_create(gb_test_codec_suite());
    srunner_add_suite(sr, gb_test_encode_suite());
    srunner_add_suite(sr, gb_test_transport_suite());
    srunner_add_suite(sr, gb_test_hostile_suite());
    srunner_add_suite(sr, gb_test_resolve_suite());
    srunner_run_all(sr, CK_ENV);   /* CK_VERBOSITY=verbose lists each test */
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
