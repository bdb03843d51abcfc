/* gst-luma: which proxy a URL goes through, by the conventions of curl
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Users set proxies for curl and libproxy with http_proxy, https_proxy,
 * all_proxy and no_proxy; lumasrc reads them the way curl does:
 *
 * - an http URL goes through http_proxy (never HTTP_PROXY: under CGI that
 *   name is the client's "Proxy:" header, so curl ignores it), an https URL
 *   through https_proxy or HTTPS_PROXY; either falls back to all_proxy or
 *   ALL_PROXY. The proxy property replaces all of them, for both schemes.
 *   A value without "scheme://" is an http proxy; without a port, 1080
 *   (443 for an https proxy), as in curl. Empty values count as unset.
 * - no_proxy (else NO_PROXY) lists the hosts that go direct, separated by
 *   commas or blanks: "example.com", ".example.com" and "*.example.com" all
 *   match example.com and every name below it; an address or a range
 *   ("10.0.0.0/8"); "host:port" matches that port only; "*" matches every
 *   host. It applies whichever way the proxy was set, and in front of the
 *   system's resolver too.
 * - with nothing set at all, the system's resolver decides, unless
 *   HTTP_PROXY is set: libproxy would read it, so then no proxy is used.
 *
 * GSimpleProxyResolver does the matching (GLib 2.74, ignore_host ()). Where
 * its rules differ from curl's, the list is rewritten before it gets it:
 * - an entry that is empty once its leading "*." or "." is cut off (".",
 *   "*.", ":80") is kept as an empty name, and an empty name ends its list
 *   of names: every entry after it would be lost;
 * - "*" alone matches nothing there;
 * - "[::1]" without a port, a port that is not a number, a name with a
 *   '[' are refused with a g_warning (), and a port above 65535 wraps
 *   around: such entries, and names with characters no host name has, are
 *   left out;
 * - "10.1.2.3/8" is a range in curl, nothing in GLib (bits set beyond the
 *   length): it is given as "10.0.0.0/8";
 * - a name with a final dot ("example.com.") matches only names written
 *   with one, which curl ignores on both sides (one dot): each name is
 *   given both ways;
 * - names are compared with the host as ASCII (IDNA), but not converted;
 * - a name made of digits and dots ("0.1") matches the end of an IPv4
 *   address ("127.0.0.1"), which in curl only an address or range does:
 *   such names, which no DNS name ends with, are dropped.
 * A "host:port" entry matches the port written in the URL looked up, and
 * GIO always writes it (GNetworkAddress gives "http://host:80").
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumaproxy.h"

#include <string.h>
#include <libsoup/soup.h>
#include <glib/gi18n-lib.h>

/* *INDENT-OFF* */
G_DEFINE_QUARK (luma-proxy-error-quark, luma_proxy_error);
/* *INDENT-ON* */

/* What GSimpleProxyResolver answers for a URL that the system's resolver
 * must decide (never leaves this file). */
#define SYSTEM_PROXY "luma-system-proxy://"

/* ----- the proxy URLs ----- */

static const gchar *
non_empty (const gchar * value)
{
  return value != NULL && value[0] != '\0' ? value : NULL;
}

/* @lower, else @upper (NULL: none), as curl reads them: empty is unset. */
static const gchar *
env_value (gchar ** envp, const gchar * lower, const gchar * upper,
    const gchar ** name)
{
  const gchar *value = non_empty (g_environ_getenv (envp, lower));

  *name = lower;
  if (value == NULL && upper != NULL) {
    value = non_empty (g_environ_getenv (envp, upper));
    *name = upper;
  }
  return value;
}

static gboolean
is_host_name_char (gchar c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '.' || c == '_';
}

static gboolean
is_host_name (const gchar * name)
{
  for (; *name != '\0'; name++) {
    if (!is_host_name_char (*name))
      return FALSE;
  }
  return TRUE;
}

/* The message may quote what the user wrote, in any bytes; a GError's is
 * UTF-8. */
static void
G_GNUC_PRINTF (2, 3)
set_bad_proxy (GError ** error, const gchar * format, ...)
{
  g_autofree gchar *text = NULL;
  g_autofree gchar *valid = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  valid = g_utf8_make_valid (text, -1);
  g_set_error_literal (error, LUMA_PROXY_ERROR, LUMA_PROXY_ERROR_BAD_PROXY,
      valid);
}

