/*-------------------------------------------------------------------------
 *
 * fdw_option.c
 *	  The options of vectorpg_fdw: one table of every option allowed on
 *	  each catalog (server, user mapping, foreign table, column), the
 *	  validator that enforces it, and RemoteTarget, the resolved options of
 *	  one (server, user mapping, foreign table) that the clients and the
 *	  transport work from.
 *
 * Design, after postgres_fdw's option.c:
 *
 *	- RemoteOptions[] is the only list of options.  Each row names the
 *	  catalog the option belongs to, the kind of value (text, boolean,
 *	  integer with bounds, enum, URL, secret), whether only a superuser may
 *	  set it, and the provider it applies to.  Adding an option is adding a
 *	  row; the validator, the hint listing valid options and the
 *	  documentation table (doc/remote.md) follow from it.
 *	- Unknown or misplaced options fail with ERRCODE_FDW_INVALID_OPTION_NAME
 *	  and a hint listing the options valid in that catalog.  A secret placed
 *	  anywhere but on a user mapping gets its own error and a hint saying
 *	  where it belongs, and its value is never echoed.
 *	- Options that loosen security (a private CA file, plain http:// and
 *	  loopback or private addresses) may be set only by a superuser; anyone
 *	  may set them to their safe value.
 *	- The validator sees the complete option list of the object after the
 *	  change (CREATE or ALTER), so checks that involve two options (a URL
 *	  that needs allow_insecure, a password without a user) are made here.
 *	  What depends on two catalogs (api_key on a Milvus server's mapping) is
 *	  checked when the target is built.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "remote.h"

/* What an option's value must look like */
typedef enum RemoteOptionKind
{
	ROPT_TEXT,					/* any non-empty text */
	ROPT_BOOL,					/* a boolean (defGetBoolean) */
	ROPT_INT,					/* an integer within [min, max] */
	ROPT_ENUM,					/* one of a comma-separated list, any case */
	ROPT_URL,					/* http(s)://host[:port][/path] */
	ROPT_SECRET					/* a secret: user mappings only, never echoed */
} RemoteOptionKind;

/* Which provider an option applies to */
typedef enum RemoteOptionProvider
{
	RPROV_ANY,
	RPROV_PINECONE,
	RPROV_MILVUS
} RemoteOptionProvider;

/* One row of the option table */
typedef struct RemoteOption
{
	const char *name;
	Oid			catalog;		/* ForeignServerRelationId, ... */
	RemoteOptionKind kind;
	int64		min;			/* ROPT_INT bounds */
	int64		max;
	const char *choices;		/* ROPT_ENUM: "a,b,c" */
	bool		superuser_only; /* loosens security: superuser only */
	RemoteOptionProvider provider;
} RemoteOption;

#define SRV ForeignServerRelationId
#define UM UserMappingRelationId
#define TBL ForeignTableRelationId
#define COL AttributeRelationId

/*
 * Every option of vectorpg_fdw.  Keep doc/remote.md's option tables and
 * sql/remote_options.sql in step with this list.
 */
