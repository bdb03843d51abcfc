/* gst-luma: writes the documentation cache of GStreamer plugins
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   gst-luma-plugins-scanner OUTPUT.json PLUGIN.so...
 *
 * Loads each plugin and describes it in the structure of the
 * gst_plugins_cache.json files that GStreamer's own modules keep (made there
 * by gst-hotdoc-plugins-scanner, which Debian does not ship): per plugin its
 * description, filename, source, package, license and url, its elements
 * (rank, metadata, type hierarchy, interfaces, properties with their type,
 * flags, default and range, signals, pad templates with their caps,
 * direction and presence), its tracers, and under "other-types" the enums,
 * flags and objects marked as plugin API (gst_type_mark_as_plugin_api())
 * that these use. Values are written the way GStreamer's caches hold them
 * (numbers as strings, an enum default as "nick (value)", a '%' doubled),
 * except that unsigned numbers are written unsigned.
 *
 * To keep the output the same from one machine and one release to the next,
 * the plugin's version within a string default is written "{VERSION}", as
 * GStreamer's caches write it. The keys come out in no particular order:
 * docs/update-cache.sh sorts and indents them as GStreamer does.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <locale.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>

typedef struct
{
  JsonObject *other_types;
  const gchar *version;
} Scan;

static void add_object_details (Scan * scan, JsonObject * json,
    GObject * object, GType type);

/* A string as GStreamer's caches hold it: "NULL" for none, '%' doubled. */
static gchar *
doc_string (const gchar * str)
{
  GString *out;
  const gchar *p;

  if (str == NULL)
    return g_strdup ("NULL");

  out = g_string_sized_new (strlen (str));
  for (p = str; *p != '\0'; p++) {
    if (*p == '%')
      g_string_append_c (out, '%');
    g_string_append_c (out, *p);
  }
  return g_string_free (out, FALSE);
}

static void
set_doc_string (JsonObject * json, const gchar * key, const gchar * str)
{
  json_object_set_string_member (json, key, str);
}

static void
set_escaped (JsonObject * json, const gchar * key, const gchar * str)
{
  gchar *escaped = doc_string (str);

  set_doc_string (json, key, escaped);
  g_free (escaped);
}

static void
set_printf (JsonObject * json, const gchar * key, const gchar * format, ...)
{
  va_list args;
  gchar *str;

  va_start (args, format);
  str = g_strdup_vprintf (format, args);
  va_end (args);
  json_object_set_string_member (json, key, str);
  g_free (str);
}

static JsonObject *
get_object_member (JsonObject * json, const gchar * key)
{
  if (!json_object_has_member (json, key))
    json_object_set_object_member (json, key, json_object_new ());
  return json_object_get_object_member (json, key);
}

/* ----- other-types: enums, flags and objects marked as plugin API ----- */

static void
serialize_enum (Scan * scan, GType gtype, GstPluginAPIFlags api_flags)
{
  JsonObject *json = json_object_new ();
  GEnumClass *klass = g_type_class_ref (gtype);
  guint i;

  set_doc_string (json, "kind", "enum");
  if (api_flags & GST_PLUGIN_API_FLAG_IGNORE_ENUM_MEMBERS) {
    json_object_set_boolean_member (json, "ignore-enum-members", TRUE);
  } else {
    JsonArray *values = json_array_new ();

    for (i = 0; i < klass->n_values; i++) {
      JsonObject *value = json_object_new ();

      set_escaped (value, "name", klass->values[i].value_nick);
      set_printf (value, "value", "%d", klass->values[i].value);
      set_escaped (value, "desc", klass->values[i].value_name);
      json_array_add_object_element (values, value);
    }
    json_object_set_array_member (json, "values", values);
  }
  g_type_class_unref (klass);
  json_object_set_object_member (scan->other_types, g_type_name (gtype), json);
}