/* A proxy with credentials that is not a URL: said without quoting it, nor
 * GLib's message, which may show a part of the password. */
static void
set_unreadable_proxy (GError ** error, const gchar * source)
{
  set_bad_proxy (error, _("Invalid proxy in %s: it cannot be read as a URL "
          "(a '#', '/', '?' or '@' in the user name or password must be "
          "written %%-escaped)"), source);
}

/* The proxy URL as GIO and libsoup will read it: scheme, user, password,
 * host and port, nothing else. A value they would stumble on later (with a
 * g_warning () and a connection that goes nowhere) is refused here, where
 * the setting can still be named. @source says where @value comes from. */
static gchar *
normalize_proxy (const gchar * value, const gchar * source, GError ** error)
{
  g_autofree gchar *full = NULL;
  g_autofree gchar *shown = NULL;
  g_autofree gchar *result = NULL;
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GUri) check = NULL;
  g_autoptr (GSocketConnectable) address = NULL;
  g_autoptr (GError) cause = NULL;
  gboolean has_credentials = strchr (value, '@') != NULL;
  const gchar *scheme, *host, *p;
  gint port;

  /* GUri takes these in a host name; no proxy has them */
  for (p = value; *p != '\0'; p++) {
    if (g_ascii_iscntrl (*p) || *p == ' ') {
      set_bad_proxy (error,
          _("Invalid proxy in %s: it contains a space or a control "
              "character"), source);
      return NULL;
    }
  }

  /* curl's rule: no "://", an http proxy */
  full = strstr (value, "://") ? g_strdup (value)
      : g_strconcat ("http://", value, NULL);
  uri = g_uri_parse (full, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED,
      &cause);
  if (uri == NULL) {
    /* not echoed: it may hold a password; nor GLib's message,
     * which quotes a part of it (a password with a '#', '/' or '?' in it
     * is read as the port: "Could not parse port 's3cret'") */
    if (has_credentials)
      set_unreadable_proxy (error, source);
    else
      set_bad_proxy (error, _("Invalid proxy in %s: %s"), source,
          cause->message);
    return NULL;
  }
  /* A password whose '#', '/' or '?' follows digits parses:
   * "user:2024" as the host and port, the rest as a path, a query or a
   * fragment. Not the proxy written, and its messages would show the
   * start of the password. */
  if (has_credentials && g_uri_get_userinfo (uri) == NULL) {
    set_unreadable_proxy (error, source);
    return NULL;
  }
  /* before anything prints the URI: GLib cannot print a URI without a
   * host whose path starts with "//" (it would read as a host) */
  host = g_uri_get_host (uri);
  /* A password with an '@' written as it is: GLib ends the userinfo at
   * the first '@', and the rest of the password is in the host, which
   * every message below would show. */
  if (has_credentials && host != NULL && strchr (host, '@') != NULL) {
    set_unreadable_proxy (error, source);
    return NULL;
  }
  if (host == NULL || host[0] == '\0') {
    set_bad_proxy (error, _("Invalid proxy in %s: no host name"), source);
    return NULL;
  }
  shown = g_uri_to_string_partial (uri, G_URI_HIDE_PASSWORD);

  scheme = g_uri_get_scheme (uri);
  if (g_strcmp0 (scheme, "socks5h") == 0)
    scheme = "socks5";          /* GIO's SOCKS5 lets the proxy resolve names */
  if (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0
      && g_strcmp0 (scheme, "socks") != 0 && g_strcmp0 (scheme, "socks4") != 0
      && g_strcmp0 (scheme, "socks4a") != 0
      && g_strcmp0 (scheme, "socks5") != 0) {
    set_bad_proxy (error,
        _("Invalid proxy in %s (\"%s\"): \"%s\" is not a proxy protocol "
            "(http, https, socks4, socks4a, socks5)"), source, shown, scheme);
    return NULL;
  }

  if (!g_hostname_is_ip_address (host) && !is_host_name (host)) {
    set_bad_proxy (error,
        _("Invalid proxy in %s (\"%s\"): \"%s\" is not a host name"),
        source, shown, host);
    return NULL;
  }

  port = g_uri_get_port (uri);
  if (port == 0) {
    set_bad_proxy (error, _("Invalid proxy in %s (\"%s\"): port 0"), source,
        shown);
    return NULL;
  }
  if (port < 0)
    port = g_strcmp0 (scheme, "https") == 0 ? 443 : 1080;

  result = g_uri_join_with_user (G_URI_FLAGS_HAS_PASSWORD |
      G_URI_FLAGS_ENCODED, scheme, g_uri_get_user (uri),
      g_uri_get_password (uri), NULL, host, port, "", NULL, NULL);

  /* What GProxyAddressEnumerator and libsoup do with it later. */
  check = g_uri_parse (result, SOUP_HTTP_URI_FLAGS, &cause);
  if (check != NULL)
    address = g_network_address_parse_uri (result, 0, &cause);
  if (address == NULL) {
    set_bad_proxy (error, _("Invalid proxy in %s (\"%s\"): %s"), source,
        shown, cause->message);
    return NULL;
  }
  return g_steal_pointer (&result);
}