static const RemoteOption RemoteOptions[] = {
	/* server */
	{"provider", SRV, ROPT_ENUM, 0, 0, "pinecone,milvus", false, RPROV_ANY},
	{"url", SRV, ROPT_URL, 0, 0, NULL, false, RPROV_ANY},
	{"index_host", SRV, ROPT_URL, 0, 0, NULL, false, RPROV_PINECONE},
	{"db_name", SRV, ROPT_TEXT, 0, 0, NULL, false, RPROV_MILVUS},
	{"ca_file", SRV, ROPT_TEXT, 0, 0, NULL, true, RPROV_ANY},
	{"allow_insecure", SRV, ROPT_BOOL, 0, 0, NULL, true, RPROV_ANY},
	{"load_collection", SRV, ROPT_BOOL, 0, 0, NULL, false, RPROV_MILVUS},
	{"connect_timeout_ms", SRV, ROPT_INT,
		REMOTE_MIN_CONNECT_TIMEOUT_MS, REMOTE_MAX_CONNECT_TIMEOUT_MS, NULL, false, RPROV_ANY},
	{"timeout_ms", SRV, ROPT_INT,
		REMOTE_MIN_TIMEOUT_MS, REMOTE_MAX_TIMEOUT_MS, NULL, false, RPROV_ANY},
	{"low_speed_time_ms", SRV, ROPT_INT,
		REMOTE_MIN_LOW_SPEED_TIME_MS, REMOTE_MAX_LOW_SPEED_TIME_MS, NULL, false, RPROV_ANY},
	{"max_retries", SRV, ROPT_INT,
		REMOTE_MIN_MAX_RETRIES, REMOTE_MAX_MAX_RETRIES, NULL, false, RPROV_ANY},
	{"retry_budget_ms", SRV, ROPT_INT,
		REMOTE_MIN_RETRY_BUDGET_MS, REMOTE_MAX_RETRY_BUDGET_MS, NULL, false, RPROV_ANY},
	{"max_response_bytes", SRV, ROPT_INT,
		REMOTE_MIN_MAX_RESPONSE_BYTES, REMOTE_MAX_MAX_RESPONSE_BYTES, NULL, false, RPROV_ANY},
	{"write_batch_size", SRV, ROPT_INT,
		REMOTE_MIN_WRITE_BATCH_SIZE, REMOTE_MAX_WRITE_BATCH_SIZE, NULL, false, RPROV_ANY},
	{"write_parallelism", SRV, ROPT_INT,
		REMOTE_MIN_WRITE_PARALLELISM, REMOTE_MAX_WRITE_PARALLELISM, NULL, false, RPROV_ANY},

	/* user mapping */
	{"api_key", UM, ROPT_SECRET, 0, 0, NULL, false, RPROV_PINECONE},
	{"token", UM, ROPT_SECRET, 0, 0, NULL, false, RPROV_MILVUS},
	{"user", UM, ROPT_TEXT, 0, 0, NULL, false, RPROV_MILVUS},
	{"password", UM, ROPT_SECRET, 0, 0, NULL, false, RPROV_MILVUS},

	/* foreign table */
	{"index", TBL, ROPT_TEXT, 0, 0, NULL, false, RPROV_PINECONE},
	{"collection", TBL, ROPT_TEXT, 0, 0, NULL, false, RPROV_MILVUS},
	{"namespace", TBL, ROPT_TEXT, 0, 0, NULL, false, RPROV_PINECONE},
	{"partition", TBL, ROPT_TEXT, 0, 0, NULL, false, RPROV_MILVUS},
	{"vector_field", TBL, ROPT_TEXT, 0, 0, NULL, false, RPROV_MILVUS},
	{"id_field", TBL, ROPT_TEXT, 0, 0, NULL, false, RPROV_MILVUS},
	{"consistency_level", TBL, ROPT_ENUM, 0, 0,
		"Strong,Session,Bounded,Eventually,Customized", false, RPROV_MILVUS},
	{"metric", TBL, ROPT_ENUM, 0, 0,
		"cosine,euclidean,dotproduct,l2,ip", false, RPROV_ANY},
	{"dimension", TBL, ROPT_INT, 1, REMOTE_MAX_DIMENSION, NULL, false, RPROV_ANY},
	{"allow_full_scan", TBL, ROPT_BOOL, 0, 0, NULL, false, RPROV_ANY},
	/* also server options; the table's value wins */
	{"write_batch_size", TBL, ROPT_INT,
		REMOTE_MIN_WRITE_BATCH_SIZE, REMOTE_MAX_WRITE_BATCH_SIZE, NULL, false, RPROV_ANY},
	{"write_parallelism", TBL, ROPT_INT,
		REMOTE_MIN_WRITE_PARALLELISM, REMOTE_MAX_WRITE_PARALLELISM, NULL, false, RPROV_ANY},

	/* column */
	{"column_name", COL, ROPT_TEXT, 0, 0, NULL, false, RPROV_ANY},

	{NULL, InvalidOid, ROPT_TEXT, 0, 0, NULL, false, RPROV_ANY}
};

PG_FUNCTION_INFO_V1(fdw_validator);

