#!/usr/bin/env bash
# Runs svmfuzz plans on a real Linux KVM (kvm_amd, nested=1) inside ONE QEMU/TCG VM whose CPU
# model has SVM, with a stock Debian kernel (optionally with rebuilt, patched kvm modules).
#
#   scripts/kvm-oracle.sh [--kernel 6.12|6.1] [--kvm-patch FILE] [--update-records] PROGRAMS|DIRS...
#       builds svmfuzz and runs `svmfuzz oracle` on the .svm programs: model and real KVM step by
#       step, per program agree / DISAGREE / known, and a summary line (exit 1 on an unexplained
#       disagreement). --update-records copies the kernel's step records to corpus/oracle/<kernel>/,
#       which `swift test` compares with the model without booting.
#   scripts/kvm-oracle.sh --kernel 6.12|6.1 --plans DIR --out DIR [--timeout-ms N] [--vm-timeout S]
#                         [--kvm-patch FILE]
#   scripts/kvm-oracle.sh --smoke [--kernel 6.12|6.1] [--out DIR]
#   scripts/kvm-oracle.sh --campaign [--kernel 6.12] [--minutes N] [--programs N] [--source fuzz|hunt]
#                         [--seed S] [--batch N] [--max-minimize N] [--out DIR]
#       differential fuzzing (scripts/kvm-campaign.py): random (hunt) or libFuzzer-grown (fuzz)
#       programs replayed in batches, each DISAGREE minimized (svmfuzz oracle-minimize), grouped by
#       (field, operation kind) into OUT/findings/ (default .build-kvm/campaign), with a summary table.
#   ... [--exec FILE]...   also run each static binary FILE in the VM after the plans (e.g. a
#                          reproducer from `svmfuzz export-c`); its output goes to OUT/exec.log
#
# Writes OUT/serial.log (the console), OUT/records.jsonl (every record) and OUT/<plan>.jsonl
# (the records of each plan file). Exits non-zero if the VM did not boot or finish in time, the
# kernel panicked, or the runner printed no records. --smoke runs scripts/kvm-oracle/smoke/*.plan
# and checks their "# expect step=N key=value" comments.
#
# Environment: SVMFUZZ_KVM_612_PKG / SVMFUZZ_KVM_61_PKG override the Debian kernel packages;
# SVMFUZZ_KVM_612_SRC / SVMFUZZ_KVM_61_SRC the source packages used by --kvm-patch (`name=version`:
# pinned to the booted kernel's own version, since the archive's newest source moves on).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=$ROOT/.build-kvm
HELPERS=$ROOT/scripts/kvm-oracle
SRC=$ROOT/Sources/svmfuzz-kvm

log() { echo "kvm-oracle: $*" >&2; }
die() { echo "kvm-oracle: error: $*" >&2; exit 1; }

KERNEL=6.12 PLANS="" OUT="" TIMEOUT_MS=2000 VM_TIMEOUT="" PATCH="" SMOKE=0 EXECS=() PROGRAMS=() UPDATE=0 ORACLE_ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) KERNEL=$2; shift 2;;
    --plans) PLANS=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --timeout-ms) TIMEOUT_MS=$2; shift 2;;
    --vm-timeout) VM_TIMEOUT=$2; shift 2;;
    --kvm-patch) PATCH=$2; shift 2;;
    --smoke) SMOKE=1; shift;;
    --exec) [ -f "$2" ] || die "no such file: $2"; EXECS+=("$2"); shift 2;;
    --update-records) UPDATE=1; shift;;
    --json) ORACLE_ARGS+=(--json); shift;;
    --campaign) shift; exec python3 "$ROOT/scripts/kvm-campaign.py" "$@";;
    -h|--help) awk 'NR > 1 && /^set -euo/ { exit } NR > 1' "$0"; exit 0;;
    -*) die "unknown argument '$1' (see --help)";;
    *) [ -e "$1" ] || die "no such program or folder: $1"; PROGRAMS+=("$1"); shift;;
  esac
done

