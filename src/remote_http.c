/*-------------------------------------------------------------------------
 *
 * remote_http.c
 *	  The transport: one logical HTTP request to Pinecone or Milvus, with
 *	  TLS, timeouts, a response size cap, cancellation, retries, record/
 *	  replay, metrics, and errors mapped to stable SQLSTATEs.
 *
 * Design:
 *
 *	- Cancellation.  The easy handle is driven through a multi handle in a
 *	  loop of curl_multi_perform and curl_multi_poll with a short timeout
 *	  (REMOTE_POLL_MS).  Between two steps we are not inside libcurl, so
 *	  CHECK_FOR_INTERRUPTS() may throw: a PG_TRY around the loop removes the
 *	  handle from the multi handle (which aborts the transfer and closes its
 *	  connection), frees the buffers and re-throws.  Cancel and
 *	  statement_timeout thus end a request within REMOTE_POLL_MS with the
 *	  server's own error (57014), and the session stays usable; a
 *	  terminate request exits through proc_exit, whose callback closes the
 *	  handles (fdw_connection.c).  No callback ever throws: they return an
 *	  abort code and set a flag.
 *	- Memory.  libcurl allocates with malloc; so do the callbacks (the
 *	  response buffer, the captured headers), because an out-of-memory
 *	  ereport inside a callback would longjmp through libcurl.  The body is
 *	  copied into the caller's context once the transfer is complete.
 *	- Size cap.  The write callback refuses to grow the buffer past
 *	  max_response_bytes and aborts the transfer; at most one libcurl chunk
 *	  beyond what was accepted is ever seen.
 *	- Security.  https only unless the server has allow_insecure; TLS
 *	  verification on (ca_file adds a CA bundle); protocols limited to
 *	  http(s); redirects never followed; proxies from the environment
 *	  ignored; and an open-socket callback refuses loopback, private and
 *	  link-local addresses unless allow_insecure is set, so a public name
 *	  that resolves to an internal address is refused too.  The secret
 *	  travels only in a request header: CURLOPT_VERBOSE stays off, headers
 *	  are never logged, and remote text that goes into an error is
 *	  scrubbed of the secret and cut to REMOTE_MAX_DETAIL_BYTES.
 *	- Retries.  429, 408, 5xx (but 501 and 505), timeouts, connection
 *	  failures and resets, and 2xx answers the provider's is_retryable hook
 *	  calls retryable.  Waits are exponential with full jitter and at least
 *	  the Retry-After the server sent (seconds or HTTP date, as libcurl
 *	  parses it), within max_retries and retry_budget_ms; the wait is a
 *	  WaitLatch that cancel interrupts.
 *
 *	- Several requests at once.  RemoteHttpCallMany drives up to
 *	  `parallelism` easy handles in the cached multi handle (sharing its
 *	  connection pool), each running one logical call with the same
 *	  attempts, classification, backoff and metrics as RemoteHttpCall; a
 *	  call waiting to retry does not block the others.  Writes use it.
 *	- remote_last_failure.  Every error path sets it (failed, the last HTTP
 *	  status, transient = the failure was retryable and the retries ran
 *	  out), so that callers that catch errors (the mirror worker) can tell
 *	  "later" from "never"; it is reset at the start of every call.
 *
 * SQLSTATEs (documented in doc/remote.md, shared with the clients; keep
 * them stable):
 *	HV00N could not connect (refused, DNS, TLS, address not allowed) or the
 *	      credentials were refused (401, 403)
 *	HV00M no complete reply (timeout, stall, reset, truncated body)
 *	HV00R 404
 *	HV00L any other HTTP error status (4xx, and 429/5xx after retries)
 *	HV090 response larger than max_response_bytes
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <math.h>

#include "common/pg_prng.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

#include "remote.h"
#include "remote_curl.h"

/* The failure of this backend's latest remote call (see remote.h) */
RemoteFailure remote_last_failure = {false, 0, false, -1, 0};

/* How long curl_multi_poll waits before we look at interrupts again */
#define REMOTE_POLL_MS 100

/* What happened to one attempt */
typedef enum AttemptOutcome
{
	ATTEMPT_OK,					/* a response we return */
	ATTEMPT_RETRY,				/* a failure worth another attempt */
	ATTEMPT_FAIL				/* a failure to report now */
} AttemptOutcome;

/* The state of one transfer, shared with the libcurl callbacks */
typedef struct Transfer
{
	/* response body, malloc'd */
	char	   *buf;
	size_t		len;
	size_t		cap;
	size_t		max;			/* max_response_bytes */
	bool		too_big;		/* the cap was hit */
	bool		oom;			/* malloc failed */

	/* captured response headers */
	char		retry_after[64];
	char		request_id[128];

	/* the open-socket guard */
	bool		allow_private;
	bool		blocked;		/* a connect was refused by the guard */
	char		blocked_addr[64];
} Transfer;

/* What one attempt produced */
typedef struct AttemptResult
{
	CURLcode	rc;
	long		status;
	char		errbuf[CURL_ERROR_SIZE];
	curl_off_t	retry_after_s;	/* -1: none */
	double		bytes_received;
	long		connects;		/* new connections this attempt made */
} AttemptResult;

/* Milliseconds since start */
static double
ElapsedMs(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_MILLISEC(now);
}

/*
 * libcurl write callback: append to the malloc'd buffer, refusing to go
 * past the cap.  Returning less than asked aborts the transfer
 * (CURLE_WRITE_ERROR).
 */
