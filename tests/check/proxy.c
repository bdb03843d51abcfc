/* gst-luma: proxies as curl reads them: http_proxy, https_proxy,
 * all_proxy, no_proxy, and the proxy property
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The resolver alone first (what luma_proxy_resolver_new () answers for a
 * URL, for given settings), then lumasrc in a pipeline with an HTTP proxy
 * of the test's own in front of the emulator. The names *.luma.localhost
 * are the loopback without any DNS (GLib resolves "localhost" and every
 * name below it to it), so that no_proxy can name hosts and domains.
 */
#include <gst/check/gstcheck.h>
#include <gst/luma/luma.h>
#include <libsoup/soup.h>

#include "harness.h"
#include "lumaproxy.h"

#define API_HOST "api.luma.localhost"
#define VIDEO_HOST "video.luma.localhost"

/* What the user's environment may have: cleared for every test. */
static const gchar *proxy_variables[] = {
  "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
  "ALL_PROXY", "no_proxy", "NO_PROXY", NULL
};

/* ----- the resolver alone ----- */

/* luma_proxy_resolver_new () with @proxy and the environment @pairs
 * (name, value, ..., NULL); the system's resolver says "system". */
/* An environment of the pairs (name, value, ..., NULL) of @args */
static GStrv
environ_of (va_list args)
{
  GStrv envp = NULL;
  const gchar *name;

  while ((name = va_arg (args, const gchar *)) != NULL)
      envp = g_environ_setenv (envp, name, va_arg (args, const gchar *), TRUE);
  return envp;
}

static GProxyResolver *
resolver_for (const gchar * proxy, GError ** error, ...)
{
  g_auto (GStrv) envp = NULL;
  g_autoptr (GProxyResolver) system =
      g_simple_proxy_resolver_new ("http://system.example:1", NULL);
  va_list args;

  va_start (args, error);
  envp = environ_of (args);
  va_end (args);
  return luma_proxy_resolver_new (proxy, envp, system, error);
}

/* The one proxy @resolver gives for @uri ("direct://" for none). */
static gchar *
lookup (GProxyResolver * resolver, const gchar * uri)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) proxies = g_proxy_resolver_lookup (resolver, uri, NULL,
      &error);

  fail_unless (proxies != NULL, "%s: %s", uri, error->message);
  fail_unless (proxies[0] != NULL);
  return g_strdup (proxies[0]);
}

#define assert_lookup(resolver, uri, expected) G_STMT_START {       \
  g_autofree gchar *_got = lookup ((resolver), (uri));                \
  fail_unless (g_strcmp0 (_got, (expected)) == 0,                     \
      "%s went to %s, not %s", (uri), _got, (expected));              \
} G_STMT_END

GST_START_TEST (test_scheme_picks_the_variable)
{
  g_autoptr (GProxyResolver) r = NULL;

  r = resolver_for (NULL, NULL, "http_proxy", "h.example:3128",
      "https_proxy", "http://s.example:3129", NULL);
  assert_lookup (r, "http://origin.example:80", "http://h.example:3128");
  assert_lookup (r, "https://origin.example:443", "http://s.example:3129");
  g_clear_object (&r);

  /* http_proxy alone: https goes direct, as in curl */
  r = resolver_for (NULL, NULL, "http_proxy", "http://h.example:1", NULL);
  assert_lookup (r, "https://origin.example:443", "direct://");
  g_clear_object (&r);

  /* HTTP_PROXY is never read (CGI); HTTPS_PROXY and ALL_PROXY are */
  r = resolver_for (NULL, NULL, "HTTP_PROXY", "http://cgi.example:1",
      "HTTPS_PROXY", "http://s.example:2", "ALL_PROXY",
      "socks5://all.example:3", NULL);
  assert_lookup (r, "http://origin.example:80", "socks5://all.example:3");
  assert_lookup (r, "https://origin.example:443", "http://s.example:2");
  g_clear_object (&r);

  /* lower case first */
  r = resolver_for (NULL, NULL, "https_proxy", "http://lower.example:1",
      "HTTPS_PROXY", "http://upper.example:2", "all_proxy",
      "http://all.example:3", "ALL_PROXY", "http://ALL.example:4", NULL);
  assert_lookup (r, "https://origin.example:443", "http://lower.example:1");
  assert_lookup (r, "http://origin.example:80", "http://all.example:3");
  g_clear_object (&r);

  /* empty is unset */
  r = resolver_for (NULL, NULL, "http_proxy", "", "all_proxy", "",
      "no_proxy", "", NULL);
  assert_lookup (r, "http://origin.example:80", "http://system.example:1");
}

GST_END_TEST;

/* an empty variable is unset everywhere else (curl's rule, the
 * test above): an empty HTTP_PROXY (export HTTP_PROXY=) names no proxy,
 * so the system's resolver keeps deciding. */
GST_START_TEST (test_empty_http_proxy_keeps_the_system)
{
  g_autoptr (GProxyResolver) r = NULL;

  r = resolver_for (NULL, NULL, "HTTP_PROXY", "", NULL);
  assert_lookup (r, "https://origin.example:443", "http://system.example:1");
}

GST_END_TEST;