# Programs given: the comparison with the model is svmfuzz's job; it calls back into this script
# with --plans/--out for the boot.
if [ ${#PROGRAMS[@]} -gt 0 ]; then
  source "$ROOT/scripts/lib.sh"
  SVMFUZZ=$(svmfuzz_bin)
  work=$CACHE/oracle-$KERNEL${PATCH:+-patched}
  status=0
  (cd "$ROOT" && "$SVMFUZZ" oracle "${PROGRAMS[@]}" --kernel "$KERNEL" --work "$work" \
      ${PATCH:+--kvm-patch "$PATCH"} "${ORACLE_ARGS[@]}") || status=$?
  if [ $UPDATE = 1 ]; then
    mkdir -p "$ROOT/corpus/oracle/$KERNEL"
    cp "$work"/records/corpus__*.jsonl "$ROOT/corpus/oracle/$KERNEL/"
    log "records copied to corpus/oracle/$KERNEL/"
  fi
  exit $status
fi

case $KERNEL in
  6.12) IMG_PKG=${SVMFUZZ_KVM_612_PKG:-linux-image-6.12.117+deb12-amd64-unsigned}
        SRC_PKG=${SVMFUZZ_KVM_612_SRC:-linux-source-6.12=6.12.117-1~deb12u1};;
  6.1)  IMG_PKG=${SVMFUZZ_KVM_61_PKG:-linux-image-6.1.0-57-amd64-unsigned}
        SRC_PKG=${SVMFUZZ_KVM_61_SRC:-linux-source-6.1=6.1.192-3};;
  *) die "--kernel must be 6.12 or 6.1";;
esac
if [ $SMOKE = 1 ]; then
  PLANS=$HELPERS/smoke
  OUT=${OUT:-$CACHE/smoke-$KERNEL}