static void
serialize_flags (Scan * scan, GType gtype)
{
  JsonObject *json = json_object_new ();
  JsonArray *values = json_array_new ();
  GFlagsClass *klass = g_type_class_ref (gtype);
  guint i;

  set_doc_string (json, "kind", "flags");
  for (i = 0; i < klass->n_values; i++) {
    JsonObject *value = json_object_new ();

    set_escaped (value, "name", klass->values[i].value_nick);
    set_printf (value, "value", "0x%08x", klass->values[i].value);
    set_escaped (value, "desc", klass->values[i].value_name);
    json_array_add_object_element (values, value);
  }
  json_object_set_array_member (json, "values", values);
  g_type_class_unref (klass);
  json_object_set_object_member (scan->other_types, g_type_name (gtype), json);
}

/* @inst_type: the type to instantiate when @gtype is abstract or an
 * interface (the element's own type) */
static void
serialize_object (Scan * scan, GType gtype, GType inst_type)
{
  JsonObject *json = json_object_new ();
  GObject *object;

  set_doc_string (json, "kind",
      G_TYPE_IS_INTERFACE (gtype) ? "interface" : "object");
  /* in the table first, so that a type naming itself does not recurse */
  json_object_set_object_member (scan->other_types, g_type_name (gtype), json);
  object = g_object_new (inst_type, NULL);
  if (g_type_is_a (inst_type, G_TYPE_INITIALLY_UNOWNED))
    g_object_ref_sink (object);
  add_object_details (scan, json, object, gtype);
  g_object_unref (object);
}

/* Adds @gtype to other-types when it is plugin API and not there yet. */
static void
add_other_type (Scan * scan, GType gtype, GType inst_type)
{
  GstPluginAPIFlags api_flags = 0;

  if (gtype == G_TYPE_NONE || g_type_name (gtype) == NULL
      || json_object_has_member (scan->other_types, g_type_name (gtype))
      || !gst_type_is_plugin_api (gtype, &api_flags))
    return;

  if (G_TYPE_IS_ENUM (gtype))
    serialize_enum (scan, gtype, api_flags);
  else if (G_TYPE_IS_FLAGS (gtype))
    serialize_flags (scan, gtype);
  else if (G_TYPE_IS_INTERFACE (gtype) || g_type_is_a (gtype, G_TYPE_OBJECT))
    serialize_object (scan, gtype, inst_type);
}

/* ----- properties ----- */

static const gchar *
mutable_name (GParamFlags flags)
{
  if (flags & GST_PARAM_MUTABLE_PLAYING)
    return "playing";
  if (flags & GST_PARAM_MUTABLE_PAUSED)
    return "paused";
  if (flags & GST_PARAM_MUTABLE_READY)
    return "ready";
  return "null";
}

static gchar *
flags_to_string (GFlagsClass * klass, guint flags)
{
  GString *s = g_string_new (NULL);
  guint left = flags;
  guint i;

  for (i = 0; i < klass->n_values; i++) {
    if (klass->values[i].value == flags) {
      g_string_free (s, TRUE);
      return g_strdup (klass->values[i].value_nick);
    }
  }
  /* from the highest value down, as GStreamer's caches write them */
  for (i = klass->n_values; i > 0 && left != 0; i--) {
    const GFlagsValue *v = &klass->values[i - 1];

    if (v->value != 0 && (left & v->value) == v->value) {
      if (s->len > 0)
        g_string_append_c (s, '+');
      g_string_append (s, v->value_nick);
      left &= ~v->value;
    }
  }
  if (s->len == 0)
    g_string_assign (s, "(none)");
  return g_string_free (s, FALSE);
}

static void
set_string_default (Scan * scan, JsonObject * json, const gchar * str)
{
  gchar **parts;
  gchar *joined;

  if (str == NULL || scan->version == NULL || scan->version[0] == '\0'
      || strstr (str, scan->version) == NULL) {
    set_escaped (json, "default", str);
    return;
  }
  parts = g_strsplit (str, scan->version, -1);
  joined = g_strjoinv ("{VERSION}", parts);
  set_escaped (json, "default", joined);
  g_free (joined);
  g_strfreev (parts);
}

