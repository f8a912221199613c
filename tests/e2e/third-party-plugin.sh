#!/usr/bin/env bash
# A storage plugin built outside this tree, from the installed headers and
# pkg-config file alone, loads into notary-server and serves the real
# client.  Proves the plugin ABI is usable by third parties.  Prints TAP.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib/tap.sh
source "$here/../lib/tap.sh"
# shellcheck source=tests/lib/notary-server.sh
source "$here/../lib/notary-server.sh"

for tool in meson cc pkg-config curl; do
  command -v "$tool" >/dev/null 2>&1 || skip_all "$tool not installed"
done
[[ -n ${NOTARY_BUILD_ROOT:-} && -d $NOTARY_BUILD_ROOT ]] || skip_all "NOTARY_BUILD_ROOT not set (run through meson test)"
e2e_init
T=$E2E_TMP
dest=$T/dest

if meson install -C "$NOTARY_BUILD_ROOT" --destdir "$dest" --no-rebuild >"$T/install.log" 2>&1; then
  ok "meson install into a DESTDIR"
else
  not_ok "meson install"
  diag_file "$T/install.log" 20
  done_testing
  exit 1
fi

pc=$(find "$dest" -name notary-plugin.pc | head -n1)
hdr=$(find "$dest" -path '*/include/notary/storage-backend.h' | head -n1)
if [[ -n $pc && -n $hdr ]]; then ok "installed storage-backend.h and notary-plugin.pc"; else not_ok "installed headers/pc missing"; fi
prefix=${hdr%/include/notary/storage-backend.h}

# Copy the plugin source out of the tree: only its own file and the
# installed headers are visible to the compiler.
mkdir -p "$T/thirdparty" "$T/plugins"
cp "$NOTARY_SOURCE_ROOT/plugins/storage-memory/storage-memory.c" "$T/thirdparty/"
# Point the installed .pc at the DESTDIR (--define-variable would also move
# GLib's own paths).
mkdir -p "$T/pc"
sed "s|^prefix=.*|prefix=$prefix|" "$pc" >"$T/pc/notary-plugin.pc"
cflags=$(PKG_CONFIG_PATH=$T/pc pkg-config --cflags notary-plugin)
libs=$(PKG_CONFIG_PATH=$T/pc pkg-config --libs notary-plugin)
# shellcheck disable=SC2086
if cc -std=gnu11 -shared -fPIC -fvisibility=hidden $cflags -o "$T/plugins/notary-storage-memory.so" \
  "$T/thirdparty/storage-memory.c" $libs 2>"$T/cc.log"; then
  ok "out-of-tree plugin compiles against the installed headers only"
else
  not_ok "out-of-tree compile"
  diag_file "$T/cc.log" 20
fi

out=$("$NOTARY_SERVER_BIN" -check-plugin "$T/plugins/notary-storage-memory.so" 2>&1)
if [[ $out == *'storage plugin "memory"'* ]]; then ok "-check-plugin accepts it"; else not_ok "-check-plugin: $out"; fi

port=$(free_port)
write_server_config "$T/config.json" "$port"
python3 - "$T/config.json" "$T/plugins" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["plugin_dir"] = sys.argv[2]
json.dump(c, open(sys.argv[1], "w"))
PY
# plugin_dir comes first in the search order; no other path is offered.
unset NOTARY_PLUGIN_PATH
if start_notary_server "$T/config.json" "$T/server.log" "$port"; then
  ok "notary-server starts on the out-of-tree storage plugin"
  if curl -fsS --cacert "$ROOT_CA" "https://127.0.0.1:$port/v2/x/_trust/tuf/timestamp.key" | grep -q ed25519; then
    ok "requests are served"
  else
    not_ok "requests are served"
  fi
else
  not_ok "server start with plugin_dir"
  server_log_diag 20
fi
stop_notary_server
done_testing
