/* gst-luma: libFuzzer target for the proxy settings and no_proxy
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is fields separated by NUL bytes: the target host[:port], then
 * no_proxy, http_proxy, https_proxy, all_proxy, the proxy property,
 * NO_PROXY, HTTPS_PROXY, ALL_PROXY, HTTP_PROXY (a field that is missing is
 * unset). luma_proxy_resolver_new () gets them, and the resolver it gives
 * is asked for http://TARGET and https://TARGET. Besides memory errors and
 * leaks, the target aborts when the contract (lumaproxy.c) breaks:
 * - NULL comes with a LUMA_PROXY_ERROR whose message is UTF-8, and a
 *   resolver without one;
 * - every answer is "direct://", the system's proxy, or a URL that GIO and
 *   libsoup will read (else they g_warning () and go nowhere); the marker
 *   for the system's resolver never comes out;
 * - HTTP_PROXY (curl never reads it, libproxy does) adds no proxy: with
 *   it, an answer is the one without it, or direct:// where that one was
 *   the system's (then the system's resolver is not asked);
 * - a host listed as it is in no_proxy (or NO_PROXY when no_proxy is
 *   unset), alone or with its port, is never proxied; nor is any host when
 *   no_proxy has "*";
 * - with the proxy property, http and https URLs get the same answer.
 * A GLib warning (GSimpleProxyResolver refusing an ignore-hosts entry) or
 * critical aborts too.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libsoup/soup.h>

#include "lumaproxy.h"
#define FUZZ_NAME "fuzz-proxy"
#define FUZZ_OWN_INITIALIZE
#include "fuzz-common.h"

#define SYSTEM_URL "http://system.invalid:1"

enum
{
  F_TARGET, F_NO_PROXY, F_HTTP, F_HTTPS, F_ALL, F_PROPERTY, F_NO_PROXY_UP,
  F_HTTPS_UP, F_ALL_UP, F_HTTP_UP, N_FIELDS
};

static const gchar *variables[N_FIELDS] = {
  NULL, "no_proxy", "http_proxy", "https_proxy", "all_proxy", NULL,
  "NO_PROXY", "HTTPS_PROXY", "ALL_PROXY", "HTTP_PROXY"
};

static GProxyResolver *system_resolver;

static gchar **
build_envp (gchar ** fields, gboolean with_http_upper)
{
  gchar **envp = NULL;
  guint i;

  for (i = 0; i < N_FIELDS; i++) {
    if (variables[i] == NULL || fields[i] == NULL)
      continue;
    if (i == F_HTTP_UP && !with_http_upper)
      continue;
    envp = g_environ_setenv (envp, variables[i], fields[i], TRUE);
  }
  return envp;
}

static gboolean
is_usable_proxy (const gchar * proxy)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GSocketConnectable) address = NULL;

  if (strcmp (proxy, "direct://") == 0 || strcmp (proxy, SYSTEM_URL) == 0)
    return TRUE;
  if (g_str_has_prefix (proxy, "luma-system-proxy:"))
    return FALSE;               /* lumaproxy.c's marker for the system's */
  uri = g_uri_parse (proxy, SOUP_HTTP_URI_FLAGS, NULL);
  if (uri == NULL || g_uri_get_port (uri) <= 0)
    return FALSE;
  address = g_network_address_parse_uri (proxy, 0, NULL);
  return address != NULL;
}

static void
on_lookup (GObject * source, GAsyncResult * result, gpointer user_data)
{
  gchar ***proxies = user_data;

  *proxies = g_proxy_resolver_lookup_finish (G_PROXY_RESOLVER (source),
      result, NULL);
  if (*proxies == NULL)
    fuzz_contract_broken ("an async lookup failed", NULL);
}