/* The name of a catalog for messages */
static const char *
CatalogName(Oid catalog)
{
	switch (catalog)
	{
		case ForeignDataWrapperRelationId:
			return "foreign-data wrapper";
		case ForeignServerRelationId:
			return "server";
		case UserMappingRelationId:
			return "user mapping";
		case ForeignTableRelationId:
			return "foreign table";
		case AttributeRelationId:
			return "column";
	}
	return "object";
}

/* Find an option by name in a catalog; NULL when it is not allowed there */
static const RemoteOption *
FindOption(const char *name, Oid catalog)
{
	const RemoteOption *opt;

	for (opt = RemoteOptions; opt->name; opt++)
	{
		if (opt->catalog == catalog && strcmp(opt->name, name) == 0)
			return opt;
	}
	return NULL;
}

/* Find an option by name in any catalog, to say where it belongs */
static const RemoteOption *
FindOptionAnywhere(const char *name)
{
	const RemoteOption *opt;

	for (opt = RemoteOptions; opt->name; opt++)
	{
		if (strcmp(opt->name, name) == 0)
			return opt;
	}
	return NULL;
}

/*
 * The hint for an unknown option: the options valid in this catalog, or
 * that there are none (postgres_fdw's wording).
 */
static char *
ValidOptionsHint(Oid catalog)
{
	StringInfoData buf;
	const RemoteOption *opt;

	initStringInfo(&buf);
	for (opt = RemoteOptions; opt->name; opt++)
	{
		if (opt->catalog != catalog)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len > 0 ? ", " : "", opt->name);
	}
	if (buf.len == 0)
		return pstrdup("There are no valid options in this context.");
	return psprintf("Valid options in this context are: %s.", buf.data);
}

/*
 * Parse an integer option value strictly (no units, no trailing junk) and
 * check its bounds.  Used by the validator and by the target builder, so a
 * value can only be stored if it will also be read the same way.
 */
static int64
ParseIntOption(const RemoteOption *opt, const char *value)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(value, &end, 10);
	while (*end == ' ')
		end++;
	if (errno != 0 || end == value || *end != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for integer option \"%s\": %s",
						opt->name, value)));
	if (v < opt->min || v > opt->max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("value %s is out of range for option \"%s\"",
						value, opt->name),
				 errdetail("Valid values are between %lld and %lld.",
						   (long long) opt->min, (long long) opt->max)));
	return (int64) v;
}

/* Check an enum option value (case-insensitive); returns the canonical spelling */
static const char *
ParseEnumOption(const RemoteOption *opt, const char *value)
{
	char	   *choices = pstrdup(opt->choices);
	char	   *tok;
	char	   *save;

	for (tok = strtok_r(choices, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		if (pg_strcasecmp(tok, value) == 0)
			return tok;
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, value),
			 errhint("Valid values are: %s.", opt->choices)));
	return NULL;				/* keep compiler quiet */
}

/*
 * Is a host name or address literal loopback, private, link-local or
 * otherwise not a public service address?  Names are judged by their
 * spelling only ("localhost" and its subdomains); the transport checks the
 * address a name resolves to at connect time (RemoteAddressIsPrivate).
 */
bool
RemoteHostIsPrivate(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char		buf[256];
	size_t		len = strlen(host);

	/* [v6] literal */
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']' && len - 2 < sizeof(buf))
	{
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET, host, &a4) == 1)
		return RemoteAddressIsPrivate(AF_INET, &a4);
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return RemoteAddressIsPrivate(AF_INET6, &a6);
	if (pg_strcasecmp(host, "localhost") == 0 ||
		(len > 10 && pg_strcasecmp(host + len - 10, ".localhost") == 0))
		return true;
	/* a bare number is an IPv4 address to some resolvers */
	if (strspn(host, "0123456789xX.abcdefABCDEF") == len && strchr(host, '.') == NULL)
		return true;
	return false;
}

/*
 * Is an address (in network byte order) one a server-side client must not
 * reach without allow_insecure: unspecified, loopback, private (RFC 1918,
 * unique local), link-local (cloud metadata), CGNAT, multicast, reserved?
 */
