/* gpufleet usage [--pod ID]: metered usage records and their cost. */
#include "cli/cli_int.h"

#include <string.h>

const char gpf_cli_help_usage[] =
    "usage: gpufleet usage [--pod ID] [--json]\n"
    "\n"
    "Lists usage records (members see their own): who used which slice, for how long,\n"
    "at which price, and the cost so far. Open records count up to now.\n";

int gpf_cli_cmd_usage(gpf_cli *c)
{
    int rc;
    json_t *resp = NULL, *u;
    size_t i;
    int64_t total = 0;
    gpf_table t = {0};
    gpf_buf path = {0};
    const char *pod = gpf_cli_opt(c, "pod");
    char money[48];
    static const char *const hdr[] = {"POD", "OWNER", "PROJECT", "SKU", "SLICE", "GPU",
                                      "HOST", "START", "END", "DURATION", "PRICE/H", "COST"};

    rc = gpf_cli_expect(c, "usage", 1, 0, 0, "pod");
    if (rc != 0)
        goto out;
    gpf_buf_puts(&path, "/v1/usage");
    if (pod) {
        gpf_buf_puts(&path, "?pod=");
        gpf_cli_escape(&path, pod);
    }
    rc = gpf_cli_call(c, "GET", gpf_buf_cstr(&path), NULL, &resp);
    if (rc != 0)
        goto out;
    if (c->json) {
        gpf_cli_print_json(resp);
        goto out;
    }
    gpf_table_init(&t, 12, hdr);
    json_array_foreach(json_object_get(resp, "usage"), i, u) {
        char gpu[32], start[32], end[32], dur[32], price[48], cost[48];
        long long milli = gpf_cli_int(u, "gpu_milli");
        snprintf(gpu, sizeof gpu, "%lld.%03lld", milli / 1000, milli % 1000);
        gpf_cli_time(json_object_get(u, "start_at"), start, sizeof start);
        gpf_cli_time(json_object_get(u, "end_at"), end, sizeof end);
        if (json_is_null(json_object_get(u, "end_at")))
            snprintf(end, sizeof end, "open");
        gpf_cli_duration(gpf_cli_int(u, "duration_ms"), dur, sizeof dur);
        gpf_cli_format_money(gpf_cli_int(u, "price_micro_per_hour"), price, sizeof price);
        gpf_cli_format_money(gpf_cli_int(u, "cost_micro"), cost, sizeof cost);
        total += gpf_cli_int(u, "cost_micro");
        const char *row[] = {gpf_cli_str(u, "pod_id"), gpf_cli_str(u, "owner"),
                             gpf_cli_str(u, "project"), gpf_cli_str(u, "sku"),
                             gpf_cli_str(u, "slice_kind"), gpu, gpf_cli_str(u, "host_id"),
                             start, end, dur, price, cost};
        gpf_table_add(&t, row);
    }
    gpf_cli_print_table(&t);
    gpf_cli_format_money(total, money, sizeof money);
    printf("total cost: %s (%zu records)\n", money, (size_t)(t.nrows - 1));
out:
    json_decref(resp);
    gpf_table_clear(&t);
    gpf_buf_clear(&path);
    return rc;
}
