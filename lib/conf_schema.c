/*
 * NAME
 *	conf_schema 3 - the option tables of sluice.conf
 * DESCRIPTION
 *	Shared sections are defined here: top-level options, redis, domain,
 *	category and tenant. Each program's own section comes from its file
 *	(conf_milter.c, conf_policyd.c, conf_feedback.c, conf_logd.c). See doc/sluice.conf.5.
 */
#include "config.h"

#include <confuse.h>

#include "conf_schema.h"

extern cfg_opt_t sl_conf_milter_opts[];
extern cfg_opt_t sl_conf_policyd_opts[];
extern cfg_opt_t sl_conf_feedback_opts[];
extern cfg_opt_t sl_conf_logd_opts[];

static cfg_opt_t redis_opts[] = {
	CFG_STR("socket", "", CFGF_NONE),
	CFG_STR("host", "127.0.0.1", CFGF_NONE),
	CFG_INT("port", 6379, CFGF_NONE),
	CFG_STR("user", "", CFGF_NONE),
	CFG_STR("password", "", CFGF_NONE),
	CFG_STR("password_file", "", CFGF_NONE),
	CFG_INT("db", 0, CFGF_NONE),
	CFG_STR("prefix", "sluice:", CFGF_NONE),
	CFG_INT("connect_timeout", 1000, CFGF_NONE),
	CFG_INT("command_timeout", 1000, CFGF_NONE),
	CFG_STR_LIST("sentinels", "{}", CFGF_NONE),
	CFG_STR("master_name", "mymaster", CFGF_NONE),
	CFG_STR("sentinel_user", "", CFGF_NONE),
	CFG_STR("sentinel_password_file", "", CFGF_NONE),
	CFG_STR_LIST("cluster_nodes", "{}", CFGF_NONE),
	CFG_END()
};

/* dkim "selector" { algorithm = rsa-sha256 | ed25519-sha256; key = file } */
static cfg_opt_t dkim_opts[] = {
	CFG_STR("algorithm", "rsa-sha256", CFGF_NONE),
	CFG_STR("key", "", CFGF_NONE),
	CFG_END()
};

static cfg_opt_t domain_opts[] = {
	CFG_STR("default_category", "", CFGF_NONE),
	CFG_BOOL("sign_parent", cfg_false, CFGF_NONE),
	CFG_SEC("dkim", dkim_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

static cfg_opt_t category_opts[] = {
	CFG_STR("subdomain", "", CFGF_NONE),
	CFG_BOOL("rewrite_from", cfg_false, CFGF_NONE),
	CFG_BOOL("list_unsubscribe", cfg_false, CFGF_NONE),
	CFG_STR("list_unsubscribe_existing", "replace", CFGF_NONE),
	CFG_STR("unsubscribe_url", "", CFGF_NONE),
	CFG_STR("feedback_type", "", CFGF_NONE),
	CFG_BOOL("sign_parent", cfg_false, CFGF_NONE),
	CFG_STR_LIST("sign_domains", "{}", CFGF_NONE),
	CFG_STR("transport", "", CFGF_NONE),	/* master.cf service (sluicectl transports) */
	CFG_END()
};

static cfg_opt_t tenant_opts[] = {
	CFG_STR("subdomain", "", CFGF_NONE),
	CFG_STR_LIST("domains", "{}", CFGF_NONE),
	CFG_STR_LIST("sasl_users", "{}", CFGF_NONE),
	CFG_STR("default_category", "", CFGF_NONE),
	CFG_STR("sender_id", "", CFGF_NONE),
	CFG_STR_LIST("clients", "{}", CFGF_NONE),	/* tenant_map.c */
	CFG_STR_LIST("client_ports", "{}", CFGF_NONE),
	CFG_BOOL("require_tls", cfg_false, CFGF_NONE),
	CFG_STR("allowed_senders", "", CFGF_NONE),
	CFG_STR("transport", "", CFGF_NONE),
	CFG_END()
};

/* An outgoing transport's source address and HELO name (sluicectl transports). */
static cfg_opt_t transport_opts[] = {
	CFG_STR("bind_address", "", CFGF_NONE),
	CFG_STR("bind_address6", "", CFGF_NONE),
	CFG_STR("helo_name", "", CFGF_NONE),
	CFG_END()
};

/* The suppression layout every program reads and writes (keyspace_supp.c, doc/redis-keys.md). */
static cfg_opt_t suppression_opts[] = {
	CFG_STR("layout", "hash", CFGF_NONE),
	CFG_INT("buckets", 4096, CFGF_NONE),
	CFG_BOOL("migrating", cfg_false, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t top_opts[] = {
	CFG_STR("log_level", "info", CFGF_NONE),
	CFG_STR("user", "", CFGF_NONE),
	CFG_STR("secret_file", "", CFGF_NONE),
	CFG_INT("token_lifetime_days", 30, CFGF_NONE),
	CFG_STR_LIST("internal_networks", "{127.0.0.0/8, ::1/128}", CFGF_NONE),
	CFG_SEC("redis", redis_opts, CFGF_NONE),
	CFG_SEC("suppression", suppression_opts, CFGF_NONE),
	CFG_SEC("domain", domain_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("category", category_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("tenant", tenant_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("transport", transport_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("milter", sl_conf_milter_opts, CFGF_NONE),
	CFG_SEC("policyd", sl_conf_policyd_opts, CFGF_NONE),
	CFG_SEC("feedback", sl_conf_feedback_opts, CFGF_NONE),
	CFG_SEC("logd", sl_conf_logd_opts, CFGF_NONE),
	CFG_END()
};

/* sl_conf_schema - the top-level option table */
cfg_opt_t *
sl_conf_schema(void)
{
	return top_opts;
}