bool
RemoteAddressIsPrivate(int family, const void *addr)
{
	if (family == AF_INET)
	{
		uint32		a = ntohl(((const struct in_addr *) addr)->s_addr);

		return (a >> 24) == 0 ||	/* 0/8 */
			(a >> 24) == 10 ||	/* 10/8 */
			(a >> 24) == 127 || /* loopback */
			(a >> 22) == ((100 << 2) | 1) ||	/* 100.64/10 */
			(a >> 16) == ((169 << 8) | 254) ||	/* link-local */
			(a >> 20) == ((172 << 4) | 1) ||	/* 172.16/12 */
			(a >> 16) == ((192 << 8) | 168) ||	/* 192.168/16 */
			(a >> 28) >= 14;	/* multicast and reserved */
	}
	if (family == AF_INET6)
	{
		const unsigned char *b = addr;
		static const unsigned char zero[16];

		if (memcmp(b, zero, 15) == 0 && (b[15] == 0 || b[15] == 1))
			return true;		/* :: and ::1 */
		if ((b[0] & 0xfe) == 0xfc)
			return true;		/* fc00::/7 unique local */
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
			return true;		/* fe80::/10 link-local */
		if (b[0] == 0xff)
			return true;		/* multicast */
		/* IPv4-mapped ::ffff:a.b.c.d: judge the IPv4 address */
		if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
			return RemoteAddressIsPrivate(AF_INET, b + 12);
		return false;
	}
	return true;
}

/*
 * Split an http(s) URL into its parts and check its shape: scheme http or
 * https, a host, an optional port, no user information, no fragment, no
 * white space or backslash, and a query only when allow_query (request
 * URLs have them, option URLs do not).  On success returns true and sets
 * *https and *host (palloc'd, without port); on failure returns false with
 * *why set.
 */
bool
RemoteParseUrl(const char *url, bool allow_query, bool *https, char **host,
			   const char **why)
{
	const char *p;
	const char *hstart;
	const char *hend;

	if (pg_strncasecmp(url, "https://", 8) == 0)
	{
		*https = true;
		p = url + 8;
	}
	else if (pg_strncasecmp(url, "http://", 7) == 0)
	{
		*https = false;
		p = url + 7;
	}
	else
	{
		*why = "The URL must start with https://.";
		return false;
	}
	hstart = p;
	hend = p + strcspn(p, "/?#@ \t\r\n\\");
	if (*hend == '@')
	{
		*why = "The URL must not contain user information.";
		return false;
	}
	if (strpbrk(p, "# \t\r\n\\") != NULL || (!allow_query && strchr(p, '?') != NULL))
	{
		*why = allow_query ?
			"The URL must not contain a fragment, white space or backslashes." :
			"The URL must not contain a query, a fragment, white space or backslashes.";
		return false;
	}
	/* the host: a [v6] literal, or up to the port separator */
	if (*hstart == '[')
	{
		const char *close = memchr(hstart, ']', hend - hstart);

		if (close == NULL)
		{
			*why = "The URL has an unterminated IPv6 address.";
			return false;
		}
		*host = pnstrdup(hstart, close - hstart + 1);
		p = close + 1;
	}
	else
	{
		const char *colon = memchr(hstart, ':', hend - hstart);

		p = colon ? colon : hend;
		*host = pnstrdup(hstart, p - hstart);
	}
	if ((*host)[0] == '\0')
	{
		*why = "The URL has no host.";
		return false;
	}
	if (*p == ':')
	{
		const char *d = p + 1;

		if (d == hend || strspn(d, "0123456789") != (size_t) (hend - d) || hend - d > 5 ||
			atoi(d) < 1 || atoi(d) > 65535)
		{
			*why = "The URL has an invalid port.";
			return false;
		}
	}
	else if (p != hend)
	{
		*why = "The URL has an invalid host.";
		return false;
	}
	return true;
}

/*
 * The check of a URL option: its shape, and http:// or a private host only
 * with allow_insecure.  Shared by the validator and the target builder.
 */
