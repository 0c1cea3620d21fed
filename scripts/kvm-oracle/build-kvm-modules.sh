# Sourced by scripts/kvm-oracle.sh for --kvm-patch: rebuilds kvm.ko and kvm-amd.ko from Debian's
# linux-source package of the booted kernel with a patch applied, so they load into the stock
# Debian kernel (same config, same Module.symvers, same gcc; modules are unsigned, which only
# taints the kernel since MODULE_SIG_FORCE is off).
#
# Cache: .build-kvm/kbuild-<series>/ holds the source tree after `make modules_prepare` (the
# first build takes ~4 min on 2 cores); a later patch reverts the previous one and rebuilds only
# the files that changed (seconds).
#
#   build_kvm_modules SERIES KERNELRELEASE SRC_PKG EXTRACTED_IMAGE_DIR PATCH  -> prints the folder
#   with the built kvm.ko and kvm-amd.ko on stdout; everything else goes to stderr.

build_kvm_modules() {
  local series=$1 krel=$2 src_pkg=$3 kdir=$4 patch=$5
  local kb=$CACHE/kbuild-$series
  ensure_packages make bc libelf-dev bison flex libssl-dev dwarves
  local src_dir hdr_dir
  src_dir=$(fetch_pkg "$src_pkg")
  hdr_dir=$(fetch_pkg "linux-headers-$krel")
  mkdir -p "$kb"
  # The tree is prepared for one source package version (a different pin unpacks again).
  if [ "$(cat "$kb/.prepared" 2>/dev/null)" != "$src_pkg" ]; then
    log "unpacking $src_pkg (first --kvm-patch build: ~4 min)"
    rm -rf "$kb/src" "$kb/applied.patch"
    mkdir -p "$kb/src"
    tar -C "$kb/src" --strip-components=1 -xf "$(ls "$src_dir"/usr/src/linux-source-*.tar.xz | head -1)"
    cp "$kdir/boot/config-$krel" "$kb/src/.config"
    cp "$(find "$hdr_dir" -name Module.symvers | head -1)" "$kb/src/Module.symvers"
    # No signing key here: build unsigned modules.
    (cd "$kb/src" && scripts/config --set-str SYSTEM_TRUSTED_KEYS "" --set-str MODULE_SIG_KEY "" \
       --disable MODULE_SIG_ALL --set-str SYSTEM_REVOCATION_KEYS "" &&
     make olddefconfig >/dev/null &&
     make -j2 KERNELRELEASE="$krel" modules_prepare > "$kb/modules_prepare.log" 2>&1) ||
      die "modules_prepare failed, see $kb/modules_prepare.log"
    echo "$src_pkg" > "$kb/.prepared"
  fi
  # Swap patches: revert the one applied before, apply the new one.
  if [ -f "$kb/applied.patch" ] && ! cmp -s "$kb/applied.patch" "$patch"; then
    log "reverting the previous patch"
    (cd "$kb/src" && patch -p1 -R -s < "$kb/applied.patch") || die "cannot revert $kb/applied.patch"
    rm -f "$kb/applied.patch"
  fi
  if [ ! -f "$kb/applied.patch" ]; then
    log "applying $(basename "$patch")"
    (cd "$kb/src" && patch -p1 -s --dry-run < "$patch" >&2 && patch -p1 -s < "$patch" >&2) ||
      die "$patch does not apply to $src_pkg"
    cp "$patch" "$kb/applied.patch"
  fi
  log "building kvm.ko and kvm-amd.ko (make M=arch/x86/kvm)"
  (cd "$kb/src" && make -j2 KERNELRELEASE="$krel" M=arch/x86/kvm modules > "$kb/kvm_build.log" 2>&1) ||
    die "the kvm module build failed, see $kb/kvm_build.log"
  mkdir -p "$kb/mods"
  cp "$kb/src/arch/x86/kvm/kvm.ko" "$kb/src/arch/x86/kvm/kvm-amd.ko" "$kb/mods/"
  echo "$kb/mods"
}