GST_START_TEST (test_proxy_url_forms)
{
  static const gchar *cases[][2] = {
    {"proxy.example:3128", "http://proxy.example:3128"},
    {"http://proxy.example", "http://proxy.example:1080"},
    {"https://proxy.example", "https://proxy.example:443"},
    {"socks5h://proxy.example:9", "socks5://proxy.example:9"},
    {"HTTP://proxy.example:8/a/path?q#f", "http://proxy.example:8"},
    {"http://user:pa%40ss@proxy.example:8",
        "http://user:pa%40ss@proxy.example:8"},
    {"http://[::1]:8", "http://[::1]:8"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GProxyResolver) r = resolver_for (NULL, NULL, "http_proxy",
        cases[i][0], NULL);

    fail_unless (r != NULL, "%s refused", cases[i][0]);
    assert_lookup (r, "http://origin.example:80", cases[i][1]);
  }
}

GST_END_TEST;

/* no_proxy as curl reads it: a table of (no_proxy, URL, direct?). */
GST_START_TEST (test_no_proxy_forms)
{
  static const struct
  {
    const gchar *no_proxy;
    const gchar *uri;
    gboolean direct;
  } cases[] = {
    {"example.com", "http://example.com:80", TRUE},
    /* not UTF-8: skipped, the rest still read (found by fuzz-proxy) */
    {"\xf8\xf8\xf8\xf8\xf8\xf8\xf8\xf8,example.com", "http://example.com:80",
        TRUE},
    {"example.com", "http://sub.example.com:80", TRUE},
    {".example.com", "http://sub.example.com:80", TRUE},
    {".example.com", "http://example.com:80", TRUE},
    {"*.example.com", "http://a.b.example.com:80", TRUE},
    {"example.com", "http://nonexample.com:80", FALSE},
    {"example.com", "http://example.com.evil.example:80", FALSE},
    {"EXAMPLE.com", "https://Sub.Example.COM:443", TRUE},
    {"example.com.", "http://sub.example.com:80", TRUE},
    {"example.com", "http://sub.example.com.:80", TRUE},
    {"example.com:8080", "http://example.com:8080", TRUE},
    {"example.com:8080", "http://example.com:80", FALSE},
    {"example.com:443", "https://example.com:443", TRUE},
    {"127.0.0.1", "http://127.0.0.1:80", TRUE},
    {"127.0.0.1", "http://127.0.0.2:80", FALSE},
    {"127.0.0.1:8080", "http://127.0.0.1:8080", TRUE},
    {"127.0.0.1:8080", "http://127.0.0.1:80", FALSE},
    {"10.0.0.0/8", "http://10.1.2.3:80", TRUE},
    {"10.9.9.9/8", "http://10.1.2.3:80", TRUE},
    {"192.168.0.0/16", "http://10.1.2.3:80", FALSE},
    {"::1", "http://[::1]:80", TRUE},
    {"[::1]", "http://[::1]:80", TRUE},
    {"[::1]:8080", "http://[::1]:8080", TRUE},
    {"[::1]:8080", "http://[::1]:80", FALSE},
    {"*", "https://anything.example:443", TRUE},
    {"a.example, *", "http://anything.example:80", TRUE},
    {"a.example b.example\tc.example", "http://b.example:80", TRUE},
    {"a.example,,c.example", "http://c.example:80", TRUE},
    {"b\xc3\xbc" "cher.example", "http://xn--bcher-kva.example:80", TRUE},
    /* a name of digits ends no DNS name, only addresses: not in curl */
    {"0.1", "http://127.0.0.1:80", FALSE},
    /* entries GSimpleProxyResolver would take as an empty name, which
     * ended its list: the entries after them still apply */
    {".,example.com", "http://example.com:80", TRUE},
    {"*.,example.com", "http://example.com:80", TRUE},
    {":80,example.com", "http://example.com:80", TRUE},
    {".*,example.com", "http://example.com:80", TRUE},
    /* entries GSimpleProxyResolver warns about: left out, quietly */
    {"example.com:abc,other.example", "http://other.example:80", TRUE},
    {"example.com:abc", "http://example.com:80", FALSE},
    {"[::1,other.example", "http://other.example:80", TRUE},
    {".[x,other.example", "http://other.example:80", TRUE},
    {"[fe80::1%eth0]:80,other.example", "http://other.example:80", TRUE},
    /* 65616 wraps around to 80 in a gushort */
    {"example.com:65616", "http://example.com:80", FALSE},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GProxyResolver) r = resolver_for (NULL, NULL, "http_proxy",
        "http://p.example:1", "https_proxy", "http://p.example:1", "no_proxy",
        cases[i].no_proxy, NULL);
    g_autofree gchar *got = lookup (r, cases[i].uri);

    fail_unless (g_strcmp0 (got, "direct://") == 0 ? cases[i].direct
        : !cases[i].direct, "no_proxy=\"%s\": %s went to %s",
        cases[i].no_proxy, cases[i].uri, got);
  }
}

GST_END_TEST;

GST_START_TEST (test_no_proxy_upper_case)
{
  g_autoptr (GProxyResolver) r = resolver_for (NULL, NULL, "http_proxy",
      "http://p.example:1", "NO_PROXY", "example.com", NULL);

  assert_lookup (r, "http://example.com:80", "direct://");
  assert_lookup (r, "http://other.example:80", "http://p.example:1");
}

GST_END_TEST;

GST_START_TEST (test_property_replaces_variables)
{
  g_autoptr (GProxyResolver) r = resolver_for ("http://prop.example:1", NULL,
      "http_proxy", "http://h.example:2", "https_proxy", "http://s.example:3",
      "all_proxy", "http://a.example:4", "no_proxy", ".excluded.example", NULL);

  assert_lookup (r, "http://origin.example:80", "http://prop.example:1");
  assert_lookup (r, "https://origin.example:443", "http://prop.example:1");
  assert_lookup (r, "http://api.excluded.example:80", "direct://");
  assert_lookup (r, "https://api.excluded.example:443", "direct://");
}

