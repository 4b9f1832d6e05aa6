#!/usr/bin/env bash
# Debian packages SigmaVault's real components and tests need (run as root; idempotent).
set -euo pipefail
packages=(
  python3-venv python3-dev build-essential   # the project's virtualenv
  util-linux e2fsprogs kmod iproute2         # losetup, lsblk, ip netns
  systemd                                    # systemd-analyze verify of the service unit (works without systemd as PID 1)
  btrfs-progs btrfs-compsize                 # BTRFS backend; compsize: on-disk compression ratio
  xfsprogs quota                             # dir backend project quotas (xfs_quota, setquota)
  zfs-fuse                                   # ZFS backend (userspace ZFS)
  wireguard-tools wireguard-go               # PhantomMesh (userspace driver where no kernel module)
  smartmontools                              # smartctl for SMART
  zstd xz-utils bzip2 gzip age time          # interop and benchmark anchors (GNU time: peak RSS)
  nfs-kernel-server samba-common-bin         # exportfs / testparm validate rendered shares
  samba samba-vfs-modules smbclient acl      # SMB shares: smbd (+ shadow_copy2, fruit, recycle), client, setfacl
  nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils  # NFS shares: Ganesha (VFS FSAL), rpcbind for NFSv3, nfs-cat/nfs-cp/nfs-ls clients
  rsync                                      # anchor of the storage agents' tree benchmark
  chromium                                   # UI end-to-end tests
  glances python3-bottle wrk                 # system benchmark anchor (bottle: glances -w), load generator
  rrdtool                                    # metrics history benchmark anchor (collectd's store)
  ceph-mon ceph-mgr ceph-osd ceph-mds ceph-fuse ceph-common  # Ceph backend: one-host cluster, CephFS via ceph-fuse (~55 MB download)
  nodejs                                     # web UI build (npm ships with it where nodejs comes from NodeSource)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "system dependencies present: ${#packages[@]} packages"
