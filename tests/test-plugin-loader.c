/* test-plugin-loader.c — the loader refuses every broken fixture plugin
 * (tests/plugins/) with the right error code, finds and lists plugins on
 * the search path, refuses duplicates, loads the real built plugins, and
 * each built plugin exports exactly one symbol (STYLE.md practice 17). */
#include "notary-plugin-loader.h"
#include "notary-build-config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stddef.h>
#include <string.h>

static const char *
fixture_dir (void)
{
  const char *dir = g_getenv ("NOTARY_TEST_FIXTURE_PLUGIN_DIR");
  if (dir == NULL || !g_file_test (dir, G_FILE_TEST_IS_DIR))
    return NULL;
  return dir;
}

static char *
fixture_path (const char *variant)
{
  g_autofree char *file = g_strdup_printf ("notary-storage-%s.so", variant);
  return g_build_filename (fixture_dir (), file, NULL);
}

#define REQUIRE_FIXTURES()                                                                                   \
  G_STMT_START                                                                                               \
  {                                                                                                          \
    if (fixture_dir () == NULL)                                                                              \
      {                                                                                                      \
        g_test_skip ("NOTARY_TEST_FIXTURE_PLUGIN_DIR not set (tests/plugins not built)");                    \
        return;                                                                                              \
      }                                                                                                      \
  }                                                                                                          \
  G_STMT_END

/* ---- broken fixtures ------------------------------------------------------ */

typedef struct
{
  const char *variant;
  NotaryPluginError code;
  const char *needle; /* a word the message must contain */
} Broken;

static const Broken broken[] = {
  { "badmajor", NOTARY_PLUGIN_ERROR_ABI, "plugin ABI 99." },
  { "newerminor", NOTARY_PLUGIN_ERROR_ABI, "is not compatible" },
  { "badsig", NOTARY_PLUGIN_ERROR_ABI, "not binary compatible" },
  { "nosymbol", NOTARY_PLUGIN_ERROR_SYMBOL, NOTARY_PLUGIN_ENTRY_SYMBOL },
  { "wrongkind", NOTARY_PLUGIN_ERROR_DESC, "is a signer plugin" },
  { "wrongname", NOTARY_PLUGIN_ERROR_DESC, "\"somethingelse\"" },
  { "nullvtable", NOTARY_PLUGIN_ERROR_DESC, "vtable" },
  { "vtable0", NOTARY_PLUGIN_ERROR_DESC, "vtable" },
  { "unresolved", NOTARY_PLUGIN_ERROR_OPEN, "notary_fixture_symbol_nobody_defines" },
};

static void
test_broken_by_name (gconstpointer data)
{
  const Broken *b = data;
  g_autoptr (GError) error = NULL;
  const char *path[] = { fixture_dir (), NULL };
  g_autofree char *file = NULL;

  REQUIRE_FIXTURES ();
  file = fixture_path (b->variant);
  g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));
  g_assert_null (notary_plugin_load (path, NOTARY_PLUGIN_KIND_STORAGE, b->variant, &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, (gint)b->code);
  /* the message names the file and the reason */
  g_assert_nonnull (strstr (error->message, file));
  g_assert_nonnull (strstr (error->message, b->needle));

  /* and the same verdict when loading the file directly, twice (a refused
   * module is not remembered as loaded) */
  for (int i = 0; i < 2; i++)
    {
      g_autoptr (GError) error2 = NULL;
      g_assert_null (notary_plugin_load_file (file, &error2));
      g_assert_error (error2, NOTARY_PLUGIN_ERROR, (gint)b->code);
    }
}