GST_END_TEST;

static void
on_async_lookup (GObject * source, GAsyncResult * result, gpointer user_data)
{
  gchar ***proxies = user_data;

  *proxies = g_proxy_resolver_lookup_finish (G_PROXY_RESOLVER (source),
      result, NULL);
}

static gchar *
lookup_async (GProxyResolver * resolver, const gchar * uri)
{
  g_auto (GStrv) proxies = NULL;

  g_proxy_resolver_lookup_async (resolver, uri, NULL, on_async_lookup,
      &proxies);
  while (proxies == NULL)
    g_main_context_iteration (NULL, TRUE);
  return g_strdup (proxies[0]);
}

/* no_proxy alone keeps the system's resolver for the other hosts. */
GST_START_TEST (test_no_proxy_in_front_of_the_system)
{
  g_autoptr (GProxyResolver) nothing = resolver_for (NULL, NULL, NULL);
  g_autoptr (GProxyResolver) r = resolver_for (NULL, NULL, "no_proxy",
      "excluded.example", NULL);
  g_autofree gchar *excluded = lookup_async (r, "http://excluded.example:80");
  g_autofree gchar *other = lookup_async (r, "http://other.example:80");

  assert_lookup (nothing, "https://origin.example:443",
      "http://system.example:1");
  assert_lookup (r, "http://excluded.example:80", "direct://");
  assert_lookup (r, "https://origin.example:443", "http://system.example:1");
  fail_unless_equals_string (excluded, "direct://");
  fail_unless_equals_string (other, "http://system.example:1");
}

GST_END_TEST;

GST_START_TEST (test_bad_proxies_are_refused)
{
  static const struct
  {
    const gchar *variable;      /* NULL: the property */
    const gchar *value;
    const gchar *named;         /* in the message */
  } cases[] = {
    {"http_proxy", "http://pro xy.example:3128", "http_proxy"},
    {"http_proxy", "http://proxy.example\x01:3128", "http_proxy"},
    {"http_proxy", "http://proxy.example:3128\n", "http_proxy"},
    {"https_proxy", "http://proxy.example:99999", "https_proxy"},
    {"HTTPS_PROXY", "http://proxy.example:abc", "HTTPS_PROXY"},
    {"all_proxy", "ftp://proxy.example:21", "all_proxy"},
    {"ALL_PROXY", "http://:3128", "ALL_PROXY"},
    {"http_proxy", "http://[::1:3128", "http_proxy"},
    {"http_proxy", "http://pro%2Fxy.example:3128", "http_proxy"},
    {"http_proxy", "http://proxy.example:0", "http_proxy"},
    {NULL, "http://user:s3cret@:3128", "proxy property"},
    {NULL, "http://user:s3cret@pro%20xy:3128", "proxy property"},
    /* no host, and a path GLib cannot print (found by fuzz-proxy) */
    {"https_proxy", "https:/..//pro://proxy.example:3", "https_proxy"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GProxyResolver) r = cases[i].variable != NULL
        ? resolver_for (NULL, &error, cases[i].variable, cases[i].value, NULL)
        : resolver_for (cases[i].value, &error, NULL);

    fail_unless (r == NULL, "\"%s\" was taken", cases[i].value);
    fail_unless (g_error_matches (error, LUMA_PROXY_ERROR,
            LUMA_PROXY_ERROR_BAD_PROXY));
    fail_unless (strstr (error->message, cases[i].named) != NULL,
        "\"%s\" does not name %s", error->message, cases[i].named);
    fail_unless (strstr (error->message, "s3cret") == NULL,
        "\"%s\" shows the password", error->message);
  }

  /* curl never reads HTTP_PROXY: nor does a bad one stop anything */
  {
    g_autoptr (GProxyResolver) r = resolver_for (NULL, NULL, "HTTP_PROXY",
        "http://pro xy", NULL);

    fail_unless (r != NULL);
  }
}

GST_END_TEST;

/* ----- a proxy in front of the emulator ----- */

/* An HTTP proxy on 127.0.0.1 in a thread of its own: it records each
 * request (method, host:port, path), forwards plain http requests to their
 * origin and refuses CONNECT (403), which is enough to see where a tunnel
 * was asked for. */
typedef struct
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  SoupServer *server;
  SoupSession *session;         /* to the origins, direct */
  guint port;

  GMutex lock;
  GCond cond;
  gboolean ready;
  GPtrArray *requests;          /* "METHOD host:port/path" */
  guint with_authorization;
  gboolean wants_credentials;   /* 407 to every request */
} TestProxy;

typedef struct
{
  TestProxy *proxy;
  SoupServerMessage *msg;
} Forward;

static void
on_forwarded (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Forward *forward = user_data;
  SoupMessage *out = soup_session_get_async_result_message (SOUP_SESSION
      (source), result);
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION
      (source), result, NULL);
  SoupMessageHeaders *headers =
      soup_server_message_get_response_headers (forward->msg);
  SoupMessageHeadersIter iter;
  const gchar *name, *value;

  if (body == NULL) {
    soup_server_message_set_status (forward->msg, SOUP_STATUS_BAD_GATEWAY,
        NULL);
  } else {
    soup_server_message_set_status (forward->msg,
        soup_message_get_status (out), NULL);
    soup_message_headers_iter_init (&iter,
        soup_message_get_response_headers (out));
    while (soup_message_headers_iter_next (&iter, &name, &value)) {
      if (g_ascii_strcasecmp (name, "Content-Length") != 0
          && g_ascii_strcasecmp (name, "Transfer-Encoding") != 0
          && g_ascii_strcasecmp (name, "Connection") != 0)
        soup_message_headers_append (headers, name, value);
    }
    soup_message_body_append_bytes (soup_server_message_get_response_body
        (forward->msg), body);
  }
  soup_server_message_unpause (forward->msg);
  g_object_unref (forward->msg);
  g_free (forward);
}

