/*-------------------------------------------------------------------------
 *
 * remote_curl.c
 *	  Loading libcurl on the first remote request (see remote_curl.h for
 *	  why it is not linked).
 *
 * RemoteCurlLoad dlopens the libcurl soname vectorpg was built against,
 * looks up every function the transport calls, and runs curl_global_init
 * once, as libcurl asks before any other call.  A backend is one thread,
 * so nothing races the first use; a failure raises an error naming the
 * library and leaves RemoteCurl unset, so the next use tries again.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dlfcn.h>

#include "remote_curl.h"

/*
 * The soname to load: Debian's libcurl4 (the OpenSSL build), whose headers
 * (libcurl4-openssl-dev) vectorpg is compiled with
 */
#ifndef VECTORPG_LIBCURL
#define VECTORPG_LIBCURL "libcurl.so.4"
#endif

const RemoteCurlApi *RemoteCurl = NULL;

static RemoteCurlApi RemoteCurlFunctions;

/* One function of libcurl, or an error naming it */
static void *
LookUp(void *lib, const char *name)
{
	void	   *f = dlsym(lib, name);

	if (f == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not find function \"%s\" in library \"%s\"", name, VECTORPG_LIBCURL),
				 errhint("vectorpg's remote client needs libcurl 7.85 or later (Debian 12 has 7.88).")));
	return f;
}

/*
 * Load libcurl and initialise it, once per process; returns the function
 * table
 */
const RemoteCurlApi *
RemoteCurlLoad(void)
{
	RemoteCurlApi *api = &RemoteCurlFunctions;
	void	   *lib;
	CURLcode	rc;

	if (RemoteCurl != NULL)
		return RemoteCurl;
	lib = dlopen(VECTORPG_LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("could not load library \"%s\": %s", VECTORPG_LIBCURL, dlerror()),
				 errhint("vectorpg's remote features (Pinecone, Milvus) need libcurl: install Debian's package libcurl4.")));
	api->global_init = LookUp(lib, "curl_global_init");
	api->easy_init = LookUp(lib, "curl_easy_init");
	api->easy_setopt = LookUp(lib, "curl_easy_setopt");
	api->easy_getinfo = LookUp(lib, "curl_easy_getinfo");
	api->easy_reset = LookUp(lib, "curl_easy_reset");
	api->easy_cleanup = LookUp(lib, "curl_easy_cleanup");
	api->easy_strerror = LookUp(lib, "curl_easy_strerror");
	api->slist_append = LookUp(lib, "curl_slist_append");
	api->slist_free_all = LookUp(lib, "curl_slist_free_all");
	api->multi_init = LookUp(lib, "curl_multi_init");
	api->multi_setopt = LookUp(lib, "curl_multi_setopt");
	api->multi_add_handle = LookUp(lib, "curl_multi_add_handle");
	api->multi_remove_handle = LookUp(lib, "curl_multi_remove_handle");
	api->multi_perform = LookUp(lib, "curl_multi_perform");
	api->multi_poll = LookUp(lib, "curl_multi_poll");
	api->multi_info_read = LookUp(lib, "curl_multi_info_read");
	api->multi_cleanup = LookUp(lib, "curl_multi_cleanup");
	api->multi_strerror = LookUp(lib, "curl_multi_strerror");

	rc = api->global_init(CURL_GLOBAL_ALL);
	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialise libcurl: %s", api->easy_strerror(rc))));
	RemoteCurl = api;
	return RemoteCurl;
}