static size_t
WriteBody(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = arg;
	size_t		n = size * nmemb;

	if (n > t->max - t->len || t->len + n > t->max)
	{
		t->too_big = true;
		return 0;
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t		newcap = Max(t->cap * 2, t->len + n + 1);
		char	   *nb;

		newcap = Max(newcap, 16384);
		if (newcap > t->max + 1)
			newcap = t->max + 1;
		nb = realloc(t->buf, newcap);
		if (nb == NULL)
		{
			t->oom = true;
			return 0;
		}
		t->buf = nb;
		t->cap = newcap;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
	return n;
}

/* Copy a header's value (trimmed) into a fixed buffer */
static void
CopyHeaderValue(char *dst, size_t dstlen, const char *value, size_t len)
{
	while (len > 0 && (*value == ' ' || *value == '\t'))
	{
		value++;
		len--;
	}
	while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n' ||
					   value[len - 1] == ' '))
		len--;
	if (len >= dstlen)
		len = dstlen - 1;
	memcpy(dst, value, len);
	dst[len] = '\0';
}

/*
 * libcurl header callback: remember Retry-After and the request id of the
 * last response (a new status line starts a new response, e.g. after
 * "100 Continue").
 */
static size_t
ReadHeader(char *data, size_t size, size_t nmemb, void *arg)
{
	Transfer   *t = arg;
	size_t		n = size * nmemb;

	if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
	{
		t->retry_after[0] = '\0';
		t->request_id[0] = '\0';
	}
	else if (n > 12 && pg_strncasecmp(data, "retry-after:", 12) == 0)
		CopyHeaderValue(t->retry_after, sizeof(t->retry_after), data + 12, n - 12);
	else if (n > 22 && pg_strncasecmp(data, "x-pinecone-request-id:", 22) == 0)
		CopyHeaderValue(t->request_id, sizeof(t->request_id), data + 22, n - 22);
	else if (n > 13 && pg_strncasecmp(data, "x-request-id:", 13) == 0)
		CopyHeaderValue(t->request_id, sizeof(t->request_id), data + 13, n - 13);
	return n;
}

/*
 * libcurl open-socket callback: the address guard.  Refuses loopback,
 * private and link-local addresses unless allow_insecure is set, after
 * name resolution, so DNS cannot point a public name inward.
 */
static curl_socket_t
OpenSocket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	Transfer   *t = arg;
	const void *ip = NULL;

	if (addr->family == AF_INET)
		ip = &((struct sockaddr_in *) &addr->addr)->sin_addr;
	else if (addr->family == AF_INET6)
		ip = &((struct sockaddr_in6 *) &addr->addr)->sin6_addr;

	if (!t->allow_private && (ip == NULL || RemoteAddressIsPrivate(addr->family, ip)))
	{
		t->blocked = true;
		if (ip == NULL || inet_ntop(addr->family, ip, t->blocked_addr,
									sizeof(t->blocked_addr)) == NULL)
			strlcpy(t->blocked_addr, "?", sizeof(t->blocked_addr));
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype, addr->protocol);
}

/*
 * Replace every occurrence of the secret (and, for user:password, of the
 * password alone) with asterisks, make the text valid in the server
 * encoding and printable, and cut it to REMOTE_MAX_DETAIL_BYTES.  Applied
 * to every piece of remote text before it reaches an error.
 */
char *
RemoteScrub(RemoteTarget *target, const char *text, size_t len)
{
	StringInfoData buf;
	const char *secrets[2] = {NULL, NULL};
	size_t		i;
	int			valid;

	if (text == NULL)
		return NULL;
	if (len > REMOTE_MAX_DETAIL_BYTES * 4)
		len = REMOTE_MAX_DETAIL_BYTES * 4;
	if (target && target->secret && target->secret[0])
	{
		secrets[0] = target->secret;
		if (target->provider == REMOTE_MILVUS && strchr(target->secret, ':'))
			secrets[1] = strchr(target->secret, ':') + 1;
	}

	initStringInfo(&buf);
	for (i = 0; i < len;)
	{
		int			s;
		bool		replaced = false;

		for (s = 0; s < 2; s++)
		{
			size_t		sl;

			if (secrets[s] == NULL || (sl = strlen(secrets[s])) == 0)
				continue;
			if (sl <= len - i && memcmp(text + i, secrets[s], sl) == 0)
			{
				appendStringInfoString(&buf, "********");
				i += sl;
				replaced = true;
				break;
			}
		}
		if (replaced)
			continue;
		if ((unsigned char) text[i] < 0x20 && text[i] != '\n' && text[i] != '\t')
			appendStringInfoChar(&buf, ' ');
		else
			appendStringInfoChar(&buf, text[i]);
		i++;
	}

	/* keep the valid prefix in the server encoding, then cut */
	valid = pg_encoding_verifymbstr(GetDatabaseEncoding(), buf.data, buf.len);
	if (valid < buf.len)
		buf.data[valid] = '\0';
	if (strlen(buf.data) > REMOTE_MAX_DETAIL_BYTES)
	{
		int			cut = pg_mbcliplen(buf.data, strlen(buf.data), REMOTE_MAX_DETAIL_BYTES);

		buf.data[cut] = '\0';
		appendStringInfoString(&buf, "...");
	}
	return buf.data;
}

/*
 * Raise a remote error: the message names the server, the remote's text
 * goes into errdetail after scrubbing.  Clients use it for errors they find
 * in response bodies; the transport for its own.
 */
void
RemoteReportError(RemoteTarget *target, const char *operation, int sqlstate,
				  const char *message, const char *remote_detail)
{
	char	   *detail = remote_detail ?
		RemoteScrub(target, remote_detail, strlen(remote_detail)) : NULL;

	/* http_status and transient were set by the call or by the client */
	remote_last_failure.failed = true;
	ereport(ERROR,
			(errcode(sqlstate),
			 errmsg("%s on server \"%s\"", message, target->servername),
			 detail && detail[0] ? errdetail("Remote message: %s", detail) : 0,
			 errcontext("remote %s request to server \"%s\"",
						operation ? operation : "?", target->servername)));
	pg_unreachable();
}