static void
on_proxy_request (SoupServer * server, SoupServerMessage * msg,
    const char *path, GHashTable * query, gpointer user_data)
{
  TestProxy *proxy = user_data;
  const gchar *method = soup_server_message_get_method (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  SoupMessageHeaders *in = soup_server_message_get_request_headers (msg);
  g_autoptr (SoupMessage) out = NULL;
  SoupMessageHeadersIter iter;
  const gchar *name, *value;
  Forward *forward;

  g_mutex_lock (&proxy->lock);
  g_ptr_array_add (proxy->requests, g_strdup_printf ("%s %s:%d%s", method,
          g_uri_get_host (uri), g_uri_get_port (uri), g_uri_get_path (uri)));
  if (soup_message_headers_get_one (in, "Authorization") != NULL)
    proxy->with_authorization++;
  g_mutex_unlock (&proxy->lock);

  if (proxy->wants_credentials) {
    soup_message_headers_append (soup_server_message_get_response_headers
        (msg), "Proxy-Authenticate", "Basic realm=\"test\"");
    soup_server_message_set_status (msg,
        SOUP_STATUS_PROXY_AUTHENTICATION_REQUIRED, NULL);
    return;
  }
  if (method == SOUP_METHOD_CONNECT) {
    soup_server_message_set_status (msg, SOUP_STATUS_FORBIDDEN, NULL);
    return;
  }

  out = soup_message_new_from_uri (method, uri);
  soup_message_add_flags (out, SOUP_MESSAGE_NO_REDIRECT);
  soup_message_headers_iter_init (&iter, in);
  while (soup_message_headers_iter_next (&iter, &name, &value)) {
    if (g_ascii_strcasecmp (name, "Host") != 0
        && g_ascii_strcasecmp (name, "Connection") != 0
        && !g_str_has_prefix (name, "Proxy-"))
      soup_message_headers_append (soup_message_get_request_headers (out),
          name, value);
  }
  forward = g_new0 (Forward, 1);
  forward->proxy = proxy;
  forward->msg = g_object_ref (msg);
  soup_server_message_pause (msg);
  soup_session_send_and_read_async (proxy->session, out, G_PRIORITY_DEFAULT,
      NULL, on_forwarded, forward);
}

static gpointer
test_proxy_thread (gpointer user_data)
{
  TestProxy *proxy = user_data;
  g_autoptr (GInetAddress) loopback =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GProxyResolver) direct = g_simple_proxy_resolver_new (NULL, NULL);
  GSList *listeners;

  /* libsoup attaches its sources to the thread-default context */
  g_main_context_push_thread_default (proxy->context);
  proxy->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (proxy->server, NULL, on_proxy_request, proxy, NULL);
  fail_unless (soup_server_listen (proxy->server, address, 0, NULL));
  listeners = soup_server_get_listeners (proxy->server);
  bound = g_socket_get_local_address (listeners->data, NULL);
  g_slist_free (listeners);
  proxy->session = soup_session_new ();
  soup_session_set_proxy_resolver (proxy->session, direct);
  soup_session_remove_feature_by_type (proxy->session,
      SOUP_TYPE_CONTENT_DECODER);

  g_mutex_lock (&proxy->lock);
  proxy->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  proxy->ready = TRUE;
  g_cond_signal (&proxy->cond);
  g_mutex_unlock (&proxy->lock);

  g_main_loop_run (proxy->loop);

  soup_session_abort (proxy->session);
  g_clear_object (&proxy->session);
  soup_server_disconnect (proxy->server);
  g_clear_object (&proxy->server);
  /* what the disconnections left to run */
  while (g_main_context_iteration (proxy->context, FALSE));
  g_main_context_pop_thread_default (proxy->context);
  return NULL;
}

static TestProxy *
test_proxy_start (void)
{
  TestProxy *proxy = g_new0 (TestProxy, 1);

  g_mutex_init (&proxy->lock);
  g_cond_init (&proxy->cond);
  proxy->requests = g_ptr_array_new_with_free_func (g_free);
  proxy->context = g_main_context_new ();
  proxy->loop = g_main_loop_new (proxy->context, FALSE);
  proxy->thread = g_thread_new ("test-proxy", test_proxy_thread, proxy);
  g_mutex_lock (&proxy->lock);
  while (!proxy->ready)
    g_cond_wait (&proxy->cond, &proxy->lock);
  g_mutex_unlock (&proxy->lock);
  return proxy;
}

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
test_proxy_stop (TestProxy * proxy)
{
  g_main_context_invoke (proxy->context, quit_loop, proxy->loop);
  g_thread_join (proxy->thread);
  g_main_loop_unref (proxy->loop);
  g_main_context_unref (proxy->context);
  g_ptr_array_unref (proxy->requests);
  g_mutex_clear (&proxy->lock);
  g_cond_clear (&proxy->cond);
  g_free (proxy);
}

static gchar *
test_proxy_get_url (TestProxy * proxy)
{
  return g_strdup_printf ("http://127.0.0.1:%u", proxy->port);
}

/* Requests the proxy got whose record starts with @prefix (NULL: all). */
static guint
test_proxy_count (TestProxy * proxy, const gchar * prefix)
{
  guint i, n = 0;

  g_mutex_lock (&proxy->lock);
  for (i = 0; i < proxy->requests->len; i++) {
    if (prefix == NULL || g_str_has_prefix (proxy->requests->pdata[i], prefix))
      n++;
  }
  g_mutex_unlock (&proxy->lock);
  return n;
}

