/*-------------------------------------------------------------------------
 *
 * remote_curl.h
 *	  libcurl, loaded when the remote client first needs it.
 *
 * vectorpg.so does not link libcurl.  Linked, libcurl and the thirty
 * libraries it pulls in (TLS, Kerberos, LDAP, HTTP/2, ...) were loaded into
 * every backend and every parallel worker that touched vectorpg, remote
 * features or not: LOAD 'vectorpg' took 7-9 ms in a fresh backend, and
 * dlopen of libcurl alone 12-17 ms in a fresh process.  Instead, the first
 * remote request dlopens it (remote_curl.c) and calls it through a table
 * of function pointers.
 *
 * The transport (remote_http.c, fdw_connection.c) includes this header
 * instead of <curl/curl.h> and keeps libcurl's names: each name below
 * stands for the loaded function, loading libcurl on first use.  curl.h's
 * own macros for the variadic functions (its type checks) are replaced.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef REMOTE_CURL_H
#define REMOTE_CURL_H

#include <curl/curl.h>

#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#undef curl_share_setopt

/* The functions the transport calls, typed as curl.h declares them */
typedef struct RemoteCurlApi
{
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_reset) *easy_reset;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_perform) *multi_perform;
	__typeof__(curl_multi_poll) *multi_poll;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
	__typeof__(curl_multi_strerror) *multi_strerror;
} RemoteCurlApi;

/* NULL until the first use loads libcurl and runs curl_global_init */
extern const RemoteCurlApi *RemoteCurl;
extern const RemoteCurlApi *RemoteCurlLoad(void);

/* The loaded functions, loading them first if need be */
static inline const RemoteCurlApi *
RemoteCurlGet(void)
{
	return likely(RemoteCurl != NULL) ? RemoteCurl : RemoteCurlLoad();
}

#define curl_easy_init			(*RemoteCurlGet()->easy_init)
#define curl_easy_setopt		(*RemoteCurlGet()->easy_setopt)
#define curl_easy_getinfo		(*RemoteCurlGet()->easy_getinfo)
#define curl_easy_reset			(*RemoteCurlGet()->easy_reset)
#define curl_easy_cleanup		(*RemoteCurlGet()->easy_cleanup)
#define curl_easy_strerror		(*RemoteCurlGet()->easy_strerror)
#define curl_slist_append		(*RemoteCurlGet()->slist_append)
#define curl_slist_free_all		(*RemoteCurlGet()->slist_free_all)
#define curl_multi_init			(*RemoteCurlGet()->multi_init)
#define curl_multi_setopt		(*RemoteCurlGet()->multi_setopt)
#define curl_multi_add_handle	(*RemoteCurlGet()->multi_add_handle)
#define curl_multi_remove_handle (*RemoteCurlGet()->multi_remove_handle)
#define curl_multi_perform		(*RemoteCurlGet()->multi_perform)
#define curl_multi_poll			(*RemoteCurlGet()->multi_poll)
#define curl_multi_info_read	(*RemoteCurlGet()->multi_info_read)
#define curl_multi_cleanup		(*RemoteCurlGet()->multi_cleanup)
#define curl_multi_strerror		(*RemoteCurlGet()->multi_strerror)

#endif							/* REMOTE_CURL_H */
