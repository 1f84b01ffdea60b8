#!/usr/bin/env bash
# Installs the system packages alexnet-dist needs (only those missing) and builds the tool.
#
#   Scripts/setup.sh              install what is missing, build .build/release/alexnet-dist
#   Scripts/setup.sh --deps-only  install what is missing, build nothing
#   Scripts/setup.sh --container  what a cluster image needs (cluster/kubernetes/Dockerfile): the tool's own
#                                 packages and sshd (the MPI Operator's launcher reaches workers by ssh),
#                                 not the virtual cluster's or Slurm's; then build
set -euo pipefail
cd "$(dirname "$0")/.."

# To build and run alexnet-dist.
packages=(libopenmpi-dev openmpi-bin libpmix-dev libzstd-dev libdnnl-dev libturbojpeg0-dev libpng-dev libgcc-12-dev zlib1g-dev libisal-dev
          dataset-fashion-mnist pkg-config)
if [ "${1:-}" = "--container" ]; then
    packages+=(openssh-server openssh-client)
else
    # Scaling reports: the virtual cluster (ip netns, tc; iptables and libnetfilter-queue for link delays)
    # and the report's charts (gnuplot); a real Slurm on the virtual cluster (cluster/vcluster slurm up).
    # GNU time: the corrupt-input tests' peak-RSS figures.
    packages+=(iproute2 iptables libnetfilter-queue-dev gnuplot-nox
               slurmctld slurmd slurm-client slurm-wlm-basic-plugins munge time)
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ "${1:-}" != "--deps-only" ]; then
    swift build -c release --product alexnet-dist >&2
fi