/* Is an HTTP status one the transport retries? */
static bool
StatusIsRetryable(long status)
{
	return status == 429 || status == 408 ||
		(status >= 500 && status <= 599 && status != 501 && status != 505);
}

/* Is a libcurl failure one the transport retries? */
static bool
CurlCodeIsRetryable(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			return true;
		default:
			return false;
	}
}

/* Is a libcurl failure one of establishing the connection (HV00N)? */
static bool
CurlCodeIsConnect(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_CRL_BADFILE:
		case CURLE_UNSUPPORTED_PROTOCOL:
		case CURLE_URL_MALFORMAT:
			return true;
		default:
			return false;
	}
}

/* The SQLSTATE of an HTTP error status */
static int
StatusSqlstate(long status)
{
	if (status == 401 || status == 403)
		return ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
	if (status == 404)
		return ERRCODE_FDW_TABLE_NOT_FOUND;
	return ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION;
}

/* A hint for an HTTP error status, or NULL */
static const char *
StatusHint(RemoteTarget *target, long status)
{
	if (status == 401)
		return target->provider == REMOTE_PINECONE ?
			"Check the api_key option of the user mapping." :
			"Check the token, or the user and password options, of the user mapping.";
	if (status == 403)
		return "The credentials of the user mapping lack a permission or a quota on the remote.";
	if (status == 429)
		return "The remote is rate limiting requests; raise max_retries or retry_budget_ms, or send fewer requests.";
	return NULL;
}

/* Set the options of one request on the (reset) easy handle */
static void
SetupHandle(CURL *easy, RemoteTarget *target, const RemoteRequest *req,
			Transfer *t, struct curl_slist *headers, char *errbuf)
{
	const char *protocols = target->allow_insecure ? "http,https" : "https";
	long		low_speed_s = (target->low_speed_time_ms + 999) / 1000;

	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
#if CURL_AT_LEAST_VERSION(7, 85, 0)
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, protocols);
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, protocols);
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
					 target->allow_insecure ? (CURLPROTO_HTTP | CURLPROTO_HTTPS) : CURLPROTO_HTTPS);
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS,
					 target->allow_insecure ? (CURLPROTO_HTTP | CURLPROTO_HTTPS) : CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_PROXY, "");
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
	if (target->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, target->ca_file);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) target->connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) target->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, (long) REMOTE_LOW_SPEED_LIMIT_BYTES);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, low_speed_s);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "vectorpg/" REMOTE_USER_AGENT_VERSION);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body)
	{
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long) strlen(req->body));
	}
	else if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	else if (strcmp(req->method, "DELETE") == 0 || strcmp(req->method, "HEAD") == 0)
		curl_easy_setopt(easy, CURLOPT_NOBODY, strcmp(req->method, "HEAD") == 0 ? 1L : 0L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteBody);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, ReadHeader);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
	curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, t);
}

/*
 * The request headers: JSON in and out, the provider's authentication and
 * version headers, and the caller's extras.  The list is malloc'd by
 * libcurl and freed by the caller.
 */
static struct curl_slist *
BuildHeaders(RemoteTarget *target, const RemoteRequest *req)
{
	struct curl_slist *h = NULL;
	struct curl_slist *n;
	char	   *line = NULL;

	h = curl_slist_append(h, "Accept: application/json");
	if (h && req->body)
		h = (n = curl_slist_append(h, "Content-Type: application/json")) ? n : h;
	/* no "Expect: 100-continue" round trip for large bodies */
	if (h)
		h = (n = curl_slist_append(h, "Expect:")) ? n : h;
	if (h && target->provider == REMOTE_PINECONE)
	{
		h = (n = curl_slist_append(h, "X-Pinecone-Api-Version: " REMOTE_PINECONE_API_VERSION)) ? n : h;
		if (target->secret)
			line = psprintf("Api-Key: %s", target->secret);
	}
	else if (h && target->secret)
		line = psprintf("Authorization: Bearer %s", target->secret);
	if (h && line)
	{
		n = curl_slist_append(h, line);
		/* wipe our copy: the secret should live in as few places as possible */
		explicit_bzero(line, strlen(line));
		pfree(line);
		if (n == NULL)
		{
			curl_slist_free_all(h);
			h = NULL;
		}
	}
	if (h && req->extra_headers)
	{
		const char *const *e;

		for (e = req->extra_headers; *e && h; e++)
		{
			n = curl_slist_append(h, *e);
			if (n == NULL)
			{
				curl_slist_free_all(h);
				h = NULL;
			}
		}
	}
	if (h == NULL)
	{
		remote_last_failure.failed = true;
		remote_last_failure.transient = true;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("out of memory building request headers for server \"%s\"",
						target->servername)));
	}
	return h;
}

/*
 * Set up one attempt on an easy handle and add it to the multi handle:
 * shared by the single and the multi-request paths.
 */
static void
PrepareAttempt(RemoteTarget *target, const RemoteRequest *req, CURLM *multi,
			   CURL *easy, Transfer *t, struct curl_slist *headers,
			   AttemptResult *res)
{
	CURLMcode	mc;

	curl_easy_reset(easy);
	res->errbuf[0] = '\0';
	res->rc = CURLE_OK;
	res->status = 0;
	res->retry_after_s = -1;
	res->bytes_received = 0;
	res->connects = 0;
	SetupHandle(easy, target, req, t, headers, res->errbuf);

	mc = curl_multi_add_handle(multi, easy);
	if (mc != CURLM_OK)
	{
		curl_easy_reset(easy);
		remote_last_failure.failed = true;
		remote_last_failure.transient = false;
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("could not start a request to server \"%s\": %s",
						target->servername, curl_multi_strerror(mc))));
	}
}

