/* fuzz-driver.c — runs a fuzz target without libFuzzer, so that every
 * build (gcc, any sanitizer or none) exercises the targets in the test
 * suite:
 *
 *   fuzz-X [--runs N] [--seed S] [--dict FILE] PATH...
 *
 * Each PATH is an input file or a directory of them (the target's seed
 * corpus, plus every input that ever found a bug).  The driver runs each
 * input as it is, then N inputs made from them by seeded mutations:
 * flips, byte changes, insertions, deletions, copies within an input,
 * splices of two inputs, and the dictionary's tokens (libFuzzer's -dict
 * format, so both engines share one file).  Same seed, same inputs: a
 * failure in CI replays anywhere.  When a target aborts (a broken
 * invariant, a GLib critical under G_DEBUG=fatal-criticals) or a sanitizer
 * reports, the input it was running is written to fuzz-crash-<name>
 * (in $FUZZ_ARTIFACT_DIR, default the working directory) and its path
 * printed; give that file to the target to replay it alone.
 *
 * This is a regression net, not a fuzzer: coverage-guided search is
 * libFuzzer's job (meson -Dfuzzing=true with clang, fuzz/README.md). */
#include "fuzz-target.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The largest input the driver makes: the targets' parsers are linear,
 * and bigger inputs only slow the run down. */
#define FUZZ_MAX_INPUT (64 * 1024)

/* What the crash hooks write out.  Process-wide by necessity: a signal
 * handler and a sanitizer's death callback get no argument. */
static struct
{
  const uint8_t *data;
  size_t size;
  char path[4096];
} current;

/* Optional hook of the ASan/UBSan runtimes (gcc's and clang's): called
 * before a sanitizer ends the process after its report. */
void __sanitizer_set_death_callback (void (*callback) (void)) __attribute__ ((weak));

static void
write_current_input (void)
{
  /* Async-signal-safe calls only: this runs from signal handlers. */
  int fd = open (current.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0)
    {
      size_t off = 0;
      while (off < current.size)
        {
          ssize_t n = write (fd, current.data + off, current.size - off);
          if (n <= 0)
            break;
          off += (size_t) n;
        }
      close (fd);
    }
  static const char msg[] = "fuzz-driver: the failing input is in ";
  (void) !write (STDERR_FILENO, msg, sizeof msg - 1);
  (void) !write (STDERR_FILENO, current.path, strlen (current.path));
  (void) !write (STDERR_FILENO, "\n", 1);
}

static void
on_fatal_signal (int sig)
{
  write_current_input ();
  signal (sig, SIG_DFL);
  raise (sig);
}

static void
install_crash_hooks (const char *argv0)
{
  const char *dir = g_getenv ("FUZZ_ARTIFACT_DIR");
  g_autofree char *base = g_path_get_basename (argv0);
  g_snprintf (current.path, sizeof current.path, "%s/fuzz-crash-%s", dir ? dir : ".", base);
  if (__sanitizer_set_death_callback != NULL)
    __sanitizer_set_death_callback (write_current_input);
  static const int sigs[] = { SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP };
  for (gsize i = 0; i < G_N_ELEMENTS (sigs); i++)
    signal (sigs[i], on_fatal_signal);
}

/* Runs the target on a heap copy of exactly @size bytes (never NULL, as
 * with libFuzzer), so that ASan sees any read past the input's end. */
static void
run_one (const uint8_t *data, size_t size)
{
  g_autofree uint8_t *copy = g_malloc (MAX (size, 1));
  if (size > 0) /* an empty GBytes has no data pointer */
    memcpy (copy, data, size);
  current.data = copy;
  current.size = size;
  LLVMFuzzerTestOneInput (copy, size);
  current.data = NULL;
  current.size = 0;
}