static void
test_proxy_forget (TestProxy * proxy)
{
  g_mutex_lock (&proxy->lock);
  g_ptr_array_set_size (proxy->requests, 0);
  proxy->with_authorization = 0;
  g_mutex_unlock (&proxy->lock);
}

static TestProxy *proxy;
static guint api_port, video_port;
/* A task is read once per process (lumasrc keeps finished ones): each run
 * has a task of its own. */
static guint runs;
static gchar *task;

static guint
port_of (const gchar * url)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  return g_uri_get_port (uri);
}

static void
clear_proxy_variables (void)
{
  guint i;

  for (i = 0; proxy_variables[i] != NULL; i++)
    g_unsetenv (proxy_variables[i]);
}

static void
setup (void)
{
  g_autofree gchar *api = NULL;
  g_autofree gchar *video_base = NULL;

  clear_proxy_variables ();
  luma_test_fixture_setup (luma_test_random_bytes (200 * 1024, 11));
  api = luma_emulator_get_api_url (fixture.em);
  video_base = luma_emulator_get_video_url_base (fixture.em);
  api_port = port_of (api);
  video_port = port_of (video_base);
  proxy = test_proxy_start ();
}

static void
teardown (void)
{
  clear_proxy_variables ();
  g_clear_pointer (&proxy, test_proxy_stop);
  luma_test_fixture_teardown ();
  g_clear_pointer (&task, g_free);
}

/* lumasrc on http://api.luma.localhost:PORT, the result on
 * http://video.luma.localhost:PORT. */
static LumaRun *
run_new (const gchar * scheme)
{
  g_autofree gchar *api = g_strdup_printf ("%s://" API_HOST ":%u", scheme,
      api_port);
  g_autofree gchar *result = NULL;
  LumaRun *run;

  g_free (task);
  task = g_strdup_printf ("t-proxy-%u", ++runs);
  luma_test_add_ready_task (fixture.em, task, fixture.video);
  /* the result on a name that no_proxy can tell from the API's */
  result = g_strdup_printf ("http://" VIDEO_HOST ":%u/r/%s/1.mp4",
      video_port, task);
  luma_emulator_set_result_url (fixture.em, task, result);
  run = luma_run_new (fixture.em, task, NULL);

  g_object_set (run->src, "api-url", api, NULL);
  return run;
}

static gchar *
prefix_for (const gchar * method, const gchar * host, guint port,
    const gchar * path)
{
  return g_strdup_printf ("%s %s:%u%s", method, host, port, path);
}

/* Plays the task to the end and tells what went through the proxy. */
static void
run_and_count (guint * api_requests, guint * video_requests)
{
  LumaRun *run = run_new ("http");
  g_autofree gchar *api = prefix_for ("GET", API_HOST, api_port,
      "/api/v1/modify/record-info");
  g_autofree gchar *path = g_strdup_printf ("/r/%s/", task);
  g_autofree gchar *result = prefix_for ("GET", VIDEO_HOST, video_port, path);

  test_proxy_forget (proxy);
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  *api_requests = test_proxy_count (proxy, api);
  *video_requests = test_proxy_count (proxy, result);
  /* nothing else went through it */
  fail_unless_equals_int (test_proxy_count (proxy, NULL),
      *api_requests + *video_requests);
}

GST_START_TEST (test_http_proxy_alone_proxies)
{
  g_autofree gchar *url = test_proxy_get_url (proxy);
  guint api_requests, video_requests;

  g_setenv ("http_proxy", url, TRUE);
  run_and_count (&api_requests, &video_requests);
  fail_unless (api_requests > 0);
  fail_unless (video_requests > 0);
  /* through the proxy too, the key only goes with the API's requests */
  g_mutex_lock (&proxy->lock);
  fail_unless_equals_int (proxy->with_authorization, api_requests);
  g_mutex_unlock (&proxy->lock);
  fail_unless_equals_int (luma_emulator_get_video_auth_requests (fixture.em),
      0);
}

GST_END_TEST;

/* A proxy that asks for credentials (407): the error names the proxy
 * and what it asks, not the API or the video host. */
GST_START_TEST (test_proxy_wanting_credentials_is_named)
{
  g_autofree gchar *url = test_proxy_get_url (proxy);
  LumaRun *run;

  proxy->wants_credentials = TRUE;
  g_setenv ("http_proxy", url, TRUE);
  run = run_new ("http");
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
      "proxy on the way to " API_HOST);
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_AUTHORIZED, "407");
  luma_run_free (run);

  /* the API reached directly, the video through the proxy */
  g_setenv ("no_proxy", API_HOST, TRUE);
  run = run_new ("http");
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  luma_run_assert_error (run, GST_RESOURCE_ERROR_NOT_AUTHORIZED,
      "proxy on the way to " VIDEO_HOST);
  luma_run_free (run);
  fail_unless (test_proxy_count (proxy, "GET " VIDEO_HOST) > 0);
}

GST_END_TEST;

/* HTTP_PROXY is the client's "Proxy:" header under CGI (httpoxy): lumasrc
 * never reads it, and neither must the system's resolver it falls back on
 * when nothing else is set (libproxy reads HTTP_PROXY, for https too). */