/*
 * Read what a finished attempt produced, take the handle out of the multi
 * handle, and drop every option, so that the handle keeps no pointer to
 * the headers (the secret), the body or our buffers; live connections
 * stay in the multi handle's pool.
 */
static void
CollectAttempt(CURLM *multi, CURL *easy, CURLcode rc, AttemptResult *res)
{
	curl_off_t	down = 0;

	res->rc = rc;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_getinfo(easy, CURLINFO_RETRY_AFTER, &res->retry_after_s);
	curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &res->connects);
	curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
	res->bytes_received = (double) down;
	curl_multi_remove_handle(multi, easy);
	curl_easy_reset(easy);
	if (res->errbuf[0] == '\0' && res->rc != CURLE_OK)
		strlcpy(res->errbuf, curl_easy_strerror(res->rc), sizeof(res->errbuf));
}

/*
 * Run one attempt on the cached handle, polling for interrupts.  Fills
 * *res; the body is left in t.  Throws only for interrupts (after
 * cleaning up) and for failures of libcurl's multi interface itself.
 */
static void
RunAttempt(RemoteTarget *target, const RemoteRequest *req, Transfer *t,
		   struct curl_slist *headers, AttemptResult *res)
{
	CURLM	   *multi;
	CURL	   *easy;
	bool		fresh;
	CURLMcode	mc = CURLM_OK;
	CURLMsg    *msg;
	int			left;

	easy = RemoteConnectionGet(target, (void **) &multi, &fresh);
	PrepareAttempt(target, req, multi, easy, t, headers, res);

	pgstat_report_wait_start(PG_WAIT_EXTENSION);
	PG_TRY();
	{
		for (;;)
		{
			int			running = 0;

			mc = curl_multi_perform(multi, &running);
			if (mc != CURLM_OK || running == 0)
				break;
			CHECK_FOR_INTERRUPTS();
			mc = curl_multi_poll(multi, NULL, 0, REMOTE_POLL_MS, NULL);
			if (mc != CURLM_OK)
				break;
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		pgstat_report_wait_end();
		/* aborts the transfer; libcurl closes the half-used connection */
		curl_multi_remove_handle(multi, easy);
		curl_easy_reset(easy);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pgstat_report_wait_end();

	{
		CURLcode	rc = CURLE_OK;

		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
				rc = msg->data.result;
		}
		CollectAttempt(multi, easy, rc, res);
	}
	if (mc != CURLM_OK)
	{
		res->rc = CURLE_FAILED_INIT;
		strlcpy(res->errbuf, curl_multi_strerror(mc), sizeof(res->errbuf));
	}
}

/* Free what a Transfer holds (malloc'd) */
static void
FreeTransfer(Transfer *t)
{
	free(t->buf);
	t->buf = NULL;
	t->len = t->cap = 0;
}

/* Is status in the caller's 0-terminated list? */
static bool
StatusAccepted(const RemoteRequest *req, long status)
{
	const long *a;

	if (req->accept_status == NULL)
		return false;
	for (a = req->accept_status; *a; a++)
		if (*a == status)
			return true;
	return false;
}

/* Sleep ms milliseconds, waking for interrupts */
static void
InterruptibleSleep(double ms)
{
	instr_time	start;

	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		double		left = ms - ElapsedMs(start);

		CHECK_FOR_INTERRUPTS();
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (long) ceil(left), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*
 * Classify a completed attempt.  Also sets *sqlstate, *message and
 * *detail for a failure (used if this is the last attempt).
 */
static AttemptOutcome
ClassifyAttempt(RemoteTarget *target, const RemoteRequest *req, Transfer *t,
				AttemptResult *res, int *sqlstate, char **message, char **detail,
				const char **hint)
{
	const char *op = req->operation;

	*hint = NULL;
	*detail = NULL;
	if (t->too_big)
	{
		*sqlstate = ERRCODE_FDW_INVALID_STRING_LENGTH_OR_BUFFER_LENGTH;
		*message = psprintf("response to %s request from server \"%s\" exceeds max_response_bytes (%lld bytes)",
							op, target->servername, (long long) target->max_response_bytes);
		*hint = "Raise the server option max_response_bytes, or ask for fewer rows.";
		return ATTEMPT_FAIL;
	}
	if (t->oom)
	{
		*sqlstate = ERRCODE_FDW_OUT_OF_MEMORY;
		*message = psprintf("out of memory reading the response to %s request from server \"%s\"",
							op, target->servername);
		return ATTEMPT_FAIL;
	}
	if (res->rc != CURLE_OK)
	{
		*detail = RemoteScrub(target, res->errbuf, strlen(res->errbuf));
		if (t->blocked)
		{
			*sqlstate = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
			*message = psprintf("could not connect to server \"%s\": address %s is loopback, private or link-local",
								target->servername, t->blocked_addr);
			*hint = "A superuser can allow such addresses with the server option allow_insecure.";
			return ATTEMPT_FAIL;
		}
		if (CurlCodeIsConnect(res->rc) ||
			(res->rc == CURLE_OPERATION_TIMEDOUT && res->connects == 0 && res->status == 0 &&
			 strstr(res->errbuf, "onnect") != NULL))
		{
			*sqlstate = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
			*message = psprintf("could not connect to server \"%s\"", target->servername);
		}
		else if (res->rc == CURLE_OPERATION_TIMEDOUT)
		{
			*sqlstate = ERRCODE_FDW_UNABLE_TO_CREATE_REPLY;
			if (strstr(res->errbuf, "too slow") != NULL)
			{
				*message = psprintf("%s request to server \"%s\" stalled", op, target->servername);
				*hint = "The remote sent less than the minimum transfer rate for low_speed_time_ms.";
			}
			else
				*message = psprintf("%s request to server \"%s\" timed out after %d ms",
									op, target->servername, target->timeout_ms);
		}
		else
		{
			*sqlstate = ERRCODE_FDW_UNABLE_TO_CREATE_REPLY;
			*message = psprintf("%s request to server \"%s\" failed: no complete reply",
								op, target->servername);
		}
		return CurlCodeIsRetryable(res->rc) ? ATTEMPT_RETRY : ATTEMPT_FAIL;
	}

	if (res->status >= 200 && res->status <= 299)
	{
		if (req->is_retryable && req->is_retryable(res->status, t->buf ? t->buf : "", t->len))
		{
			/* if it stays retryable, the caller gets the body and reports it */
			*sqlstate = 0;
			*message = NULL;
			return ATTEMPT_RETRY;
		}
		return ATTEMPT_OK;
	}
	if (StatusAccepted(req, res->status))
		return ATTEMPT_OK;

	*sqlstate = StatusSqlstate(res->status);
	*message = psprintf("%s request to server \"%s\" failed with HTTP status %ld",
						op, target->servername, res->status);
	*detail = t->len > 0 ? RemoteScrub(target, t->buf, t->len) : NULL;
	*hint = StatusHint(target, res->status);
	return StatusIsRetryable(res->status) ? ATTEMPT_RETRY : ATTEMPT_FAIL;
}

/* Check the URL of a request before anything is sent */
static void
CheckRequestUrl(RemoteTarget *target, const RemoteRequest *req)
{
	bool		https;
	char	   *host;
	const char *why;

	/* every refusal here is permanent */
	remote_last_failure.failed = true;
	remote_last_failure.transient = false;
	if (!RemoteParseUrl(req->url, true, &https, &host, &why))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("invalid URL for %s request to server \"%s\"",
						req->operation, target->servername),
				 errdetail("%s", why)));
	if (!https && !target->allow_insecure)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("refusing a plain http:// request to server \"%s\"",
						target->servername),
				 errhint("A superuser can allow http:// with the server option allow_insecure.")));
	if (!target->allow_insecure && RemoteHostIsPrivate(host))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to server \"%s\": host \"%s\" is loopback, private or link-local",
						target->servername, host),
				 errhint("A superuser can allow such hosts with the server option allow_insecure.")));
	remote_last_failure.failed = false;
}