/* ---- inputs ----------------------------------------------------------- */

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
load_path (GPtrArray *inputs, const char *path)
{
  g_autoptr (GError) error = NULL;
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, &error);
      if (dir == NULL)
        g_error ("%s", error->message);
      /* Sorted, so that the seeded mutations pick the same inputs
       * whatever order the file system lists them in. */
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;
      while ((name = g_dir_read_name (dir)) != NULL)
        g_ptr_array_add (names, g_build_filename (path, name, NULL));
      g_ptr_array_sort (names, compare_paths);
      for (guint i = 0; i < names->len; i++)
        load_path (inputs, names->pdata[i]);
      return;
    }
  char *contents;
  gsize len;
  if (!g_file_get_contents (path, &contents, &len, &error))
    g_error ("%s", error->message);
  g_ptr_array_add (inputs, g_bytes_new_take (contents, len));
}

/* One token of a libFuzzer dictionary line: `name="value"` or `"value"`,
 * with \\, \" and \xNN escapes; comments and blank lines skipped.  Lines
 * that do not parse are an error: a dictionary is source, not input. */
static GBytes *
parse_dict_line (const char *line, const char *file, guint lineno)
{
  const char *p = line + strspn (line, " \t");
  if (*p == '#' || *p == '\0')
    return NULL;
  p = strchr (p, '"');
  const char *end = p != NULL ? strrchr (p, '"') : NULL;
  if (p == NULL || end == p)
    g_error ("%s:%u: not a dictionary entry", file, lineno);
  GByteArray *out = g_byte_array_new ();
  for (p++; p < end; p++)
    {
      guint8 c = (guint8) *p;
      if (c == '\\' && p + 1 < end && (p[1] == '\\' || p[1] == '"'))
        c = (guint8) *++p;
      else if (c == '\\' && p + 3 < end && p[1] == 'x' && g_ascii_isxdigit (p[2]) && g_ascii_isxdigit (p[3]))
        {
          c = (guint8) (g_ascii_xdigit_value (p[2]) * 16 + g_ascii_xdigit_value (p[3]));
          p += 3;
        }
      g_byte_array_append (out, &c, 1);
    }
  return g_byte_array_free_to_bytes (out);
}

static GPtrArray *
load_dict (const char *path)
{
  GPtrArray *tokens = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  if (path == NULL)
    return tokens;
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  if (!g_file_get_contents (path, &text, NULL, &error))
    g_error ("%s", error->message);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      GBytes *token = parse_dict_line (lines[i], path, i + 1);
      if (token != NULL)
        g_ptr_array_add (tokens, token);
    }
  return tokens;
}

/* ---- mutations -------------------------------------------------------- */

/* Bytes that change what a JSON, PEM or path parser does next. */
static const char interesting[] = "\"\\{}[],:/.-+eE0123456789 \n\t\r*=";

static guint
pick (GRand *rng, guint n)
{
  return n == 0 ? 0 : (guint) g_rand_int_range (rng, 0, (gint32) n);
}

static void
insert_bytes (GByteArray *b, guint at, const guint8 *data, guint len)
{
  if (b->len + len > FUZZ_MAX_INPUT)
    return;
  /* The source may lie inside b itself: copy it before moving b. */
  g_autofree guint8 *copy = g_memdup2 (data, len);
  g_byte_array_set_size (b, b->len + len);
  memmove (b->data + at + len, b->data + at, b->len - len - at);
  memcpy (b->data + at, copy, len);
}