GST_START_TEST (test_cgi_http_proxy_never_used)
{
  g_autofree gchar *url = test_proxy_get_url (proxy);
  guint api_requests, video_requests;

  g_setenv ("HTTP_PROXY", url, TRUE);
  run_and_count (&api_requests, &video_requests);
  g_mutex_lock (&proxy->lock);
  fail_unless_equals_int (proxy->with_authorization, 0);
  g_mutex_unlock (&proxy->lock);
  fail_unless_equals_int (api_requests + video_requests, 0);
}

GST_END_TEST;

/* The hosts by name: the proxy sees nothing, the origins get it all. */
GST_START_TEST (test_no_proxy_host_excludes)
{
  g_autofree gchar *url = test_proxy_get_url (proxy);
  guint api_requests, video_requests;

  g_setenv ("http_proxy", url, TRUE);
  g_setenv ("no_proxy", "localhost, " API_HOST "," VIDEO_HOST, TRUE);
  run_and_count (&api_requests, &video_requests);
  fail_unless_equals_int (api_requests + video_requests, 0);
  fail_unless (luma_emulator_get_record_requests (fixture.em, task) > 0);
  fail_unless (luma_emulator_get_video_requests (fixture.em, task) > 0);
}

GST_END_TEST;

GST_START_TEST (test_no_proxy_suffix_excludes)
{
  static const gchar *forms[] = { ".luma.localhost", "luma.localhost",
    "*.luma.localhost", "LUMA.localhost."
  };
  g_autofree gchar *url = test_proxy_get_url (proxy);
  guint i, api_requests, video_requests;

  g_setenv ("http_proxy", url, TRUE);
  for (i = 0; i < G_N_ELEMENTS (forms); i++) {
    g_setenv ("no_proxy", forms[i], TRUE);
    run_and_count (&api_requests, &video_requests);
    fail_unless_equals_int (api_requests + video_requests, 0);
  }
  fail_unless (luma_emulator_get_record_requests (fixture.em, task) > 0);
}

GST_END_TEST;

/* host:port: the API's port only, the result's still goes through. */
GST_START_TEST (test_no_proxy_host_port_excludes)
{
  g_autofree gchar *url = test_proxy_get_url (proxy);
  g_autofree gchar *no_proxy = g_strdup_printf (API_HOST ":%u", api_port);
  g_autofree gchar *other_port = g_strdup_printf (API_HOST ":%u",
      api_port == 65535 ? 1 : api_port + 1);
  guint api_requests, video_requests;

  g_setenv ("http_proxy", url, TRUE);
  g_setenv ("no_proxy", no_proxy, TRUE);
  run_and_count (&api_requests, &video_requests);
  fail_unless_equals_int (api_requests, 0);
  fail_unless (video_requests > 0);

  g_setenv ("no_proxy", other_port, TRUE);
  run_and_count (&api_requests, &video_requests);
  fail_unless (api_requests > 0);
}

GST_END_TEST;

/* The property replaces http_proxy (here a proxy that does not exist);
 * no_proxy still applies to it. */
GST_START_TEST (test_property_with_no_proxy)
{
  g_autofree gchar *url = test_proxy_get_url (proxy);
  LumaRun *run;

  g_setenv ("http_proxy", "http://127.0.0.1:1", TRUE);
  run = run_new ("http");
  g_object_set (run->src, "proxy", url, NULL);
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_unless (test_proxy_count (proxy, "GET " API_HOST) > 0);
  fail_unless (test_proxy_count (proxy, "GET " VIDEO_HOST) > 0);

  g_setenv ("no_proxy", ".luma.localhost", TRUE);
  test_proxy_forget (proxy);
  run = run_new ("http");
  g_object_set (run->src, "proxy", url, NULL);
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  luma_run_assert_output (run, fixture.video);
  luma_run_free (run);
  fail_unless_equals_int (test_proxy_count (proxy, NULL), 0);
}

GST_END_TEST;

/* https URLs go through https_proxy, as a CONNECT tunnel; http_proxy (a
 * second proxy here) is for http URLs only. */
GST_START_TEST (test_https_proxy_for_https_urls)
{
  TestProxy *http_only = test_proxy_start ();
  g_autofree gchar *url = test_proxy_get_url (proxy);
  g_autofree gchar *http_url = test_proxy_get_url (http_only);
  g_autofree gchar *connect = prefix_for ("CONNECT", API_HOST, api_port, "");
  LumaRun *run;

  g_setenv ("https_proxy", url, TRUE);
  g_setenv ("http_proxy", http_url, TRUE);
  run = run_new ("https");
  g_object_set (run->src, "retries", 0, NULL);
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  /* the proxy refused the tunnel */
  fail_unless (run->error != NULL);
  luma_run_free (run);

  fail_unless (test_proxy_count (proxy, connect) > 0);
  fail_unless_equals_int (test_proxy_count (proxy, NULL),
      test_proxy_count (proxy, connect));
  fail_unless_equals_int (test_proxy_count (http_only, NULL), 0);
  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em, task),
      0);
  test_proxy_stop (http_only);
}

GST_END_TEST;

/* A password with a character a URL reserves ('#', '/', '?')
 * written as it is: GLib's parse error quotes what it took for the port,
 * which is the password, and the message must not show it. With an '@'
 * ("s3cret@s3cret"), GLib ends the user part at the first one and takes
 * the rest of the password for the host: before, the messages that quote
 * the host or the URL showed it. */
