/* gst-luma: what lumasrc costs while it waits. Runs many lumasrc in one
 * process against a KIE API whose tasks generate for a while, and prints
 * the CPU time the process spent until the tasks were ready, and where it
 * went: the start, the waiting itself, the end.
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Usage: KIE_API_URL=... KIE_API_KEY=... bench-waiting [--instances N]
 *        [--poll-interval MS] [--prefix TASKPREFIX]
 * Tasks are PREFIX0 .. PREFIX(N-1) (see bench-waiting.sh).
 */
#include <gst/gst.h>
#include <sys/resource.h>

static gint instances = 200;
static gint poll_interval = 1000;
static gchar *prefix = NULL;

static GOptionEntry entries[] = {
  {"instances", 'n', 0, G_OPTION_ARG_INT, &instances, "lumasrc instances", "N"},
  {"poll-interval", 'p', 0, G_OPTION_ARG_INT, &poll_interval,
      "poll interval (ms)", "MS"},
  {"prefix", 0, 0, G_OPTION_ARG_STRING, &prefix, "task id prefix", "TEXT"},
  {NULL}
};

static gdouble
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
      + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static GstElement *
build_pipeline (void)
{
  GstElement *pipeline = gst_pipeline_new (NULL);
  gint i;

  for (i = 0; i < instances; i++) {
    g_autofree gchar *id = g_strdup_printf ("%s%d", prefix, i);
    GstElement *src = gst_element_factory_make ("lumasrc", NULL);
    GstElement *sink = gst_element_factory_make ("fakesink", NULL);

    if (src == NULL) {
      g_printerr ("lumasrc not found: set GST_PLUGIN_PATH\n");
      exit (1);
    }
    g_object_set (src, "task-id", id, "poll-interval", poll_interval,
        "wait-timeout", 600, NULL);
    g_object_set (sink, "sync", FALSE, NULL);
    gst_bin_add_many (GST_BIN (pipeline), src, sink, NULL);
    gst_element_link (src, sink);
  }
  return pipeline;
}

/* Where the CPU time of a run went: the moments at which every source had
 * polled once (all started) and the first task was ready (no video
 * streamed before it), with the CPU time and polls up to each. Between the
 * two the process does nothing but wait: the cost of a poll in the long
 * run, without the start and the end of the run that the headline figure
 * spreads over its polls. */
typedef struct
{
  gdouble cpu;
  guint polls;
} Mark;

static Mark all_started, first_ready;

static void
mark_now (Mark * mark, gdouble cpu_before, guint polls)
{
  mark->cpu = cpu_seconds () - cpu_before;
  mark->polls = polls;
}

/* Waits until every source has said its task is ready; returns the number
 * of polls seen. */
static guint
wait_until_ready (GstElement * pipeline, gdouble cpu_before)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GHashTable) polled = g_hash_table_new (NULL, NULL);
  gint ready = 0;
  guint polls = 0;

  while (ready < instances) {
    GstMessage *msg = gst_bus_timed_pop (bus, 600 * GST_SECOND);
    GstProgressType type;

    if (msg == NULL || GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_printerr ("failed: %" GST_PTR_FORMAT "\n", msg);
      exit (1);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_PROGRESS) {
      gst_message_parse_progress (msg, &type, NULL, NULL);
      if (type == GST_PROGRESS_TYPE_CONTINUE) {
        polls++;
        if (g_hash_table_add (polled, GST_MESSAGE_SRC (msg))
            && g_hash_table_size (polled) == (guint) instances)
          mark_now (&all_started, cpu_before, polls);
      } else if (type == GST_PROGRESS_TYPE_COMPLETE) {
        if (ready++ == 0)
          mark_now (&first_ready, cpu_before, polls);
      }
    }
    gst_message_unref (msg);
  }
  return polls;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  GstElement *pipeline;
  gdouble cpu_before, cpu, wall;
  gint64 start;
  guint polls;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  if (prefix == NULL)
    prefix = g_strdup ("bench-");

  pipeline = build_pipeline ();
  cpu_before = cpu_seconds ();
  start = g_get_monotonic_time ();
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  polls = wait_until_ready (pipeline, cpu_before);
  cpu = cpu_seconds () - cpu_before;
  wall = (g_get_monotonic_time () - start) / 1e6;

  g_print ("instances            %d\n", instances);
  g_print ("poll interval        %d ms\n", poll_interval);
  g_print ("wall time waiting    %.2f s\n", wall);
  g_print ("polls                %u\n", polls);
  g_print ("CPU time waiting     %.3f s (user+sys, whole process)\n", cpu);
  g_print ("CPU share            %.2f %% of one core\n", 100 * cpu / wall);
  g_print ("CPU per poll         %.3f ms\n", polls ? 1000 * cpu / polls : 0);
  g_print ("CPU per instance     %.3f ms per second of waiting\n",
      1000 * cpu / instances / wall);
  if (all_started.polls == 0 || first_ready.polls <= all_started.polls)
    goto out;                   /* a task was ready before all had polled */
  g_print ("where it went:\n");
  g_print ("  start, to every source's first poll   %.3f s, %u polls\n",
      all_started.cpu, all_started.polls);
  g_print ("  waiting, to the first task ready      %.3f s, %u polls\n",
      first_ready.cpu - all_started.cpu, first_ready.polls - all_started.polls);
  g_print ("  end, the last polls and the videos    %.3f s, %u polls\n",
      cpu - first_ready.cpu, polls - first_ready.polls);
  g_print ("CPU per poll, waiting %.3f ms (the middle part alone)\n",
      1000 * (first_ready.cpu - all_started.cpu)
      / (first_ready.polls - all_started.polls));

out:

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (prefix);
  return 0;
}
