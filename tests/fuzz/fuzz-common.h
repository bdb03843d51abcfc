/* gst-luma: what every libFuzzer target shares
 * Copyright (C) 2026 gst-luma developers
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A target defines FUZZ_NAME ("fuzz-record") before it includes this, and
 * FUZZ_OWN_INITIALIZE when it has more to set up than fuzz_watch_warnings ()
 * (its LLVMFuzzerInitialize () then calls that itself).
 */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <glib.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

/* A broken contract: told on stderr for the crash report, then abort (),
 * which makes libFuzzer keep the input. @detail may be NULL. */
G_GNUC_UNUSED G_GNUC_NORETURN static void
fuzz_contract_broken (const gchar * what, const gchar * detail)
{
  g_printerr ("%s: contract broken: %s%s%s%s\n", FUZZ_NAME, what,
      detail != NULL ? " (" : "", detail != NULL ? detail : "",
      detail != NULL ? ")" : "");
  abort ();
}

/* A warning or a critical from any library (a g_return_if_fail () in
 * json-glib, libsoup or GLib tripped by what the code under test passed)
 * is a finding too. abort () rather than GLib's fatal-warning trap
 * (SIGTRAP), which libFuzzer does not take for a crash: it would not keep
 * the input. */
static GLogWriterOutput
fuzz_abort_on_warnings (GLogLevelFlags level, const GLogField * fields,
    gsize n_fields, gpointer user_data)
{
  GLogWriterOutput output = g_log_writer_standard_streams (level, fields,
      n_fields, user_data);

  if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    fuzz_contract_broken ("a library warned", NULL);
  return output;
}

static void
fuzz_watch_warnings (void)
{
  g_log_set_writer_func (fuzz_abort_on_warnings, NULL, NULL);
}

#ifndef FUZZ_OWN_INITIALIZE
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_watch_warnings ();
  return 0;
}
#endif
