#!/usr/bin/env bash
# Keeps the dependencies between the modules of src/ pointing one way (docs/architecture.md):
# reads every `#include "…"` of src/, maps the including file and the included header to
# their layers by directory, and fails on an include its layer may not make.
#
#   scripts/check-layers.sh [ROOT]     check ROOT/src (default: this repository); exit 0 when
#                                      every include is allowed, 1 naming each file:line that
#                                      breaks a rule (and the rule), 2 on a usage error
#   scripts/check-layers.sh --self-test
#                                      checks the checker: a tree with a wrong include must
#                                      fail, naming the file and line; the same tree put right
#                                      must pass
#
# The layer of a file is its directory under src/ (src/engine/x.c: engine); the files directly
# in src/ (main.c and the two small programs) are "main". An included "dir/name.h" belongs
# to dir's layer, "gpufleet/…" to the public headers of include/ (any layer may include them),
# and a name without a directory to the including file's own directory. A directory of src/
# that the table below does not name is an error: a new module takes a place in the order
# first. Tests, benchmarks and fuzz targets are not checked (they may reach into any layer).
set -euo pipefail

# Layer -> the layers it may include besides itself: the picture of docs/architecture.md,
# lowest first, each entry closed over what the layers it names may include. hw and runtime
# have no directory yet (they live in src/agent/); gov, license and billing are listed so
# that their place is fixed before they land.
declare -A ALLOWED=(
    [util]=""
    [model]="util"
    [catalog]="util"
    [sched]="util model catalog"
    [gov]="util model catalog sched"
    [license]="util model catalog sched"
    [billing]="util model catalog sched"
    [store]="util model catalog sched gov license billing"
    [engine]="util model catalog sched gov license billing store"
    [codec]="util model catalog sched gov license billing"
    [api]="util model catalog sched gov license billing store engine codec"
    [hw]="util model catalog"
    [runtime]="util model catalog hw"
    [agent]="util model catalog sched gov license billing hw runtime codec"
    [cli]="util model catalog sched gov license billing hw runtime codec agent"
    [main]="util model catalog sched gov license billing store engine codec api hw runtime agent cli"
)