static void
set_default_and_range (Scan * scan, JsonObject * json, GParamSpec * spec,
    const GValue * value)
{
  switch (G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value))) {
    case G_TYPE_STRING:
      set_string_default (scan, json, g_value_get_string (value));
      break;
    case G_TYPE_BOOLEAN:
      set_doc_string (json, "default",
          g_value_get_boolean (value) ? "true" : "false");
      break;
    case G_TYPE_INT:{
      GParamSpecInt *p = G_PARAM_SPEC_INT (spec);

      set_printf (json, "default", "%d", g_value_get_int (value));
      set_printf (json, "min", "%d", p->minimum);
      set_printf (json, "max", "%d", p->maximum);
      break;
    }
    case G_TYPE_UINT:{
      GParamSpecUInt *p = G_PARAM_SPEC_UINT (spec);

      set_printf (json, "default", "%u", g_value_get_uint (value));
      set_printf (json, "min", "%u", p->minimum);
      set_printf (json, "max", "%u", p->maximum);
      break;
    }
    case G_TYPE_LONG:{
      GParamSpecLong *p = G_PARAM_SPEC_LONG (spec);

      set_printf (json, "default", "%ld", g_value_get_long (value));
      set_printf (json, "min", "%ld", p->minimum);
      set_printf (json, "max", "%ld", p->maximum);
      break;
    }
    case G_TYPE_ULONG:{
      GParamSpecULong *p = G_PARAM_SPEC_ULONG (spec);

      set_printf (json, "default", "%lu", g_value_get_ulong (value));
      set_printf (json, "min", "%lu", p->minimum);
      set_printf (json, "max", "%lu", p->maximum);
      break;
    }
    case G_TYPE_INT64:{
      GParamSpecInt64 *p = G_PARAM_SPEC_INT64 (spec);

      set_printf (json, "default", "%" G_GINT64_FORMAT,
          g_value_get_int64 (value));
      set_printf (json, "min", "%" G_GINT64_FORMAT, p->minimum);
      set_printf (json, "max", "%" G_GINT64_FORMAT, p->maximum);
      break;
    }
    case G_TYPE_UINT64:{
      GParamSpecUInt64 *p = G_PARAM_SPEC_UINT64 (spec);

      set_printf (json, "default", "%" G_GUINT64_FORMAT,
          g_value_get_uint64 (value));
      set_printf (json, "min", "%" G_GUINT64_FORMAT, p->minimum);
      set_printf (json, "max", "%" G_GUINT64_FORMAT, p->maximum);
      break;
    }
    case G_TYPE_FLOAT:{
      GParamSpecFloat *p = G_PARAM_SPEC_FLOAT (spec);

      set_printf (json, "default", "%g", (gdouble) g_value_get_float (value));
      set_printf (json, "min", "%g", (gdouble) p->minimum);
      set_printf (json, "max", "%g", (gdouble) p->maximum);
      break;
    }
    case G_TYPE_DOUBLE:{
      GParamSpecDouble *p = G_PARAM_SPEC_DOUBLE (spec);

      set_printf (json, "default", "%g", g_value_get_double (value));
      set_printf (json, "min", "%g", p->minimum);
      set_printf (json, "max", "%g", p->maximum);
      break;
    }
    case G_TYPE_ENUM:{
      GEnumValue *v = g_enum_get_value (G_PARAM_SPEC_ENUM (spec)->enum_class,
          g_value_get_enum (value));

      set_printf (json, "default", "%s (%d)", v ? v->value_nick : "",
          g_value_get_enum (value));
      break;
    }
    case G_TYPE_FLAGS:{
      gchar *str = flags_to_string (G_PARAM_SPEC_FLAGS (spec)->flags_class,
          g_value_get_flags (value));

      set_escaped (json, "default", str);
      g_free (str);
      break;
    }
    default:
      if (spec->value_type == GST_TYPE_CAPS) {
        const GstCaps *caps = gst_value_get_caps (value);

        if (caps != NULL) {
          gchar *str = gst_caps_to_string (caps);

          set_escaped (json, "default", str);
          g_free (str);
        }
      } else if (spec->value_type == GST_TYPE_STRUCTURE) {
        const GstStructure *s = gst_value_get_structure (value);

        if (s != NULL) {
          gchar *str = gst_structure_to_string (s);

          set_escaped (json, "default", str);
          g_free (str);
        }
      } else if (GST_IS_PARAM_SPEC_FRACTION (spec)) {
        GstParamSpecFraction *p = GST_PARAM_SPEC_FRACTION (spec);

        set_printf (json, "default", "%d/%d",
            gst_value_get_fraction_numerator (value),
            gst_value_get_fraction_denominator (value));
        set_printf (json, "min", "%d/%d", p->min_num, p->min_den);
        set_printf (json, "max", "%d/%d", p->max_num, p->max_den);
      }
      break;
  }
}