/* Build the caller's response from a completed transfer */
static RemoteResponse *
MakeResponse(long status, const char *body, size_t len, int attempts,
			 double elapsed_ms, const char *retry_after, const char *request_id)
{
	RemoteResponse *resp = palloc0(sizeof(RemoteResponse));

	resp->status = status;
	resp->body = palloc(len + 1);
	if (len > 0)
		memcpy(resp->body, body, len);
	resp->body[len] = '\0';
	resp->len = len;
	resp->attempts = attempts;
	resp->elapsed_ms = elapsed_ms;
	resp->retry_after = retry_after && retry_after[0] ? pstrdup(retry_after) : NULL;
	resp->request_id = request_id && request_id[0] ? pstrdup(request_id) : NULL;
	return resp;
}

/*
 * Answer a request from a recording (replay and passthrough modes): the
 * same status handling as live, without retries or network.
 */
static RemoteResponse *
ReplayResponse(RemoteTarget *target, const RemoteRequest *req, long status,
			   char *body, size_t len, instr_time start)
{
	double		elapsed;

	elapsed = ElapsedMs(start);
	remote_last_failure.http_status = status;
	if ((status >= 200 && status <= 299) || StatusAccepted(req, status))
	{
		RemoteMetricsCount(target, req->operation, false, 0,
						   req->body ? strlen(req->body) : 0, len, elapsed, 0);
		return MakeResponse(status, body, len, 1, elapsed, NULL, NULL);
	}
	RemoteMetricsCount(target, req->operation, true, 0,
					   req->body ? strlen(req->body) : 0, len, elapsed, 0);
	remote_last_failure.failed = true;
	remote_last_failure.transient = StatusIsRetryable(status);
	ereport(ERROR,
			(errcode(StatusSqlstate(status)),
			 errmsg("%s request to server \"%s\" failed with HTTP status %ld",
					req->operation, target->servername, status),
			 len > 0 ? errdetail("Remote message: %s", RemoteScrub(target, body, len)) : 0,
			 errcontext("replayed from vectorpg.remote_recordings")));
	return NULL;
}

/* The state of one logical call across its attempts */
typedef struct CallState
{
	Transfer   *t;
	AttemptResult res;
	AttemptOutcome outcome;
	int			attempts;
	int			sqlstate;
	char	   *message;
	char	   *detail;
	const char *hint;
	char	   *budget_hint;
	uint64		bytes_sent;
	uint64		bytes_received;
	long		connects;
} CallState;

/*
 * After a classified attempt: should another one follow, and after how
 * long?  Full jitter over an exponential cap, at least Retry-After, within
 * max_retries and retry_budget_ms (a retry that would end beyond the
 * budget is not made, and the hint says so).
 */
static bool
NextWait(RemoteTarget *target, const RemoteRequest *req, instr_time start,
		 CallState *cs, double *wait_ms)
{
	double		cap;

	if (cs->outcome != ATTEMPT_RETRY)
		return false;
	if (req->not_idempotent || cs->attempts > target->max_retries)
		return false;
	cap = Min((double) REMOTE_BACKOFF_CAP_MS,
			  (double) REMOTE_BACKOFF_BASE_MS * pow(2.0, cs->attempts - 1));
	*wait_ms = pg_prng_double(&pg_global_prng_state) * cap;
	if (cs->res.retry_after_s > 0)
		*wait_ms = Max(*wait_ms, Min((double) cs->res.retry_after_s * 1000.0,
									 (double) REMOTE_MAX_RETRY_AFTER_MS));
	if (ElapsedMs(start) + *wait_ms > target->retry_budget_ms)
	{
		cs->budget_hint = psprintf("The next retry (after %.0f ms) would exceed retry_budget_ms (%d ms).",
								   *wait_ms, target->retry_budget_ms);
		return false;
	}
	return true;
}