static void
mutate_once (GByteArray *b, GRand *rng, GPtrArray *inputs, GPtrArray *dict)
{
  guint at = pick (rng, b->len + 1);
  switch (pick (rng, dict->len > 0 ? 8 : 7))
    {
    case 0: /* flip a bit */
      if (b->len > 0)
        b->data[pick (rng, b->len)] ^= (guint8) (1u << pick (rng, 8));
      break;
    case 1: /* an interesting byte in place of one */
      if (b->len > 0)
        b->data[pick (rng, b->len)] = (guint8) interesting[pick (rng, sizeof interesting - 1)];
      break;
    case 2: /* any byte in place of one */
      if (b->len > 0)
        b->data[pick (rng, b->len)] = (guint8) pick (rng, 256);
      break;
    case 3: /* insert an interesting byte */
      {
        guint8 c = (guint8) interesting[pick (rng, sizeof interesting - 1)];
        insert_bytes (b, at, &c, 1);
        break;
      }
    case 4: /* delete a run */
      if (b->len > 0)
        {
          at = pick (rng, b->len);
          g_byte_array_remove_range (b, at, 1 + pick (rng, MIN (b->len - at, 64)));
        }
      break;
    case 5: /* copy a run of the input elsewhere in it */
      if (b->len > 0)
        {
          guint from = pick (rng, b->len);
          insert_bytes (b, at, b->data + from, 1 + pick (rng, MIN (b->len - from, 256)));
        }
      break;
    case 6: /* splice: a run of another input */
      {
        gsize n;
        const guint8 *other = g_bytes_get_data (inputs->pdata[pick (rng, inputs->len)], &n);
        if (n > 0)
          {
            guint from = pick (rng, (guint) n);
            insert_bytes (b, at, other + from, 1 + pick (rng, MIN ((guint) n - from, 512)));
          }
        break;
      }
    case 7: /* a dictionary token, inserted or over a run */
      {
        gsize n;
        const guint8 *token = g_bytes_get_data (dict->pdata[pick (rng, dict->len)], &n);
        if (pick (rng, 2) && b->len > at)
          g_byte_array_remove_range (b, at, MIN (b->len - at, (guint) n));
        insert_bytes (b, at, token, (guint) n);
        break;
      }
    }
}

int
main (int argc, char **argv)
{
  gint64 runs = 10000;
  gint64 seed = 1;
  g_autofree char *dict_path = NULL;
  g_auto (GStrv) paths = NULL;
  GOptionEntry entries[] = {
    { "runs", 0, 0, G_OPTION_ARG_INT64, &runs, "mutated inputs to run after the given ones", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the mutations", "S" },
    { "dict", 0, 0, G_OPTION_ARG_FILENAME, &dict_path, "libFuzzer dictionary of tokens", "FILE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &paths, NULL, "PATH..." },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- replay and mutate a fuzz corpus");
  g_autoptr (GError) error = NULL;
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || paths == NULL || runs < 0)
    {
      g_printerr ("%s\n", error ? error->message : "give at least one input file or directory");
      return 2;
    }

  install_crash_hooks (argv[0]);
  g_autoptr (GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; paths[i] != NULL; i++)
    load_path (inputs, paths[i]);
  if (inputs->len == 0)
    {
      g_printerr ("no inputs in the given paths\n");
      return 2;
    }
  g_autoptr (GPtrArray) dict = load_dict (dict_path);

  for (guint i = 0; i < inputs->len; i++)
    {
      gsize n;
      const guint8 *d = g_bytes_get_data (inputs->pdata[i], &n);
      run_one (d, n);
    }

  g_autoptr (GRand) rng = g_rand_new_with_seed ((guint32) seed);
  for (gint64 r = 0; r < runs; r++)
    {
      gsize n;
      const guint8 *d = g_bytes_get_data (inputs->pdata[pick (rng, inputs->len)], &n);
      g_autoptr (GByteArray) b = g_byte_array_sized_new ((guint) n);
      g_byte_array_append (b, d, (guint) MIN (n, FUZZ_MAX_INPUT));
      guint rounds = 1 + pick (rng, 4);
      for (guint k = 0; k < rounds; k++)
        mutate_once (b, rng, inputs, dict);
      run_one (b->data, b->len);
    }
  g_print ("%u inputs and %" G_GINT64_FORMAT " mutations of them (seed %" G_GINT64_FORMAT ") ran clean\n",
           inputs->len, runs, seed);
  return 0;
}