fi
[ -n "$PLANS" ] && [ -n "$OUT" ] || die "--plans DIR and --out DIR are required (or --smoke)"
[ -d "$PLANS" ] || die "no such plans folder: $PLANS"
PLANS=$(cd "$PLANS" && pwd)
shopt -s nullglob
plan_files=("$PLANS"/*.plan)
shopt -u nullglob
[ ${#plan_files[@]} -gt 0 ] || die "no *.plan files in $PLANS"
mkdir -p "$OUT" "$CACHE"
OUT=$(cd "$OUT" && pwd)
# Boot (~10-30 s under load) + per program ~0.2 s + 2 s per hang: a generous default.
VM_TIMEOUT=${VM_TIMEOUT:-$((120 + ${#plan_files[@]} * (2 + 3 * TIMEOUT_MS / 1000) + ${#EXECS[@]} * 60))}

# --- packages -----------------------------------------------------------------------------------
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ -z "${APT_UPDATED:-}" ]; then apt-get update -qq >&2; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}
ensure_packages qemu-system-x86 busybox-static cpio kmod xz-utils gcc

# --- kernel -------------------------------------------------------------------------------------
# Downloads and extracts one Debian package, `name` or `name=version`, into $CACHE/pkgs/ (cached).
fetch_pkg() {
  local spec=$1 name=${1%%=*} ver=""
  [[ $spec == *=* ]] && ver=${spec#*=}
  local dir=$CACHE/pkgs/${spec/=/_}
  if [ ! -f "$dir/.done" ]; then
    mkdir -p "$CACHE/debs" "$dir"
    local deb
    deb=$(ls "$CACHE/debs/${name}_${ver:+${ver}_}"*.deb 2>/dev/null | head -1 || true)
    if [ -z "$deb" ]; then
      log "downloading $spec"
      (cd "$CACHE/debs" && apt-get download "$spec" >&2) ||
        { apt-get update -qq >&2 && (cd "$CACHE/debs" && apt-get download "$spec" >&2); }
      deb=$(ls "$CACHE/debs/${name}_${ver:+${ver}_}"*.deb | head -1)
    fi
    log "extracting $(basename "$deb")"
    dpkg-deb -x "$deb" "$dir"
    touch "$dir/.done"
  fi
  echo "$dir"
}
KDIR=$(fetch_pkg "$IMG_PKG")
VMLINUZ=$(ls "$KDIR"/boot/vmlinuz-* | head -1)
MODDIR=$(ls -d "$KDIR"/lib/modules/* | head -1)
KREL=$(basename "$MODDIR")
log "kernel $KREL"

# --- patched kvm modules (--kvm-patch) -----------------------------------------------------------
KVM_MODS=""
if [ -n "$PATCH" ]; then
  [ -f "$PATCH" ] || die "no such patch: $PATCH"
  PATCH=$(cd "$(dirname "$PATCH")" && pwd)/$(basename "$PATCH")
  # shellcheck source=kvm-oracle/build-kvm-modules.sh
  . "$HELPERS/build-kvm-modules.sh"
  KVM_MODS=$(build_kvm_modules "$KERNEL" "$KREL" "$SRC_PKG" "$KDIR" "$PATCH")
fi

# --- runner and initramfs -----------------------------------------------------------------------
log "building svmfuzz-kvm (gcc -O2 -static)"
# The runner and the initramfs are built per run (in OUT), so that concurrent oracles do not share them.
W=$(mktemp -d "$CACHE/initrd.XXXXXX")
trap 'rm -rf "$W"' EXIT
gcc -O2 -static -Wall -o "$W/svmfuzz-kvm.built" "$SRC/runner.c" "$SRC/plan.c" "$SRC/guest.S"
INITRD=$OUT/initrd.cpio.gz
mkdir -p "$W"/{bin,proc,sys,dev,tmp,mods,plans}
cp /bin/busybox "$W/bin/busybox"
for a in sh mount insmod cat echo ls poweroff sleep dmesg grep uname mknod head tail cut tr stty sync; do
  ln -s busybox "$W/bin/$a"
done
for n in irqbypass kvm ccp kvm-amd; do
  f=$(find "$MODDIR/kernel" \( -name "$n.ko" -o -name "$n.ko.xz" \) | head -1)
  [ -n "$f" ] || die "module $n not found in $MODDIR"
  # busybox insmod needs plain .ko files
  case $f in *.xz) xz -dc "$f" > "$W/mods/$n.ko";; *) cp "$f" "$W/mods/$n.ko";; esac
done
if [ -n "$KVM_MODS" ]; then
  cp "$KVM_MODS/kvm.ko" "$KVM_MODS/kvm-amd.ko" "$W/mods/"
  log "using patched kvm.ko/kvm-amd.ko from $KVM_MODS"
fi
strip --strip-debug "$W"/mods/*.ko 2>/dev/null || true
mv "$W/svmfuzz-kvm.built" "$W/svmfuzz-kvm"
if [ ${#EXECS[@]} -gt 0 ]; then
  # /init runs /svmfuzz-kvm with stdout on ttyS1: a wrapper runs the runner, then each binary.
  mv "$W/svmfuzz-kvm" "$W/svmfuzz-kvm.bin"
  { echo '#!/bin/sh'; echo '/svmfuzz-kvm.bin "$@"; rc=$?'; } > "$W/svmfuzz-kvm"
  for i in "${!EXECS[@]}"; do
    cp "${EXECS[$i]}" "$W/exec$i" && chmod +x "$W/exec$i"
    echo "echo '=== EXEC BEGIN $(basename "${EXECS[$i]}")'; /exec$i; echo \"=== EXEC END rc=\$?\"" >> "$W/svmfuzz-kvm"
  done
  echo 'exit $rc' >> "$W/svmfuzz-kvm"
  chmod +x "$W/svmfuzz-kvm"
fi
cp "${plan_files[@]}" "$W/plans/"
cp "$HELPERS/init" "$W/init"
chmod +x "$W/init"
(cd "$W" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$INITRD"
log "initramfs $(du -h "$INITRD" | cut -f1) with ${#plan_files[@]} plan files"

# --- boot ---------------------------------------------------------------------------------------
SERIAL=$OUT/serial.log RAW=$OUT/records.raw
rm -f "$SERIAL" "$RAW" "$OUT"/*.jsonl
log "booting qemu (TCG, -smp 1, timeout ${VM_TIMEOUT}s); console in $SERIAL"
T0=$(date +%s.%N)
set +e
timeout "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt,+vgif,+svme-addr-chk \
  -smp 1 -m 2048 -nographic -no-reboot -monitor "unix:$OUT/monitor.sock,server=on,wait=off" \
  -serial stdio -serial "file:$RAW" \
  -kernel "$VMLINUZ" -initrd "$INITRD" \
  -append "console=ttyS0 panic=-1 quiet loglevel=4 svmfuzz.timeout_ms=$TIMEOUT_MS" \
  < /dev/null > "$SERIAL" 2>&1 &
QPID=$!
# A whole VM can stall (a generated program wedged L0 KVM or TCG so that not even the runner's
# per-program watchdog runs): when the records stop growing for STALL_S seconds after the boot, stop
# QEMU and name the program that was running (OUT/stalled-program), so a campaign can drop it.
STALL_S=${SVMFUZZ_KVM_STALL_S:-$((60 + 3 * TIMEOUT_MS / 100))}
last_size=-1 still=0 STALLED=""
while kill -0 "$QPID" 2>/dev/null; do
  sleep 1
  size=$(stat -c %s "$RAW" 2>/dev/null || echo 0)
  if [ "$size" = "$last_size" ] && [ "$size" != 0 ]; then still=$((still + 1)); else still=0; fi
  last_size=$size
  if [ "$still" -ge "$STALL_S" ]; then
    STALLED=$(tr -d '\r' < "$RAW" | grep '^{"program":' | tail -1 | sed 's/^{"program":"//; s/".*//')
    echo "$STALLED" > "$OUT/stalled-program"
    # Where the CPU is, read twice a second apart from QEMU's monitor: a guest RIP that moves is
    # a loop TCG keeps running, a kernel RIP is L0 KVM (the clues to why the VM stalled).
    python3 - "$OUT/monitor.sock" > "$OUT/stall-state.txt" 2>&1 <<'PY' || true
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.settimeout(5); s.connect(sys.argv[1])
def ask(cmd):
    s.sendall((cmd + "\n").encode()); time.sleep(0.5); out = b""
    try:
        while True:
            out += s.recv(65536)
    except socket.timeout:
        pass
    return out.decode(errors="replace")
s.settimeout(0.5); ask("")
for i in range(2):
    print("=== info registers", i); print(ask("info registers"))
    print("=== x/8i $pc", i); print(ask("x/8i $pc"))
    time.sleep(1)
PY
    kill "$QPID" 2>/dev/null; pkill -P "$QPID" 2>/dev/null || true
    break
  fi
done
wait "$QPID"
QRC=$?
set -e
T1=$(date +%s.%N)
WALL=$(echo "$T1 - $T0" | bc)

# --- results ------------------------------------------------------------------------------------
touch "$RAW"
tr -d '\r' < "$RAW" | grep '^{' > "$OUT/records.jsonl" || true
if [ ${#EXECS[@]} -gt 0 ]; then
  tr -d '\r' < "$RAW" | sed -n '/^=== EXEC BEGIN/,/^=== EXEC END/p' > "$OUT/exec.log"
  cat "$OUT/exec.log"
fi
awk -v out="$OUT" '
  /^\{"program":/ { f = $0; sub(/.*"plan":"/, "", f); sub(/".*/, "", f); sub(/\.plan$/, "", f);
                    file = out "/" f ".jsonl" }
  file != "" { print > file }' "$OUT/records.jsonl"

programs=$(grep -c '^{"program":' "$OUT/records.jsonl" || true)
records=$(grep -c '^{"step":' "$OUT/records.jsonl" || true)
ends=$(grep -c '^{"end":' "$OUT/records.jsonl" || true)
uptime_of() { grep -a "=== SVMFUZZ $1" "$SERIAL" | head -1 | sed 's/.*uptime //' | tr -d '\r'; }
booted=$(uptime_of BOOTED || true)
done_at=$(uptime_of DONE || true)
fail=""
grep -aq "Kernel panic" "$SERIAL" && fail="the kernel panicked (see $SERIAL)"
if [ -z "$fail" ]; then
  if [ -n "$STALLED" ]; then fail="the VM stalled for ${STALL_S}s in program $STALLED (OUT/stalled-program)";
  elif [ $QRC = 124 ]; then fail="the VM did not finish within ${VM_TIMEOUT}s";
  elif [ -z "$booted" ]; then fail="the VM did not boot to the runner (qemu rc=$QRC)";
  elif [ -z "$done_at" ]; then fail="the runner did not finish (qemu rc=$QRC)";
  elif [ "$records" = 0 ]; then fail="the runner printed no records"; fi
fi
if [ -n "$booted" ] && [ -n "$done_at" ]; then
  prog_s=$(echo "$done_at - $booted" | bc)
  boot_s=$(echo "$WALL - $prog_s" | bc)
  pps=$(echo "scale=2; if ($prog_s > 0) $programs / $prog_s else 0" | bc)
else
  prog_s=? boot_s=? pps=?
fi
grep -a "=== SVMFUZZ DONE" "$SERIAL" | grep -vq "rc=0" && log "the runner exited non-zero (malformed plan? see $SERIAL)"
warn=$(grep -a -cE 'WARNING:|BUG:|general protection' "$SERIAL" || true)
echo "kvm-oracle: kernel $KREL: $programs programs, $records records, boot+io ${boot_s}s, programs ${prog_s}s ($pps programs/s), wall ${WALL}s, kernel warnings on console: $warn, out $OUT"
[ -z "$fail" ] || die "$fail"
[ "$ends" = "$programs" ] || die "$programs programs started but $ends ended (see $SERIAL)"

# --- smoke checks -------------------------------------------------------------------------------
if [ $SMOKE = 1 ]; then
  bad=0 checked=0
  for pf in "${plan_files[@]}"; do
    name=$(basename "$pf" .plan)
    jl=$OUT/$name.jsonl
    while read -r _ _ stepkv rest; do
      step=${stepkv#step=}
      rec=$(grep "^{\"step\":$step," "$jl" 2>/dev/null | head -1 || true)
      if [ -z "$rec" ]; then echo "smoke: $name step $step: no record" >&2; bad=1; continue; fi
      for kv in $rest; do
        k=${kv%%=*} v=${kv#*=}
        checked=$((checked + 1))
        if ! grep -qE "\"$k\":(\"$v\"|$v)[,}]" <<<"$rec"; then
          got=$(grep -oE "\"$k\":(\"[^\"]*\"|[^,}]*)" <<<"$rec" || true)
          echo "smoke: $name step $step: expected $k=$v, got ${got:-nothing}" >&2
          bad=1
        fi
      done
    done < <(grep '^# expect ' "$pf")
  done
  [ $bad = 0 ] || die "smoke checks failed"
  echo "kvm-oracle: smoke: $checked checks passed"
fi