/* ----- no_proxy ----- */

static gboolean
is_digits_and_dots (const gchar * name)
{
  for (; *name != '\0'; name++) {
    if (!g_ascii_isdigit (*name) && *name != '.')
      return FALSE;
  }
  return TRUE;
}

/* "10.0.0.0/8", also "10.1.2.3/8", which curl takes as the same range and
 * GLib refuses (bits set beyond the length); "/0" is the address alone in
 * curl, every address in GLib. */
static GInetAddressMask *
parse_range (const gchar * entry, const gchar * slash)
{
  g_autofree gchar *text = g_strndup (entry, slash - entry);
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (text);
  g_autoptr (GInetAddress) base = NULL;
  guint8 bytes[16];
  guint64 bits;
  gsize size, i;

  if (address == NULL)
    return NULL;
  size = g_inet_address_get_native_size (address);
  if (!g_ascii_string_to_unsigned (slash + 1, 10, 0, size * 8, &bits, NULL))
    return NULL;
  if (bits == 0)
    bits = size * 8;
  memcpy (bytes, g_inet_address_to_bytes (address), size);
  for (i = 0; i < size; i++) {
    guint64 keep = bits > i * 8 ? MIN (bits - i * 8, 8) : 0;

    bytes[i] &= (guint8) (0xff00 >> keep);
  }
  base = g_inet_address_new_from_bytes (bytes,
      g_inet_address_get_family (address));
  return g_inet_address_mask_new (base, bits, NULL);
}

/* An address, "[address]:port" or "address:port", for ignore-hosts. GSimple
 * compares the address with a port as text: the text as written and its
 * usual form, which is how most URLs write it. */
static void
add_address (GPtrArray * hosts, GInetAddress * address, const gchar * written,
    guint port)
{
  g_autofree gchar *canonical = g_inet_address_to_string (address);
  gboolean v6 = g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6;

  if (port == 0) {
    g_ptr_array_add (hosts, g_steal_pointer (&canonical));
    return;
  }
  g_ptr_array_add (hosts, g_strdup_printf (v6 ? "[%s]:%u" : "%s:%u", written,
          port));
  if (strcmp (written, canonical) != 0)
    g_ptr_array_add (hosts, g_strdup_printf (v6 ? "[%s]:%u" : "%s:%u",
            canonical, port));
}

/* One no_proxy entry into what GSimpleProxyResolver matches the same way
 * curl would; entries that can match no host are left out. */
