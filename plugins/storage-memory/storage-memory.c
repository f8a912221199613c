/* placeholder: being written */
#include <notary/storage-backend.h>
NOTARY_PLUGIN_DEFINE (NOTARY_PLUGIN_KIND_STORAGE, "memory", "placeholder", "0", NULL)