/* The properties @type itself installs, read from @object when readable. */
static void
add_properties (Scan * scan, JsonObject * json, GObject * object, GType type)
{
  GParamSpec **specs;
  guint n_specs, i;
  JsonObject *props = NULL;

  specs = g_object_class_list_properties (G_OBJECT_GET_CLASS (object),
      &n_specs);
  for (i = 0; i < n_specs; i++) {
    GParamSpec *spec = specs[i];
    GValue value = G_VALUE_INIT;
    JsonObject *prop;

    if (spec->owner_type != type)
      continue;

    g_value_init (&value, spec->value_type);
    if ((spec->flags & G_PARAM_READABLE)
        && !(spec->flags & GST_PARAM_DOC_SHOW_DEFAULT))
      g_object_get_property (object, spec->name, &value);
    else
      g_param_value_set_default (spec, &value);

    if (props == NULL)
      props = get_object_member (json, "properties");
    prop = json_object_new ();
    json_object_set_boolean_member (prop, "construct-only",
        (spec->flags & G_PARAM_CONSTRUCT_ONLY) != 0);
    json_object_set_boolean_member (prop, "construct",
        (spec->flags & G_PARAM_CONSTRUCT) != 0);
    json_object_set_boolean_member (prop, "readable",
        (spec->flags & G_PARAM_READABLE) != 0);
    json_object_set_boolean_member (prop, "writable",
        (spec->flags & G_PARAM_WRITABLE) != 0);
    json_object_set_boolean_member (prop, "controllable",
        (spec->flags & GST_PARAM_CONTROLLABLE) != 0);
    json_object_set_boolean_member (prop, "conditionally-available",
        (spec->flags & GST_PARAM_CONDITIONALLY_AVAILABLE) != 0);
    set_doc_string (prop, "mutable", mutable_name (spec->flags));
    set_escaped (prop, "blurb", g_param_spec_get_blurb (spec));
    set_doc_string (prop, "type", g_type_name (spec->value_type));
    set_default_and_range (scan, prop, spec, &value);
    json_object_set_object_member (props, spec->name, prop);

    add_other_type (scan, spec->value_type, spec->value_type);
    g_value_unset (&value);
  }
  g_free (specs);
}

/* ----- signals ----- */

