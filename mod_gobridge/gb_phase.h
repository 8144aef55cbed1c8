/* gb_phase.h: the non-body request phases (GoBridge<Phase>Handler), one
 * generic harness and a thin hook function per httpd hook.
 *
 * For each configured plugin, in order, the harness sends one unary Phase
 * call (docs/architecture.md §5) with the request snapshot, validates the
 * whole answer (gb_mutate.c), applies it to the request and maps the
 * plugin's result to the hook's return code with httpd's chaining rule for
 * that hook: in "first" hooks an OK ends the phase, in "all" hooks the
 * next plugin still runs; DECLINED passes on; DONE or an HTTP status ends
 * the request. A plugin that cannot be asked, or answers something invalid,
 * ends the request with 503 or 500 (access, authn and authz fail closed
 * this way); in the log phase failures are only logged.
 */
#ifndef GB_PHASE_H
#define GB_PHASE_H

#include <httpd.h>

int gb_phase_post_read_request(request_rec *r);
int gb_phase_translate_name(request_rec *r);
int gb_phase_map_to_storage(request_rec *r);
int gb_phase_header_parser(request_rec *r);
int gb_phase_access(request_rec *r);        /* ap_hook_check_access_ex */
int gb_phase_authn(request_rec *r);         /* ap_hook_check_authn */
int gb_phase_authz(request_rec *r);         /* ap_hook_check_authz */
int gb_phase_type_checker(request_rec *r);
int gb_phase_fixups(request_rec *r);
int gb_phase_log(request_rec *r);

/* GoBridgeFileWalk Off. httpd resets the per-directory configuration to
 * the server's before map_to_storage, so the setting is read by a
 * translate_name hook that runs before any other and declines; the
 * map_to_storage hook that runs first then ends that phase for the URL it
 * was read for (after the GoBridgeMapToStorageHandler plugins), so core's
 * <Directory>/<Files>/.htaccess walk and its stat calls never run — what
 * mod_proxy does for the URLs ProxyPass serves. */
int gb_phase_note_file_walk(request_rec *r);
int gb_phase_skip_file_walk(request_rec *r);

/* handler hook (registered first): performs the internal redirect a phase
 * plugin asked for (PhaseResponse.internal_redirect). */
int gb_phase_redirect_handler(request_rec *r);

/**
 * The plugin a phase chose to serve r's content (PhaseRequest's
 * SetGoBridgeHandler), already checked against the GoBridgePlugin lines.
 * @param r the request
 * @return the plugin's name, or NULL when no phase chose one
 */
const char *gb_phase_content_plugin(request_rec *r);

/* A filter a phase added to r (PhaseRequest's AddOutputFilter and
 * friends), already checked to exist. */
typedef struct {
    const char *name;   /* httpd's registered name, or a GoBridgePlugin */
    int output;         /* output filter, else input */
    int gobridge;       /* name is a plugin run as a gobridge body filter */
} gb_phase_filter;

/**
 * The filters phases added to r, in order, for the insert_filter hook.
 * @param r the request
 * @return an array of gb_phase_filter, or NULL when no phase added one
 */
const apr_array_header_t *gb_phase_added_filters(request_rec *r);

/* How long the log phase waits for a plugin at most (GoBridgeTimeout
 * applies when shorter): the response is already sent, but the worker is
 * still held. */
#define GB_PHASE_LOG_TIMEOUT apr_time_from_msec(1000)

#endif /* GB_PHASE_H */
