/* fixture-plugin.c — test plugins that each break one loader rule; the
 * FIXTURE_<VARIANT> macro (tests/plugins/meson.build) picks the defect. */
#include <notary/plugin.h>

typedef struct
{
  guint32 version;
} FixtureVTable;

#ifdef FIXTURE_VTABLE0
static const FixtureVTable vtable = { 0 };
#else
static const FixtureVTable vtable = { 1 };
#endif

#if defined(FIXTURE_BADMAJOR)
#define ABI_MAJOR 99
#else
#define ABI_MAJOR NOTARY_PLUGIN_ABI_MAJOR
#endif

#if defined(FIXTURE_NEWERMINOR)
#define ABI_MINOR (NOTARY_PLUGIN_ABI_MINOR + 1)
#else
#define ABI_MINOR NOTARY_PLUGIN_ABI_MINOR
#endif

#if defined(FIXTURE_BADSIG)
#define SIGNATURE "glib1/ptr2/time3"
#else
#define SIGNATURE NOTARY_PLUGIN_BUILD_SIGNATURE
#endif

#if defined(FIXTURE_WRONGKIND)
#define KIND NOTARY_PLUGIN_KIND_SIGNER
#else
#define KIND NOTARY_PLUGIN_KIND_STORAGE
#endif

#if defined(FIXTURE_GOOD)
#define NAME "good"
#elif defined(FIXTURE_BADMAJOR)
#define NAME "badmajor"
#elif defined(FIXTURE_NEWERMINOR)
#define NAME "newerminor"
#elif defined(FIXTURE_BADSIG)
#define NAME "badsig"
#elif defined(FIXTURE_WRONGKIND)
#define NAME "wrongkind"
#elif defined(FIXTURE_WRONGNAME)
#define NAME "somethingelse"
#elif defined(FIXTURE_NULLVTABLE)
#define NAME "nullvtable"
#elif defined(FIXTURE_VTABLE0)
#define NAME "vtable0"
#elif defined(FIXTURE_UNRESOLVED)
#define NAME "unresolved"
#else
#define NAME "nosymbol"
#endif

#if defined(FIXTURE_NULLVTABLE)
#define VTABLE NULL
#else
#define VTABLE (&vtable)
#endif

#if defined(FIXTURE_NOSYMBOL)
/* Exports something, just not the entry point. */
G_MODULE_EXPORT int notary_fixture_not_the_entry (void);
G_MODULE_EXPORT int
notary_fixture_not_the_entry (void)
{
  return VTABLE != NULL;
}
#elif defined(FIXTURE_UNRESOLVED)
/* Defined nowhere: with immediate binding dlopen() itself must fail. */
extern int notary_fixture_symbol_nobody_defines (void);

G_MODULE_EXPORT const NotaryPluginDesc *notary_plugin_get_desc (void);
G_MODULE_EXPORT const NotaryPluginDesc *
notary_plugin_get_desc (void)
{
  static NotaryPluginDesc desc = {
    ABI_MAJOR, ABI_MINOR, SIGNATURE, KIND, NAME, "fixture", "0", VTABLE,
  };
  if (notary_fixture_symbol_nobody_defines () != 0)
    return NULL;
  return &desc;
}
#else
G_MODULE_EXPORT const NotaryPluginDesc *notary_plugin_get_desc (void);
G_MODULE_EXPORT const NotaryPluginDesc *
notary_plugin_get_desc (void)
{
  static const NotaryPluginDesc desc = {
    ABI_MAJOR, ABI_MINOR, SIGNATURE, KIND, NAME, "fixture", "0", VTABLE,
  };
  return &desc;
}
#endif