static void
add_signals (Scan * scan, JsonObject * json, GType type)
{
  guint *ids;
  guint n_ids, i, j;
  JsonObject *signals = NULL;

  ids = g_signal_list_ids (type, &n_ids);
  for (i = 0; i < n_ids; i++) {
    GSignalQuery query;
    JsonObject *signal = json_object_new ();
    JsonArray *args = json_array_new ();

    g_signal_query (ids[i], &query);
    for (j = 0; j < query.n_params; j++) {
      JsonObject *arg = json_object_new ();
      GType arg_type = query.param_types[j] & ~G_SIGNAL_TYPE_STATIC_SCOPE;

      set_printf (arg, "name", "arg%u", j);
      set_doc_string (arg, "type", g_type_name (arg_type));
      json_array_add_object_element (args, arg);
      add_other_type (scan, arg_type, arg_type);
    }
    json_object_set_array_member (signal, "args", args);
    set_doc_string (signal, "return-type", g_type_name (query.return_type));
    add_other_type (scan, query.return_type, query.return_type);

    if (query.signal_flags & G_SIGNAL_RUN_FIRST)
      set_doc_string (signal, "when", "first");
    else if (query.signal_flags & G_SIGNAL_RUN_LAST)
      set_doc_string (signal, "when", "last");
    else if (query.signal_flags & G_SIGNAL_RUN_CLEANUP)
      set_doc_string (signal, "when", "cleanup");
    if (query.signal_flags & G_SIGNAL_NO_RECURSE)
      json_object_set_boolean_member (signal, "no-recurse", TRUE);
    if (query.signal_flags & G_SIGNAL_DETAILED)
      json_object_set_boolean_member (signal, "detailed", TRUE);
    if (query.signal_flags & G_SIGNAL_ACTION)
      json_object_set_boolean_member (signal, "action", TRUE);
    if (query.signal_flags & G_SIGNAL_NO_HOOKS)
      json_object_set_boolean_member (signal, "no-hooks", TRUE);

    if (signals == NULL)
      signals = get_object_member (json, "signals");
    json_object_set_object_member (signals, query.signal_name, signal);
  }
  g_free (ids);
}

/* ----- hierarchy, interfaces ----- */

static void
add_object_details (Scan * scan, JsonObject * json, GObject * object,
    GType type)
{
  JsonArray *hierarchy = json_array_new ();
  GType *interfaces;
  guint n_interfaces, i;
  GType t;

  for (t = type; t != 0; t = g_type_parent (t)) {
    json_array_add_string_element (hierarchy, g_type_name (t));
    add_other_type (scan, t, G_OBJECT_TYPE (object));
  }
  json_object_set_array_member (json, "hierarchy", hierarchy);

  interfaces = g_type_interfaces (type, &n_interfaces);
  if (n_interfaces > 0) {
    JsonArray *array = json_array_new ();

    for (i = 0; i < n_interfaces; i++) {
      json_array_add_string_element (array, g_type_name (interfaces[i]));
      add_other_type (scan, interfaces[i], G_OBJECT_TYPE (object));
    }
    json_object_set_array_member (json, "interfaces", array);
  }
  g_free (interfaces);

  add_properties (scan, json, object, type);
  add_signals (scan, json, type);
}

/* ----- pad templates ----- */

static gboolean
append_caps_field (GQuark field, const GValue * value, gpointer user_data)
{
  GString *out = user_data;
  const gchar *name = g_quark_to_string (field);
  gchar *str = gst_value_serialize (value);

  /* GStreamer's caches write these two without their type */
  if (g_strcmp0 (name, "format") == 0 || g_strcmp0 (name, "rate") == 0) {
    GRegex *re = g_regex_new ("\\(string\\)|\\(rate\\)", 0, 0, NULL);
    gchar *clean = g_regex_replace_literal (re, str, -1, 0, "", 0, NULL);

    g_regex_unref (re);
    g_free (str);
    str = clean;
  }
  g_string_append_printf (out, "%15s: %s\n", name, str);
  g_free (str);
  return TRUE;
}

static gchar *
caps_to_doc (const GstCaps * caps)
{
  GString *out;
  guint i;

  if (gst_caps_is_any (caps))
    return g_strdup ("ANY");
  if (gst_caps_is_empty (caps))
    return g_strdup ("EMPTY");

  out = g_string_new (NULL);
  for (i = 0; i < gst_caps_get_size (caps); i++) {
    GstStructure *s = gst_caps_get_structure (caps, i);
    GstCapsFeatures *f = gst_caps_get_features (caps, i);

    if (f != NULL && (gst_caps_features_is_any (f)
            || !gst_caps_features_is_equal (f,
                GST_CAPS_FEATURES_MEMORY_SYSTEM_MEMORY))) {
      gchar *fs = gst_caps_features_to_string (f);

      g_string_append_printf (out, "%s%s(%s):\n", i ? "\n" : "",
          gst_structure_get_name (s), fs);
      g_free (fs);
    } else {
      g_string_append_printf (out, "%s:\n", gst_structure_get_name (s));
    }
    gst_structure_foreach (s, append_caps_field, out);
  }
  return g_string_free (out, FALSE);
}