/*
 * The attempts of one call: run, classify, and wait before the next one,
 * within max_retries and retry_budget_ms.  Leaves the last attempt's
 * outcome in *cs.
 */
static void
RunAttempts(RemoteTarget *target, const RemoteRequest *req,
			struct curl_slist *headers, instr_time start, CallState *cs)
{
	size_t		body_len = req->body ? strlen(req->body) : 0;

	for (cs->attempts = 1;; cs->attempts++)
	{
		double		wait_ms;

		FreeTransfer(cs->t);
		memset(cs->t, 0, sizeof(Transfer));
		cs->t->max = (size_t) target->max_response_bytes;
		cs->t->allow_private = target->allow_insecure;

		RunAttempt(target, req, cs->t, headers, &cs->res);
		cs->bytes_sent += body_len;
		cs->bytes_received += (uint64) cs->res.bytes_received;
		cs->connects += cs->res.connects;

		cs->outcome = ClassifyAttempt(target, req, cs->t, &cs->res, &cs->sqlstate,
									  &cs->message, &cs->detail, &cs->hint);
		if (!NextWait(target, req, start, cs, &wait_ms))
			return;
		InterruptibleSleep(wait_ms);
	}
}

/*
 * Raise the error of a call whose last attempt failed, and say in
 * remote_last_failure whether trying later makes sense (retryable but out
 * of retries or budget).
 */
static void
RaiseCallError(CallState *cs)
{
	StringInfoData allhint;

	remote_last_failure.failed = true;
	remote_last_failure.http_status = cs->res.status;
	remote_last_failure.transient = (cs->outcome == ATTEMPT_RETRY);
	initStringInfo(&allhint);
	if (cs->hint)
		appendStringInfoString(&allhint, cs->hint);
	if (cs->budget_hint)
		appendStringInfo(&allhint, "%s%s", allhint.len ? " " : "", cs->budget_hint);
	if (cs->attempts > 1)
		appendStringInfo(&allhint, "%sGave up after %d attempts.",
						 allhint.len ? " " : "", cs->attempts);
	ereport(ERROR,
			(errcode(cs->sqlstate),
			 errmsg_internal("%s", cs->message),
			 cs->detail && cs->detail[0] ? errdetail("Remote message: %s", cs->detail) : 0,
			 allhint.len ? errhint("%s", allhint.data) : 0));
}

/* Forget the previous call's failure (remote.h: reset at every call) */
static void
RemoteFailureReset(void)
{
	remote_last_failure.failed = false;
	remote_last_failure.http_status = 0;
	remote_last_failure.transient = false;
	remote_last_failure.item = -1;
	remote_last_failure.nitems = 0;
}

/*
 * One logical request (see remote.h): attempts with retries, then either a
 * response or an error.
 */