GST_START_TEST (test_unparsable_proxy_hides_the_password)
{
  static const gchar *values[] = {
    "http://user:s3cret#x@proxy.example:3128",
    "user:s3cret/x@proxy.example:3128",
    "http://user:s3cret?x@proxy.example:3128",
    "http://user:s3cret@s3cret@proxy.example:3128",
    "user:s3cret@s3cret@proxy.example:3128",
    "ftp://user:s3cret@s3cret@proxy.example:21",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (values); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GProxyResolver) r = resolver_for (NULL, &error, "http_proxy",
        values[i], NULL);

    fail_unless (r == NULL, "\"%s\" was taken", values[i]);
    fail_unless (strstr (error->message, "http_proxy") != NULL, "%s",
        error->message);
    fail_unless (strstr (error->message, "s3cret") == NULL,
        "\"%s\" shows the password", error->message);
  }
}

GST_END_TEST;

/* A password whose reserved character ('#', '/', '?') follows
 * digits is no parse error to GLib: "user:2024" reads as a host and its
 * port, the rest as a path, a query or a fragment. The proxy the user
 * wrote (proxy.example:3128, with a password) must not silently become
 * another one ("user", port 2024) that shows the start of the password
 * in every message about it; it is refused as the others are. */
GST_START_TEST (test_proxy_password_after_digits_is_refused)
{
  static const gchar *values[] = {
    "http://user:2024#s3cret@proxy.example:3128",
    "http://user:2024/s3cret@proxy.example:3128",
    "http://user:2024?s3cret@proxy.example:3128",
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (values); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GProxyResolver) r = resolver_for (NULL, &error, "http_proxy",
        values[i], NULL);

    if (r != NULL) {
      g_autofree gchar *got = lookup (r, "http://api.example/");

      fail ("\"%s\" was taken, as %s", values[i], got);
    }
    fail_unless (strstr (error->message, "http_proxy") != NULL, "%s",
        error->message);
    fail_unless (strstr (error->message, "2024") == NULL,
        "\"%s\" shows the password", error->message);
  }
}

GST_END_TEST;

GST_START_TEST (test_bad_proxy_is_a_settings_error)
{
  LumaRun *run;

  g_setenv ("http_proxy", "http://pro xy.example:3128", TRUE);
  run = run_new ("http");
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "http_proxy");
  luma_run_free (run);

  g_unsetenv ("http_proxy");
  run = run_new ("http");
  g_object_set (run->src, "proxy", "ftp://proxy.example:21", NULL);
  luma_run_until_done (run, 30 * luma_test_slowdown ());
  luma_run_assert_error (run, GST_RESOURCE_ERROR_SETTINGS, "proxy property");
  luma_run_free (run);

  fail_unless_equals_int (luma_emulator_get_record_requests (fixture.em, task),
      0);
  fail_unless_equals_int (test_proxy_count (proxy, NULL), 0);
}

GST_END_TEST;

/* The text that keys the process's shared API sessions: equal for settings
 * that resolve alike, different for any that may not. */
static gchar *
settings_text (const gchar * proxy, ...)
{
  g_auto (GStrv) envp = NULL;
  va_list args;

  va_start (args, proxy);
  envp = environ_of (args);
  va_end (args);
  return luma_proxy_settings_text (proxy, envp);
}

GST_START_TEST (test_settings_text_tells_settings_apart)
{
  g_autofree gchar *none = settings_text (NULL, NULL);
  g_autofree gchar *unrelated = settings_text (NULL, "PATH", "/bin", NULL);
  g_autofree gchar *property = settings_text ("http://p.example:1", NULL);
  g_autofree gchar *variable =
      settings_text (NULL, "http_proxy", "http://p.example:1", NULL);
  g_autofree gchar *upper =
      settings_text (NULL, "NO_PROXY", "example.com", NULL);
  g_autofree gchar *lower =
      settings_text (NULL, "no_proxy", "example.com", NULL);
  g_autofree gchar *joined = settings_text (NULL, "http_proxy", "a|5:b", NULL);
  g_autofree gchar *apart =
      settings_text (NULL, "http_proxy", "a", "https_proxy", "b", NULL);
  g_autofree gchar *again =
      settings_text (NULL, "http_proxy", "a", "https_proxy", "b", NULL);

  fail_unless_equals_string (none, unrelated);
  fail_unless_equals_string (apart, again);
  fail_if (g_str_equal (none, property));
  fail_if (g_str_equal (property, variable));
  fail_if (g_str_equal (upper, lower));
  fail_if (g_str_equal (none, upper));
  fail_if (g_str_equal (none, lower));
  fail_if (g_str_equal (joined, apart));
}

GST_END_TEST;

/* A resolver that counts what it is asked, and answers "direct://", or
 * fails while told to. */
#define TEST_TYPE_COUNTING_RESOLVER (test_counting_resolver_get_type ())
G_DECLARE_FINAL_TYPE (TestCountingResolver, test_counting_resolver, TEST,
    COUNTING_RESOLVER, GObject);

struct _TestCountingResolver
{
  GObject parent;
  gint lookups;
  gboolean failing;
};

static gchar **
counting_lookup (GProxyResolver * resolver, const gchar * uri,
    GCancellable * cancellable, GError ** error)
{
  TestCountingResolver *self = (TestCountingResolver *) resolver;
  const gchar *direct[] = { "direct://", NULL };

  g_atomic_int_inc (&self->lookups);
  if (self->failing) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no answer");
    return NULL;
  }
  return g_strdupv ((gchar **) direct);
}

static void
counting_lookup_async (GProxyResolver * resolver, const gchar * uri,
    GCancellable * cancellable, GAsyncReadyCallback callback,
    gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (resolver, cancellable, callback,
      user_data);
  GError *error = NULL;
  gchar **proxies = counting_lookup (resolver, uri, cancellable, &error);

  if (proxies == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, proxies, (GDestroyNotify) g_strfreev);
}

