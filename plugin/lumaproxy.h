/* gst-luma: which proxy a URL goes through, by the conventions of curl
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define LUMA_PROXY_ERROR (luma_proxy_error_quark ())
GQuark luma_proxy_error_quark (void);

typedef enum {
  LUMA_PROXY_ERROR_BAD_PROXY,   /* a proxy URL that cannot be used */
} LumaProxyError;

/* @proxy: the proxy property (NULL or empty: unset); @envp: the environment
 * (g_get_environ ()); @system: the resolver for when nothing is set (NULL:
 * g_proxy_resolver_get_default (), its answers kept for
 * LUMA_PROXY_ANSWER_LIFETIME). Returns a resolver, or NULL and
 * LUMA_PROXY_ERROR_BAD_PROXY with a message that names the setting. */
GProxyResolver *luma_proxy_resolver_new (const gchar * proxy, gchar ** envp,
    GProxyResolver * system, GError ** error);

/* How long the system resolver's answer for a URL is kept (microseconds):
 * a change of the system's proxy settings shows within this time. */
#define LUMA_PROXY_ANSWER_LIFETIME (60 * G_USEC_PER_SEC)

/* @inner's answers, each kept @lifetime microseconds (errors are not) */
GProxyResolver *luma_caching_resolver_new (GProxyResolver * inner,
    gint64 lifetime);

/* What luma_proxy_resolver_new () reads of @proxy and @envp, as one text:
 * two resolvers made from the same text resolve alike. */
gchar *luma_proxy_settings_text (const gchar * proxy, gchar ** envp);

G_END_DECLS