RemoteResponse *
RemoteHttpCall(RemoteTarget *target, const RemoteRequest *req)
{
	instr_time	start;
	char	   *volatile fingerprint = NULL;
	struct curl_slist *headers;
	CallState  *cs;
	RemoteResponse *resp;

	INSTR_TIME_SET_CURRENT(start);
	RemoteFailureReset();

	/* record/replay */
	if (remote_mode != REMOTE_MODE_LIVE)
	{
		fingerprint = RemoteRecordFingerprint(target, req);
		if (remote_mode == REMOTE_MODE_REPLAY || remote_mode == REMOTE_MODE_PASSTHROUGH)
		{
			long		status;
			char	   *body;
			size_t		len;

			if (RemoteRecordLookup(fingerprint, &status, &body, &len))
				return ReplayResponse(target, req, status, body, len, start);
			if (remote_mode == REMOTE_MODE_REPLAY)
			{
				remote_last_failure.failed = true;
				ereport(ERROR,
						(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
						 errmsg("no recording for %s request to server \"%s\"",
								req->operation, target->servername),
						 errdetail("vectorpg.remote_mode is replay; the request %s %s with fingerprint %s was never recorded.",
								   req->method, RemoteUrlPath(req->url), fingerprint),
						 errhint("Record it with vectorpg.remote_mode = record, or use passthrough.")));
			}
		}
	}

	CheckRequestUrl(target, req);
	headers = BuildHeaders(target, req);
	cs = palloc0(sizeof(CallState));
	cs->t = palloc0(sizeof(Transfer));

	PG_TRY();
	{
		RunAttempts(target, req, headers, start, cs);
	}
	PG_CATCH();
	{
		FreeTransfer(cs->t);
		curl_slist_free_all(headers);
		PG_RE_THROW();
	}
	PG_END_TRY();
	curl_slist_free_all(headers);

	/* a provider-retryable 2xx that stayed so: the caller reports it */
	if (cs->outcome == ATTEMPT_RETRY && cs->message == NULL)
		cs->outcome = ATTEMPT_OK;

	/*
	 * Record what the remote answered.  Only answers returned to the caller:
	 * an error raised below would roll the recording back with the
	 * statement anyway.
	 */
	if (remote_mode == REMOTE_MODE_RECORD && cs->outcome == ATTEMPT_OK)
	{
		PG_TRY();
		{
			RemoteRecordStore(target, req, fingerprint, cs->res.status,
							  cs->t->buf ? cs->t->buf : "", cs->t->len);
		}
		PG_CATCH();
		{
			FreeTransfer(cs->t);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}

	RemoteMetricsCount(target, req->operation, cs->outcome != ATTEMPT_OK,
					   cs->attempts - 1, cs->bytes_sent, cs->bytes_received,
					   ElapsedMs(start), cs->connects);

	remote_last_failure.http_status = cs->res.status;
	if (cs->outcome != ATTEMPT_OK)
	{
		FreeTransfer(cs->t);
		RaiseCallError(cs);
	}

	resp = MakeResponse(cs->res.status, cs->t->buf, cs->t->len, cs->attempts,
						ElapsedMs(start), cs->t->retry_after, cs->t->request_id);
	FreeTransfer(cs->t);
	pfree(cs->t);
	pfree(cs);
	return resp;
}

/* The path and query of a URL (for recordings and messages): "/..." */
const char *
RemoteUrlPath(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? p + 3 : url;
	p = p + strcspn(p, "/?");
	return *p ? p : "/";
}

/* One transfer slot of RemoteHttpCallMany: a handle and its logical call */
typedef struct ManySlot
{
	CURL	   *easy;
	bool		own_easy;		/* made here, cleaned up at the end */
	bool		in_multi;		/* added to the multi handle */
	int			req;			/* the request it runs, -1 when idle */
	bool		waiting;		/* between two attempts */
	double		wake_ms;		/* when the next attempt starts (batch clock) */
	instr_time	start;			/* start of the logical call */
	struct curl_slist *headers;
	Transfer	t;
	CallState	cs;
} ManySlot;

/* Abort and free everything the slots hold; safe to call twice */
static void
ManyCleanup(CURLM *multi, ManySlot *slots, int nslots)
{
	for (int i = 0; i < nslots; i++)
	{
		ManySlot   *slot = &slots[i];

		if (slot->easy && slot->in_multi)
			curl_multi_remove_handle(multi, slot->easy);
		slot->in_multi = false;
		if (slot->easy)
		{
			if (slot->own_easy)
				curl_easy_cleanup(slot->easy);
			else
				curl_easy_reset(slot->easy);
			slot->easy = NULL;
		}
		FreeTransfer(&slot->t);
		if (slot->headers)
			curl_slist_free_all(slot->headers);
		slot->headers = NULL;
	}
}

/* Start the next attempt of a slot's call */
static void
ManyStartAttempt(RemoteTarget *target, const RemoteRequest *req, CURLM *multi,
				 ManySlot *slot)
{
	FreeTransfer(&slot->t);
	memset(&slot->t, 0, sizeof(Transfer));
	slot->t.max = (size_t) target->max_response_bytes;
	slot->t.allow_private = target->allow_insecure;
	slot->waiting = false;
	slot->cs.attempts++;
	PrepareAttempt(target, req, multi, slot->easy, &slot->t, slot->headers,
				   &slot->cs.res);
	slot->in_multi = true;
}

/* What the error path of RemoteHttpCallMany must find to clean up */
typedef struct ManyState
{
	ManySlot   *slots;
	int			nslots;
	int			current;		/* request being started or failed, or -1 */
} ManyState;

/* RemoteHttpCallMany's requests one after the other through RemoteHttpCall */
static void
CallManySerial(RemoteTarget *target, const RemoteRequest *reqs, int n,
			   RemoteResponse **responses)
{
	for (int i = 0; i < n; i++)
	{
		PG_TRY();
		{
			responses[i] = RemoteHttpCall(target, &reqs[i]);
		}
		PG_CATCH();
		{
			remote_last_failure.item = i;
			remote_last_failure.nitems = 1;
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
}

/*
 * The loop of RemoteHttpCallMany: start calls on idle slots, drive the
 * transfers, classify finished attempts, schedule retries, collect
 * responses; raises the first failure (the caller's PG_CATCH cleans up).
 */
static void
ManyRun(RemoteTarget *target, const RemoteRequest *reqs, int n, int parallelism,
		RemoteResponse **responses, CURLM *multi, CURL *easy0, ManyState *st)
{
	int			failed = -1;
	int			next = 0;
	int			done = 0;
	int			want = Min(parallelism, n);
	instr_time	batch_start;
	ManySlot   *slots;

	INSTR_TIME_SET_CURRENT(batch_start);
	slots = st->slots = palloc0(sizeof(ManySlot) * want);
	for (int i = 0; i < want; i++)
	{
		slots[i].req = -1;
		slots[i].easy = i == 0 ? easy0 : curl_easy_init();
		slots[i].own_easy = i > 0;
		st->nslots = i + 1;
		if (slots[i].easy == NULL)
		{
			remote_last_failure.failed = true;
			remote_last_failure.transient = true;
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create a connection handle for server \"%s\"",
							target->servername)));
		}
	}

	while (done < n && failed < 0)
	{
		int			running = 0;
		CURLMcode	mc;
		CURLMsg    *msg;
		int			left;
		double		now = ElapsedMs(batch_start);
		double		poll_ms = REMOTE_POLL_MS;

		/* idle slots take the next request, waiting ones whose time came restart */
		for (int i = 0; i < st->nslots; i++)
		{
			ManySlot   *slot = &slots[i];

			if (slot->req < 0 && next < n)
			{
				st->current = next;
				CheckRequestUrl(target, &reqs[next]);
				slot->req = next++;
				memset(&slot->cs, 0, sizeof(CallState));
				slot->cs.t = &slot->t;
				INSTR_TIME_SET_CURRENT(slot->start);
				slot->headers = BuildHeaders(target, &reqs[slot->req]);
				ManyStartAttempt(target, &reqs[slot->req], multi, slot);
				st->current = -1;
			}
			else if (slot->req >= 0 && slot->waiting && now >= slot->wake_ms)
			{
				st->current = slot->req;
				ManyStartAttempt(target, &reqs[slot->req], multi, slot);
				st->current = -1;
			}
			if (slot->req >= 0 && slot->waiting)
				poll_ms = Min(poll_ms, Max(slot->wake_ms - now, 1.0));
		}

		mc = curl_multi_perform(multi, &running);
		if (mc != CURLM_OK)
		{
			remote_last_failure.failed = true;
			remote_last_failure.transient = true;
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("requests to server \"%s\" failed: %s",
							target->servername, curl_multi_strerror(mc))));
		}

		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			CURL	   *easy = msg->easy_handle;
			CURLcode	rc = msg->data.result;
			ManySlot   *slot = NULL;
			const RemoteRequest *req;
			double		wait_ms;
			size_t		body_len;

			if (msg->msg != CURLMSG_DONE)
				continue;
			for (int i = 0; i < st->nslots; i++)
				if (slots[i].easy == easy && slots[i].in_multi)
					slot = &slots[i];
			if (slot == NULL)
				continue;
			req = &reqs[slot->req];
			body_len = req->body ? strlen(req->body) : 0;
			CollectAttempt(multi, easy, rc, &slot->cs.res);
			slot->in_multi = false;
			slot->cs.bytes_sent += body_len;
			slot->cs.bytes_received += (uint64) slot->cs.res.bytes_received;
			slot->cs.connects += slot->cs.res.connects;
			slot->cs.outcome = ClassifyAttempt(target, req, &slot->t, &slot->cs.res,
											   &slot->cs.sqlstate, &slot->cs.message,
											   &slot->cs.detail, &slot->cs.hint);
			if (NextWait(target, req, slot->start, &slot->cs, &wait_ms))
			{
				slot->waiting = true;
				slot->wake_ms = ElapsedMs(batch_start) + wait_ms;
				continue;
			}
			/* a provider-retryable 2xx that stayed so: the caller reports it */
			if (slot->cs.outcome == ATTEMPT_RETRY && slot->cs.message == NULL)
				slot->cs.outcome = ATTEMPT_OK;
			RemoteMetricsCount(target, req->operation, slot->cs.outcome != ATTEMPT_OK,
							   slot->cs.attempts - 1, slot->cs.bytes_sent,
							   slot->cs.bytes_received, ElapsedMs(slot->start),
							   slot->cs.connects);
			if (slot->cs.outcome != ATTEMPT_OK)
			{
				failed = slot - slots;
				break;
			}
			responses[slot->req] =
				MakeResponse(slot->cs.res.status, slot->t.buf, slot->t.len,
							 slot->cs.attempts, ElapsedMs(slot->start),
							 slot->t.retry_after, slot->t.request_id);
			remote_last_failure.http_status = slot->cs.res.status;
			FreeTransfer(&slot->t);
			curl_slist_free_all(slot->headers);
			slot->headers = NULL;
			slot->req = -1;
			done++;
		}
		if (done >= n || failed >= 0)
			break;

		CHECK_FOR_INTERRUPTS();
		mc = curl_multi_poll(multi, NULL, 0, (int) ceil(poll_ms), NULL);
		if (mc != CURLM_OK)
		{
			remote_last_failure.failed = true;
			remote_last_failure.transient = true;
			ereport(ERROR,
					(errcode(ERRCODE_FDW_ERROR),
					 errmsg("requests to server \"%s\" failed: %s",
							target->servername, curl_multi_strerror(mc))));
		}
		CHECK_FOR_INTERRUPTS();
	}

	if (failed >= 0)
	{
		ManySlot   *slot = &slots[failed];

		/* the others are aborted: count them as failed calls too */
		for (int i = 0; i < st->nslots; i++)
		{
			if (i != failed && slots[i].req >= 0)
				RemoteMetricsCount(target, reqs[slots[i].req].operation, true,
								   slots[i].cs.attempts - 1, slots[i].cs.bytes_sent,
								   slots[i].cs.bytes_received,
								   ElapsedMs(slots[i].start), slots[i].cs.connects);
		}
		st->current = slot->req;
		RaiseCallError(&slot->cs);
	}
}

