/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics: the Prometheus text exposition format (version 0.0.4), built on each scrape
 * from the containers' cgroup counters (read then, never polled) and from ctd's own request
 * accounting, which http.c feeds once per reply. Label values are escaped as the format
 * says (backslash, double quote, newline); every family has its HELP and TYPE, and all of a
 * family's samples are written together. */
#include <dirent.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "config.h"
#include "ctd.h"

#define METRICS_MAX_SERIES 64 /* distinct (method, code) pairs; more go to code "other" */

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				 0.1,	 0.25,	0.5,	1,     2.5,  5,	    10};

static struct {
	enum http_method method;
	unsigned code; /* 0: "other" */
	uint64_t count;
} series[METRICS_MAX_SERIES];
static size_t n_series;
static uint64_t bucket_counts[ARRAY_SIZE(buckets)];
static uint64_t duration_count;
static double duration_sum;

uint64_t metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void metrics_http_request(enum http_method m, unsigned status, uint64_t start_ns)
{
	double secs = start_ns ? (double)(metrics_now_ns() - start_ns) / 1e9 : 0;
	size_t i;

	for (i = 0; i < n_series; i++)
		if (series[i].method == m && series[i].code == status)
			break;
	if (i == n_series) {
		if (n_series < METRICS_MAX_SERIES - 1) {
			series[n_series].method = m;
			series[n_series].code = status;
			n_series++;
		} else {
			/* The last slot collects whatever does not fit. */
			i = METRICS_MAX_SERIES - 1;
			series[i].method = M_OTHER;
			series[i].code = 0;
			n_series = METRICS_MAX_SERIES;
		}
	}
	series[i].count++;
	for (size_t b = 0; b < ARRAY_SIZE(buckets); b++)
		if (secs <= buckets[b])
			bucket_counts[b]++;
	duration_count++;
	duration_sum += secs;
}

static const char *method_name(enum http_method m)
{
	switch (m) {
	case M_GET:
		return "GET";
	case M_POST:
		return "POST";
	case M_PATCH:
		return "PATCH";
	case M_DELETE:
		return "DELETE";
	case M_PUT:
		return "PUT";
	case M_HEAD:
		return "HEAD";
	default:
		return "other";
	}
}