# check ROOT: prints each violation as "src/…:LINE: …" on stdout; returns 1 when there was one.
check() {
    local root=$1 bad=0 file rel dir layer line lno inc idir target
    local re='^([0-9]+):[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)"'
    [ -d "$root/src" ] || { echo "check-layers: no src/ under $root" >&2; return 2; }
    while IFS= read -r -d '' file; do
        rel=${file#"$root"/}
        dir=${rel#src/}
        if [[ $dir == */* ]]; then
            layer=${dir%%/*}
        else
            layer=main
        fi
        if [ -z "${ALLOWED[$layer]+set}" ]; then
            echo "$rel:1: src/$layer/ is not in the layer table of scripts/check-layers.sh (give it a place in the order first)"
            bad=1
            continue
        fi
        while IFS= read -r line; do
            # grep -n's "LINE:#include "path"…" -> LINE and path
            [[ $line =~ $re ]] || continue
            lno=${BASH_REMATCH[1]}
            inc=${BASH_REMATCH[2]}
            if [[ $inc != */* ]]; then
                continue # a header next to the file: its own layer
            fi
            idir=${inc%%/*}
            if [ "$idir" = gpufleet ] && [ -e "$root/include/$inc" ]; then
                continue # public headers: below every layer
            fi
            target=$idir
            if [ -z "${ALLOWED[$target]+set}" ]; then
                echo "$rel:$lno: includes \"$inc\": \"$target\" is no layer (src/$target/ is not in the table)"
                bad=1
                continue
            fi
            [ "$target" = "$layer" ] && continue
            case " ${ALLOWED[$layer]} " in
                *" $target "*) ;;
                *)
                    echo "$rel:$lno: includes \"$inc\": $layer may not include $target" \
                         "(rule: $layer may include ${ALLOWED[$layer]:-nothing but itself})"
                    bad=1
                    ;;
            esac
        done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" || true)
    done < <(find "$root/src" -type f \( -name '*.c' -o -name '*.h' \) -print0 | sort -z)
    return $bad
}

self_test() {
    local tmp out rc fails=0
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp/src/util" "$tmp/src/model" "$tmp/src/store" "$tmp/src/engine" "$tmp/src/agent" \
             "$tmp/include/gpufleet"
    printf '#include "gpufleet/error.h"\n' >"$tmp/src/util/error.h"
    : >"$tmp/include/gpufleet/error.h"
    printf '#include "util/error.h"\n' >"$tmp/src/model/fleet.h"
    printf '#include "model/fleet.h"\n#include "util/error.h"\n' >"$tmp/src/store/store.h"
    printf '#include "store/store.h"\n#include "engine_int.h"\n' >"$tmp/src/engine/engine.h"
    : >"$tmp/src/engine/engine_int.h"
    printf '#include "model/fleet.h"\n' >"$tmp/src/agent/agent.h"
    printf '#include "engine/engine.h"\nint main(void) { return 0; }\n' >"$tmp/src/main.c"

    # 1. the tree as it should be passes
    if ! out=$(check "$tmp"); then
        echo "self-test FAILED: a right tree was refused:"; echo "$out"; fails=1
    fi
    # 2. the store including the engine (the cycle issue 15 removed) fails, naming file:line
    printf '#include "model/fleet.h"\n#include "engine/engine.h"\n' >"$tmp/src/store/store.h"
    rc=0; out=$(check "$tmp") || rc=$?
    if [ "$rc" -ne 1 ] || ! grep -q '^src/store/store.h:2: includes "engine/engine.h": store may not include engine' <<<"$out"; then
        echo "self-test FAILED: store -> engine was not refused (rc=$rc):"; echo "$out"; fails=1
    fi
    printf '#include "model/fleet.h"\n' >"$tmp/src/store/store.h"
    # 3. the agent including the engine, written with spaces after '#', fails too
    printf '#include "model/fleet.h"\n#  include "engine/engine.h"\n' >"$tmp/src/agent/agent.h"
    rc=0; out=$(check "$tmp") || rc=$?
    if [ "$rc" -ne 1 ] || ! grep -q '^src/agent/agent.h:2: .*agent may not include engine' <<<"$out"; then
        echo "self-test FAILED: agent -> engine was not refused (rc=$rc):"; echo "$out"; fails=1
    fi
    printf '#include "model/fleet.h"\n' >"$tmp/src/agent/agent.h"
    # 4. a directory that has no place in the order fails
    mkdir -p "$tmp/src/stray"
    printf '#include "util/error.h"\n' >"$tmp/src/stray/x.c"
    rc=0; out=$(check "$tmp") || rc=$?
    if [ "$rc" -ne 1 ] || ! grep -q '^src/stray/x.c:1: src/stray/ is not in the layer table' <<<"$out"; then
        echo "self-test FAILED: an unknown directory was not refused (rc=$rc):"; echo "$out"; fails=1
    fi
    rm -r "$tmp/src/stray"
    # 5. put right again: passes
    if ! out=$(check "$tmp"); then
        echo "self-test FAILED: the repaired tree was refused:"; echo "$out"; fails=1
    fi
    if [ "$fails" -ne 0 ]; then
        return 1
    fi
    echo "check-layers self-test: ok (a right tree passes; store->engine, agent->engine and an unknown directory fail)"
}

case "${1:-}" in
    --self-test)
        self_test
        ;;
    -h|--help)
        sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    -*)
        echo "usage: $0 [--self-test | ROOT]" >&2
        exit 2
        ;;
    *)
        root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
        rc=0
        check "$root" || rc=$?
        if [ "$rc" -ne 0 ]; then
            echo "check-layers: includes against the layer order (docs/architecture.md)" >&2
            exit "$rc"
        fi
        n=$(find "$root/src" -type f \( -name '*.c' -o -name '*.h' \) | wc -l)
        echo "check-layers: ok ($n files of src/ follow the layer order)"
        ;;
esac