static void
CheckUrlOption(const char *optname, const char *value, bool allow_insecure)
{
	bool		https;
	char	   *host;
	const char *why;

	if (!RemoteParseUrl(value, false, &https, &host, &why))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid URL in option \"%s\": \"%s\"", optname, value),
				 errdetail("%s", why)));
	if (!allow_insecure && !https)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" must be an https:// URL", optname),
				 errhint("A superuser can allow http:// with the server option allow_insecure.")));
	if (!allow_insecure && RemoteHostIsPrivate(host))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" names a loopback, private or link-local host: \"%s\"",
						optname, host),
				 errhint("A superuser can allow such hosts with the server option allow_insecure.")));
}

/* A value of an index_host option may omit the scheme; make it a URL */
char *
RemoteHostUrl(const char *host)
{
	if (pg_strncasecmp(host, "https://", 8) == 0 || pg_strncasecmp(host, "http://", 7) == 0)
		return pstrdup(host);
	return psprintf("https://%s", host);
}

/*
 * Validate one option's value (not its placement).  Secrets are checked for
 * being non-empty only, and never printed.
 */
static void
CheckOptionValue(const RemoteOption *opt, DefElem *def, bool allow_insecure)
{
	const char *value = defGetString(def);

	switch (opt->kind)
	{
		case ROPT_TEXT:
		case ROPT_SECRET:
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"%s\" must not be empty", opt->name)));
			break;
		case ROPT_BOOL:
			{
				bool		b;

				if (!parse_bool(value, &b))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
							 errmsg("invalid value for boolean option \"%s\": %s",
									opt->name, value)));
			}
			break;
		case ROPT_INT:
			(void) ParseIntOption(opt, value);
			break;
		case ROPT_ENUM:
			(void) ParseEnumOption(opt, value);
			break;
		case ROPT_URL:
			if (strcmp(opt->name, "index_host") == 0)
				value = RemoteHostUrl(value);
			CheckUrlOption(opt->name, value, allow_insecure);
			break;
	}
}

/*
 * Would this option value loosen security?  ca_file always does;
 * allow_insecure does when true.  Setting allow_insecure to false is
 * tightening and anyone may do it.
 */
static bool
OptionLoosensSecurity(const RemoteOption *opt, DefElem *def)
{
	if (!opt->superuser_only)
		return false;
	if (opt->kind == ROPT_BOOL)
		return defGetBoolean(def);
	return true;
}

/*
 * vectorpg.fdw_validator(options text[], catalog oid): the validator of
 * vectorpg_fdw (and of any wrapper declared with it).  Called by CREATE and
 * ALTER of the wrapper, servers, user mappings, foreign tables and their
 * columns with the complete resulting option list.
 */