/*
 * Several independent requests, up to `parallelism` in flight (remote.h).
 *
 * Each slot owns an easy handle (the connection cache's own for the first,
 * fresh ones for the others, all in the cache's multi handle, whose
 * connection pool they share and keep alive across calls) and runs one
 * logical call at a time: attempt, classify, and between attempts a wait
 * that does not hold up the other slots.  The loop polls for interrupts
 * every REMOTE_POLL_MS as RunAttempt does; an error or a cancel aborts
 * every transfer still running.  Record and replay modes, one request or
 * parallelism 1 take RemoteHttpCall's path, one request after the other.
 */
void
RemoteHttpCallMany(RemoteTarget *target, const RemoteRequest *reqs, int n,
				   int parallelism, RemoteResponse **responses)
{
	CURLM	   *multi;
	CURL	   *easy0;
	bool		fresh;
	ManyState  *st;

	RemoteFailureReset();
	if (n <= 0)
		return;
	if (remote_mode != REMOTE_MODE_LIVE || n == 1 || parallelism <= 1)
	{
		CallManySerial(target, reqs, n, responses);
		return;
	}

	easy0 = RemoteConnectionGet(target, (void **) &multi, &fresh);
	/* keep a connection per slot in the pool between calls */
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) Max(4, Min(parallelism, n)));
	st = palloc0(sizeof(ManyState));
	st->current = -1;

	pgstat_report_wait_start(PG_WAIT_EXTENSION);
	PG_TRY();
	{
		ManyRun(target, reqs, n, parallelism, responses, multi, easy0, st);
	}
	PG_CATCH();
	{
		pgstat_report_wait_end();
		if (st->slots)
			ManyCleanup(multi, st->slots, st->nslots);
		if (st->current >= 0)
		{
			remote_last_failure.item = st->current;
			remote_last_failure.nitems = 1;
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
	pgstat_report_wait_end();
	ManyCleanup(multi, st->slots, st->nslots);
	pfree(st->slots);
	pfree(st);
}