static const gchar *
direction_name (GstPadDirection direction)
{
  switch (direction) {
    case GST_PAD_SRC:
      return "src";
    case GST_PAD_SINK:
      return "sink";
    default:
      return "unknown";
  }
}

static const gchar *
presence_name (GstPadPresence presence)
{
  switch (presence) {
    case GST_PAD_ALWAYS:
      return "always";
    case GST_PAD_SOMETIMES:
      return "sometimes";
    case GST_PAD_REQUEST:
      return "request";
    default:
      return "unknown";
  }
}

static void
add_pad_templates (Scan * scan, JsonObject * json, GstElement * element,
    GstElementFactory * factory)
{
  const GList *l;
  JsonObject *pads = NULL;

  for (l = gst_element_factory_get_static_pad_templates (factory); l;
      l = l->next) {
    GstStaticPadTemplate *st = l->data;
    GstPadTemplate *tmpl =
        gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (element),
        st->name_template);
    JsonObject *pad = json_object_new ();
    GstCaps *caps;
    gchar *str;
    GType pad_type = G_TYPE_NONE;

    if (tmpl != NULL) {
      caps = gst_pad_template_get_documentation_caps (tmpl);
      pad_type = GST_PAD_TEMPLATE_GTYPE (tmpl);
    } else {
      caps = gst_static_caps_get (&st->static_caps);
    }
    str = caps_to_doc (caps);
    set_escaped (pad, "caps", str);
    g_free (str);
    gst_caps_unref (caps);
    set_doc_string (pad, "direction", direction_name (st->direction));
    set_doc_string (pad, "presence", presence_name (st->presence));
    if (pad_type != G_TYPE_NONE && pad_type != GST_TYPE_PAD) {
      set_doc_string (pad, "type", g_type_name (pad_type));
      add_other_type (scan, pad_type, pad_type);
    }

    if (pads == NULL)
      pads = get_object_member (json, "pad-templates");
    str = doc_string (st->name_template);
    json_object_set_object_member (pads, str, pad);
    g_free (str);
  }
}

/* ----- elements, plugins ----- */

static gchar *
rank_name (gint rank)
{
  static const gint ranks[] = { GST_RANK_NONE, GST_RANK_MARGINAL,
    GST_RANK_SECONDARY, GST_RANK_PRIMARY
  };
  static const gchar *const names[] = { "none", "marginal", "secondary",
    "primary"
  };
  guint i, best = 0;

  for (i = 0; i < G_N_ELEMENTS (ranks); i++) {
    if (rank == ranks[i])
      return g_strdup (names[i]);
    if (abs (rank - ranks[i]) < abs (rank - ranks[best]))
      best = i;
  }
  return g_strdup_printf ("%s %c %d", names[best],
      rank > ranks[best] ? '+' : '-', abs (rank - ranks[best]));
}

static JsonObject *
describe_element (Scan * scan, GstElementFactory * factory)
{
  JsonObject *json = json_object_new ();
  GstElement *element = gst_element_factory_create (factory, NULL);
  gchar **keys, **k;
  gchar *rank;

  if (element == NULL) {
    g_printerr ("Could not create %s\n", GST_OBJECT_NAME (factory));
    exit (1);
  }
  gst_object_ref_sink (element);

  rank = rank_name (gst_plugin_feature_get_rank (GST_PLUGIN_FEATURE (factory)));
  set_doc_string (json, "rank", rank);
  g_free (rank);

  keys = gst_element_factory_get_metadata_keys (factory);
  for (k = keys; k != NULL && *k != NULL; k++)
    set_escaped (json, *k, gst_element_factory_get_metadata (factory, *k));
  g_strfreev (keys);

  add_object_details (scan, json, G_OBJECT (element), G_OBJECT_TYPE (element));
  add_pad_templates (scan, json, element, factory);

  gst_object_unref (element);
  return json;
}