Datum
fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	bool		allow_insecure = false;
	bool		have_provider = false;
	bool		milvus = false;
	bool		have_url = false;
	bool		have_user = false;
	bool		have_password = false;
	bool		have_token = false;

	/* First pass: placement, privileges, and the flags later checks need */
	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const RemoteOption *opt = FindOption(def->defname, catalog);

		if (opt == NULL)
		{
			const RemoteOption *elsewhere = FindOptionAnywhere(def->defname);

			if (elsewhere && elsewhere->kind == ROPT_SECRET)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is a secret and is only allowed on a user mapping",
								def->defname),
						 errdetail("Options of a %s are readable by other users.",
								   CatalogName(catalog)),
						 errhint("Put it on the user mapping: CREATE USER MAPPING FOR ... SERVER ... OPTIONS (%s '...').",
								 def->defname)));
			if (elsewhere)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid option \"%s\"", def->defname),
						 errdetail("Option \"%s\" belongs on a %s, not on a %s.",
								   def->defname, CatalogName(elsewhere->catalog),
								   CatalogName(catalog)),
						 errhint("%s", ValidOptionsHint(catalog))));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 errhint("%s", ValidOptionsHint(catalog))));
		}

		if (opt->kind == ROPT_BOOL || opt->kind == ROPT_ENUM)
			CheckOptionValue(opt, def, true);
		if (OptionLoosensSecurity(opt, def) && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to set option \"%s\"", def->defname),
					 errdetail("Option \"%s\" loosens the transport's security checks.",
							   def->defname),
					 errhint("Only a superuser can set it.")));

		if (strcmp(opt->name, "allow_insecure") == 0)
			allow_insecure = defGetBoolean(def);
		else if (strcmp(opt->name, "provider") == 0)
		{
			have_provider = true;
			milvus = strcmp(ParseEnumOption(opt, defGetString(def)), "milvus") == 0;
		}
		else if (strcmp(opt->name, "url") == 0)
			have_url = true;
		else if (strcmp(opt->name, "user") == 0)
			have_user = true;
		else if (strcmp(opt->name, "password") == 0)
			have_password = true;
		else if (strcmp(opt->name, "token") == 0)
			have_token = true;
	}

	/* Second pass: values, with allow_insecure known */
	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		CheckOptionValue(FindOption(def->defname, catalog), def, allow_insecure);
	}

	/* Combinations */
	if (catalog == ForeignServerRelationId)
	{
		if (!have_provider)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"provider\" is required"),
					 errhint("Add OPTIONS (provider 'pinecone') or OPTIONS (provider 'milvus').")));
		if (milvus && !have_url)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("option \"url\" is required for a milvus server"),
					 errhint("Give the base URL of the Milvus REST API, for example OPTIONS (url 'https://milvus.example.com:19530').")));
		if (!have_url && !allow_insecure)
			CheckUrlOption("url", REMOTE_PINECONE_DEFAULT_URL, false);
	}
	if (catalog == UserMappingRelationId)
	{
		if (have_password != have_user)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("options \"user\" and \"password\" must be given together")));
		if (have_token && have_user)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("options \"token\" and \"user\" cannot be used together"),
					 errhint("Give either a token or a user and password.")));
	}

	PG_RETURN_VOID();
}

/* The canonical name of a metric in the remote's terms */
const char *
RemoteMetricName(RemoteProvider provider, RemoteMetric metric)
{
	switch (metric)
	{
		case REMOTE_METRIC_COSINE:
			return provider == REMOTE_PINECONE ? "cosine" : "COSINE";
		case REMOTE_METRIC_L2:
			return provider == REMOTE_PINECONE ? "euclidean" : "L2";
		case REMOTE_METRIC_IP:
			return provider == REMOTE_PINECONE ? "dotproduct" : "IP";
		case REMOTE_METRIC_UNKNOWN:
			break;
	}
	return "unknown";
}

/* Parse a metric name of either provider (any case) */
RemoteMetric
RemoteMetricFromName(const char *name)
{
	if (pg_strcasecmp(name, "cosine") == 0)
		return REMOTE_METRIC_COSINE;
	if (pg_strcasecmp(name, "euclidean") == 0 || pg_strcasecmp(name, "l2") == 0)
		return REMOTE_METRIC_L2;
	if (pg_strcasecmp(name, "dotproduct") == 0 || pg_strcasecmp(name, "ip") == 0)
		return REMOTE_METRIC_IP;
	return REMOTE_METRIC_UNKNOWN;
}

/*
 * Refuse an option of the other provider when building a target: a
 * Milvus "collection" on a Pinecone server is a mistake the validator
 * cannot see, since it does not know the server of a table.
 */
static void
CheckProvider(RemoteTarget *target, const RemoteOption *opt)
{
	if (opt->provider == RPROV_ANY ||
		(opt->provider == RPROV_PINECONE && target->provider == REMOTE_PINECONE) ||
		(opt->provider == RPROV_MILVUS && target->provider == REMOTE_MILVUS))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("option \"%s\" does not apply to %s server \"%s\"",
					opt->name,
					target->provider == REMOTE_PINECONE ? "pinecone" : "milvus",
					target->servername),
			 errhint("It is an option of %s servers.",
					 opt->provider == RPROV_PINECONE ? "pinecone" : "milvus")));
}

/*
 * Refuse a server of another wrapper (a postgres_fdw server, say): its
 * options were never checked by our validator, and its user mappings hold
 * secrets meant for somewhere else.
 */
