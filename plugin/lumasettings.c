/* gst-luma: the settings lumasrc and lumamodify share
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "lumasettings.h"
#include "lumaapi.h"
#include "lumatext.h"

#include <gst/gst.h>
#include <glib/gi18n-lib.h>

#include <string.h>

#define DEFAULT_POLL_INTERVAL 30000
#define DEFAULT_WAIT_TIMEOUT 3600
#define MASKED_KEY "********"

#define READY_MUTABLE_FLAGS \
    (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY)

/* ----- the environment ----- */

const gchar *
luma_settings_non_empty (const gchar * value)
{
  return value != NULL && value[0] != '\0' ? value : NULL;
}

/* A property when set, else the environment variable, else the default. */
const gchar *
luma_settings_effective (const gchar * property, const gchar * variable,
    const gchar * fallback)
{
  if (luma_settings_non_empty (property) != NULL)
    return property;
  if (variable != NULL && luma_settings_non_empty (g_getenv (variable)))
    return g_getenv (variable);
  return fallback;
}

gchar *
luma_settings_shown_url (const gchar * url)
{
  g_autoptr (GUri) uri = NULL;

  if (url == NULL || strchr (url, '@') == NULL)
    return g_strdup (url);
  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return NULL;                /* not shown: it may hold a password */
  /* no host: the '@' may follow credentials the parser took for a path
   * ("https:/user:KEY@api.kie.ai", a slash too few) */
  if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    return NULL;
  if (g_uri_get_userinfo (uri) == NULL)
    return g_strdup (url);
  return g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);
}

void
luma_settings_resolve_string (gchar ** value, const gchar * variable,
    const gchar * fallback)
{
  gchar *resolved =
      g_strdup (luma_settings_effective (*value, variable, fallback));

  g_free (*value);
  *value = resolved;
}

/* ----- the struct ----- */

void
luma_task_settings_init (LumaTaskSettings * settings)
{
  memset (settings, 0, sizeof (*settings));
  settings->poll_interval = DEFAULT_POLL_INTERVAL;
  settings->wait_timeout = DEFAULT_WAIT_TIMEOUT;
}

void
luma_task_settings_clear (LumaTaskSettings * settings)
{
  g_clear_pointer (&settings->prompt, g_free);
  g_clear_pointer (&settings->watermark, g_free);
  g_clear_pointer (&settings->callback_url, g_free);
  g_clear_pointer (&settings->api_key, luma_secret_free);
  g_clear_pointer (&settings->api_url, g_free);
}

void
luma_task_settings_copy (LumaTaskSettings * dest, const LumaTaskSettings * src)
{
  *dest = *src;
  dest->prompt = g_strdup (src->prompt);
  dest->watermark = g_strdup (src->watermark);
  dest->callback_url = g_strdup (src->callback_url);
  dest->api_key = g_strdup (src->api_key);
  dest->api_url = g_strdup (src->api_url);
}

/* Resolved once, when a run starts, into the run's copy: what is used is
 * what the checks saw. The key is a secret: the old value is wiped. */
void
luma_task_settings_resolve (LumaTaskSettings * settings)
{
  gchar *key = g_strdup (luma_settings_effective (settings->api_key,
          "KIE_API_KEY", NULL));

  luma_secret_free (settings->api_key);
  settings->api_key = key;
  luma_settings_resolve_string (&settings->api_url, "KIE_API_URL",
      LUMA_API_DEFAULT_URL);
}

/* ----- checks, before any request ----- */

static gboolean
settings_error (GError ** error, const gchar * message)
{
  g_set_error_literal (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
      message);
  return FALSE;
}

gboolean
luma_task_settings_check_key (const LumaTaskSettings * settings,
    GError ** error)
{
  if (settings->api_key != NULL)
    return TRUE;
  return settings_error (error,
      _("No KIE API key: set the api-key property or the KIE_API_KEY "
          "environment variable"));
}

/* A header value with a line break in it would add headers of its own. */
gboolean
luma_task_settings_check_key_sendable (const LumaTaskSettings * settings,
    GError ** error)
{
  if (settings->api_key == NULL || luma_text_is_header_safe (settings->api_key))
    return TRUE;
  return settings_error (error,
      _("The KIE API key (api-key or KIE_API_KEY) holds control characters "
          "or invalid UTF-8: it cannot be sent"));
}

/* The optional texts of a new task, as one line each. */
/* A prompt KIE can act on: valid UTF-8 with something in it besides
 * blanks (a billed task for "\n\t " would modify nothing asked for). */
gboolean
luma_task_settings_prompt_is_usable (const LumaTaskSettings * settings)
{
  const gchar *p = settings->prompt;

  if (p == NULL || !g_utf8_validate (p, -1, NULL))
    return FALSE;
  for (; *p != '\0'; p = g_utf8_next_char (p))
    if (!g_unichar_isspace (g_utf8_get_char (p)))
      return TRUE;
  return FALSE;
}

gboolean
luma_task_settings_check_texts (const LumaTaskSettings * settings,
    GError ** error)
{
  if ((settings->watermark == NULL || luma_text_is_safe (settings->watermark))
      && (settings->callback_url == NULL
          || luma_text_is_safe (settings->callback_url)))
    return TRUE;
  return settings_error (error,
      _("watermark and callback-url may not hold control characters"));
}

