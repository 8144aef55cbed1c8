/* test_resolve.c: a remote plugin's endpoints as its names resolve again
 * (gb_resolve.c): new addresses become endpoints, gone ones leave, one
 * that stays keeps its endpoint (and idle connections), a failed lookup
 * keeps what there is. Addresses are IP literals, which resolve without
 * DNS; changing them between resolutions stands for a name whose answer
 * changed (tests/remote_test.go resolves real names). */
#include <apr_pools.h>
#include <apr_strings.h>
#include <check.h>

#include "gb_config.h"
#include "gb_conn.h"
#include "gb_remote.h"
#include "gb_resolve.h"
#include "tests.h"

/* gb_resolve_child_init's only caller of the configuration, not used by
 * these tests. */
gb_srv_conf *gb_config_sget(server_rec *s)
{
    (void)s;
    return NULL;
}

static apr_pool_t *rp;
static gb_plugin pl;
static gb_remote rm;

/* Sets the plugin's addresses to the given hosts on port 7443. */
static void hosts(int n, const char *const *h)
{
    int i;

    rm.addrs = apr_array_make(rp, n, sizeof(gb_remote_addr));
    for (i = 0; i < n; i++) {
        gb_remote_addr *a = apr_array_push(rm.addrs);

        a->host = h[i];
        a->port = 7443;
        a->text = apr_psprintf(rp, "%s:7443", h[i]);
    }
}

static const char *label(gb_endpoint **eps, int i)
{
    return gb_conn_endpoint_path(eps[i]);
}

START_TEST(resolve_follows_the_names)
{
    static const char *const one[] = {"10.0.0.1"};
    static const char *const moved[] = {"10.0.0.2"};
    static const char *const both[] = {"10.0.0.2", "10.0.0.1"};
    static const char *const bad[] = {"10.0.0.2", "name.invalid"};
    gb_endpoint **eps, *first, *second;
    int n;

    apr_pool_create(&rp, NULL);
    memset(&pl, 0, sizeof(pl));
    memset(&rm, 0, sizeof(rm));
    pl.name = "remote";
    pl.file = "test.conf";
    pl.remote = &rm;
    rm.names = 1;
    rm.resolve = apr_time_from_sec(30);
    hosts(1, one);
    gb_resolve_post_config(rp, NULL, &pl);
    ck_assert_int_eq(pl.nendpoints, 1);
    ck_assert_int_eq(gb_resolve_live_init(rp, &pl), APR_SUCCESS);
    eps = gb_resolve_endpoints(NULL, &pl, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(label(eps, 0), "10.0.0.1:7443 (10.0.0.1)");
    first = eps[0];

    /* Unchanged: the same set. */
    ck_assert_int_eq(gb_resolve_now(NULL, &pl), 0);
    ck_assert_ptr_eq(gb_resolve_endpoints(NULL, &pl, &n)[0], first);

    /* The instance moved: a new endpoint replaces it. */
    hosts(1, moved);
    ck_assert_int_eq(gb_resolve_now(NULL, &pl), 1);
    eps = gb_resolve_endpoints(NULL, &pl, &n);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(label(eps, 0), "10.0.0.2:7443 (10.0.0.2)");
    second = eps[0];

    /* One more: both, and the old address gets its endpoint back. */
    hosts(2, both);
    ck_assert_int_eq(gb_resolve_now(NULL, &pl), 1);
    eps = gb_resolve_endpoints(NULL, &pl, &n);
    ck_assert_int_eq(n, 2);
    ck_assert_ptr_eq(eps[0], second);
    ck_assert_ptr_eq(eps[1], first);

    /* Same addresses in another order (round-robin DNS): unchanged. */
    hosts(2, (const char *const[]){"10.0.0.1", "10.0.0.2"});
    ck_assert_int_eq(gb_resolve_now(NULL, &pl), 0);

    /* A lookup that fails keeps what there is. */
    hosts(2, bad);
    ck_assert_int_eq(gb_resolve_now(NULL, &pl), 0);
    eps = gb_resolve_endpoints(NULL, &pl, &n);
    ck_assert_int_eq(n, 2);

    /* All down calls for a resolution at most once a second. */
    hosts(1, one);
    ck_assert_int_eq(gb_resolve_all_down(NULL, &pl), 0);
    eps = gb_resolve_endpoints(NULL, &pl, &n);
    ck_assert_int_eq(n, 2);
    apr_pool_destroy(rp);
}
END_TEST

Suite *gb_test_resolve_suite(void)
{
    Suite *s = suite_create("resolve");
    TCase *tc = tcase_create("resolve");

    tcase_add_test(tc, resolve_follows_the_names);
    suite_add_tcase(s, tc);
    return s;
}