static void
add_no_proxy_entry (GPtrArray * hosts, const gchar * entry, gboolean * all)
{
  g_autoptr (GInetAddressMask) mask = NULL;
  g_autoptr (GInetAddress) address = NULL;
  g_autofree gchar *host = NULL;
  g_autofree gchar *ascii = NULL;
  const gchar *port_text = NULL;
  const gchar *end;
  guint64 port = 0;
  gchar *name;
  gsize length;

  if (strcmp (entry, "*") == 0) {
    *all = TRUE;
    return;
  }

  /* "192.168.1.1", "10.0.0.0/8", "::1", "fe80::/10" */
  end = strchr (entry, '/');
  if (end != NULL)
    mask = parse_range (entry, end);
  else
    mask = g_inet_address_mask_new_from_string (entry, NULL);
  if (end != NULL || mask != NULL) {
    if (mask == NULL)
      return;                   /* a host name has no "/" */
    g_ptr_array_add (hosts, g_inet_address_mask_to_string (mask));
    return;
  }

  if (entry[0] == '[') {
    /* "[::1]" or "[::1]:443" */
    end = strchr (entry, ']');
    if (end == NULL || (end[1] != '\0' && end[1] != ':'))
      return;
    host = g_strndup (entry + 1, end - entry - 1);
    if (end[1] == ':')
      port_text = end + 2;
  } else {
    end = strchr (entry, ':');
    if (end != NULL && strchr (end + 1, ':') != NULL)
      return;                   /* neither an address nor "host:port" */
    host = end ? g_strndup (entry, end - entry) : g_strdup (entry);
    if (end != NULL)
      port_text = end + 1;
  }
  if (port_text != NULL && !g_ascii_string_to_unsigned (port_text, 10, 1,
          G_MAXUINT16, &port, NULL))
    return;

  /* (g_hostname_is_ip_address () also takes what GInetAddress does not,
   * "fe80::1%eth0") */
  address = g_inet_address_new_from_string (host);
  if (address != NULL) {
    add_address (hosts, address, host, port);
    return;
  }
  if (entry[0] == '[')
    return;                     /* only addresses go in brackets */

  /* "*.example.com", ".example.com", "example.com." as "example.com" */
  name = host;
  if (g_str_has_prefix (name, "*."))
    name += 2;
  while (name[0] == '.')
    name++;
  length = strlen (name);
  if (length > 0 && name[length - 1] == '.')
    name[--length] = '\0';      /* one, as curl: "a.." stays "a." */
  if (length == 0 || is_digits_and_dots (name))
    return;
  /* GSimple reads '[', ':', '/', '*' its own way; no host has them.
   * g_hostname_to_ascii () reads past the end of what is not UTF-8 */
  if (!g_utf8_validate (name, -1, NULL))
    return;
  ascii = g_hostname_to_ascii (name);
  if (ascii == NULL || !is_host_name (ascii))
    return;

  if (port == 0) {
    g_ptr_array_add (hosts, g_strdup (ascii));
    g_ptr_array_add (hosts, g_strconcat (ascii, ".", NULL));
  } else {
    g_ptr_array_add (hosts, g_strdup_printf ("%s:%u", ascii, (guint) port));
    g_ptr_array_add (hosts, g_strdup_printf ("%s.:%u", ascii, (guint) port));
  }
}

/* no_proxy as GSimpleProxyResolver's ignore-hosts; *all when it has "*"
 * (curl takes "*" only as the whole value; any entry here, as Go and
 * Python's requests do). */
static GStrv
ignore_hosts_from_no_proxy (const gchar * no_proxy, gboolean * all)
{
  g_auto (GStrv) entries = NULL;
  GPtrArray *hosts = g_ptr_array_new ();
  guint i;

  *all = FALSE;
  if (no_proxy != NULL) {
    entries = g_strsplit_set (no_proxy, ", \t", -1);
    for (i = 0; entries[i] != NULL; i++) {
      if (entries[i][0] != '\0')
        add_no_proxy_entry (hosts, entries[i], all);
    }
  }
  g_ptr_array_add (hosts, NULL);
  return (GStrv) g_ptr_array_free (hosts, FALSE);
}

/* ----- no_proxy in front of the system's resolver ----- */

#define LUMA_TYPE_EXCLUDING_RESOLVER (luma_excluding_resolver_get_type ())
G_DECLARE_FINAL_TYPE (LumaExcludingResolver, luma_excluding_resolver, LUMA,
    EXCLUDING_RESOLVER, GObject);

/* @rules answers "direct://" for the hosts of no_proxy, SYSTEM_PROXY for
 * the others, which @system then decides. */
struct _LumaExcludingResolver
{
  GObject parent;
  GProxyResolver *rules;
  GProxyResolver *system;
};

static void luma_excluding_resolver_iface_init (GProxyResolverInterface *
    iface);

G_DEFINE_TYPE_WITH_CODE (LumaExcludingResolver, luma_excluding_resolver,
    G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (G_TYPE_PROXY_RESOLVER,
        luma_excluding_resolver_iface_init));

static void
luma_excluding_resolver_finalize (GObject * object)
{
  LumaExcludingResolver *self = LUMA_EXCLUDING_RESOLVER (object);

  g_clear_object (&self->rules);
  g_clear_object (&self->system);
  G_OBJECT_CLASS (luma_excluding_resolver_parent_class)->finalize (object);
}

static void
luma_excluding_resolver_class_init (LumaExcludingResolverClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = luma_excluding_resolver_finalize;
}

static void
luma_excluding_resolver_init (LumaExcludingResolver * self)
{
}