static gint
compare_features (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (GST_OBJECT_NAME (a), GST_OBJECT_NAME (b));
}

static JsonObject *
describe_plugin (GstPlugin * plugin, const gchar * path)
{
  JsonObject *json = json_object_new ();
  JsonObject *elements = json_object_new ();
  JsonObject *tracers = json_object_new ();
  Scan scan;
  GList *features, *l;
  gchar *basename, *filename, *dot;

  scan.other_types = json_object_new ();
  scan.version = gst_plugin_get_version (plugin);

  /* libgstfoo.so: gstfoo */
  basename = g_path_get_basename (path);
  dot = strchr (basename, '.');
  if (dot != NULL)
    *dot = '\0';
  filename = g_str_has_prefix (basename, "lib") ? basename + 3 : basename;

  set_doc_string (json, "description", gst_plugin_get_description (plugin));
  set_doc_string (json, "filename", filename);
  set_doc_string (json, "source", gst_plugin_get_source (plugin));
  set_doc_string (json, "package", gst_plugin_get_package (plugin));
  set_doc_string (json, "license", gst_plugin_get_license (plugin));
  set_doc_string (json, "url", gst_plugin_get_origin (plugin));
  g_free (basename);

  features = gst_registry_get_feature_list_by_plugin (gst_registry_get (),
      gst_plugin_get_name (plugin));
  features = g_list_sort (features, compare_features);
  for (l = features; l; l = l->next) {
    GstPluginFeature *feature = l->data;

    if (GST_IS_ELEMENT_FACTORY (feature)) {
      GstElementFactory *factory = GST_ELEMENT_FACTORY (feature);

      if (gst_element_factory_get_skip_documentation (factory))
        continue;
      json_object_set_object_member (elements, GST_OBJECT_NAME (feature),
          describe_element (&scan, factory));
    } else if (GST_IS_TRACER_FACTORY (feature)) {
      json_object_set_object_member (tracers, GST_OBJECT_NAME (feature),
          json_object_new ());
    }
  }
  gst_plugin_feature_list_free (features);

  json_object_set_object_member (json, "elements", elements);
  json_object_set_object_member (json, "tracers", tracers);
  json_object_set_object_member (json, "other-types", scan.other_types);
  return json;
}

int
main (int argc, char *argv[])
{
  JsonObject *root;
  JsonNode *node;
  JsonGenerator *generator;
  GError *error = NULL;
  int i;

  if (argc < 3) {
    g_printerr ("usage: %s OUTPUT.json PLUGIN...\n", argv[0]);
    return 2;
  }

  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");
  gst_init (NULL, NULL);

  root = json_object_new ();
  for (i = 2; i < argc; i++) {
    GstPlugin *plugin = gst_plugin_load_file (argv[i], &error);

    if (plugin == NULL) {
      g_printerr ("%s could not be loaded as a GStreamer plugin: %s\n",
          argv[i], error->message);
      return 1;
    }
    json_object_set_object_member (root, gst_plugin_get_name (plugin),
        describe_plugin (plugin, argv[i]));
    gst_object_unref (plugin);
  }

  node = json_node_init_object (json_node_alloc (), root);
  generator = json_generator_new ();
  json_generator_set_root (generator, node);
  if (!json_generator_to_file (generator, argv[1], &error)) {
    g_printerr ("Could not write %s: %s\n", argv[1], error->message);
    return 1;
  }
  g_object_unref (generator);
  json_node_unref (node);
  json_object_unref (root);
  return 0;
}