static void
test_good_fixture (void)
{
  g_autoptr (GError) error = NULL;
  const char *path[] = { "/nonexistent-notary-dir", fixture_dir (), NULL };
  const NotaryPluginDesc *desc, *again, *direct;
  g_autofree char *file = NULL;

  REQUIRE_FIXTURES ();
  desc = notary_plugin_load (path, NOTARY_PLUGIN_KIND_STORAGE, "good", &error);
  g_assert_no_error (error);
  g_assert_nonnull (desc);
  g_assert_cmpuint (desc->abi_major, ==, NOTARY_PLUGIN_ABI_MAJOR);
  g_assert_cmpint (desc->kind, ==, NOTARY_PLUGIN_KIND_STORAGE);
  g_assert_cmpstr (desc->name, ==, "good");
  g_assert_cmpuint (*(const guint32 *)desc->vtable, ==, 1);

  /* loading again gives the same descriptor */
  again = notary_plugin_load (path, NOTARY_PLUGIN_KIND_STORAGE, "good", &error);
  g_assert_no_error (error);
  g_assert_true (again == desc);
  file = fixture_path ("good");
  direct = notary_plugin_load_file (file, &error);
  g_assert_no_error (error);
  g_assert_true (direct == desc);

  /* a storage plugin is no signer */
  g_assert_null (notary_plugin_load (path, NOTARY_PLUGIN_KIND_SIGNER, "good", &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_NOT_FOUND);
}

static void
copy_file (const char *from, const char *to)
{
  g_autoptr (GFile) src = g_file_new_for_path (from);
  g_autoptr (GFile) dst = g_file_new_for_path (to);
  g_autoptr (GError) error = NULL;

  g_file_copy (src, dst, G_FILE_COPY_OVERWRITE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
}

static void
test_duplicate (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = NULL, *orig = NULL, *copy = NULL;
  const char *tmp_path[2] = { NULL, NULL };

  REQUIRE_FIXTURES ();
  orig = fixture_path ("good");
  g_assert_nonnull (notary_plugin_load_file (orig, &error));
  g_assert_no_error (error);

  tmp = g_dir_make_tmp ("notary-test-plugins-XXXXXX", &error);
  g_assert_no_error (error);
  copy = g_build_filename (tmp, "notary-storage-good.so", NULL);
  copy_file (orig, copy);
  tmp_path[0] = tmp;

  /* another file claiming storage "good" in the same process */
  g_assert_null (notary_plugin_load (tmp_path, NOTARY_PLUGIN_KIND_STORAGE, "good", &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC);
  g_assert_nonnull (strstr (error->message, "duplicate"));
  g_assert_nonnull (strstr (error->message, copy));

  g_unlink (copy);
  g_rmdir (tmp);
}

static void
test_not_an_elf (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("notary-test-plugins-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (tmp, "notary-storage-garbage.so", NULL);
  const char *path[] = { tmp, NULL };

  g_file_set_contents (file, "this is not a shared object\n", -1, &error);
  g_assert_no_error (error);
  g_assert_null (notary_plugin_load (path, NOTARY_PLUGIN_KIND_STORAGE, "garbage", &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, file));
  g_clear_error (&error);

  g_assert_null (notary_plugin_load_file ("/nonexistent/notary-storage-x.so", &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_OPEN);

  g_unlink (file);
  g_rmdir (tmp);
}

/* ---- finding and listing -------------------------------------------------- */

static void
test_not_found_lists_available (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *expected = NULL;
  const char *path[] = { "/nonexistent-notary-dir", fixture_dir (), NULL };
  g_auto (GStrv) names = NULL;

  REQUIRE_FIXTURES ();
  names = notary_plugin_list_available (path, NOTARY_PLUGIN_KIND_STORAGE);
  {
    /* sorted, and listing opens nothing so broken ones show too */
    const char *want[] = { "badmajor",   "badsig",  "good",      "newerminor", "nosymbol", "nullvtable",
                           "unresolved", "vtable0", "wrongkind", "wrongname",  NULL };
    g_assert_cmpstrv (names, want);
  }

  g_assert_null (notary_plugin_load (path, NOTARY_PLUGIN_KIND_STORAGE, "foo", &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_NOT_FOUND);
  expected = g_strdup_printf (
      "no storage backend \"foo\" (available: badmajor, badsig, good, newerminor, nosymbol, "
      "nullvtable, unresolved, vtable0, wrongkind, wrongname); searched: "
      "/nonexistent-notary-dir:%s",
      fixture_dir ());
  g_assert_cmpstr (error->message, ==, expected);
  g_clear_error (&error);

  g_assert_null (notary_plugin_load (path, NOTARY_PLUGIN_KIND_SIGNER, "local", &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no signer backend \"local\" (available: none)"));
  g_clear_error (&error);

  /* names never escape the search directories */
  g_assert_null (
      notary_plugin_load (path, NOTARY_PLUGIN_KIND_STORAGE, "../plugins/notary-storage-good", &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_NOT_FOUND);
}

static void
test_subdir_layout_and_order (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *a = g_dir_make_tmp ("notary-test-plugins-XXXXXX", NULL);
  g_autofree char *sub = g_build_filename (a, "signer-zzz", NULL);
  g_autofree char *nested = g_build_filename (sub, "notary-signer-zzz.so", NULL);
  g_autofree char *direct = g_build_filename (a, "notary-storage-yyy.so", NULL);
  g_autofree char *stray = g_build_filename (a, "signer-empty", NULL);
  const char *path[] = { a, NULL };
  g_auto (GStrv) signers = NULL, storages = NULL;

  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (stray, 0700), ==, 0);
  g_file_set_contents (nested, "x", -1, &error);
  g_assert_no_error (error);
  g_file_set_contents (direct, "x", -1, &error);
  g_assert_no_error (error);

  signers = notary_plugin_list_available (path, NOTARY_PLUGIN_KIND_SIGNER);
  storages = notary_plugin_list_available (path, NOTARY_PLUGIN_KIND_STORAGE);
  {
    const char *want_signers[] = { "zzz", NULL };
    const char *want_storages[] = { "yyy", NULL };
    g_assert_cmpstrv (signers, want_signers);
    g_assert_cmpstrv (storages, want_storages);
  }
  /* found in the K-N/ subdirectory (then refused: it is no ELF) */
  g_assert_null (notary_plugin_load (path, NOTARY_PLUGIN_KIND_SIGNER, "zzz", &error));
  g_assert_error (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_OPEN);
  g_assert_nonnull (strstr (error->message, nested));

  g_unlink (nested);
  g_unlink (direct);
  g_rmdir (sub);
  g_rmdir (stray);
  g_rmdir (a);
}

static void
test_search_path (void)
{
  g_autofree char *old = g_strdup (g_getenv ("NOTARY_PLUGIN_PATH"));
  g_auto (GStrv) dirs = NULL;
  g_autofree char *build_plugins = g_build_filename (NOTARY_BUILD_ROOT, "plugins", NULL);
  guint n;

  g_setenv ("NOTARY_PLUGIN_PATH", "/env/one::/env/two:/cfg", TRUE);
  dirs = notary_plugin_search_path ("/cfg");
  if (old != NULL)
    g_setenv ("NOTARY_PLUGIN_PATH", old, TRUE);
  else
    g_unsetenv ("NOTARY_PLUGIN_PATH");

  n = g_strv_length (dirs);
  /* config dir, env dirs (empty and repeated ones dropped), build tree
   * (this test runs from it), install dir */
  g_assert_cmpuint (n, ==, 5);
  g_assert_cmpstr (dirs[0], ==, "/cfg");
  g_assert_cmpstr (dirs[1], ==, "/env/one");
  g_assert_cmpstr (dirs[2], ==, "/env/two");
  g_assert_cmpstr (dirs[3], ==, build_plugins);
  g_assert_cmpstr (dirs[4], ==, NOTARY_PLUGIN_INSTALL_DIR);

  g_strfreev (dirs);
  dirs = notary_plugin_search_path (NULL);
  g_assert_cmpstr (dirs[g_strv_length (dirs) - 1], ==, NOTARY_PLUGIN_INSTALL_DIR);
}

/* ---- the real plugins ------------------------------------------------------ */

static void
check_real_plugin (NotaryPluginKind kind, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) path = notary_plugin_search_path (NULL);
  const NotaryPluginDesc *desc;

  if (g_getenv ("NOTARY_PLUGIN_PATH") == NULL)
    {
      g_test_skip ("NOTARY_PLUGIN_PATH not set");
      return;
    }
  desc = notary_plugin_load ((const char *const *)path, kind, name, &error);
  if (desc == NULL && g_error_matches (error, NOTARY_PLUGIN_ERROR, NOTARY_PLUGIN_ERROR_DESC)
      && strstr (error->message, "vtable") != NULL)
    {
      /* the plugin sources are still placeholders without a vtable */
      g_test_incomplete (error->message);
      return;
    }
  g_assert_no_error (error);
  g_assert_nonnull (desc);
  g_assert_cmpint (desc->kind, ==, kind);
  g_assert_cmpstr (desc->name, ==, name);
  g_assert_cmpuint (desc->abi_major, ==, NOTARY_PLUGIN_ABI_MAJOR);
  g_assert_cmpuint (desc->abi_minor, <=, NOTARY_PLUGIN_ABI_MINOR);
  g_assert_cmpstr (desc->build_signature, ==, NOTARY_PLUGIN_BUILD_SIGNATURE);
  g_assert_nonnull (desc->description);
  g_assert_cmpstr (desc->description, !=, "");
  g_assert_nonnull (desc->version);
}

static void
test_real_storage_memory (void)
{
  check_real_plugin (NOTARY_PLUGIN_KIND_STORAGE, "memory");
}

static void
test_real_signer_local (void)
{
  check_real_plugin (NOTARY_PLUGIN_KIND_SIGNER, "local");
}

static void
collect_so_files (const char *dir, GPtrArray *out, int depth)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *entry;

  if (d == NULL || depth > 2)
    return;
  while ((entry = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *p = g_build_filename (dir, entry, NULL);
      if (g_file_test (p, G_FILE_TEST_IS_DIR) && !g_file_test (p, G_FILE_TEST_IS_SYMLINK))
        collect_so_files (p, out, depth + 1);
      else if (g_str_has_prefix (entry, "notary-") && g_str_has_suffix (entry, ".so"))
        g_ptr_array_add (out, g_steal_pointer (&p));
    }
}

/* Defined global dynamic symbols of @file, via nm. */
static GPtrArray *
exported_symbols (const char *file)
{
  const char *argv[] = { "nm", "-D", "--defined-only", file, NULL };
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) lines = NULL;
  int status = 0;
  GPtrArray *syms = g_ptr_array_new_with_free_func (g_free);

  g_spawn_sync (NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  lines = g_strsplit (out, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) cols = g_strsplit_set (g_strstrip (lines[i]), " \t", -1);
      guint n = g_strv_length (cols);
      if (n < 2)
        continue;
      const char *type = cols[n - 2];
      /* upper-case types are global; 'A' marks version-definition names */
      if (strlen (type) == 1 && g_ascii_isupper (type[0]) && type[0] != 'A')
        g_ptr_array_add (syms, g_strdup (cols[n - 1]));
    }
  return syms;
}

static void
test_one_exported_symbol (void)
{
  const char *env = g_getenv ("NOTARY_PLUGIN_PATH");
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *nm = g_find_program_in_path ("nm");

  if (env == NULL)
    {
      g_test_skip ("NOTARY_PLUGIN_PATH not set");
      return;
    }
  if (nm == NULL)
    {
      g_test_skip ("nm (binutils) not installed");
      return;
    }
  {
    g_auto (GStrv) dirs = g_strsplit (env, ":", -1);
    for (guint i = 0; dirs[i] != NULL; i++)
      collect_so_files (dirs[i], files, 0);
  }
  if (fixture_dir () != NULL)
    {
      g_autofree char *good = fixture_path ("good");
      g_ptr_array_add (files, g_steal_pointer (&good));
    }
  g_assert_cmpuint (files->len, >, 0);
  g_autoptr (GString) offenders = g_string_new (NULL);
  for (guint i = 0; i < files->len; i++)
    {
      const char *file = g_ptr_array_index (files, i);
      g_autoptr (GPtrArray) syms = exported_symbols (file);
      g_autoptr (GString) all = g_string_new (NULL);
      for (guint j = 0; j < syms->len; j++)
        g_string_append_printf (all, " %s", (char *)g_ptr_array_index (syms, j));
      g_test_message ("%s exports:%s", file, all->str);
      if (syms->len != 1 || !g_str_equal (g_ptr_array_index (syms, 0), NOTARY_PLUGIN_ENTRY_SYMBOL))
        g_string_append_printf (offenders, "\n  %s (%u symbols)", file, syms->len);
    }
  /* report every offending plugin at once, and let the other tests run */
  if (offenders->len > 0)
    g_test_fail_printf ("plugins must export only %s:%s", NOTARY_PLUGIN_ENTRY_SYMBOL, offenders->str);
}

/* ---- the ABI's layout ------------------------------------------------------ */

static void
test_abi_layout (void)
{
  /* Moving a member breaks every plugin built before: these only change
   * with NOTARY_PLUGIN_ABI_MAJOR. */
  g_assert_cmpuint (offsetof (NotaryPluginDesc, abi_major), ==, 0);
  g_assert_cmpuint (offsetof (NotaryPluginDesc, abi_minor), ==, 4);
  g_assert_cmpuint (offsetof (NotaryPluginDesc, build_signature), ==, 8);
  g_assert_cmpuint (offsetof (NotaryHost, version), ==, 0);
#if GLIB_SIZEOF_VOID_P == 8
  g_assert_cmpuint (offsetof (NotaryPluginDesc, kind), ==, 16);
  g_assert_cmpuint (offsetof (NotaryPluginDesc, name), ==, 24);
  g_assert_cmpuint (offsetof (NotaryPluginDesc, vtable), ==, 48);
  g_assert_cmpuint (sizeof (NotaryPluginDesc), ==, 56);
  g_assert_cmpuint (offsetof (NotaryHost, log), ==, 8);
  g_assert_cmpuint (sizeof (NotaryHost), ==, 40);
#endif
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (broken); i++)
    {
      g_autofree char *name = g_strdup_printf ("/plugin-loader/broken/%s", broken[i].variant);
      g_test_add_data_func (name, &broken[i], test_broken_by_name);
    }
  g_test_add_func ("/plugin-loader/load/good-fixture", test_good_fixture);
  g_test_add_func ("/plugin-loader/load/duplicate", test_duplicate);
  g_test_add_func ("/plugin-loader/load/not-an-elf", test_not_an_elf);
  g_test_add_func ("/plugin-loader/find/not-found-lists-available", test_not_found_lists_available);
  g_test_add_func ("/plugin-loader/find/subdir-layout", test_subdir_layout_and_order);
  g_test_add_func ("/plugin-loader/find/search-path", test_search_path);
  g_test_add_func ("/plugin-loader/real/storage-memory", test_real_storage_memory);
  g_test_add_func ("/plugin-loader/real/signer-local", test_real_signer_local);
  g_test_add_func ("/plugin-loader/abi/layout", test_abi_layout);
  /* last: a failure here should not hide the results above */
  g_test_add_func ("/plugin-loader/abi/one-exported-symbol", test_one_exported_symbol);
  return g_test_run ();
}