/* Both ways of asking: they must agree. */
static gchar *
lookup (GProxyResolver * resolver, const gchar * uri)
{
  g_auto (GStrv) proxies = g_proxy_resolver_lookup (resolver, uri, NULL, NULL);
  g_auto (GStrv) async_proxies = NULL;
  guint i;

  if (proxies == NULL || proxies[0] == NULL)
    fuzz_contract_broken ("a lookup without an answer", uri);
  for (i = 0; proxies[i] != NULL; i++) {
    if (!is_usable_proxy (proxies[i]))
      fuzz_contract_broken ("an answer GIO or libsoup cannot read", proxies[i]);
  }
  g_proxy_resolver_lookup_async (resolver, uri, NULL, on_lookup,
      &async_proxies);
  while (async_proxies == NULL)
    g_main_context_iteration (NULL, TRUE);
  if (!g_strv_equal ((const gchar * const *) proxies,
          (const gchar * const *) async_proxies))
    fuzz_contract_broken ("lookup and lookup_async differ", uri);
  return g_strdup (proxies[0]);
}

static gboolean
is_digits_and_dots (const gchar * text)
{
  for (; *text != '\0'; text++) {
    if (!g_ascii_isdigit (*text) && *text != '.')
      return FALSE;
  }
  return TRUE;
}

/* A host a URL can name and GLib's resolver would look up: an address, or
 * a name of letters, digits, '-', '.' and '_' that does not end in digits
 * alone (the resolver takes "1.2" for no name at all). */
static gboolean
is_plain_host (const gchar * host)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (host);
  const gchar *p;
  gboolean alnum = FALSE;

  /* (g_hostname_is_ip_address () and GUri take ":" for one) */
  if (address != NULL)
    return TRUE;
  for (p = host; *p != '\0'; p++) {
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
      return FALSE;
    alnum |= g_ascii_isalnum (*p);
  }
  return alnum && !is_digits_and_dots (host);
}

/* Whether the no_proxy value lists @target or its @host as they are, or
 * "*". */
static gboolean
lists_target (const gchar * no_proxy, const gchar * target, const gchar * host)
{
  g_auto (GStrv) entries = NULL;
  g_autofree gchar *bracketed = g_strdup_printf ("[%s]", host);
  /* "host:port" is a no_proxy form; "host:port/path" is a URL's text, not
   * one (curl ignores such an entry too) */
  gboolean target_is_host_port = strpbrk (target, "/?#@") == NULL;
  guint i;

  if (no_proxy == NULL || no_proxy[0] == '\0')
    return FALSE;
  entries = g_strsplit_set (no_proxy, ", \t", -1);
  for (i = 0; entries[i] != NULL; i++) {
    if (strcmp (entries[i], "*") == 0
        || (target_is_host_port && strcmp (entries[i], target) == 0)
        || strcmp (entries[i], host) == 0
        || (strchr (host, ':') != NULL && strcmp (entries[i], bracketed) == 0))
      return TRUE;
  }
  return FALSE;
}

static gboolean
has_star (const gchar * no_proxy)
{
  g_auto (GStrv) entries = NULL;
  guint i;

  if (no_proxy == NULL || no_proxy[0] == '\0')
    return FALSE;
  entries = g_strsplit_set (no_proxy, ", \t", -1);
  for (i = 0; entries[i] != NULL; i++) {
    if (strcmp (entries[i], "*") == 0)
      return TRUE;
  }
  return FALSE;
}

static void
check_resolver (GProxyResolver * resolver, gchar ** fields,
    const gchar * http_uri, const gchar * https_uri, gchar ** http_answer,
    gchar ** https_answer)
{
  const gchar *no_proxy = fields[F_NO_PROXY];
  g_autofree gchar *host = NULL;
  gint port = -1;

  *http_answer = lookup (resolver, http_uri);
  *https_answer = lookup (resolver, https_uri);

  if (no_proxy == NULL || no_proxy[0] == '\0')
    no_proxy = fields[F_NO_PROXY_UP];
  if (has_star (no_proxy) && (strcmp (*http_answer, "direct://") != 0
          || strcmp (*https_answer, "direct://") != 0))
    fuzz_contract_broken ("no_proxy has \"*\" but a URL is proxied", no_proxy);

  /* GSimpleProxyResolver reads the host the same way; GIO always writes
   * the port in the URLs it asks about */
  if (g_uri_split_network (http_uri, G_URI_FLAGS_NONE, NULL, &host, &port,
          NULL) && port > 0 && host != NULL && is_plain_host (host)
      && lists_target (no_proxy, fields[F_TARGET], host)
      && (strcmp (*http_answer, "direct://") != 0
          || strcmp (*https_answer, "direct://") != 0))
    fuzz_contract_broken ("a host listed in no_proxy is proxied", http_uri);

  if (fields[F_PROPERTY] != NULL && fields[F_PROPERTY][0] != '\0'
      && strcmp (*http_answer, "direct://") != 0
      && strcmp (*https_answer, "direct://") != 0
      && strcmp (*http_answer, *https_answer) != 0)
    fuzz_contract_broken ("the property gives http and https different proxies",
        fields[F_PROPERTY]);
}