/* The rules' answer, or NULL when it is the system's to give. */
static gchar **
excluding_lookup_rules (LumaExcludingResolver * self, const gchar * uri,
    GCancellable * cancellable, GError ** error, gboolean * ask_system)
{
  gchar **proxies = g_proxy_resolver_lookup (self->rules, uri, cancellable,
      error);

  *ask_system = proxies != NULL && g_strcmp0 (proxies[0], SYSTEM_PROXY) == 0;
  if (*ask_system)
    g_clear_pointer (&proxies, g_strfreev);
  return proxies;
}

static gchar **
luma_excluding_resolver_lookup (GProxyResolver * resolver, const gchar * uri,
    GCancellable * cancellable, GError ** error)
{
  LumaExcludingResolver *self = LUMA_EXCLUDING_RESOLVER (resolver);
  gboolean ask_system;
  gchar **proxies = excluding_lookup_rules (self, uri, cancellable, error,
      &ask_system);

  if (ask_system)
    return g_proxy_resolver_lookup (self->system, uri, cancellable, error);
  return proxies;
}

static void
on_system_lookup_done (GObject * source, GAsyncResult * result,
    gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  gchar **proxies = g_proxy_resolver_lookup_finish (G_PROXY_RESOLVER (source),
      result, &error);

  if (proxies == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, proxies, (GDestroyNotify) g_strfreev);
}

static void
luma_excluding_resolver_lookup_async (GProxyResolver * resolver,
    const gchar * uri, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data)
{
  LumaExcludingResolver *self = LUMA_EXCLUDING_RESOLVER (resolver);
  g_autoptr (GTask) task = g_task_new (resolver, cancellable, callback,
      user_data);
  GError *error = NULL;
  gboolean ask_system;
  gchar **proxies;

  g_task_set_source_tag (task, luma_excluding_resolver_lookup_async);
  /* GSimpleProxyResolver never blocks: its answer comes at once */
  proxies = excluding_lookup_rules (self, uri, cancellable, &error,
      &ask_system);
  if (ask_system)
    g_proxy_resolver_lookup_async (self->system, uri, cancellable,
        on_system_lookup_done, g_steal_pointer (&task));
  else if (proxies == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, proxies, (GDestroyNotify) g_strfreev);
}

/* Both resolvers answer asynchronously with a GTask of a proxy list. */
static gchar **
task_lookup_finish (GProxyResolver * resolver, GAsyncResult * result,
    GError ** error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
luma_excluding_resolver_iface_init (GProxyResolverInterface * iface)
{
  iface->lookup = luma_excluding_resolver_lookup;
  iface->lookup_async = luma_excluding_resolver_lookup_async;
  iface->lookup_finish = task_lookup_finish;
}

/* ----- the system's answers, kept for a while -----
 *
 * GIO asks the proxy resolver at every new connection. The system's
 * resolver (libproxy 0.4 through glib-networking, on a desktop) throws and
 * catches C++ exceptions while it builds each answer, and libunwind masks
 * signals at each frame it unwinds: a third of a millisecond of CPU for
 * every connection. Its answers change only when the system's proxy
 * settings do, so each is kept for a while, as a browser keeps a PAC
 * script's; errors are not kept. */

#define ANSWERS_MAX 256

typedef struct
{
  gchar **proxies;
  gint64 until;
} Answer;

static void
answer_free (Answer * answer)
{
  g_strfreev (answer->proxies);
  g_free (answer);
}

#define LUMA_TYPE_CACHING_RESOLVER (luma_caching_resolver_get_type ())
G_DECLARE_FINAL_TYPE (LumaCachingResolver, luma_caching_resolver,
    LUMA, CACHING_RESOLVER, GObject);

struct _LumaCachingResolver
{
  GObject parent;
  GProxyResolver *inner;
  gint64 lifetime;
  GMutex lock;
  GHashTable *answers;          /* URI -> Answer, under lock */
};

static void luma_caching_resolver_iface_init (GProxyResolverInterface * iface);

G_DEFINE_TYPE_WITH_CODE (LumaCachingResolver, luma_caching_resolver,
    G_TYPE_OBJECT, G_IMPLEMENT_INTERFACE (G_TYPE_PROXY_RESOLVER,
        luma_caching_resolver_iface_init));

static void
luma_caching_resolver_finalize (GObject * object)
{
  LumaCachingResolver *self = LUMA_CACHING_RESOLVER (object);

  g_clear_object (&self->inner);
  g_hash_table_unref (self->answers);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (luma_caching_resolver_parent_class)->finalize (object);
}

static void
luma_caching_resolver_class_init (LumaCachingResolverClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = luma_caching_resolver_finalize;
}

static void
luma_caching_resolver_init (LumaCachingResolver * self)
{
  g_mutex_init (&self->lock);
  self->answers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) answer_free);
}

