#!/bin/sh
# Checks the dependency rules of tools/checkdeps.rules against the sources
# and the built objects. Usage:
#   sh tools/checkdeps.sh [BUILD] [ROOT] [RULES]
# BUILD: the build directory (default build: objects in BUILD/obj/<layer>/,
# the daemon in BUILD/crypto-bet-indexer); ROOT: the source tree with src/
# and include/ (default .); RULES: the rules file (default
# tools/checkdeps.rules). Prints one line per violation and exits 1 when
# there is any, 2 on a usage error, 0 when every rule holds.
set -u
BUILD=${1:-build}
ROOT=${2:-.}
RULES=${3:-tools/checkdeps.rules}
[ -f "$RULES" ] || { echo "checkdeps: no rules file $RULES" >&2; exit 2; }
[ -d "$ROOT/src" ] || { echo "checkdeps: no $ROOT/src" >&2; exit 2; }
NM=${NM:-nm}
out=$(mktemp)
trap 'rm -f "$out" "$out.u"' EXIT

rules() { sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$RULES" | grep -v '^$'; }
LAYERS=$(rules | awk '$1 == "layers" { $1 = ""; print }')
[ -n "$LAYERS" ] || { echo "checkdeps: no layers line in $RULES" >&2; exit 2; }

layer_rank() { # layer -> 0.. or empty
  i=0
  for l in $LAYERS; do
    [ "$l" = "$1" ] && { echo $i; return; }
    i=$((i + 1))
  done
}

# Folder of a header name (X.h): `header` directive, else the folder of
# src/*/X.c, else of src/*/X_*.c; empty if none.
header_layer() {
  h=$1
  l=$(rules | awk -v h="$h" '$1 == "header" && $2 == h { print $3; exit }')
  [ -n "$l" ] && { echo "$l"; return; }
  b=${h%.h}
  for f in "$ROOT"/src/*/"$b".c "$ROOT"/src/*/"$b"_*.c; do
    [ -f "$f" ] || continue
    d=${f%/*}
    echo "${d##*/}"
    return
  done
}

allowed_symbol() { # object-relative-path symbol
  rules | awk -v o="$1" -v s="$2" '$1 == "allow-symbol" && $2 == o {
      for (i = 3; i <= NF; i++) if ($i == s) { found = 1 } }
    END { exit found ? 0 : 1 }'
}

# ---- includes ---------------------------------------------------------------

check_file_includes() { # file its-layer
  f=$1
  fl=$2
  fr=$(layer_rank "$fl")
  sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | while read -r h; do
    if [ -f "$ROOT/include/$h" ]; then
      hl=$(header_layer "$h")
      if [ -z "$hl" ]; then
        echo "$f: includes $h, which belongs to no layer (add a 'header' line)" >> "$out"
        continue
      fi
      hr=$(layer_rank "$hl")
      if [ "$hr" -gt "$fr" ]; then
        echo "$f ($fl): includes $h of layer $hl, above $fl" >> "$out"
      fi
    else
      hd=$(dirname "$f")
      if [ ! -f "$hd/$h" ]; then
        # a private header of another folder (only reachable by -I)
        for p in "$ROOT"/src/*/"$h"; do
          [ -f "$p" ] && echo "$f: includes $h, private to ${p%/*}" >> "$out"
        done
      fi
    fi
  done
  rules | awk '$1 == "forbid-include"' | while read -r _ rest; do
    lib=${rest##* }
    for l in ${rest% *}; do
      [ "$l" = "$fl" ] || continue
      if grep -Eq "^[[:space:]]*#[[:space:]]*include[[:space:]]*<$lib>" "$f"; then
        echo "$f ($fl): includes <$lib>" >> "$out"
      fi
    done
  done
}

for f in "$ROOT"/src/*/*.c "$ROOT"/src/*/*.h; do
  [ -f "$f" ] || continue
  d=${f%/*}
  l=${d##*/}
  if [ -z "$(layer_rank "$l")" ]; then
    echo "$f: folder $l is no layer of $RULES" >> "$out"
    continue
  fi
  check_file_includes "$f" "$l"
done
for f in "$ROOT"/include/*.h; do
  [ -f "$f" ] || continue
  h=${f##*/}
  l=$(header_layer "$h")
  if [ -z "$l" ]; then
    echo "$f: belongs to no layer (no src/*/${h%.h}.c; add a 'header' line)" >> "$out"
    continue
  fi
  check_file_includes "$f" "$l"
done

rules | awk '$1 == "forbid-text"' | while read -r _ dir pat; do
  grep -EHn "$pat" "$ROOT/$dir"/*.h 2>/dev/null | sed 's/$/  (forbidden here)/' >> "$out"
done

# ---- symbols ------------------------------------------------------------------

if [ -d "$BUILD/obj" ]; then
  rules | awk '$1 == "forbid-symbols"' | while read -r _ rest; do
    pat=${rest##* }
    for l in ${rest% *}; do
      for o in "$BUILD"/obj/"$l"/*.o; do
        [ -f "$o" ] || continue
        rel="$l/${o##*/}"
        $NM -u "$o" | awk '{ print $NF }' | sed 's/@.*//' | grep -E "$pat" | while read -r s; do
          allowed_symbol "$rel" "$s" || echo "$o ($l): references $s" >> "$out"
        done
      done
    done
  done
else
  echo "checkdeps: $BUILD/obj missing: build first" >> "$out"
fi

# restrict-symbols PATTERN OBJ...: only the listed objects (globs relative
# to BUILD/obj) may reference symbols matching PATTERN.
if [ -d "$BUILD/obj" ]; then
  rules | awk '$1 == "restrict-symbols"' | while read -r _ pat allowed; do
    for o in "$BUILD"/obj/*/*.o; do
      [ -f "$o" ] || continue
      rel=${o#"$BUILD"/obj/}
      ok=0
      for g in $allowed; do
        # shellcheck disable=SC2254
        case "$rel" in $g) ok=1 ;; esac
      done
      [ "$ok" -eq 1 ] && continue
      $NM -u "$o" | awk '{ print $NF }' | sed 's/@.*//' | grep -E "$pat" | while read -r s; do
        allowed_symbol "$rel" "$s" || echo "$o: references $s (only $allowed may)" >> "$out"
      done
    done
  done
fi

rules | awk '$1 == "binary-forbid"' | while read -r _ bin pat; do
  b="$BUILD/$bin"
  if [ ! -f "$b" ]; then
    echo "checkdeps: $b missing: build first" >> "$out"
    continue
  fi
  $NM "$b" | awk 'NF >= 3 { print $3 }' | grep -E "$pat" | sort -u | while read -r s; do
    echo "$b: contains $s" >> "$out"
  done
done

if [ -s "$out" ]; then
  awk '!seen[$0]++' "$out" > "$out.u" && mv "$out.u" "$out"
  cat "$out"
  echo "checkdeps: $(wc -l < "$out") violation(s) of $RULES"
  exit 1
fi
echo "checkdeps: ok ($RULES)"
exit 0