/* Writes a label value with \\, \" and \n escaped. */
static void put_label(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_ctr(FILE *f, const char *name, const char *ctr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void sample_ctr(FILE *f, const char *name, const char *ctr, const char *fmt, ...)
{
	va_list ap;

	fprintf(f, "%s{container=\"", name);
	put_label(f, ctr);
	fputs("\"} ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

struct ctr_sample {
	struct ctr *c;
	bool have;
	ct_stats st;
	bool have_net;
	ct_net_stats net;
};

static void containers(FILE *f)
{
	size_t n = ctr_count(), i = 0, running = 0, stopping = 0;
	_cleanup_free_ struct ctr_sample *s = calloc(n ?: 1, sizeof(*s));

	if (!s)
		return;
	for (struct ctr *c = ctrs; c && i < n; c = c->next, i++) {
		s[i].c = c;
		if (c->state == CTR_RUNNING) {
			if (c->stopping)
				stopping++;
			else
				running++;
			s[i].have = c->ct && ct_container_stats(c->ct, &s[i].st, NULL) == 0;
			s[i].have_net = c->ct && c->net.mode != CT_NET_NONE &&
					ct_container_net_stats(c->ct, &s[i].net, NULL) == 0;
		}
	}
	n = i;

	family(f, "ct_containers", "gauge", "Containers by state.");
	fprintf(f, "ct_containers{state=\"running\"} %zu\n", running);
	fprintf(f, "ct_containers{state=\"stopping\"} %zu\n", stopping);
	fprintf(f, "ct_containers{state=\"stopped\"} %zu\n", n - running - stopping);

	family(f, "ct_container_running", "gauge", "1 if the container is running, else 0.");
	for (i = 0; i < n; i++)
		sample_ctr(f, "ct_container_running", s[i].c->name, "%d",
			   s[i].c->state == CTR_RUNNING);

	family(f, "ct_container_memory_limit_bytes", "gauge",
	       "Hard memory limit; absent when unlimited.");
	for (i = 0; i < n; i++) {
		const ct_limits *l = &s[i].c->limits;

		if ((l->set & CT_LIM_MEMORY_MAX) && l->memory_max != CT_UNLIMITED)
			sample_ctr(f, "ct_container_memory_limit_bytes", s[i].c->name, "%llu",
				   (unsigned long long)l->memory_max);
	}

	family(f, "ct_container_cpu_seconds_total", "counter",
	       "CPU time used by the running container.");
	for (i = 0; i < n; i++)
		if (s[i].have)
			sample_ctr(f, "ct_container_cpu_seconds_total", s[i].c->name, "%.9f",
				   (double)s[i].st.cpu_usage_ns / 1e9);

	family(f, "ct_container_memory_bytes", "gauge", "Memory in use by the container.");
	for (i = 0; i < n; i++)
		if (s[i].have)
			sample_ctr(f, "ct_container_memory_bytes", s[i].c->name, "%llu",
				   (unsigned long long)s[i].st.memory_current);

	family(f, "ct_container_memory_peak_bytes", "gauge",
	       "Highest memory use since the container started (where the kernel tracks it).");
	for (i = 0; i < n; i++)
		if (s[i].have && s[i].st.memory_peak)
			sample_ctr(f, "ct_container_memory_peak_bytes", s[i].c->name, "%llu",
				   (unsigned long long)s[i].st.memory_peak);

	family(f, "ct_container_swap_bytes", "gauge", "Swap in use by the container.");
	for (i = 0; i < n; i++)
		if (s[i].have)
			sample_ctr(f, "ct_container_swap_bytes", s[i].c->name, "%llu",
				   (unsigned long long)s[i].st.swap_current);

	family(f, "ct_container_pids", "gauge", "Tasks in the container.");
	for (i = 0; i < n; i++)
		if (s[i].have)
			sample_ctr(f, "ct_container_pids", s[i].c->name, "%llu",
				   (unsigned long long)s[i].st.pids_current);

	/* As cAdvisor names them (container_network_*), seen from the container. */
	static const struct {
		const char *name, *help;
		size_t off;
	} net[] = {
		{"ct_container_network_receive_bytes_total", "Bytes received by the container.",
		 offsetof(ct_net_stats, rx_bytes)},
		{"ct_container_network_receive_packets_total", "Packets received by the container.",
		 offsetof(ct_net_stats, rx_packets)},
		{"ct_container_network_receive_packets_dropped_total",
		 "Packets to the container that were dropped.", offsetof(ct_net_stats, rx_dropped)},
		{"ct_container_network_transmit_bytes_total", "Bytes sent by the container.",
		 offsetof(ct_net_stats, tx_bytes)},
		{"ct_container_network_transmit_packets_total", "Packets sent by the container.",
		 offsetof(ct_net_stats, tx_packets)},
		{"ct_container_network_transmit_packets_dropped_total",
		 "Packets from the container that were dropped (e.g. over its rate).",
		 offsetof(ct_net_stats, tx_dropped)},
	};
	for (size_t k = 0; k < ARRAY_SIZE(net); k++) {
		family(f, net[k].name, "counter", net[k].help);
		for (i = 0; i < n; i++) {
			const char *base = (const char *)&s[i].net;
			uint64_t v;

			if (!s[i].have_net)
				continue;
			memcpy(&v, base + net[k].off, sizeof(v));
			sample_ctr(f, net[k].name, s[i].c->name, "%llu", (unsigned long long)v);
		}
	}

	family(f, "ct_container_oom_kills_total", "counter",
	       "Processes killed by the OOM killer in the container since it started.");
	for (i = 0; i < n; i++)
		if (s[i].have)
			sample_ctr(f, "ct_container_oom_kills_total", s[i].c->name, "%llu",
				   (unsigned long long)s[i].st.oom_kills);
}

static void http_requests(FILE *f)
{
	uint64_t cum = 0;

	family(f, "ctd_http_requests_total", "counter",
	       "API requests answered, by method and code.");
	for (size_t i = 0; i < n_series; i++) {
		if (series[i].code)
			fprintf(f, "ctd_http_requests_total{method=\"%s\",code=\"%u\"} %llu\n",
				method_name(series[i].method), series[i].code,
				(unsigned long long)series[i].count);
		else
			fprintf(f,
				"ctd_http_requests_total{method=\"other\",code=\"other\"} %llu\n",
				(unsigned long long)series[i].count);
	}

	family(f, "ctd_http_request_duration_seconds", "histogram",
	       "Time from a request's arrival to its reply being queued.");
	for (size_t b = 0; b < ARRAY_SIZE(buckets); b++) {
		cum = bucket_counts[b]; /* already cumulative: counted in every bucket it fits */
		fprintf(f, "ctd_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", buckets[b],
			(unsigned long long)cum);
	}
	fprintf(f, "ctd_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)duration_count);
	fprintf(f, "ctd_http_request_duration_seconds_sum %.9f\n", duration_sum);
	fprintf(f, "ctd_http_request_duration_seconds_count %llu\n",
		(unsigned long long)duration_count);
}

static void process(FILE *f)
{
	_cleanup_fclose_ FILE *statm = fopen("/proc/self/statm", "re");
	unsigned long long size, resident;
	DIR *d;
	long fds = 0;

	family(f, "ctd_build_info", "gauge", "ctd's version, as a label; always 1.");
	fputs("ctd_build_info{version=\"", f);
	put_label(f, CT_VERSION);
	fputs("\",libct_version=\"", f);
	put_label(f, ct_version());
	fputs("\"} 1\n", f);

	if (statm && fscanf(statm, "%llu %llu", &size, &resident) == 2) {
		family(f, "ctd_resident_memory_bytes", "gauge", "ctd's resident memory.");
		fprintf(f, "ctd_resident_memory_bytes %llu\n",
			resident * (unsigned long long)sysconf(_SC_PAGESIZE));
	}
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;

		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				fds++;
		closedir(d);
		family(f, "ctd_open_fds", "gauge", "File descriptors open in ctd.");
		fprintf(f, "ctd_open_fds %ld\n", fds - 1); /* minus the one of the listing */
	}
	family(f, "ctd_event_subscribers", "gauge", "Clients of GET /v1/events.");
	fprintf(f, "ctd_event_subscribers %zu\n", events_subscribers());
	family(f, "ctd_events_total", "counter", "Events emitted since ctd started.");
	fprintf(f, "ctd_events_total %llu\n", (unsigned long long)events_emitted());
}

void metrics_handle(struct request *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct MHD_Response *resp;

	if (!f) {
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	containers(f);
	http_requests(f);
	process(f);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		reply_error(r, 500, "internal", "out of memory");
		return;
	}
	resp = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(buf);
		reply_error(r, 500, "internal", "cannot create the response");
		return;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/plain; version=0.0.4; charset=utf-8");
	reply_raw(r, 200, resp);
}