/* A copy of the kept answer for @uri, or NULL */
static gchar **
recall (LumaCachingResolver * self, const gchar * uri)
{
  Answer *answer;
  gchar **proxies = NULL;

  g_mutex_lock (&self->lock);
  answer = g_hash_table_lookup (self->answers, uri);
  if (answer != NULL && answer->until > g_get_monotonic_time ())
    proxies = g_strdupv (answer->proxies);
  g_mutex_unlock (&self->lock);
  return proxies;
}

static void
keep (LumaCachingResolver * self, const gchar * uri, gchar ** proxies)
{
  Answer *answer = g_new (Answer, 1);

  answer->proxies = g_strdupv (proxies);
  answer->until = g_get_monotonic_time () + self->lifetime;
  g_mutex_lock (&self->lock);
  /* a bound on what many hosts (redirects...) could pile up */
  if (g_hash_table_size (self->answers) >= ANSWERS_MAX)
    g_hash_table_remove_all (self->answers);
  g_hash_table_replace (self->answers, g_strdup (uri), answer);
  g_mutex_unlock (&self->lock);
}

static gchar **
luma_caching_resolver_lookup (GProxyResolver * resolver, const gchar * uri,
    GCancellable * cancellable, GError ** error)
{
  LumaCachingResolver *self = LUMA_CACHING_RESOLVER (resolver);
  gchar **proxies = recall (self, uri);

  if (proxies != NULL)
    return proxies;
  proxies = g_proxy_resolver_lookup (self->inner, uri, cancellable, error);
  if (proxies != NULL)
    keep (self, uri, proxies);
  return proxies;
}

static void
on_inner_lookup_done (GObject * source, GAsyncResult * result,
    gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;
  gchar **proxies = g_proxy_resolver_lookup_finish (G_PROXY_RESOLVER (source),
      result, &error);

  if (proxies == NULL) {
    g_task_return_error (task, error);
    return;
  }
  keep (g_task_get_source_object (task), g_task_get_task_data (task), proxies);
  g_task_return_pointer (task, proxies, (GDestroyNotify) g_strfreev);
}

static void
luma_caching_resolver_lookup_async (GProxyResolver * resolver,
    const gchar * uri, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data)
{
  LumaCachingResolver *self = LUMA_CACHING_RESOLVER (resolver);
  g_autoptr (GTask) task = g_task_new (resolver, cancellable, callback,
      user_data);
  gchar **proxies = recall (self, uri);

  g_task_set_source_tag (task, luma_caching_resolver_lookup_async);
  if (proxies != NULL) {
    g_task_return_pointer (task, proxies, (GDestroyNotify) g_strfreev);
    return;
  }
  g_task_set_task_data (task, g_strdup (uri), g_free);
  g_proxy_resolver_lookup_async (self->inner, uri, cancellable,
      on_inner_lookup_done, g_steal_pointer (&task));
}

static void
luma_caching_resolver_iface_init (GProxyResolverInterface * iface)
{
  iface->lookup = luma_caching_resolver_lookup;
  iface->lookup_async = luma_caching_resolver_lookup_async;
  iface->lookup_finish = task_lookup_finish;
}

GProxyResolver *
luma_caching_resolver_new (GProxyResolver * inner, gint64 lifetime)
{
  LumaCachingResolver *self = g_object_new (LUMA_TYPE_CACHING_RESOLVER, NULL);

  self->inner = g_object_ref (inner);
  self->lifetime = lifetime;
  return G_PROXY_RESOLVER (self);
}

/* The system's resolver, its answers kept: one for the process. */
static GProxyResolver *
system_resolver (void)
{
  static GProxyResolver *resolver;

  if (g_once_init_enter (&resolver)) {
    GProxyResolver *made =
        luma_caching_resolver_new (g_proxy_resolver_get_default (),
        LUMA_PROXY_ANSWER_LIFETIME);

    g_once_init_leave (&resolver, made);
  }
  return resolver;
}