static gchar **
counting_lookup_finish (GProxyResolver * resolver, GAsyncResult * result,
    GError ** error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
test_counting_resolver_iface_init (GProxyResolverInterface * iface)
{
  iface->lookup = counting_lookup;
  iface->lookup_async = counting_lookup_async;
  iface->lookup_finish = counting_lookup_finish;
}

G_DEFINE_TYPE_WITH_CODE (TestCountingResolver, test_counting_resolver,
    G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (G_TYPE_PROXY_RESOLVER,
        test_counting_resolver_iface_init));

static void
test_counting_resolver_class_init (TestCountingResolverClass * klass)
{
}

static void
test_counting_resolver_init (TestCountingResolver * self)
{
}

static void
on_lookup_done (GObject * source, GAsyncResult * result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* The answer as GIO's asynchronous connections ask for it */
static void
assert_direct_async (GProxyResolver * resolver, const gchar * uri)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) proxies = NULL;

  g_proxy_resolver_lookup_async (resolver, uri, NULL, on_lookup_done, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  proxies = g_proxy_resolver_lookup_finish (resolver, result, &error);
  fail_unless (proxies != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (proxies[0], "direct://");
}

static void
assert_direct (GProxyResolver * resolver, const gchar * uri)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) proxies = g_proxy_resolver_lookup (resolver, uri, NULL,
      &error);

  fail_unless (proxies != NULL, "%s", error ? error->message : "");
  fail_unless_equals_string (proxies[0], "direct://");
}

/* The system's answer for a URL is asked once while it is kept; another
 * URL, an answer that has expired, and a failure are asked again. */
GST_START_TEST (test_system_answers_are_kept_a_while)
{
  g_autoptr (TestCountingResolver) inner =
      g_object_new (TEST_TYPE_COUNTING_RESOLVER, NULL);
  g_autoptr (GProxyResolver) kept =
      luma_caching_resolver_new (G_PROXY_RESOLVER (inner),
      200 * G_TIME_SPAN_MILLISECOND);
  g_autoptr (GError) error = NULL;

  assert_direct (kept, "http://a.example:80");
  assert_direct (kept, "http://a.example:80");
  fail_unless_equals_int (inner->lookups, 1);
  assert_direct (kept, "https://a.example:443");
  fail_unless_equals_int (inner->lookups, 2);
  g_usleep (300 * 1000);
  assert_direct (kept, "http://a.example:80");
  fail_unless_equals_int (inner->lookups, 3);

  inner->failing = TRUE;
  fail_unless (g_proxy_resolver_lookup (kept, "http://b.example:80", NULL,
          &error) == NULL);
  g_clear_error (&error);
  fail_unless (g_proxy_resolver_lookup (kept, "http://b.example:80", NULL,
          &error) == NULL);
  fail_unless_equals_int (inner->lookups, 5);
  inner->failing = FALSE;
  assert_direct (kept, "http://b.example:80");
  assert_direct (kept, "http://b.example:80");
  fail_unless_equals_int (inner->lookups, 6);

  /* asked asynchronously: the same answers */
  assert_direct_async (kept, "http://b.example:80");
  fail_unless_equals_int (inner->lookups, 6);
  assert_direct_async (kept, "http://c.example:80");
  assert_direct_async (kept, "http://c.example:80");
  assert_direct (kept, "http://c.example:80");
  fail_unless_equals_int (inner->lookups, 7);
}

GST_END_TEST;

static Suite *
proxy_suite (void)
{
  Suite *s = suite_create ("lumasrc-proxy");
  TCase *tc_resolver = tcase_create ("resolver");
  TCase *tc_pipeline = tcase_create ("pipeline");

  suite_add_tcase (s, tc_resolver);
  tcase_add_test (tc_resolver, test_scheme_picks_the_variable);
  tcase_add_test (tc_resolver, test_proxy_url_forms);
  tcase_add_test (tc_resolver, test_no_proxy_forms);
  tcase_add_test (tc_resolver, test_no_proxy_upper_case);
  tcase_add_test (tc_resolver, test_property_replaces_variables);
  tcase_add_test (tc_resolver, test_no_proxy_in_front_of_the_system);
  tcase_add_test (tc_resolver, test_empty_http_proxy_keeps_the_system);
  tcase_add_test (tc_resolver, test_bad_proxies_are_refused);
  tcase_add_test (tc_resolver, test_unparsable_proxy_hides_the_password);
  tcase_add_test (tc_resolver, test_proxy_password_after_digits_is_refused);
  tcase_add_test (tc_resolver, test_settings_text_tells_settings_apart);
  tcase_add_test (tc_resolver, test_system_answers_are_kept_a_while);

  suite_add_tcase (s, tc_pipeline);
  tcase_add_checked_fixture (tc_pipeline, setup, teardown);
  tcase_add_test (tc_pipeline, test_http_proxy_alone_proxies);
  tcase_add_test (tc_pipeline, test_proxy_wanting_credentials_is_named);
  tcase_add_test (tc_pipeline, test_cgi_http_proxy_never_used);
  tcase_add_test (tc_pipeline, test_no_proxy_host_excludes);
  tcase_add_test (tc_pipeline, test_no_proxy_suffix_excludes);
  tcase_add_test (tc_pipeline, test_no_proxy_host_port_excludes);
  tcase_add_test (tc_pipeline, test_property_with_no_proxy);
  tcase_add_test (tc_pipeline, test_https_proxy_for_https_urls);
  tcase_add_test (tc_pipeline, test_bad_proxy_is_a_settings_error);
  return s;
}

GST_CHECK_MAIN (proxy);
