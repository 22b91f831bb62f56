/* gpufleet usage [--pod ID]: metered usage records and their cost. */
#include "cli/cli_int.h"

#include <string.h>

#include "billing/billing.h"

const char gpf_cli_help_usage[] =
    "usage: gpufleet usage [--pod ID] [--json]\n"
    "\n"
    "Lists usage records (members see their own): who used which slice, for how long,\n"
    "at which price, and the cost so far. Open records count up to now.\n";

struct usage_sum {
    int64_t cost;
    size_t records;
};

static void usage_row(gpf_table *t, const json_t *u, void *arg)
{
    struct usage_sum *sum = arg;
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
    (void)gpf_billing_sum_add(&sum->cost, gpf_cli_int(u, "cost_micro")); /* saturates, never wraps */
    sum->records++;
    const char *row[] = {gpf_cli_str(u, "pod_id"), gpf_cli_str(u, "owner"),
                         gpf_cli_str(u, "project"), gpf_cli_str(u, "sku"),
                         gpf_cli_str(u, "slice_kind"), gpu, gpf_cli_str(u, "host_id"),
                         start, end, dur, price, cost};
    gpf_table_add(t, row);
}

int gpf_cli_cmd_usage(gpf_cli *c)
{
    int rc;
    struct usage_sum sum = {0};
    gpf_buf path = {0};
    const char *pod = gpf_cli_opt(c, "pod");
    char money[48];
    static const char *const hdr[] = {"POD", "OWNER", "PROJECT", "SKU", "SLICE", "GPU",
                                      "HOST", "START", "END", "DURATION", "PRICE/H", "COST"};

    rc = gpf_cli_expect(c, "usage", 1, 0, 0, "pod limit");
    if (rc != 0)
        goto out;
    gpf_buf_puts(&path, "/v1/usage");
    if (pod) {
        gpf_buf_puts(&path, "?pod=");
        gpf_cli_escape(&path, pod);
    }
    rc = gpf_cli_list(c, gpf_buf_cstr(&path), "usage", 12, hdr, usage_row, &sum);
    if (rc != 0 || c->json)
        goto out;
    gpf_cli_format_money(sum.cost, money, sizeof money);
    printf("total cost: %s (%zu records)\n", money, sum.records);
out:
    gpf_buf_clear(&path);
    return rc;
}