/* ----- the resolver ----- */

/* The environment variables luma_proxy_resolver_new () reads. */
static const gchar *const setting_names[] = { "http_proxy", "https_proxy",
  "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY",
  "HTTP_PROXY"
};

gchar *
luma_proxy_settings_text (const gchar * proxy, gchar ** envp)
{
  GString *text = g_string_new (NULL);
  guint i;

  /* lengths first: no value can pass for another's end */
  g_string_append_printf (text, "%zu:%s", proxy ? strlen (proxy) : 0,
      proxy ? proxy : "");
  for (i = 0; i < G_N_ELEMENTS (setting_names); i++) {
    const gchar *value = g_environ_getenv (envp, setting_names[i]);

    g_string_append_printf (text, "|%zu:%s", value ? strlen (value) : 0,
        value ? value : "");
  }
  return g_string_free (text, FALSE);
}

GProxyResolver *
luma_proxy_resolver_new (const gchar * proxy, gchar ** envp,
    GProxyResolver * system, GError ** error)
{
  const gchar *http = NULL, *https = NULL, *all = NULL, *no_proxy;
  const gchar *http_name = NULL, *https_name = NULL, *all_name = NULL;
  const gchar *no_proxy_name;
  g_autofree gchar *http_url = NULL;
  g_autofree gchar *https_url = NULL;
  g_autofree gchar *default_url = NULL;
  g_auto (GStrv) ignore_hosts = NULL;
  g_autoptr (GProxyResolver) resolver = NULL;
  g_autoptr (GProxyResolver) direct = NULL;
  gboolean direct_for_all;
  LumaExcludingResolver *excluding;

  if (system == NULL)
    system = system_resolver ();
  /* HTTP_PROXY is anyone's to set who sends a request to a CGI program
   * (httpoxy): lumasrc never reads it, and the system's resolver
   * (libproxy) would, for https URLs too. Where it is set, the system's
   * resolver is not asked, and what no setting of ours names goes direct. */
  if (non_empty (g_environ_getenv (envp, "HTTP_PROXY")) != NULL)
    system = direct = g_simple_proxy_resolver_new (NULL, NULL);

  /* Every proxy that is set must be usable, whatever URL comes later. */
  if (non_empty (proxy) != NULL) {
    default_url = normalize_proxy (proxy, _("the proxy property"), error);
    if (default_url == NULL)
      return NULL;
  } else {
    http = env_value (envp, "http_proxy", NULL, &http_name);
    https = env_value (envp, "https_proxy", "HTTPS_PROXY", &https_name);
    all = env_value (envp, "all_proxy", "ALL_PROXY", &all_name);
    if (http != NULL && !(http_url = normalize_proxy (http, http_name, error)))
      return NULL;
    if (https != NULL
        && !(https_url = normalize_proxy (https, https_name, error)))
      return NULL;
    if (all != NULL && !(default_url = normalize_proxy (all, all_name, error)))
      return NULL;
  }
  no_proxy = env_value (envp, "no_proxy", "NO_PROXY", &no_proxy_name);

  if (default_url == NULL && http_url == NULL && https_url == NULL
      && no_proxy == NULL)
    return g_object_ref (system);

  ignore_hosts = ignore_hosts_from_no_proxy (no_proxy, &direct_for_all);
  if (direct_for_all)
    return g_simple_proxy_resolver_new (NULL, NULL);

  if (default_url == NULL && http_url == NULL && https_url == NULL) {
    /* no_proxy alone: it still applies, in front of the system's */
    excluding = g_object_new (LUMA_TYPE_EXCLUDING_RESOLVER, NULL);
    excluding->rules = g_simple_proxy_resolver_new (SYSTEM_PROXY, ignore_hosts);
    excluding->system = g_object_ref (system);
    return G_PROXY_RESOLVER (excluding);
  }

  /* A scheme with no proxy of its own and no all_proxy goes direct. */
  resolver = g_simple_proxy_resolver_new (default_url, ignore_hosts);
  if (http_url != NULL)
    g_simple_proxy_resolver_set_uri_proxy (G_SIMPLE_PROXY_RESOLVER (resolver),
        "http", http_url);
  if (https_url != NULL)
    g_simple_proxy_resolver_set_uri_proxy (G_SIMPLE_PROXY_RESOLVER (resolver),
        "https", https_url);
  return g_steal_pointer (&resolver);
}