static void
CheckOurServer(ForeignServer *server)
{
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	Oid			v = fdw->fdwvalidator;
	char	   *name = OidIsValid(v) ? get_func_name(v) : NULL;
	char	   *nsp = OidIsValid(v) ? get_namespace_name(get_func_namespace(v)) : NULL;

	if (name == NULL || nsp == NULL ||
		strcmp(name, "fdw_validator") != 0 || strcmp(nsp, "vectorpg") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_HANDLE),
				 errmsg("server \"%s\" is not a server of vectorpg_fdw", server->servername),
				 errdetail("Its foreign-data wrapper \"%s\" does not use vectorpg.fdw_validator.",
						   fdw->fdwname)));
}

/* Read the server options into a fresh target */
static void
ApplyServerOptions(RemoteTarget *target, ForeignServer *server)
{
	ListCell   *lc;

	CheckOurServer(server);

	target->serverid = server->serverid;
	target->servername = pstrdup(server->servername);
	target->connect_timeout_ms = REMOTE_DEFAULT_CONNECT_TIMEOUT_MS;
	target->timeout_ms = REMOTE_DEFAULT_TIMEOUT_MS;
	target->low_speed_time_ms = REMOTE_DEFAULT_LOW_SPEED_TIME_MS;
	target->max_retries = REMOTE_DEFAULT_MAX_RETRIES;
	target->retry_budget_ms = REMOTE_DEFAULT_RETRY_BUDGET_MS;
	target->max_response_bytes = REMOTE_DEFAULT_MAX_RESPONSE_BYTES;
	target->write_batch_size = REMOTE_DEFAULT_WRITE_BATCH_SIZE;
	target->write_parallelism = REMOTE_DEFAULT_WRITE_PARALLELISM;
	target->provider = REMOTE_PINECONE;

	/* provider first: other options are checked against it */
	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "provider") == 0)
			target->provider = pg_strcasecmp(defGetString(def), "milvus") == 0 ?
				REMOTE_MILVUS : REMOTE_PINECONE;
		else if (strcmp(def->defname, "allow_insecure") == 0)
			target->allow_insecure = defGetBoolean(def);
	}

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const RemoteOption *opt = FindOption(def->defname, ForeignServerRelationId);
		const char *name = def->defname;

		if (opt == NULL)
			continue;			/* validated at CREATE; tolerate old ones */
		CheckProvider(target, opt);
		if (strcmp(name, "url") == 0)
			target->url = pstrdup(defGetString(def));
		else if (strcmp(name, "index_host") == 0)
			target->index_host = RemoteHostUrl(defGetString(def));
		else if (strcmp(name, "db_name") == 0)
			target->db_name = pstrdup(defGetString(def));
		else if (strcmp(name, "ca_file") == 0)
			target->ca_file = pstrdup(defGetString(def));
		else if (strcmp(name, "load_collection") == 0)
			target->load_collection = defGetBoolean(def);
		else if (strcmp(name, "connect_timeout_ms") == 0)
			target->connect_timeout_ms = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "timeout_ms") == 0)
			target->timeout_ms = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "low_speed_time_ms") == 0)
			target->low_speed_time_ms = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "max_retries") == 0)
			target->max_retries = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "retry_budget_ms") == 0)
			target->retry_budget_ms = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "max_response_bytes") == 0)
			target->max_response_bytes = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "write_batch_size") == 0)
			target->write_batch_size = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "write_parallelism") == 0)
			target->write_parallelism = ParseIntOption(opt, defGetString(def));
	}

	if (target->url == NULL)
	{
		if (target->provider == REMOTE_MILVUS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("server \"%s\" has no option \"url\"", target->servername)));
		target->url = pstrdup(REMOTE_PINECONE_DEFAULT_URL);
	}
	/* strip trailing slashes so that url + "/path" is well formed */
	{
		size_t		len = strlen(target->url);

		while (len > 0 && target->url[len - 1] == '/')
			target->url[--len] = '\0';
	}
}