/* @with (HTTP_PROXY set) against @without (HTTP_PROXY unset) */
static gboolean
same_or_system_gone (const gchar * with, const gchar * without)
{
  return strcmp (with, without) == 0 || (strcmp (with, "direct://") == 0
      && strcmp (without, SYSTEM_URL) == 0);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_watch_warnings ();
  system_resolver = g_simple_proxy_resolver_new (SYSTEM_URL, NULL);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  gchar *fields[N_FIELDS] = { NULL };
  g_auto (GStrv) envp = NULL;
  g_auto (GStrv) envp_no_upper = NULL;
  g_autoptr (GProxyResolver) resolver = NULL;
  g_autoptr (GProxyResolver) resolver_no_upper = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) error_no_upper = NULL;
  g_autofree gchar *http_uri = NULL;
  g_autofree gchar *https_uri = NULL;
  g_autofree gchar *http_answer = NULL;
  g_autofree gchar *https_answer = NULL;
  g_autofree gchar *http_answer2 = NULL;
  g_autofree gchar *https_answer2 = NULL;
  gsize start = 0, i;
  guint n = 0;

  /* NUL-separated fields, each copied so that it ends where it should */
  for (i = 0; i <= size && n < N_FIELDS; i++) {
    if (i == size || data[i] == '\0') {
      fields[n++] = g_strndup ((const gchar *) data + start, i - start);
      start = i + 1;
    }
  }
  if (fields[F_TARGET] == NULL)
    fields[F_TARGET] = g_strdup ("");

  envp = build_envp (fields, TRUE);
  envp_no_upper = build_envp (fields, FALSE);
  resolver = luma_proxy_resolver_new (fields[F_PROPERTY], envp,
      system_resolver, &error);
  resolver_no_upper = luma_proxy_resolver_new (fields[F_PROPERTY],
      envp_no_upper, system_resolver, &error_no_upper);

  if ((resolver == NULL) == (error == NULL))
    fuzz_contract_broken ("a resolver and an error, or neither", NULL);
  if (error != NULL && (error->domain != LUMA_PROXY_ERROR
          || error->message == NULL || error->message[0] == '\0'
          || !g_utf8_validate (error->message, -1, NULL)))
    fuzz_contract_broken ("an error that is not LUMA_PROXY_ERROR in UTF-8",
        error->message);
  if ((error == NULL) != (error_no_upper == NULL)
      || (error != NULL && strcmp (error->message,
              error_no_upper->message) != 0))
    fuzz_contract_broken ("HTTP_PROXY changed the outcome", fields[F_HTTP_UP]);

  http_uri = g_strconcat ("http://", fields[F_TARGET], NULL);
  https_uri = g_strconcat ("https://", fields[F_TARGET], NULL);
  /* g_proxy_resolver_lookup () refuses what is no URI before any resolver
   * sees it (and libsoup asks about valid ones only) */
  if (resolver != NULL && g_uri_is_valid (http_uri, G_URI_FLAGS_NONE, NULL)
      && g_uri_is_valid (https_uri, G_URI_FLAGS_NONE, NULL)) {
    check_resolver (resolver, fields, http_uri, https_uri, &http_answer,
        &https_answer);
    check_resolver (resolver_no_upper, fields, http_uri, https_uri,
        &http_answer2, &https_answer2);
    if (!same_or_system_gone (http_answer, http_answer2)
        || !same_or_system_gone (https_answer, https_answer2))
      fuzz_contract_broken ("HTTP_PROXY changed an answer", fields[F_HTTP_UP]);
  }

  for (i = 0; i < N_FIELDS; i++)
    g_free (fields[i]);
  return 0;
}
