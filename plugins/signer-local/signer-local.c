/* placeholder: being written */
#include <notary/signer-backend.h>
NOTARY_PLUGIN_DEFINE (NOTARY_PLUGIN_KIND_SIGNER, "local", "placeholder", "0", NULL)