/*
 * Look up the user mapping for (userid, server), falling back to PUBLIC,
 * and read the secret.  A missing mapping is an error with a hint; a
 * Pinecone mapping must carry api_key; a Milvus mapping may be empty
 * (a Milvus without authentication).
 */
static void
ApplyUserMapping(RemoteTarget *target, Oid userid)
{
	UserMapping *um;
	ListCell   *lc;
	char	   *user = NULL;
	char	   *password = NULL;

	if (!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
							   ObjectIdGetDatum(target->serverid)) &&
		!SearchSysCacheExists2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							   ObjectIdGetDatum(target->serverid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("user mapping not found for user \"%s\" and server \"%s\"",
						MappingUserName(userid), target->servername),
				 errhint("Create one with CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (%s '...').",
						 quote_identifier(target->servername),
						 target->provider == REMOTE_PINECONE ? "api_key" : "token")));

	um = GetUserMapping(userid, target->serverid);
	target->userid = userid;
	target->umid = um->umid;

	foreach(lc, um->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const RemoteOption *opt = FindOption(def->defname, UserMappingRelationId);

		if (opt == NULL)
			continue;
		CheckProvider(target, opt);
		if (strcmp(def->defname, "api_key") == 0 || strcmp(def->defname, "token") == 0)
			target->secret = pstrdup(defGetString(def));
		else if (strcmp(def->defname, "user") == 0)
			user = defGetString(def);
		else if (strcmp(def->defname, "password") == 0)
			password = defGetString(def);
	}
	if (user && password)
		target->secret = psprintf("%s:%s", user, password);

	if (target->provider == REMOTE_PINECONE && target->secret == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("user mapping for server \"%s\" has no option \"api_key\"",
						target->servername),
				 errhint("Add it with ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD api_key '...').",
						 quote_identifier(target->servername))));
}

/*
 * The resolved options of a server and the user's mapping, for requests
 * that concern the server rather than one table (listing indexes, IMPORT
 * FOREIGN SCHEMA, vectorpg.remote_request).
 */
RemoteTarget *
RemoteTargetFromServer(Oid serverid, Oid userid)
{
	RemoteTarget *target = palloc0(sizeof(RemoteTarget));

	ApplyServerOptions(target, GetForeignServer(serverid));
	ApplyUserMapping(target, userid);
	return target;
}

/*
 * The resolved options of a foreign table: its server's, the user's
 * mapping's, and its own.
 */
RemoteTarget *
RemoteTargetFromTable(Oid foreigntableid, Oid userid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	RemoteTarget *target = RemoteTargetFromServer(table->serverid, userid);
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		const RemoteOption *opt = FindOption(def->defname, ForeignTableRelationId);
		const char *name = def->defname;

		if (opt == NULL)
			continue;
		CheckProvider(target, opt);
		if (strcmp(name, "index") == 0 || strcmp(name, "collection") == 0)
			target->index = pstrdup(defGetString(def));
		else if (strcmp(name, "namespace") == 0 || strcmp(name, "partition") == 0)
			target->namespace_ = pstrdup(defGetString(def));
		else if (strcmp(name, "vector_field") == 0)
			target->vector_field = pstrdup(defGetString(def));
		else if (strcmp(name, "id_field") == 0)
			target->id_field = pstrdup(defGetString(def));
		else if (strcmp(name, "consistency_level") == 0)
			target->consistency_level = pstrdup(ParseEnumOption(opt, defGetString(def)));
		else if (strcmp(name, "metric") == 0)
			target->metric = RemoteMetricFromName(defGetString(def));
		else if (strcmp(name, "dimension") == 0)
			target->dimension = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "allow_full_scan") == 0)
			target->allow_full_scan = defGetBoolean(def);
		else if (strcmp(name, "write_batch_size") == 0)
			target->write_batch_size = ParseIntOption(opt, defGetString(def));
		else if (strcmp(name, "write_parallelism") == 0)
			target->write_parallelism = ParseIntOption(opt, defGetString(def));
	}

	/* the remote name defaults to the foreign table's own name */
	if (target->index == NULL)
		target->index = pstrdup(get_rel_name(foreigntableid));
	return target;
}