/* ----- properties ----- */

/* Names, nicks, ranges, defaults and flags in one place; the blurbs that
 * say what the property does in the element come from it. */
void
luma_task_settings_install_properties (GObjectClass * gobject_class,
    const LumaTaskBlurbs * blurbs)
{
  g_object_class_install_property (gobject_class, LUMA_TASK_PROP_PROMPT,
      g_param_spec_string ("prompt", "Prompt", blurbs->prompt, NULL,
          READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, LUMA_TASK_PROP_WATERMARK,
      g_param_spec_string ("watermark", "Watermark", blurbs->watermark, NULL,
          READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, LUMA_TASK_PROP_CALLBACK_URL,
      g_param_spec_string ("callback-url", "Callback URL",
          blurbs->callback_url, NULL, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, LUMA_TASK_PROP_FORCE_NEW,
      g_param_spec_boolean ("force-new", "Force new", blurbs->force_new,
          FALSE, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, LUMA_TASK_PROP_API_KEY,
      g_param_spec_string ("api-key", "API key",
          "The KIE API key; when unset, the KIE_API_KEY environment variable. "
          "Reads back masked, never in clear", NULL, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class, LUMA_TASK_PROP_API_URL,
      g_param_spec_string ("api-url", "API URL",
          "Base URL of the KIE API; when unset, the KIE_API_URL environment "
          "variable, else " LUMA_API_DEFAULT_URL, LUMA_API_DEFAULT_URL,
          READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class,
      LUMA_TASK_PROP_POLL_INTERVAL, g_param_spec_uint ("poll-interval",
          "Poll interval", blurbs->poll_interval, 10, G_MAXUINT,
          DEFAULT_POLL_INTERVAL, READY_MUTABLE_FLAGS));
  g_object_class_install_property (gobject_class,
      LUMA_TASK_PROP_WAIT_TIMEOUT, g_param_spec_uint ("wait-timeout",
          "Wait timeout", blurbs->wait_timeout, 0, G_MAXUINT,
          DEFAULT_WAIT_TIMEOUT, READY_MUTABLE_FLAGS));
}

static void
replace_string (gchar ** dest, const GValue * value)
{
  g_free (*dest);
  *dest = g_value_dup_string (value);
}

void
luma_task_settings_spend_force_new (LumaTaskSettings * settings,
    GMutex * lock, GObject * object)
{
  g_mutex_lock (lock);
  settings->force_new = FALSE;
  g_mutex_unlock (lock);
  g_object_notify (object, "force-new");
}

/* FALSE: not one of the shared properties. The caller holds its settings
 * lock. */
gboolean
luma_task_settings_set_property (LumaTaskSettings * settings, guint prop_id,
    const GValue * value)
{
  switch (prop_id) {
    case LUMA_TASK_PROP_PROMPT:
      replace_string (&settings->prompt, value);
      break;
    case LUMA_TASK_PROP_WATERMARK:
      replace_string (&settings->watermark, value);
      break;
    case LUMA_TASK_PROP_CALLBACK_URL:
      replace_string (&settings->callback_url, value);
      break;
    case LUMA_TASK_PROP_FORCE_NEW:
      settings->force_new = g_value_get_boolean (value);
      break;
    case LUMA_TASK_PROP_API_KEY:
      luma_secret_free (settings->api_key);
      settings->api_key = g_value_dup_string (value);
      break;
    case LUMA_TASK_PROP_API_URL:
      replace_string (&settings->api_url, value);
      break;
    case LUMA_TASK_PROP_POLL_INTERVAL:
      settings->poll_interval = g_value_get_uint (value);
      break;
    case LUMA_TASK_PROP_WAIT_TIMEOUT:
      settings->wait_timeout = g_value_get_uint (value);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

gboolean
luma_task_settings_get_property (const LumaTaskSettings * settings,
    guint prop_id, GValue * value)
{
  switch (prop_id) {
    case LUMA_TASK_PROP_PROMPT:
      g_value_set_string (value, settings->prompt);
      break;
    case LUMA_TASK_PROP_WATERMARK:
      g_value_set_string (value, settings->watermark);
      break;
    case LUMA_TASK_PROP_CALLBACK_URL:
      g_value_set_string (value, settings->callback_url);
      break;
    case LUMA_TASK_PROP_FORCE_NEW:
      g_value_set_boolean (value, settings->force_new);
      break;
    case LUMA_TASK_PROP_API_KEY:
      /* never the key itself: properties end up in logs and dumps */
      g_value_set_string (value, settings->api_key ? MASKED_KEY : NULL);
      break;
    case LUMA_TASK_PROP_API_URL:
      /* what a run would use */
      g_value_take_string (value,
          luma_settings_shown_url (luma_settings_effective (settings->api_url,
                  "KIE_API_URL", LUMA_API_DEFAULT_URL)));
      break;
    case LUMA_TASK_PROP_POLL_INTERVAL:
      g_value_set_uint (value, settings->poll_interval);
      break;
    case LUMA_TASK_PROP_WAIT_TIMEOUT:
      g_value_set_uint (value, settings->wait_timeout);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}
